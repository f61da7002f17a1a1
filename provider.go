package stschain

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// ProviderName is the [aws.Credentials.Source] of every credential a
// [ChainableProvider] returns.
const ProviderName = "stschain.ChainableProvider"

// Defaults used when the corresponding [Options] field is zero.
const (
	// DefaultExpiryWindow is how long before Expires callers start waiting
	// for fresh credentials.
	DefaultExpiryWindow = time.Minute
	// DefaultPrefetchWindow is how long before Expires a background refresh
	// starts while callers keep the current credentials.
	DefaultPrefetchWindow = 5 * time.Minute
	// DefaultRegion is the region of the STS client New builds when
	// cfg.Region is empty.
	DefaultRegion = "us-east-1"
)

// Duration limits that STS enforces and New checks.
const (
	MinDuration                = 15 * time.Minute
	MaxAssumeRoleDuration      = 12 * time.Hour
	MaxGetSessionTokenDuration = 36 * time.Hour
	// RoleChainingMaxDuration is the longest session STS grants when the
	// caller's own credentials come from AssumeRole.
	RoleChainingMaxDuration = time.Hour
)

// GetSessionTokenLink names a link with no RoleARN in errors, logs and
// refresh events.
const GetSessionTokenLink = "GetSessionToken"

// STSClient is what the provider calls. *sts.Client satisfies it, and tests
// can substitute a fake.
type STSClient interface {
	AssumeRole(ctx context.Context, in *sts.AssumeRoleInput, optFns ...func(*sts.Options)) (*sts.AssumeRoleOutput, error)
	GetSessionToken(ctx context.Context, in *sts.GetSessionTokenInput, optFns ...func(*sts.Options)) (*sts.GetSessionTokenOutput, error)
}

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
	// [PromptTokenCode] and [TOTPTokenCode].
	TokenCode TokenCodeFunc

	// MasterCredentials sign the STS calls. They are retrieved afresh before
	// every refresh, so a master that is itself a ChainableProvider refreshes
	// when it needs to. Optional: nil means cfg.Credentials. With neither, New
	// fails unless Client is set, in which case Client signs with its own
	// credentials.
	MasterCredentials aws.CredentialsProvider

	// ExpiryWindow is how long before Expires callers stop getting the
	// current credentials and wait for a refresh. Optional: zero means
	// DefaultExpiryWindow. Must not be negative.
	ExpiryWindow time.Duration

	// PrefetchWindow is how long before Expires one background refresh
	// starts while callers keep getting the current credentials at once.
	// Optional: zero means DefaultPrefetchWindow; negative turns background
	// refresh off. A window not larger than ExpiryWindow also turns it off.
	PrefetchWindow time.Duration

	// DisableJitter makes every refresh start exactly at its window.
	// Optional: false spreads the start of a background refresh at random
	// over the first half of the time between the prefetch and expiry
	// windows (2 minutes with the defaults; over half an expiry window
	// before it when prefetch is off), so that a fleet started together does
	// not call STS together.
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
}

// RefreshOutcome says how a refresh attempt ended.
type RefreshOutcome string

// Refresh outcomes reported in [RefreshEvent].
const (
	// RefreshOK: STS returned new credentials.
	RefreshOK RefreshOutcome = "ok"
	// RefreshFromCache: Options.Cache had usable credentials; STS was not called.
	RefreshFromCache RefreshOutcome = "cache"
	// RefreshFailedKept: the refresh failed but the current credentials had
	// not expired, so callers keep them; a later attempt retries.
	RefreshFailedKept RefreshOutcome = "failed-kept-current"
	// RefreshFailed: the refresh failed and no valid credentials were left.
	RefreshFailed RefreshOutcome = "failed"
)

// RefreshEvent describes one refresh attempt, for [Options.OnRefresh].
type RefreshEvent struct {
	Link       string         // the role ARN, or GetSessionTokenLink
	Outcome    RefreshOutcome // how it ended
	Err        error          // the failure, for the failed outcomes
	Latency    time.Duration  // how long the attempt took
	Background bool           // true when no caller waited for it
	Expires    time.Time      // expiry of the credentials now cached; zero if none
}

