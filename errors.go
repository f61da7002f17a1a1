package stschain

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/stschain/stschain/internal/redact"
)

// Sentinel errors callers can test for with [errors.Is].
var (
	// ErrInvalidOptions is wrapped by every error New returns for options it
	// refuses, ErrTokenCodeRequired and ErrNoMasterCredentials included.
	ErrInvalidOptions = errors.New("invalid options")

	// ErrTokenCodeRequired is wrapped by New's error when SerialNumber is
	// set without TokenCode.
	ErrTokenCodeRequired = errors.New("SerialNumber is set but TokenCode is nil")

	// ErrNoMasterCredentials is wrapped by New's error when neither
	// Options.MasterCredentials nor cfg.Credentials is set (and Options.Client
	// does not sign on its own).
	ErrNoMasterCredentials = errors.New("no master credentials: set cfg.Credentials or Options.MasterCredentials")

	// ErrLongTermCredentialsRequired is wrapped by the Error of a
	// GetSessionToken link whose master hands it session credentials: STS
	// accepts only an IAM user's long-term keys there.
	ErrLongTermCredentialsRequired = errors.New("long-term IAM user credentials required: the master returned session credentials")

	// ErrMalformedResponse is wrapped by the Error of a link whose STS
	// answer lacks a credential part, holds one of a shape STS does not
	// issue (an access key ID that is not 16 to 128 upper-case letters and
	// digits, a secret key or session token outside the base64 alphabet),
	// expires at once or later than STS grants, is longer than STS's
	// answers are, or is a success that cannot be read as one.
	// [FileCache.Load] wraps it in its error for a file that holds no
	// usable STS session.
	ErrMalformedResponse = errors.New("malformed STS response")
)

// The values of [Error.Op].
const (
	// OpAssumeRole and OpGetSessionToken: the STS call failed, or its
	// answer was unusable (wrapping ErrMalformedResponse).
	OpAssumeRole      = "AssumeRole"
	OpGetSessionToken = "GetSessionToken"
	// OpMaster: retrieving the master credentials failed, or they cannot
	// sign this link's call (wrapping ErrLongTermCredentialsRequired).
	OpMaster = "master credentials"
	// OpTokenCode: the MFA code could not be had.
	OpTokenCode = "MFA token code"
	// OpWait: the caller's context ended while it waited for a refresh.
	OpWait = "waiting for refresh"
)

// Error is returned by Retrieve and Refresh when a link of the chain fails.
// Its message starts with "stschain: " once, then the path from this
// provider down to the failing link, the operation and the cause:
//
//	stschain: ROLE_A -> ROLE_B: AssumeRole: operation error STS: AssumeRole, ...
//
// Secrets are kept out of it whoever wrote the cause's text: values of JSON
// keys that hold secrets, and the secrets the provider holds, are redacted.
type Error struct {
	Link string // the role ARN, or GetSessionTokenLink
	Op   string // OpAssumeRole, OpGetSessionToken, OpMaster, OpTokenCode or OpWait
	Err  error  // the cause; a master's own *Error when Op is OpMaster and the master is a ChainableProvider

	// redacted is the cause's message with the secrets the link held when
	// it failed taken out; "" means Err's message with secret-shaped
	// values taken out.
	redacted string
}

func (e *Error) Error() string { return "stschain: " + e.detail() }

// detail is the message without the package prefix: the path to the
// failing link, its operation and the cause.
func (e *Error) detail() string {
	var b strings.Builder
	b.WriteString(e.Link)
	cur := e
	for cur.Op == OpMaster {
		var next *Error
		if !errors.As(cur.Err, &next) {
			break
		}
		b.WriteString(" -> ")
		b.WriteString(next.Link)
		cur = next
	}
	b.WriteString(": ")
	b.WriteString(cur.Op)
	if cur.Err != nil {
		b.WriteString(": ")
		b.WriteString(cur.causeMessage())
	}
	return b.String()
}

