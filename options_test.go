package stschain

import (
	"context"
	"math/rand/v2"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewIgnoresNilOptionFuncs(t *testing.T) {
	p, err := New(aws.Config{Credentials: staticMaster("alice")}, nil, withRole(roleA), func(o *Options) {
		o.STSOptions = []func(*sts.Options){nil}
	})
	require.NoError(t, err)
	_, ok := p.Client().(*sts.Client)
	assert.True(t, ok)
}

// A typed nil in an interface field is a caller's bug: a nil
// *ChainableProvider as master would silently drop a link of the chain.
func TestNewRefusesTypedNil(t *testing.T) {
	var nilProvider *ChainableProvider
	var nilClient *fakeSTS
	var nilCache *memCache
	var nilStatic *credentials.StaticCredentialsProvider
	for _, tc := range []struct {
		name string
		cfg  aws.Config
		opt  func(*Options)
		want string
	}{
		{"master", aws.Config{Credentials: staticMaster("alice")}, func(o *Options) { o.MasterCredentials = nilProvider }, "MasterCredentials is a nil *stschain.ChainableProvider"},
		{"client", aws.Config{Credentials: staticMaster("alice")}, func(o *Options) { o.Client = nilClient }, "Client is a nil *stschain.fakeSTS"},
		{"cache", aws.Config{Credentials: staticMaster("alice")}, func(o *Options) { o.Cache = nilCache }, "Cache is a nil *stschain.memCache"},
		{"cfg.Credentials", aws.Config{Credentials: nilStatic}, func(*Options) {}, "cfg.Credentials is a nil *credentials.StaticCredentialsProvider"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg, withRole(roleA), tc.opt)
			require.ErrorIs(t, err, ErrInvalidOptions)
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

// deviceOf is an MFA device of the test's own: a code is never sent twice
// for one device within its time step, process-wide, so tests that send
// codes must not share a device.
func deviceOf(t *testing.T) string {
	v, _ := devices.LoadOrStore(t, uniqueSerial(t))
	return v.(string)
}

// devices holds each test's device, by *testing.T: one per test and per
// run, since the process's CodeGuard outlives a run under -count.
var devices sync.Map

func TestNewRejectsBadInput(t *testing.T) {
	long := strings.Repeat("x", 65)
	for _, tc := range []struct {
		name string
		opts Options
		want string // in the error
	}{
		{"role ARN not a role", Options{RoleARN: "arn:aws:iam::123456789012:user/alice"}, "not an IAM role ARN"},
		{"role ARN garbage", Options{RoleARN: "A"}, "not an IAM role ARN"},
		{"session name too short", Options{RoleARN: roleA, RoleSessionName: "a"}, "2 to 64"},
		{"session name too long", Options{RoleARN: roleA, RoleSessionName: long}, "2 to 64"},
		{"session name bad char", Options{RoleARN: roleA, RoleSessionName: "a b"}, "RoleSessionName"},
		{"AssumeRole duration short", Options{RoleARN: roleA, Duration: 14 * time.Minute}, "15m0s to 12h0m0s"},
		{"AssumeRole duration long", Options{RoleARN: roleA, Duration: 13 * time.Hour}, "15m0s to 12h0m0s"},
		{"GetSessionToken duration long", Options{Duration: 37 * time.Hour}, "15m0s to 36h0m0s"},
		{"duration fraction", Options{Duration: 20*time.Minute + time.Millisecond}, "whole number of seconds"},
		{"negative window", Options{ExpiryWindow: -time.Second}, "ExpiryWindow"},
		{"serial bad", Options{SerialNumber: "123", TokenCode: fixedCode}, "neither an MFA device ARN"},
		{"serial ARN of a user", Options{SerialNumber: "arn:aws:iam::123456789012:user/alice", TokenCode: fixedCode}, "SerialNumber"},
		{"role-only field without role", Options{ExternalID: "xyz"}, "ExternalID applies to AssumeRole only"},
		{"policy not JSON", Options{RoleARN: roleA, Policy: "{"}, "Policy is not valid JSON"},
		{"policy ARN bad", Options{RoleARN: roleA, PolicyARNs: []string{"ReadOnly"}}, "not an IAM policy ARN"},
		{"transitive key not a tag", Options{RoleARN: roleA, Tags: map[string]string{"team": "x"}, TransitiveTagKeys: []string{"env"}}, `"env"`},
		{"tag key bad", Options{RoleARN: roleA, Tags: map[string]string{"a\x00": "x"}}, "tag key"},
		{"source identity bad", Options{RoleARN: roleA, SourceIdentity: "x"}, "SourceIdentity"},
		{"external ID short", Options{RoleARN: roleA, ExternalID: "x"}, "ExternalID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			opts.MasterCredentials = staticMaster("alice")
			_, err := New(aws.Config{}, func(o *Options) { *o = opts })
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalidOptions)
			assert.Contains(t, err.Error(), tc.want)
			assert.True(t, strings.HasPrefix(err.Error(), "stschain: "), err.Error())
		})
	}
}

func TestNewAcceptsValidInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"GetSessionToken", Options{}},
		{"GetSessionToken 36h", Options{Duration: 36 * time.Hour}},
		{"role with path", Options{RoleARN: "arn:aws:iam::123456789012:role/team/deploy"}},
		{"gov partition", Options{RoleARN: "arn:aws-us-gov:iam::123456789012:role/x"}},
		{"hardware serial", Options{SerialNumber: "GAHT12345678", TokenCode: fixedCode}},
		{"everything", Options{
			RoleARN: roleA, RoleSessionName: "me@example.com", Duration: 12 * time.Hour, ExternalID: "ext-1",
			Policy: `{"Version":"2012-10-17"}`, PolicyARNs: []string{"arn:aws:iam::aws:policy/ReadOnlyAccess"},
			Tags: map[string]string{"team": "core"}, TransitiveTagKeys: []string{"team"}, SourceIdentity: "alice",
			SerialNumber: mfaARN, TokenCode: fixedCode, ExpiryWindow: time.Second, PrefetchWindow: -1,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			opts.MasterCredentials = staticMaster("alice")
			_, err := New(aws.Config{}, func(o *Options) { *o = opts })
			assert.NoError(t, err)
		})
	}
}