// Sentinel errors callers can test for with [errors.Is].
var (
	// ErrTokenCodeRequired is wrapped by New's error when SerialNumber is
	// set without TokenCode.
	ErrTokenCodeRequired = errors.New("stschain: SerialNumber is set but TokenCode is nil")

	// ErrNoMasterCredentials is wrapped by New's error when neither
	// Options.MasterCredentials nor cfg.Credentials is set.
	ErrNoMasterCredentials = errors.New("stschain: no master credentials: set cfg.Credentials or Options.MasterCredentials")

	// ErrInvalidOptions is wrapped by every validation error from New.
	ErrInvalidOptions = errors.New("stschain: invalid options")

	// ErrLongTermCredentialsRequired is returned when a GetSessionToken link
	// is handed session credentials: STS accepts only an IAM user's
	// long-term keys there.
	ErrLongTermCredentialsRequired = errors.New("stschain: GetSessionToken needs long-term IAM user credentials, but the master returned session credentials")
)

// Error is returned by Retrieve and Refresh when a link of the chain fails.
// Error() shows the path from this provider down to the failing link.
type Error struct {
	Link string // role ARN, or GetSessionTokenLink
	Op   string // what failed: "AssumeRole", "GetSessionToken", "master credentials", ...
	Err  error  // the cause
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("stschain: ")
	b.WriteString(e.Link)
	cur := e
	for {
		var next *Error
		if !errors.As(cur.Err, &next) || cur.Op != opMaster {
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
		b.WriteString(cur.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

const opMaster = "retrieving master credentials"

var (
	roleARNRe     = regexp.MustCompile(`^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$`)
	sessionNameRe = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
	mfaARNRe      = regexp.MustCompile(`^arn:aws[a-z-]*:iam::\d{12}:(mfa|u2f)/[\w+=,.@/-]{1,512}$`)
	hwSerialRe    = regexp.MustCompile(`^[\w+=,.@-]{9,256}$`)
	externalIDRe  = regexp.MustCompile(`^[\w+=,.@:/-]+$`)
	policyARNRe   = regexp.MustCompile(`^arn:aws[a-z-]*:iam::(\d{12}|aws):policy/[\w+=,.@/-]{1,512}$`)
	tagKeyRe      = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+@-]{1,128}$`)
	tagValueRe    = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+@-]{0,256}$`)
	sourceIdentRe = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
	maxPolicyARNs = 10
	// maxPolicyLength is STS's limit on an inline session policy's
	// plaintext.
	maxPolicyLength = 2048
	maxSessionTags  = 50
)

// validate checks o and returns an error wrapping ErrInvalidOptions (or
// ErrTokenCodeRequired) that says what is wrong and what is valid.
func (o *Options) validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(format, args...))
	}
	assume := o.RoleARN != ""
	if assume && !roleARNRe.MatchString(o.RoleARN) {
		bad("RoleARN %q is not an IAM role ARN (want arn:aws:iam::123456789012:role/NAME)", o.RoleARN)
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
	if o.RoleSessionName != "" && !sessionNameRe.MatchString(o.RoleSessionName) {
		bad("RoleSessionName %q is invalid: want 2 to 64 characters of letters, digits and +=,.@_-", o.RoleSessionName)
	}
	if o.Duration != 0 {
		maxDur, op := MaxAssumeRoleDuration, "AssumeRole"
		if !assume {
			maxDur, op = MaxGetSessionTokenDuration, "GetSessionToken"
		}
		switch {
		case o.Duration < MinDuration || o.Duration > maxDur:
			bad("Duration %v is out of range for %s: want %v to %v (or 0 for STS's default)", o.Duration, op, MinDuration, maxDur)
		case o.Duration%time.Second != 0:
			bad("Duration %v is not a whole number of seconds", o.Duration)
		}
	}
	if o.ExternalID != "" && (len(o.ExternalID) < 2 || len(o.ExternalID) > 1224 || !externalIDRe.MatchString(o.ExternalID)) {
		bad("ExternalID is invalid: want 2 to 1224 characters of letters, digits and +=,.@:/_-")
	}
	switch {
	case o.Policy != "" && !json.Valid([]byte(o.Policy)):
		bad("Policy is not valid JSON")
	case len(o.Policy) > maxPolicyLength:
		bad("Policy has %d characters: STS accepts at most %d", len(o.Policy), maxPolicyLength)
	}
	if len(o.PolicyARNs) > maxPolicyARNs {
		bad("PolicyARNs has %d entries: STS accepts at most %d", len(o.PolicyARNs), maxPolicyARNs)
	}
	for _, a := range o.PolicyARNs {
		if !policyARNRe.MatchString(a) {
			bad("PolicyARNs entry %q is not an IAM policy ARN (want arn:aws:iam::aws:policy/NAME or arn:aws:iam::123456789012:policy/NAME)", a)
		}
	}
	if len(o.Tags) > maxSessionTags {
		bad("Tags has %d entries: STS accepts at most %d", len(o.Tags), maxSessionTags)
	}
	folded := map[string]string{}
	for _, k := range sortedKeys(o.Tags) {
		switch {
		case !tagKeyRe.MatchString(k):
			bad("tag key %q is invalid: want 1 to 128 letters, digits, spaces and _.:/=+@-", k)
		case hasAWSPrefix(k):
			bad("tag key %q is invalid: the aws: prefix is reserved for AWS", k)
		}
		if !tagValueRe.MatchString(o.Tags[k]) {
			bad("value of tag %q is invalid: want up to 256 letters, digits, spaces and _.:/=+@-", k)
		}
		if other, ok := folded[strings.ToLower(k)]; ok {
			bad("tag keys %q and %q differ only in case: STS treats them as one key", other, k)
		}
		folded[strings.ToLower(k)] = k
	}
	for _, k := range o.TransitiveTagKeys {
		if _, ok := o.Tags[k]; !ok {
			bad("TransitiveTagKeys names %q, which is not a key of Tags", k)
		}
	}
	if o.SourceIdentity != "" && (!sourceIdentRe.MatchString(o.SourceIdentity) || hasAWSPrefix(o.SourceIdentity)) {
		bad("SourceIdentity %q is invalid: want 2 to 64 characters of letters, digits and +=,.@_-, not starting with aws:", o.SourceIdentity)
	}
	if o.SerialNumber != "" && !mfaARNRe.MatchString(o.SerialNumber) && !hwSerialRe.MatchString(o.SerialNumber) {
		bad("SerialNumber %q is neither an MFA device ARN (arn:aws:iam::123456789012:mfa/NAME) nor a hardware token serial (9 to 256 letters and digits)", o.SerialNumber)
	}
	if o.ExpiryWindow < 0 {
		bad("ExpiryWindow %v is negative: want 0 (default %v) or more", o.ExpiryWindow, DefaultExpiryWindow)
	}
	if o.SerialNumber != "" && o.TokenCode == nil {
		errs = append(errs, fmt.Errorf("%w (SerialNumber %q): set TokenCode, for example to stschain.PromptTokenCode", ErrTokenCodeRequired, o.SerialNumber))
	}
	switch {
	case len(errs) == 1 && errors.Is(errs[0], ErrTokenCodeRequired):
		return errs[0]
	case len(errs) > 0:
		return fmt.Errorf("%w: %w", ErrInvalidOptions, errors.Join(errs...))
	}
	return nil
}

func hasAWSPrefix(s string) bool { return len(s) >= 4 && strings.EqualFold(s[:4], "aws:") }

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// String describes the options without any secret: neither the master's
// keys nor anything a callback returns.
func (o Options) String() string {
	var b strings.Builder
	b.WriteString("stschain.Options{")
	link := o.RoleARN
	if link == "" {
		link = GetSessionTokenLink
	}
	b.WriteString(link)
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

// GoString is String, so that %#v shows no secret either.
func (o Options) GoString() string { return o.String() }
