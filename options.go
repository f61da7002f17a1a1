package stschain

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/metrics"
	"github.com/aws/smithy-go/tracing"

	"github.com/stschain/stschain/internal/redact"
	"github.com/stschain/stschain/internal/stslimits"
)

// Defaults used when the corresponding [Options] field is zero.
const (
	// DefaultExpiryWindow is how long before Expires callers start waiting
	// for fresh credentials.
	DefaultExpiryWindow = time.Minute
	// DefaultPrefetchWindow is the shortest advisory window, that of
	// credentials that live up to 20 minutes. A zero PrefetchWindow
	// chooses the window from the lifetime of each new set of credentials,
	// as the AWS SDKs' 2026 refresh rules do: DefaultPrefetchWindow up to
	// 20 minutes of life, 15 minutes below 90 minutes, 60 minutes from 90
	// minutes.
	DefaultPrefetchWindow = 5 * time.Minute
	// DefaultRegion is the region of the STS client New builds when
	// cfg.Region is empty.
	DefaultRegion = "us-east-1"
)

// maxWindow bounds ExpiryWindow and PrefetchWindow: no session lives
// longer, so a longer window could only mean "always refresh".
const maxWindow = stslimits.MaxGetSessionTokenDuration

// Options configures a [ChainableProvider]. The zero value of every field is
// valid and means the default its comment gives.
type Options struct {
	// RoleARN is the role to assume. Optional: when empty the provider calls
	// GetSessionToken instead of AssumeRole.
	RoleARN string

	// RoleSessionName names the AssumeRole session. Optional: when empty a
	// valid name ("stschain-" and the Unix time in nanoseconds) is generated
	// for each call. AssumeRole only.
	RoleSessionName string

	// Duration is the requested session length (DurationSeconds). Optional:
	// zero leaves STS's own default (one hour for AssumeRole, 12 hours for
	// GetSessionToken). Valid: 15 min to 12 h for AssumeRole, 15 min to 36 h
	// for GetSessionToken, whole seconds.
	Duration time.Duration

	// ExternalID is sent with AssumeRole. Optional.
	ExternalID string

	// Policy is an inline session policy (JSON). Optional. AssumeRole only.
	Policy string

	// PolicyARNs are managed session policies. Optional. AssumeRole only.
	PolicyARNs []string

	// Tags are session tags. Optional. AssumeRole only.
	Tags map[string]string

	// TransitiveTagKeys names which Tags pass on to roles assumed from this
	// session. Optional; each must be a key of Tags. AssumeRole only.
	TransitiveTagKeys []string

	// SourceIdentity is sent with AssumeRole. Optional.
	SourceIdentity string

	// SerialNumber is the MFA device (an MFA device ARN or a hardware token
	// serial). Optional; when set, TokenCode is required.
	SerialNumber string

	// TokenCode returns the current MFA code for SerialNumber. It is called
	// before every STS call and only when SerialNumber is set, also for
	// background refreshes that no caller waits for (so a prompt may appear
	// up to PrefetchWindow before expiry). Required with SerialNumber; see
	// [PromptTokenCode], [TOTPTokenCode] and [ProcessTokenCode].
	TokenCode TokenCodeFunc

	// CodeGuard remembers the MFA codes sent, so that none is sent twice
	// while STS would still refuse it. Optional: nil means the guard shared
	// by every provider of the process that has none of its own, so that by
	// default no code is sent twice in a process.
	CodeGuard *CodeGuard

	// MasterCredentials sign the STS calls. They are retrieved afresh before
	// every refresh, so a master that is itself a ChainableProvider refreshes
	// when it needs to. Optional: nil means cfg.Credentials. With neither, New
	// fails unless Client is set, in which case Client signs with its own
	// credentials. An interface holding a nil pointer is refused.
	MasterCredentials aws.CredentialsProvider

	// ExpiryWindow is how long before Expires callers stop getting the
	// current credentials and wait for a refresh (the mandatory window).
	// Optional: zero means DefaultExpiryWindow. Valid: 0 to 36 h.
	ExpiryWindow time.Duration

	// PrefetchWindow is how long before Expires one background refresh
	// starts while callers keep getting the current credentials at once
	// (the advisory window). After a failed background refresh the next
	// waits 5 to 10 minutes, but never past the expiry window. Optional:
	// zero chooses the window from the lifetime of each new set of
	// credentials (see DefaultPrefetchWindow), fixed for that set; negative
	// turns background refresh off. A window not larger than ExpiryWindow
	// also turns it off. Valid: up to 36 h.
	PrefetchWindow time.Duration

	// DisableJitter makes every refresh start exactly at its window.
	// Optional: false spreads the start of a background refresh at random
	// over the first half of the time between the prefetch and expiry
	// windows (7 minutes for a one-hour session with the defaults; over
	// half an expiry window before it when prefetch is off), and a
	// provider's first refresh over its first session, so that a fleet
	// started together does not call STS together.
	DisableJitter bool

	// Client is the STS client. Optional: nil means an *sts.Client built once
	// by New from cfg, the master credentials and STSOptions.
	Client STSClient

	// STSOptions are applied to the client New builds (region, endpoint,
	// retryer, HTTP client ...). Optional; ignored when Client is set.
	STSOptions []func(*sts.Options)

	// Cache shares credentials between providers and processes. Optional:
	// nil keeps credentials in memory only. See [FileCache].
	Cache Cache

	// Logger receives one line per refresh and cache problems; it never sees
	// a secret. Optional: nil means silent.
	Logger *slog.Logger

	// OnRefresh is called once per refresh attempt, for metrics, before the
	// new credentials are published. It must not block, and must not call
	// this provider's Retrieve, which would wait for the refresh that is
	// calling it. Optional.
	OnRefresh func(RefreshEvent)

	// MeterProvider records the provider's metrics through the interface
	// the SDK's clients use (OpenTelemetry plugs in through
	// smithy-go/metrics/smithyotelmetrics): MetricRefreshes,
	// MetricRefreshDuration and MetricCredentialsRemaining. A cached
	// Retrieve records nothing. Optional: nil records none. A Pool's
	// providers record to PoolOptions.MeterProvider instead.
	MeterProvider metrics.MeterProvider

	// TracerProvider receives a span, "stschain.refresh", for each fetch of
	// new credentials (from the cache or STS), with the link and the
	// outcome as properties; the STS client's own spans, when cfg has a
	// TracerProvider, nest under it. Optional: nil makes none.
	TracerProvider tracing.TracerProvider
}