// causeMessage is the cause's message without secrets.
func (e *Error) causeMessage() string {
	if e.redacted != "" {
		return e.redacted
	}
	return redact.Message(messageOf(e.Err))
}

func (e *Error) Unwrap() error { return e.Err }

// Format prints Error() for every verb, so that no verb reaches the
// cause's fields.
func (e Error) Format(f fmt.State, verb rune) { redact.Format(f, verb, e.Error()) }

// MarshalJSON encodes Error() as a JSON string, as log/slog's JSON handler
// shows an error, so that no encoding reaches the cause's fields.
func (e Error) MarshalJSON() ([]byte, error) { return json.Marshal(e.Error()) }

// newError returns an Error for link whose cause's message has secrets
// taken out: secret-shaped values, and each of secrets that is not empty.
func newError(link, op string, err error, secrets ...string) *Error {
	e := &Error{Link: link, Op: op, Err: err}
	var inner *Error
	if op == OpMaster && errors.As(err, &inner) {
		return e // the inner Error redacts its own cause
	}
	e.redacted = redact.Message(messageOf(err), secrets...)
	return e
}

// malformedError is err, which also matches ErrMalformedResponse without
// saying so in its message: a cache entry's problem is told in the cache's
// words.
type malformedError struct{ err error }

func (e malformedError) Error() string   { return messageOf(e.err) }
func (e malformedError) Unwrap() []error { return []error{e.err, ErrMalformedResponse} }

// pkgError is an error of this package other than an [Error]: "stschain: ",
// what failed and the cause, as [os.PathError] puts its operation and path
// before its cause. Inside another error of this package its message comes
// without the prefix (see messageOf), so that the prefix appears once, at
// the outside, however the errors nest. errors.Unwrap gives the cause.
type pkgError struct {
	what string // what failed; "" when the cause says it all
	err  error  // the cause
}

func (e *pkgError) Error() string { return "stschain: " + e.detail() }

func (e *pkgError) detail() string {
	if e.what == "" {
		return messageOf(e.err)
	}
	return e.what + ": " + messageOf(e.err)
}

func (e *pkgError) Unwrap() error { return e.err }

// errorf returns an error of this package whose cause is the error
// fmt.Errorf makes of format and args. An error of this package given to
// it would repeat the prefix: wrap one with wrapError instead.
func errorf(format string, args ...any) error {
	return &pkgError{err: fmt.Errorf(format, args...)}
}

// wrapError returns an error of this package saying that what format and
// args describe failed, because of err, which may be one of this package.
func wrapError(err error, format string, args ...any) error {
	return &pkgError{what: fmt.Sprintf(format, args...), err: err}
}

// messageOf is err's message, without the package prefix when err is an
// error of this package: the prefix belongs to the outermost error alone.
func messageOf(err error) string {
	if d, ok := err.(interface{ detail() string }); ok {
		return d.detail()
	}
	return err.Error()
}

// maxQuoted bounds how much of a value an error message quotes.
const maxQuoted = 64

// quote returns s quoted for an error message, cut to maxQuoted runes with
// its full length said, so that hostile input cannot blow up an error.
func quote(s string) string {
	if utf8.RuneCountInString(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	cut, n := s, 0
	for i := range s {
		if n == maxQuoted {
			cut = s[:i]
			break
		}
		n++
	}
	return strconv.Quote(cut) + "... (" + strconv.Itoa(len(s)) + " bytes)"
}

// problems is New's list of what is wrong with the options: one message,
// the problems separated by "; ", each reachable with errors.Is/As.
type problems []error

func (p problems) Error() string {
	msgs := make([]string, len(p))
	for i, e := range p {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "; ")
}

func (p problems) Unwrap() []error { return p }

// invalidOptions returns the error New reports for problems: "stschain:
// invalid options: ...", wrapping ErrInvalidOptions and each problem.
func invalidOptions(ps ...error) error {
	return errorf("%w: %w", ErrInvalidOptions, problems(ps))
}