func fixedCode(context.Context, string) (string, error) { return "123456", nil }

func TestNewNeedsMasterCredentials(t *testing.T) {
	_, err := New(aws.Config{Region: "eu-west-1"}, withRole(roleA))
	require.ErrorIs(t, err, ErrNoMasterCredentials)
	assert.Contains(t, err.Error(), roleA)

	_, err = New(aws.Config{}, func(o *Options) { o.Client = newFakeSTS("A", 0) })
	assert.NoError(t, err, "a given Client signs on its own")
}

func TestNewRequiresTokenCodeWithSerialNumber(t *testing.T) {
	_, err := New(aws.Config{Credentials: staticMaster("alice")}, func(o *Options) { o.SerialNumber = mfaARN })
	require.ErrorIs(t, err, ErrTokenCodeRequired)
	assert.Contains(t, err.Error(), mfaARN)
}

// Windows of about 97 years overflowed the schedule, and every Retrieve
// then called STS.
func TestNewBoundsWindows(t *testing.T) {
	const years97 = 97 * 365 * 24 * time.Hour
	for _, tc := range []struct {
		name string
		opt  func(*Options)
		want string
	}{
		{"expiry", func(o *Options) { o.ExpiryWindow = years97 }, "ExpiryWindow 849720h0m0s is out of range: want 0 (default 1m0s) to 36h0m0s"},
		{"prefetch", func(o *Options) { o.PrefetchWindow = years97 }, "PrefetchWindow 849720h0m0s is too long: want at most 36h0m0s"},
		{"negative expiry", func(o *Options) { o.ExpiryWindow = -time.Second }, "ExpiryWindow -1s is out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(aws.Config{Credentials: staticMaster("a")}, withRole(roleA), tc.opt)
			require.ErrorIs(t, err, ErrInvalidOptions)
			assert.ErrorContains(t, err, tc.want)
		})
	}
	p, err := New(aws.Config{Credentials: staticMaster("a")}, withRole(roleA), func(o *Options) {
		o.ExpiryWindow, o.PrefetchWindow = maxWindow, -years97
	})
	require.NoError(t, err, "the longest window, and any negative prefetch (off)")
	assert.Negative(t, p.impl.Load().refresh.cfg.windows.prefetch)
}