// String describes the options without any secret: neither the external
// ID, the master's keys nor anything a callback returns.
func (o Options) String() string {
	var b strings.Builder
	b.WriteString("stschain.Options{")
	b.WriteString(linkName(o.RoleARN))
	if o.SerialNumber != "" {
		b.WriteString(" mfa=" + o.SerialNumber)
	}
	if o.Duration != 0 {
		b.WriteString(" duration=" + o.Duration.String())
	}
	if o.MasterCredentials != nil {
		fmt.Fprintf(&b, " master=%T", o.MasterCredentials)
	}
	b.WriteString("}")
	return b.String()
}

// Format prints String() for every verb, so that no verb (%+v, %#v, %d,
// %x ...) prints a field.
func (o Options) Format(f fmt.State, verb rune) { redact.Format(f, verb, o.String()) }

// resolveOptions applies optFns to a zero Options and copies the slices
// and map, so that a caller changing them later does not change the
// provider.
func resolveOptions(optFns []func(*Options)) Options {
	var o Options
	for _, fn := range optFns {
		if fn != nil {
			fn(&o)
		}
	}
	o.PolicyARNs = slices.Clone(o.PolicyARNs)
	o.TransitiveTagKeys = slices.Clone(o.TransitiveTagKeys)
	o.STSOptions = slices.DeleteFunc(slices.Clone(o.STSOptions), func(fn func(*sts.Options)) bool { return fn == nil })
	o.Tags = maps.Clone(o.Tags)
	return o
}

