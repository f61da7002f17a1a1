package awsprofile

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/stschain/stschain/internal/redact"
)

// Sentinel errors callers can test for with [errors.Is].
var (
	// ErrInvalidConfig is wrapped by every error LoadConfig and LoadChain
	// return because the profiles do not describe a usable chain: a loop,
	// a missing or empty source profile, keys that exclude each other, a
	// value the link would refuse. Such an error is a *[ConfigError] and
	// comes before any STS call.
	ErrInvalidConfig = errors.New("awsprofile: invalid profile configuration")

	// ErrProfileNotFound is wrapped, together with ErrInvalidConfig, when a
	// profile the chain names (the selected one or a source_profile) is in
	// none of the files.
	ErrProfileNotFound = errors.New("awsprofile: profile not found")

	// ErrLoginRequired is wrapped by the *[LoginRequiredError] of a root
	// whose session the user opens with the AWS CLI (aws sso login, aws
	// login) when there is none, or it has ended.
	ErrLoginRequired = errors.New("awsprofile: login required")
)

// LoginRequiredError is the error of an SSO or login_session root when
// its session is missing, has expired and cannot be refreshed, or was
// refused: the user has to sign in again. Command says how. It matches
// [ErrLoginRequired] with [errors.Is]; Unwrap returns the SDK's error.
type LoginRequiredError struct {
	// Profile is the profile whose session it is: the root of the chain.
	Profile string
	// Command is what to run to sign in again: "aws sso login --profile
	// NAME" or "aws login --profile NAME", the name quoted for a POSIX
	// shell where it needs it.
	Command string
	// Err is the SDK's error.
	Err error
}

func (e *LoginRequiredError) Error() string {
	what := "SSO session"
	if strings.HasPrefix(e.Command, "aws login") {
		what = "login session"
	}
	return fmt.Sprintf("awsprofile: profile %s: the %s is missing or has expired: run %s", strconv.Quote(e.Profile), what, e.Command)
}

// Is reports whether target is ErrLoginRequired.
func (e *LoginRequiredError) Is(target error) bool { return target == ErrLoginRequired }

func (e *LoginRequiredError) Unwrap() error { return e.Err }

// Format prints Error() for every verb, %q quoting it, so that no verb
// reaches the fields of the SDK's error behind it.
func (e LoginRequiredError) Format(f fmt.State, verb rune) { redact.Format(f, verb, e.Error()) }

// MarshalJSON encodes Error() as a JSON string, as log/slog's JSON handler
// shows an error.
func (e LoginRequiredError) MarshalJSON() ([]byte, error) { return json.Marshal(e.Error()) }

// shellQuote quotes s for a POSIX shell where it needs quoting.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.@%+=:,/", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// ConfigError says which profile of a chain is wrong and how. It matches
// [ErrInvalidConfig] (and [ErrProfileNotFound] for a missing profile) with
// [errors.Is]; Unwrap returns the SDK's or stschain's error behind it, if
// any.
type ConfigError struct {
	// Profile is the profile at fault.
	Profile string
	// Chain lists the profiles followed through source_profile from the
	// selected one to Profile, both included; for a loop it ends with the
	// profile met again. It is nil when the fault is in the selected
	// profile itself.
	Chain []string
	// Problem says what is wrong and what is valid.
	Problem string
	// Err is the cause: the SDK's config loader refusing the files, or
	// stschain refusing a link's settings. Nil when the settings alone are
	// wrong.
	Err error

	notFound bool
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString("awsprofile: profile ")
	b.WriteString(strconv.Quote(e.Profile))
	if len(e.Chain) > 1 {
		b.WriteString(" (")
		b.WriteString(strings.Join(e.Chain, " -> "))
		b.WriteString(")")
	}
	b.WriteString(": ")
	b.WriteString(e.Problem)
	return b.String()
}

// Is reports whether target is ErrInvalidConfig, or ErrProfileNotFound for
// a profile that does not exist.
func (e *ConfigError) Is(target error) bool {
	return target == ErrInvalidConfig || (e.notFound && target == ErrProfileNotFound)
}

func (e *ConfigError) Unwrap() error { return e.Err }

// Format prints Error() for every verb, %q quoting it, so that no verb
// reaches the fields of the cause.
func (e ConfigError) Format(f fmt.State, verb rune) { redact.Format(f, verb, e.Error()) }

// MarshalJSON encodes Error() as a JSON string, as log/slog's JSON handler
// shows an error.
func (e ConfigError) MarshalJSON() ([]byte, error) { return json.Marshal(e.Error()) }

// causeText is err's message without the package prefix it starts with, so
// that a ConfigError says "awsprofile: " once.
func causeText(err error) string {
	s := err.Error()
	for _, p := range []string{"stschain: ", "awsprofile: "} {
		s = strings.TrimPrefix(s, p)
	}
	return strings.Join(strings.Fields(s), " ")
}