// New's errors quote hostile input short: a megabyte in, a short error
// out.
func TestNewQuotesHostileInputShort(t *testing.T) {
	huge := strings.Repeat("\u00e9", 1<<19) // 1 MiB of UTF-8
	_, err := New(aws.Config{Credentials: staticMaster("a")}, func(o *Options) {
		o.RoleARN, o.RoleSessionName, o.SourceIdentity, o.SerialNumber = huge, huge, huge, huge
		o.PolicyARNs = []string{huge}
		o.Tags = map[string]string{huge: huge}
		o.TransitiveTagKeys = []string{huge + "x"}
		o.ExternalID, o.Policy = huge, huge
	})
	require.ErrorIs(t, err, ErrInvalidOptions)
	assert.Less(t, len(err.Error()), 4096, "the error quotes a short prefix of each value")
	assert.Contains(t, err.Error(), "(1048576 bytes)")
	assert.NotContains(t, err.Error(), "ExternalID \"", "the external ID is never quoted")
}

// FuzzNew feeds New hostile options: it must never panic, refuse with an
// error wrapping ErrInvalidOptions, keep the error short, and never quote
// the external ID or the policy.
func FuzzNew(f *testing.F) {
	f.Add(roleA, "session", "external-id", `{"Version":"2012-10-17"}`, mfaARN, "source", "team", "blue", int64(time.Hour), int64(0), int64(0))
	f.Add("", "", "", "", "", "", "", "", int64(0), int64(0), int64(0))
	f.Add("arn:aws:iam::123456789012:role/"+strings.Repeat("a", 600), "x", "é", "{", "123", "aws:x", "aws:k", "\x00", int64(-1), int64(-1), int64(1<<62))
	f.Add("arn:aws-cn:iam::123456789012:role/path/r", "a=b,c.d@e-f", "ext:/id", "[]", "GAHT12345678", "me@x", "k", "", int64(36*time.Hour), int64(maxWindow), int64(-maxWindow))
	f.Fuzz(func(t *testing.T, role, session, extID, policy, serial, source, tagKey, tagValue string, duration, expiry, prefetch int64) {
		_, err := New(aws.Config{Credentials: staticMaster("alice")}, func(o *Options) {
			o.RoleARN, o.RoleSessionName, o.ExternalID, o.Policy = role, session, extID, policy
			o.SerialNumber, o.SourceIdentity = serial, source
			if serial != "" {
				o.TokenCode = fixedCode
			}
			if tagKey != "" {
				o.Tags = map[string]string{tagKey: tagValue}
				o.TransitiveTagKeys = []string{tagKey}
			}
			o.Duration, o.ExpiryWindow, o.PrefetchWindow = time.Duration(duration), time.Duration(expiry), time.Duration(prefetch)
		})
		if err == nil {
			return
		}
		require.ErrorIs(t, err, ErrInvalidOptions)
		msg := err.Error()
		assert.Less(t, len(msg), 8192)
		assert.True(t, strings.HasPrefix(msg, "stschain: invalid options: "), msg)
		for _, secret := range []string{extID, policy} {
			if len(secret) >= 16 && !strings.Contains(role+session+serial+source+tagKey+tagValue, secret) {
				assert.NotContains(t, msg, secret)
			}
		}
	})
}