// linkParams returns the STS parameters of o.
func (o *Options) linkParams() linkParams {
	return linkParams{
		RoleARN: o.RoleARN, RoleSessionName: o.RoleSessionName, Duration: o.Duration,
		ExternalID: o.ExternalID, Policy: o.Policy, PolicyARNs: o.PolicyARNs, Tags: o.Tags,
		TransitiveTagKeys: o.TransitiveTagKeys, SourceIdentity: o.SourceIdentity,
		SerialNumber: o.SerialNumber, TokenCode: o.TokenCode,
	}
}

// windows returns the refresh windows of o, defaults resolved.
func (o *Options) windows() windows {
	w := windows{expiry: o.ExpiryWindow, prefetch: o.PrefetchWindow, jitter: !o.DisableJitter}
	if w.expiry == 0 {
		w.expiry = DefaultExpiryWindow
	}
	if w.prefetch < 0 || (w.prefetch > 0 && w.prefetch <= w.expiry) {
		w.prefetch = -1 // off
	}
	return w
}

// What STS accepts, checked by hand rather than with regular
// expressions, which would cost every program that imports the package
// megabytes at init (the tag patterns' Unicode classes most). Each
// comment gives the pattern of the STS API reference, in RE2 syntax.

// isRoleARN: ^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$
func isRoleARN(s string) bool { return isIAMARN(s, false, "role") }

// isMFAARN: ^arn:aws[a-z-]*:iam::\d{12}:(mfa|u2f)/[\w+=,.@/-]{1,512}$
func isMFAARN(s string) bool { return isIAMARN(s, false, "mfa", "u2f") }

// isPolicyARN: ^arn:aws[a-z-]*:iam::(\d{12}|aws):policy/[\w+=,.@/-]{1,512}$
func isPolicyARN(s string) bool { return isIAMARN(s, true, "policy") }

// isIAMARN reports whether s is arn:aws[a-z-]*:iam::ACCOUNT:TYPE/NAME,
// with ACCOUNT 12 digits (or "aws" when awsAccount), TYPE one of types and
// NAME 1 to 512 of [\w+=,.@/-].
func isIAMARN(s string, awsAccount bool, types ...string) bool {
	rest, ok := strings.CutPrefix(s, "arn:aws")
	if !ok {
		return false
	}
	partition, rest, ok := strings.Cut(rest, ":")
	if !ok || !charsIn(partition, 0, len(partition), func(r rune) bool { return 'a' <= r && r <= 'z' || r == '-' }) {
		return false
	}
	if rest, ok = strings.CutPrefix(rest, "iam::"); !ok {
		return false
	}
	account, rest, ok := strings.Cut(rest, ":")
	if !ok || !(charsIn(account, 12, 12, isDigit) || awsAccount && account == "aws") {
		return false
	}
	typ, name, ok := strings.Cut(rest, "/")
	return ok && slices.Contains(types, typ) && charsIn(name, 1, 512, wordOr("+=,.@/-"))
}

// isName: ^[\w+=,.@-]{min,max}$, for session names, source identities and
// hardware token serials.
func isName(s string, min, max int) bool { return charsIn(s, min, max, wordOr("+=,.@-")) }

// isExternalIDChars: ^[\w+=,.@:/-]+$
func isExternalIDChars(s string) bool { return charsIn(s, 1, len(s), wordOr("+=,.@:/-")) }

// isTagText: ^[\p{L}\p{Z}\p{N}_.:/=+@-]{min,max}$, for tag keys and
// values.
func isTagText(s string, min, max int) bool {
	return charsIn(s, min, max, func(r rune) bool {
		return unicode.IsLetter(r) || unicode.Is(unicode.Z, r) || unicode.IsNumber(r) || strings.ContainsRune("_.:/=+@-", r)
	})
}

// charsIn reports whether s has min to max characters (runes), each of
// which ok accepts. A byte that is not UTF-8 is U+FFFD, as for regexp.
func charsIn(s string, min, max int, ok func(rune) bool) bool {
	n := 0
	for _, r := range s {
		if n++; n > max || !ok(r) {
			return false
		}
	}
	return n >= min
}

