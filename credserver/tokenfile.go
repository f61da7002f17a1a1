package credserver

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/stschain/stschain/internal/safefile"
)

// tokenFile is the file Options.TokenFile names, as Start made it.
type tokenFile struct {
	path  string // absolute
	token string // its content: Close removes a file holding it only
}

// writeTokenFile creates path, which must not exist, readable and
// writable by this user only, holding token without a line end (the SDKs
// send the file's whole content as the header). O_EXCL refuses any
// existing name, a symbolic link included, which it does not follow.
func writeTokenFile(path, token string) (*tokenFile, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("credserver: token file: %w", err)
	}
	f, err := os.OpenFile(abs, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("credserver: token file %s exists: name a file that does not (one left by a run that was killed can be removed)", abs)
		}
		return nil, fmt.Errorf("credserver: token file: %w", err)
	}
	_, err = f.WriteString(token)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(abs)
		return nil, fmt.Errorf("credserver: token file: %w", err)
	}
	return &tokenFile{path: abs, token: token}, nil
}

// remove removes the token file, unless another file has taken its name:
// a file that does not hold the token (no one else can write it) is left
// alone. A file already gone is no error.
func (t *tokenFile) remove() error {
	data, err := safefile.ReadFile(t.path, false, int64(len(t.token)))
	var nr *safefile.NotRegularError
	switch {
	case errors.Is(err, os.ErrNotExist), errors.As(err, &nr), errors.Is(err, safefile.ErrTooLarge):
		return nil // gone, or not ours
	case err != nil:
		return err
	case string(data) != t.token:
		return nil
	}
	if err := os.Remove(t.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
