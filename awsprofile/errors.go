package awsprofile

import (
	"errors"
	"strconv"
	"strings"
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
)

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

// causeText is err's message without the package prefix it starts with, so
// that a ConfigError says "awsprofile: " once.
func causeText(err error) string {
	s := err.Error()
	for _, p := range []string{"stschain: ", "awsprofile: "} {
		s = strings.TrimPrefix(s, p)
	}
	return strings.Join(strings.Fields(s), " ")
}