func isDigit(r rune) bool { return '0' <= r && r <= '9' }

// wordOr returns a test for the runes of \w ([0-9A-Za-z_]) and of extra.
func wordOr(extra string) func(rune) bool {
	return func(r rune) bool {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || isDigit(r) || r == '_' || strings.ContainsRune(extra, r)
	}
}

// STS's limits on session policies and tags.
const (
	maxPolicyARNs = 10
	// maxPolicyLength is STS's limit on an inline session policy's
	// plaintext.
	maxPolicyLength = 2048
	maxSessionTags  = 50
)

// validate checks o and returns an error wrapping ErrInvalidOptions (and
// ErrTokenCodeRequired when that is one of the problems) that says what is
// wrong and what is valid. Values are quoted short, so that hostile input
// cannot blow up the message; the external ID and the policy are never
// quoted.
func (o *Options) validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(format, args...))
	}
	assume := o.RoleARN != ""
	if assume && !isRoleARN(o.RoleARN) {
		bad("RoleARN %s is not an IAM role ARN (want arn:aws:iam::123456789012:role/NAME)", quote(o.RoleARN))
	}
	if !assume {
		for _, f := range []struct {
			name string
			set  bool
		}{
			{"RoleSessionName", o.RoleSessionName != ""},
			{"ExternalID", o.ExternalID != ""},
			{"Policy", o.Policy != ""},
			{"PolicyARNs", len(o.PolicyARNs) > 0},
			{"Tags", len(o.Tags) > 0},
			{"TransitiveTagKeys", len(o.TransitiveTagKeys) > 0},
			{"SourceIdentity", o.SourceIdentity != ""},
		} {
			if f.set {
				bad("%s applies to AssumeRole only; set RoleARN or leave %s empty", f.name, f.name)
			}
		}
	}
	if o.RoleSessionName != "" && !isName(o.RoleSessionName, 2, 64) {
		bad("RoleSessionName %s is invalid: want 2 to 64 characters of letters, digits and +=,.@_-", quote(o.RoleSessionName))
	}
	if o.Duration != 0 {
		maxDur, op := stslimits.MaxAssumeRoleDuration, "AssumeRole"
		if !assume {
			maxDur, op = stslimits.MaxGetSessionTokenDuration, "GetSessionToken"
		}
		switch {
		case o.Duration < stslimits.MinDuration || o.Duration > maxDur:
			bad("Duration %v is out of range for %s: want %v to %v (or 0 for STS's default)", o.Duration, op, stslimits.MinDuration, maxDur)
		case o.Duration%time.Second != 0:
			bad("Duration %v is not a whole number of seconds", o.Duration)
		}
	}
	if o.ExternalID != "" && (len(o.ExternalID) < 2 || len(o.ExternalID) > 1224 || !isExternalIDChars(o.ExternalID)) {
		bad("ExternalID is invalid: want 2 to 1224 characters of letters, digits and +=,.@:/_-")
	}
	switch {
	case len(o.Policy) > maxPolicyLength:
		bad("Policy has %d characters: STS accepts at most %d", len(o.Policy), maxPolicyLength)
	case o.Policy != "" && !json.Valid([]byte(o.Policy)):
		bad("Policy is not valid JSON")
	}
	if len(o.PolicyARNs) > maxPolicyARNs {
		bad("PolicyARNs has %d entries: STS accepts at most %d", len(o.PolicyARNs), maxPolicyARNs)
	} else {
		for _, a := range o.PolicyARNs {
			if !isPolicyARN(a) {
				bad("PolicyARNs entry %s is not an IAM policy ARN (want arn:aws:iam::aws:policy/NAME or arn:aws:iam::123456789012:policy/NAME)", quote(a))
			}
		}
	}
	if len(o.Tags) > maxSessionTags {
		bad("Tags has %d entries: STS accepts at most %d", len(o.Tags), maxSessionTags)
	} else {
		folded := map[string]string{}
		for _, k := range slices.Sorted(maps.Keys(o.Tags)) {
			switch {
			case !isTagText(k, 1, 128):
				bad("tag key %s is invalid: want 1 to 128 letters, digits, spaces and _.:/=+@-", quote(k))
			case hasAWSPrefix(k):
				bad("tag key %s is invalid: the aws: prefix is reserved for AWS", quote(k))
			}
			if !isTagText(o.Tags[k], 0, 256) {
				bad("value of tag %s is invalid: want up to 256 letters, digits, spaces and _.:/=+@-", quote(k))
			}
			if other, ok := folded[strings.ToLower(k)]; ok {
				bad("tag keys %s and %s differ only in case: STS treats them as one key", quote(other), quote(k))
			}
			folded[strings.ToLower(k)] = k
		}
	}
	if len(o.TransitiveTagKeys) > maxSessionTags {
		bad("TransitiveTagKeys has %d entries: STS accepts at most %d", len(o.TransitiveTagKeys), maxSessionTags)
	} else {
		for _, k := range o.TransitiveTagKeys {
			if _, ok := o.Tags[k]; !ok {
				bad("TransitiveTagKeys names %s, which is not a key of Tags", quote(k))
			}
		}
	}
	if o.SourceIdentity != "" && (!isName(o.SourceIdentity, 2, 64) || hasAWSPrefix(o.SourceIdentity)) {
		bad("SourceIdentity %s is invalid: want 2 to 64 characters of letters, digits and +=,.@_-, not starting with aws:", quote(o.SourceIdentity))
	}
	if o.SerialNumber != "" && !isMFAARN(o.SerialNumber) && !isName(o.SerialNumber, 9, 256) {
		bad("SerialNumber %s is neither an MFA device ARN (arn:aws:iam::123456789012:mfa/NAME) nor a hardware token serial (9 to 256 letters and digits)", quote(o.SerialNumber))
	}
	for _, e := range []error{windowProblem(o), nilProblem(o)} {
		if e != nil {
			errs = append(errs, e)
		}
	}
	if o.SerialNumber != "" && o.TokenCode == nil {
		errs = append(errs, fmt.Errorf("%w (SerialNumber %s): set TokenCode, for example to stschain.PromptTokenCode", ErrTokenCodeRequired, quote(o.SerialNumber)))
	}
	if len(errs) > 0 {
		return invalidOptions(errs...)
	}
	return nil
}

