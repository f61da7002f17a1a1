package keyring

import "errors"

// Sentinel errors callers can test for with [errors.Is].
var (
	// ErrNotFound is matched by the error of Get and Remove when the
	// keyring holds no keys for the profile.
	ErrNotFound = errors.New("keyring: no keys for the profile")

	// ErrInvalidKeys is matched by the error of [Keys.Validate], and of
	// Set given keys it refuses.
	ErrInvalidKeys = errors.New("keyring: invalid keys")

	// ErrInvalidItem is matched by the error of Get when the item is not
	// a pair of long-term keys in the format stschain and aws-vault write.
	ErrInvalidItem = errors.New("keyring: invalid item")

	// ErrWrongPassphrase is matched by the error of the file backend when
	// the passphrase does not decrypt an item: a wrong passphrase, or a
	// damaged file.
	ErrWrongPassphrase = errors.New("keyring: wrong passphrase")

	// ErrReadOnly is matched by the error of Set and Remove on aws-vault's
	// items, which this package reads but never changes.
	ErrReadOnly = errors.New("keyring: read-only keyring")

	// ErrUnsafeFile is matched by the error of the file backend when its
	// directory or an item file could be written by another user, or is
	// not what it should be (a symbolic link, a FIFO ...).
	ErrUnsafeFile = errors.New("keyring: unsafe file")
)

// problem is an error of one kind (a sentinel) with its own message, so
// that the message says what is wrong and errors.Is still finds the kind.
type problem struct {
	kind error
	text string
}

func (p *problem) Error() string { return p.text }

// Is reports whether target is the problem's kind.
func (p *problem) Is(target error) bool { return target == p.kind }