// stsPatterns are the patterns of the STS API reference that options.go
// checks by hand; the checks must agree with them.
var stsPatterns = []struct {
	name    string
	pattern string
	check   func(string) bool
}{
	{"role ARN", `^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$`, isRoleARN},
	{"MFA ARN", `^arn:aws[a-z-]*:iam::\d{12}:(mfa|u2f)/[\w+=,.@/-]{1,512}$`, isMFAARN},
	{"policy ARN", `^arn:aws[a-z-]*:iam::(\d{12}|aws):policy/[\w+=,.@/-]{1,512}$`, isPolicyARN},
	{"session name", `^[\w+=,.@-]{2,64}$`, func(s string) bool { return isName(s, 2, 64) }},
	{"hardware serial", `^[\w+=,.@-]{9,256}$`, func(s string) bool { return isName(s, 9, 256) }},
	{"external ID", `^[\w+=,.@:/-]+$`, isExternalIDChars},
	{"tag key", `^[\p{L}\p{Z}\p{N}_.:/=+@-]{1,128}$`, func(s string) bool { return isTagText(s, 1, 128) }},
	{"tag value", `^[\p{L}\p{Z}\p{N}_.:/=+@-]{0,256}$`, func(s string) bool { return isTagText(s, 0, 256) }},
}

// checkAgainstPatterns fails t where a hand check and its pattern disagree
// about s.
func checkAgainstPatterns(t *testing.T, res []*regexp.Regexp, s string) {
	t.Helper()
	for i, p := range stsPatterns {
		if want := res[i].MatchString(s); p.check(s) != want {
			t.Errorf("%s: the check says %t of %q, the pattern %t", p.name, !want, s, want)
		}
	}
}

func compilePatterns() []*regexp.Regexp {
	var res []*regexp.Regexp
	for _, p := range stsPatterns {
		res = append(res, regexp.MustCompile(p.pattern))
	}
	return res
}

// The hand checks accept what the patterns accept, and nothing else: on
// strings built from the pieces that matter, and from random runes.
func TestChecksAgreeWithTheirPatterns(t *testing.T) {
	res := compilePatterns()
	pieces := []string{
		"arn:aws", "-cn", "-us-gov", "X", ":", "iam", "::", "sts", "123456789012", "12345678901", "aws",
		"role/", "mfa/", "u2f/", "policy/", "user/", "/", "a", "Z", "9", "_", "+=,.@-", ":/",
		"é", " ", "\u2028", "\u00a0", "٣", "\t", "\n", "\xff", "*", strings.Repeat("a", 60), strings.Repeat("b", 200),
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		var b strings.Builder
		for range rng.IntN(12) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		checkAgainstPatterns(t, res, b.String())
	}
	for _, s := range []string{
		"", "arn:aws:iam::123456789012:role/r", "arn:aws-cn:iam::123456789012:role/a/b/c",
		"arn:aws:iam::aws:policy/ReadOnlyAccess", "arn:aws:iam::aws:role/r", "arn:aws:iam::123456789012:mfa/alice",
		"arn:aws:iam::123456789012:u2f/x", "arn:aws:iam::123456789012:role/" + strings.Repeat("r", 512),
		"arn:aws:iam::123456789012:role/" + strings.Repeat("r", 513), "GAHT12345678", strings.Repeat("é", 128),
		strings.Repeat("é", 129), strings.Repeat("x", 256), strings.Repeat("x", 257),
		"a", "ab", strings.Repeat("a", 8), strings.Repeat("a", 9), strings.Repeat("a", 64), strings.Repeat("a", 65),
	} {
		checkAgainstPatterns(t, res, s)
	}
}

func FuzzChecksAgreeWithTheirPatterns(f *testing.F) {
	f.Add("arn:aws:iam::123456789012:role/r")
	f.Add("team:a b")
	res := compilePatterns()
	f.Fuzz(func(t *testing.T, s string) { checkAgainstPatterns(t, res, s) })
}