// windowProblem says what is wrong with o's windows, or nil.
func windowProblem(o *Options) error {
	var errs []error
	if o.ExpiryWindow < 0 || o.ExpiryWindow > maxWindow {
		errs = append(errs, fmt.Errorf("ExpiryWindow %v is out of range: want 0 (default %v) to %v", o.ExpiryWindow, DefaultExpiryWindow, maxWindow))
	}
	if o.PrefetchWindow > maxWindow {
		errs = append(errs, fmt.Errorf("PrefetchWindow %v is too long: want at most %v (0 chooses it from each session's lifetime, negative turns prefetch off)", o.PrefetchWindow, maxWindow))
	}
	return joinProblems(errs)
}

// nilProblem says which interface field of o holds a nil pointer, or nil.
func nilProblem(o *Options) error {
	var errs []error
	for _, f := range []struct {
		name  string
		value any
	}{
		{"MasterCredentials", o.MasterCredentials},
		{"Client", o.Client},
		{"Cache", o.Cache},
		{"MeterProvider", o.MeterProvider},
		{"TracerProvider", o.TracerProvider},
	} {
		if holdsNil(f.value) {
			errs = append(errs, fmt.Errorf("%s is a nil %T: set it to a usable value or leave it nil", f.name, f.value))
		}
	}
	return joinProblems(errs)
}

func joinProblems(errs []error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return problems(errs)
}

// holdsNil reports whether v is an interface value holding a nil pointer
// (or nil map, func ...): set, but unusable.
func holdsNil(v any) bool {
	if v == nil {
		return false
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Func, reflect.Chan, reflect.Slice, reflect.Interface:
		return rv.IsNil()
	}
	return false
}

func hasAWSPrefix(s string) bool { return len(s) >= 4 && strings.EqualFold(s[:4], "aws:") }
