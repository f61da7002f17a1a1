package ststest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGetCallerIdentityUser(t *testing.T) {
	s := newTestServer(t, testConfig())
	out, err := client(s, "alice").GetCallerIdentity(ctxT(t), &sts.GetCallerIdentityInput{})
	require.NoError(t, err)
	assert.Equal(t, "arn:aws:iam::123456789012:user/alice", aws.ToString(out.Arn))
	assert.Equal(t, acct, aws.ToString(out.Account))
	assert.Regexp(t, `^AIDA[A-Z2-7]{17}$`, aws.ToString(out.UserId))
	calls := s.Calls()
	require.Len(t, calls, 1, "the SDK must have reached the fake, not AWS")
	assert.Equal(t, Call{Action: "GetCallerIdentity", CallerARN: s.UserARN("alice"), CallerAccessKeyID: aliceKey, Status: 200}, calls[0])
}

func TestAssumeRoleAndChain(t *testing.T) {
	s := newTestServer(t, testConfig())
	ctx := ctxT(t)
	out, err := assume(ctx, client(s, "alice"), roleA, "alice-session")
	require.NoError(t, err)
	assert.Equal(t, "arn:aws:sts::123456789012:assumed-role/A/alice-session", aws.ToString(out.AssumedRoleUser.Arn))
	assert.Regexp(t, `^AROA[A-Z2-7]{17}:alice-session$`, aws.ToString(out.AssumedRoleUser.AssumedRoleId))
	creds := out.Credentials
	assert.Regexp(t, `^ASIA[A-Z2-7]{16}$`, aws.ToString(creds.AccessKeyId))
	assert.Len(t, aws.ToString(creds.SecretAccessKey), 40)
	assert.Greater(t, len(aws.ToString(creds.SessionToken)), 300)
	assert.WithinDuration(t, s.Now().Add(time.Hour), aws.ToTime(creds.Expiration), 2*time.Second)

	// The session answers GetCallerIdentity as the assumed role.
	roleClient := sessionClient(s, creds)
	id, err := roleClient.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	require.NoError(t, err)
	assert.Equal(t, aws.ToString(out.AssumedRoleUser.Arn), aws.ToString(id.Arn))
	assert.Equal(t, aws.ToString(out.AssumedRoleUser.AssumedRoleId), aws.ToString(id.UserId))

	// Role chaining: B trusts A.
	outB, err := assume(ctx, roleClient, roleB, "chained")
	require.NoError(t, err)
	assert.Equal(t, "arn:aws:sts::123456789012:assumed-role/B/chained", aws.ToString(outB.AssumedRoleUser.Arn))

	calls := s.Calls(Call{Action: "AssumeRole"})
	require.Len(t, calls, 2)
	assert.Equal(t, aliceKey, calls[0].CallerAccessKeyID)
	assert.Equal(t, aws.ToString(creds.AccessKeyId), calls[0].IssuedAccessKeyID)
	assert.Equal(t, aws.ToString(creds.AccessKeyId), calls[1].CallerAccessKeyID, "B was assumed with A's session")
	assert.Equal(t, aws.ToString(out.AssumedRoleUser.Arn), calls[1].CallerARN)
	assert.Equal(t, roleB, calls[1].RoleARN)
	assert.Equal(t, "chained", calls[1].RoleSessionName)
	assert.Equal(t, aws.ToString(outB.Credentials.AccessKeyId), calls[1].IssuedAccessKeyID)
	assert.Equal(t, 3, len(s.Calls()))
}

func TestAssumeRoleRefusals(t *testing.T) {
	s := newTestServer(t, testConfig())
	ctx := ctxT(t)
	alice := client(s, "alice")
	roleOut, err := assume(ctx, alice, roleA, "s1")
	require.NoError(t, err)
	roleClient := sessionClient(s, roleOut.Credentials)
	gst, err := alice.GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	require.NoError(t, err)
	gstClient := sessionClient(s, gst.Credentials)

	denied := func(caller, role string) string {
		return "User: " + caller + " is not authorized to perform: sts:AssumeRole on resource: " + role
	}
	aliceARN := s.UserARN("alice")
	tests := []struct {
		name   string
		client *sts.Client
		role   string
		sess   string
		opt    func(*sts.AssumeRoleInput)
		code   string
		msg    string
		status int
	}{
		{"untrusted user", client(s, "bob"), roleA, "x1", nil, "AccessDenied", denied(s.UserARN("bob"), roleA), 403},
		{"unknown role", alice, "arn:aws:iam::123456789012:role/Nope", "x1", nil, "AccessDenied", denied(aliceARN, "arn:aws:iam::123456789012:role/Nope"), 403},
		{"user not trusted by B", alice, roleB, "x1", nil, "AccessDenied", denied(aliceARN, roleB), 403},
		{"session name too short", alice, roleA, "x", nil, "ValidationError",
			"1 validation error detected: Value 'x' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2", 400},
		{"session name bad characters", alice, roleA, "bad name", nil, "ValidationError",
			`1 validation error detected: Value 'bad name' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]*`, 400},
		{"session name too long", alice, roleA, strings.Repeat("a", 65), nil, "ValidationError",
			"1 validation error detected: Value '" + strings.Repeat("a", 65) + "' at 'roleSessionName' failed to satisfy constraint: Member must have length less than or equal to 64", 400},
		{"session name too long and bad characters", alice, roleA, strings.Repeat("a", 64) + "/", nil, "ValidationError",
			"2 validation errors detected: Value '" + strings.Repeat("a", 64) + "/' at 'roleSessionName' failed to satisfy constraint: Member must have length less than or equal to 64; " +
				"Value '" + strings.Repeat("a", 64) + "/' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*", 400},
		{"duration above 12 hours", alice, roleLong, "x1", func(in *sts.AssumeRoleInput) { in.DurationSeconds = aws.Int32(43201) }, "ValidationError",
			"1 validation error detected: Value '43201' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 43200", 400},
		{"external id too short", alice, roleExt, "x1", func(in *sts.AssumeRoleInput) { in.ExternalId = aws.String("e") }, "ValidationError",
			"1 validation error detected: Value 'e' at 'externalId' failed to satisfy constraint: Member must have length greater than or equal to 2", 400},
		{"duration too short", alice, roleA, "x1", func(in *sts.AssumeRoleInput) { in.DurationSeconds = aws.Int32(899) }, "ValidationError",
			"1 validation error detected: Value '899' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900", 400},
		{"duration above role max", alice, roleA, "x1", func(in *sts.AssumeRoleInput) { in.DurationSeconds = aws.Int32(3601) }, "ValidationError", msgMaxDuration, 400},
		{"chaining above one hour", roleClient, roleLong, "x1", func(in *sts.AssumeRoleInput) { in.DurationSeconds = aws.Int32(7200) }, "ValidationError", msgChaining, 400},
		{"session credentials above one hour", gstClient, roleLong, "x1", func(in *sts.AssumeRoleInput) { in.DurationSeconds = aws.Int32(3601) }, "ValidationError", msgChaining, 400},
		{"external id missing", alice, roleExt, "x1", nil, "AccessDenied", denied(aliceARN, roleExt), 403},
		{"external id wrong", alice, roleExt, "x1", func(in *sts.AssumeRoleInput) { in.ExternalId = aws.String("ext-999") }, "AccessDenied", denied(aliceARN, roleExt), 403},
		{"mfa required, none given", alice, roleMFA, "x1", nil, "AccessDenied", denied(aliceARN, roleMFA), 403},
		{"mfa wrong code", alice, roleMFA, "x1", func(in *sts.AssumeRoleInput) {
			in.SerialNumber, in.TokenCode = aws.String(aliceMFA), aws.String("999999")
		}, "AccessDenied", msgMFAAssume, 403},
		{"mfa wrong serial", alice, roleMFA, "x1", func(in *sts.AssumeRoleInput) {
			in.SerialNumber, in.TokenCode = aws.String(carolMFA), aws.String("111111")
		}, "AccessDenied", msgMFASerial, 403},
		{"mfa serial without code", alice, roleMFA, "x1", func(in *sts.AssumeRoleInput) {
			in.SerialNumber = aws.String(aliceMFA)
		}, "AccessDenied", msgMFABoth, 403},
		{"mfa code without serial", alice, roleMFA, "x1", func(in *sts.AssumeRoleInput) {
			in.TokenCode = aws.String("111111")
		}, "AccessDenied", msgMFABoth, 403},
		{"mfa code too short", alice, roleMFA, "x1", func(in *sts.AssumeRoleInput) {
			in.SerialNumber, in.TokenCode = aws.String(aliceMFA), aws.String("11111")
		}, "ValidationError", "1 validation error detected: Value '11111' at 'tokenCode' failed to satisfy constraint: Member must have length greater than or equal to 6", 400},
		{"mfa serial with a space", alice, roleMFA, "x1", func(in *sts.AssumeRoleInput) {
			in.SerialNumber, in.TokenCode = aws.String("arn:aws:iam::123456789012:mfa/a b"), aws.String("111111")
		}, "ValidationError", "1 validation error detected: Value 'arn:aws:iam::123456789012:mfa/a b' at 'serialNumber' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=/:,.@-]*", 400},
		{"role session presents a code", roleClient, roleB, "x1", func(in *sts.AssumeRoleInput) {
			in.SerialNumber, in.TokenCode = aws.String(aliceMFA), aws.String("333333")
		}, "AccessDenied", msgMFASerial, 403},
		{"mfa code not digits", alice, roleMFA, "x1", func(in *sts.AssumeRoleInput) {
			in.SerialNumber, in.TokenCode = aws.String(aliceMFA), aws.String("12345a")
		}, "ValidationError", "1 validation error detected: Value '12345a' at 'tokenCode' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\d]*", 400},
		{"mfa required, role session has no device", roleClient, roleMFA, "x1", nil, "AccessDenied", denied(aws.ToString(roleOut.AssumedRoleUser.Arn), roleMFA), 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.ResetCalls()
			_, err := assume(ctx, tt.client, tt.role, tt.sess, func(in *sts.AssumeRoleInput) {
				if tt.opt != nil {
					tt.opt(in)
				}
			})
			requireAPIError(t, err, tt.code, tt.msg)
			var re *awshttp.ResponseError
			require.True(t, errors.As(err, &re))
			assert.Equal(t, tt.status, re.HTTPStatusCode())
			assert.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-4`, re.ServiceRequestID())
			calls := s.Calls()
			require.Len(t, calls, 1, "refusals are not retried")
			assert.Equal(t, tt.code, calls[0].ErrorCode)
			assert.Equal(t, tt.status, calls[0].Status)
			assert.Empty(t, calls[0].IssuedAccessKeyID)
		})
	}
}

func TestAssumeRoleAccepted(t *testing.T) {
	s := newTestServer(t, testConfig())
	ctx := ctxT(t)
	alice := client(s, "alice")
	tests := []struct {
		name string
		c    *sts.Client
		role string
		opt  func(*sts.AssumeRoleInput)
		want time.Duration
	}{
		{"default duration", alice, roleA, nil, time.Hour},
		{"minimum duration", alice, roleA, func(in *sts.AssumeRoleInput) { in.DurationSeconds = aws.Int32(900) }, 15 * time.Minute},
		{"long role", alice, roleLong, func(in *sts.AssumeRoleInput) { in.DurationSeconds = aws.Int32(43200) }, 12 * time.Hour},
		{"account trust by ID", client(s, "bob"), roleExt, func(in *sts.AssumeRoleInput) { in.ExternalId = aws.String("ext-123") }, time.Hour},
		{"account trust by root ARN", client(s, "bob"), roleLong, nil, time.Hour},
		{"role lifetime override", alice, roleShort, func(in *sts.AssumeRoleInput) { in.DurationSeconds = aws.Int32(3000) }, 10 * time.Second},
		{"mfa code", alice, roleMFA, func(in *sts.AssumeRoleInput) {
			in.SerialNumber, in.TokenCode = aws.String(aliceMFA), aws.String("111111")
		}, time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := assume(ctx, tt.c, tt.role, "ok-session", func(in *sts.AssumeRoleInput) {
				if tt.opt != nil {
					tt.opt(in)
				}
			})
			require.NoError(t, err)
			assert.WithinDuration(t, s.Now().Add(tt.want), aws.ToTime(out.Credentials.Expiration), 2*time.Second)
		})
	}
}

func TestMFACodesAreOneTime(t *testing.T) {
	s := newTestServer(t, testConfig())
	ctx := ctxT(t)
	alice := client(s, "alice")
	withCode := func(code string) func(*sts.AssumeRoleInput) {
		return func(in *sts.AssumeRoleInput) { in.SerialNumber, in.TokenCode = aws.String(aliceMFA), aws.String(code) }
	}
	_, err := assume(ctx, alice, roleMFA, "m1", withCode("222222"))
	require.NoError(t, err)
	_, err = assume(ctx, alice, roleMFA, "m2", withCode("222222"))
	requireAPIError(t, err, "AccessDenied", msgMFAAssume)

	_, err = alice.GetSessionToken(ctx, &sts.GetSessionTokenInput{SerialNumber: aws.String(aliceMFA), TokenCode: aws.String("333333")})
	require.NoError(t, err)
	_, err = alice.GetSessionToken(ctx, &sts.GetSessionTokenInput{SerialNumber: aws.String(aliceMFA), TokenCode: aws.String("333333")})
	requireAPIError(t, err, "AccessDenied", msgMFAGST)

	calls := s.Calls(Call{Action: "GetSessionToken"})
	require.Len(t, calls, 2)
	assert.Equal(t, aliceMFA, calls[1].SerialNumber)
	assert.Equal(t, "333333", calls[1].TokenCode)
}

func TestTOTP(t *testing.T) {
	s := newTestServer(t, testConfig())
	ctx := ctxT(t)
	carol := client(s, "carol")
	opts := totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}
	code := func(at time.Time) string {
		c, err := totp.GenerateCodeCustom(totpSecret, at, opts)
		require.NoError(t, err)
		return c
	}
	mfa := func(c string) func(*sts.AssumeRoleInput) {
		return func(in *sts.AssumeRoleInput) { in.SerialNumber, in.TokenCode = aws.String(carolMFA), aws.String(c) }
	}
	// Move to the middle of a step so that ±1 step is unambiguous.
	now := s.Now()
	s.Advance(45*time.Second - time.Duration(now.UnixNano())%(30*time.Second))
	now = s.Now()

	_, err := assume(ctx, carol, roleMFA, "t1", mfa(code(now)))
	require.NoError(t, err, "current step")
	_, err = assume(ctx, carol, roleMFA, "t2", mfa(code(now)))
	requireAPIError(t, err, "AccessDenied", msgMFAAssume)

	_, err = assume(ctx, carol, roleMFA, "t3", mfa(code(now.Add(-30*time.Second))))
	require.NoError(t, err, "previous step")
	_, err = assume(ctx, carol, roleMFA, "t4", mfa(code(now.Add(30*time.Second))))
	require.NoError(t, err, "next step")

	for _, off := range []time.Duration{-60 * time.Second, 60 * time.Second, 10 * time.Minute} {
		c := code(now.Add(off))
		if c == code(now) || c == code(now.Add(-30*time.Second)) || c == code(now.Add(30*time.Second)) {
			continue // a 1-in-a-million collision
		}
		_, err = assume(ctx, carol, roleMFA, "t5", mfa(c))
		requireAPIError(t, err, "AccessDenied", msgMFAAssume)
	}

	// Advance moves TOTP with the server clock: a code of the future
	// becomes current.
	later := now.Add(5 * time.Minute)
	s.Advance(5 * time.Minute)
	_, err = carol.GetSessionToken(ctx, &sts.GetSessionTokenInput{SerialNumber: aws.String(carolMFA), TokenCode: aws.String(code(later))})
	require.NoError(t, err)
}

func TestGetSessionToken(t *testing.T) {
	s := newTestServer(t, testConfig())
	ctx := ctxT(t)
	alice := client(s, "alice")
	out, err := alice.GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	require.NoError(t, err)
	assert.Regexp(t, `^ASIA`, aws.ToString(out.Credentials.AccessKeyId))
	assert.WithinDuration(t, s.Now().Add(12*time.Hour), aws.ToTime(out.Credentials.Expiration), 2*time.Second)

	sc := sessionClient(s, out.Credentials)
	id, err := sc.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	require.NoError(t, err)
	assert.Equal(t, s.UserARN("alice"), aws.ToString(id.Arn))
	assert.Regexp(t, `^AIDA`, aws.ToString(id.UserId))

	_, err = sc.GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	requireAPIError(t, err, "AccessDenied", msgGSTSession)

	// A session without MFA cannot assume a role that requires MFA.
	_, err = assume(ctx, sc, roleMFA, "x1")
	requireAPIError(t, err, "AccessDenied", "")

	for _, tt := range []struct {
		d    int32
		code string
		want time.Duration
	}{
		{899, "ValidationError", 0},
		{129601, "ValidationError", 0},
		{900, "", 15 * time.Minute},
		{129600, "", 36 * time.Hour},
	} {
		out, err := alice.GetSessionToken(ctx, &sts.GetSessionTokenInput{DurationSeconds: aws.Int32(tt.d)})
		if tt.code != "" {
			requireAPIError(t, err, tt.code, "")
			continue
		}
		require.NoError(t, err)
		assert.WithinDuration(t, s.Now().Add(tt.want), aws.ToTime(out.Credentials.Expiration), 2*time.Second)
	}
	// Another user's device is not bob's.
	requireAPIError(t, mustErr(client(s, "bob").GetSessionToken(ctx, &sts.GetSessionTokenInput{
		SerialNumber: aws.String(aliceMFA), TokenCode: aws.String("111111"),
	})), "AccessDenied", msgMFASerial)
	requireAPIError(t, mustErr(alice.GetSessionToken(ctx, &sts.GetSessionTokenInput{
		SerialNumber: aws.String(aliceMFA), TokenCode: aws.String("999999"),
	})), "AccessDenied", msgMFAGST)
	requireAPIError(t, mustErr(alice.GetSessionToken(ctx, &sts.GetSessionTokenInput{
		SerialNumber: aws.String(aliceMFA),
	})), "AccessDenied", msgMFABoth)
	requireAPIError(t, mustErr(alice.GetSessionToken(ctx, &sts.GetSessionTokenInput{DurationSeconds: aws.Int32(129601)})), "ValidationError",
		"1 validation error detected: Value '129601' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 129600")
}

func mustErr[T any](_ T, err error) error { return err }

func TestMFAContext(t *testing.T) {
	s := newTestServer(t, testConfig())
	ctx := ctxT(t)
	alice := client(s, "alice")
	gst, err := alice.GetSessionToken(ctx, &sts.GetSessionTokenInput{SerialNumber: aws.String(aliceMFA), TokenCode: aws.String("111111")})
	require.NoError(t, err)
	sc := sessionClient(s, gst.Credentials)

	// The MFA session assumes a role requiring MFA without a code.
	out, err := assume(ctx, sc, roleMFA, "from-mfa-session")
	require.NoError(t, err)
	// ...and the MFA context carries through role chaining.
	_, err = assume(ctx, sessionClient(s, out.Credentials), roleMFA2, "chained-mfa")
	require.NoError(t, err)

	// A role session assumed without MFA does not get it.
	plain, err := assume(ctx, alice, roleA, "plain")
	require.NoError(t, err)
	_, err = assume(ctx, sessionClient(s, plain.Credentials), roleB, "ok")
	require.NoError(t, err)

	// The GetSessionToken session may still present its user's device.
	gst2, err := alice.GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	require.NoError(t, err)
	_, err = assume(ctx, sessionClient(s, gst2.Credentials), roleMFA, "with-code", func(in *sts.AssumeRoleInput) {
		in.SerialNumber, in.TokenCode = aws.String(aliceMFA), aws.String("222222")
	})
	require.NoError(t, err)
}

func TestAuthenticationFailures(t *testing.T) {
	s := newTestServer(t, testConfig())
	ctx := ctxT(t)
	out, err := client(s, "alice").GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	require.NoError(t, err)
	c := out.Credentials
	base := s.AWSConfig("alice")
	with := func(p aws.CredentialsProvider) *sts.Client {
		cfg := base.Copy()
		cfg.Credentials = p
		return sts.NewFromConfig(cfg)
	}
	static := credentials.NewStaticCredentialsProvider
	tests := []struct {
		name   string
		client *sts.Client
		code   string
		msg    string
		status int
	}{
		{"unknown key", with(static("AKIAUNKNOWN000000000", "x", "")), "InvalidClientTokenId", msgInvalidToken, 403},
		{"wrong secret", with(static(aliceKey, "wrong", "")), "SignatureDoesNotMatch",
			"The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.", 403},
		{"session key without token", with(static(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), "")), "InvalidClientTokenId", msgInvalidToken, 403},
		{"session key with wrong token", with(static(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), "bogus")), "InvalidClientTokenId", msgInvalidToken, 403},
		{"long-term key with a token", with(static(aliceKey, "alice-secret", aws.ToString(c.SessionToken))), "InvalidClientTokenId", msgInvalidToken, 403},
		{"session with wrong secret", with(static(aws.ToString(c.AccessKeyId), "wrong", aws.ToString(c.SessionToken))), "SignatureDoesNotMatch", "", 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.ResetCalls()
			_, err := tt.client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			requireAPIError(t, err, tt.code, tt.msg)
			var re *smithyhttp.ResponseError
			require.True(t, errors.As(err, &re))
			assert.Equal(t, tt.status, re.HTTPStatusCode())
			calls := s.Calls()
			require.Len(t, calls, 1)
			assert.Equal(t, tt.code, calls[0].ErrorCode)
			assert.Empty(t, calls[0].CallerARN)
		})
	}
}

func TestRevoke(t *testing.T) {
	s := newTestServer(t, testConfig())
	ctx := ctxT(t)
	out, err := assume(ctx, client(s, "alice"), roleA, "r1")
	require.NoError(t, err)
	sc := sessionClient(s, out.Credentials)
	_, err = sc.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	require.NoError(t, err)

	s.Revoke(aws.ToString(out.Credentials.AccessKeyId))
	_, err = sc.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	requireAPIError(t, err, "InvalidClientTokenId", msgInvalidToken)

	s.Revoke(aliceKey)
	_, err = client(s, "alice").GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	requireAPIError(t, err, "InvalidClientTokenId", msgInvalidToken)
	_, err = client(s, "bob").GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	require.NoError(t, err)
}

func TestExpiryWithAdvance(t *testing.T) {
	s := newTestServer(t, testConfig())
	ctx := ctxT(t)
	start := s.Now()
	out, err := assume(ctx, client(s, "alice"), roleShort, "short")
	require.NoError(t, err)
	exp := aws.ToTime(out.Credentials.Expiration)
	assert.WithinDuration(t, start.Add(10*time.Second), exp, 2*time.Second)
	sc := sessionClient(s, out.Credentials)
	_, err = sc.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	require.NoError(t, err)

	s.Advance(11 * time.Second)
	_, err = sc.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	requireAPIError(t, err, "ExpiredToken", msgExpiredToken)
	var re *smithyhttp.ResponseError
	require.True(t, errors.As(err, &re))
	assert.Equal(t, 400, re.HTTPStatusCode())

	// Long-term keys still sign fine after the clock moved: the SigV4 skew
	// check accepts the wall clock too. New sessions carry the advanced
	// clock.
	s.Advance(24 * time.Hour)
	out2, err := assume(ctx, client(s, "alice"), roleA, "later")
	require.NoError(t, err)
	assert.WithinDuration(t, start.Add(24*time.Hour+11*time.Second+time.Hour), aws.ToTime(out2.Credentials.Expiration), 3*time.Second)

	// SessionTokenLifetime overrides GetSessionToken's.
	cfg := testConfig()
	cfg.SessionTokenLifetime = 5 * time.Second
	s2 := newTestServer(t, cfg)
	gst, err := client(s2, "bob").GetSessionToken(ctx, &sts.GetSessionTokenInput{DurationSeconds: aws.Int32(3600)})
	require.NoError(t, err)
	assert.WithinDuration(t, s2.Now().Add(5*time.Second), aws.ToTime(gst.Credentials.Expiration), 2*time.Second)
	s2.Advance(5 * time.Second)
	_, err = sessionClient(s2, gst.Credentials).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	requireAPIError(t, err, "ExpiredToken", "")
}

// Every answer's Date header is the server clock, which SetClockOffset
// moves either way and Advance moves forward, so that a client measures
// its clock's skew from it; sessions expire on it.
func TestDateHeaderIsTheServerClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewInMemoryServer(testConfig())
		defer s.Close()
		ctx := t.Context()
		for _, offset := range []time.Duration{0, 10 * time.Minute, -2 * time.Hour} {
			s.SetClockOffset(offset)
			out, err := client(s, "alice").GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			require.NoError(t, err, "offset %v", offset)
			date, ok := awsmiddleware.GetServerTime(out.ResultMetadata)
			require.True(t, ok)
			assert.True(t, time.Now().Add(offset).Equal(date), "offset %v: Date %v", offset, date)
			assert.Equal(t, time.Now().Add(offset), s.Now())
		}
		s.Advance(time.Hour)
		assert.Equal(t, time.Now().Add(-time.Hour), s.Now(), "Advance adds to the offset")

		// A session issued while the server clock is behind expires on it.
		s.SetClockOffset(-2 * time.Hour)
		out, err := assume(ctx, client(s, "alice"), roleShort, "behind")
		require.NoError(t, err)
		assert.True(t, time.Now().Add(-2*time.Hour+10*time.Second).Equal(aws.ToTime(out.Credentials.Expiration)))
		time.Sleep(9 * time.Second)
		_, err = sessionClient(s, out.Credentials).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		require.NoError(t, err)
		time.Sleep(time.Second)
		_, err = sessionClient(s, out.Credentials).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		requireAPIError(t, err, "ExpiredToken", msgExpiredToken)
	})
}

// TestFailNextIsRetriedBySDK runs in synctest bubbles against the
// in-memory server: the SDK's retry backoff passes in fake time.
func TestFailNextIsRetriedBySDK(t *testing.T) {
	tests := []struct {
		name      string
		action    string
		n, status int
		code      string
		wantErr   bool
		wantCalls int
	}{
		{"503 twice then success", "GetCallerIdentity", 2, 503, "ServiceUnavailable", false, 3},
		{"throttling twice then success", "", 2, 400, "Throttling", false, 3},
		{"three failures exhaust attempts", "GetCallerIdentity", 3, 500, "InternalFailure", true, 3},
		{"non-retryable", "GetCallerIdentity", 1, 403, "AccessDenied", true, 1},
		{"other action untouched", "AssumeRole", 5, 503, "ServiceUnavailable", false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := NewInMemoryServer(testConfig())
				defer s.Close()
				s.FailNext(tt.action, tt.n, tt.status, tt.code)
				_, err := client(s, "alice").GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
				calls := s.Calls()
				require.Len(t, calls, tt.wantCalls)
				if tt.wantErr {
					requireAPIError(t, err, tt.code, "")
					assert.Equal(t, tt.status, calls[len(calls)-1].Status)
					if tt.wantCalls == 3 {
						var me *retry.MaxAttemptsError
						assert.True(t, errors.As(err, &me))
					}
				} else {
					require.NoError(t, err)
					assert.Equal(t, 200, calls[len(calls)-1].Status)
				}
				for _, c := range calls[:tt.wantCalls-1] {
					assert.Equal(t, tt.code, c.ErrorCode)
					assert.Equal(t, tt.status, c.Status)
					assert.Equal(t, aliceKey, c.CallerAccessKeyID)
				}
			})
		})
	}
}

func TestOutageLastsUntilEnded(t *testing.T) {
	s := newTestServer(t, testConfig())
	noRetry := func(o *sts.Options) { o.RetryMaxAttempts = 1 }
	c := sts.NewFromConfig(s.AWSConfig("alice"), noRetry)
	s.FailNext("", 1, 400, "Throttling")
	s.SetOutage("GetCallerIdentity", 503, "ServiceUnavailable")
	for range 5 {
		_, err := c.GetCallerIdentity(ctxT(t), &sts.GetCallerIdentityInput{})
		requireAPIError(t, err, "ServiceUnavailable", "")
	}
	s.EndOutage()
	_, err := c.GetCallerIdentity(ctxT(t), &sts.GetCallerIdentityInput{})
	requireAPIError(t, err, "Throttling", "") // the queued rule waited for the outage
	_, err = c.GetCallerIdentity(ctxT(t), &sts.GetCallerIdentityInput{})
	require.NoError(t, err)
	assert.Equal(t, 7, len(s.Calls()))
}

// TestLatency runs in a synctest bubble against the in-memory server, so
// the delays pass in fake time and are exact.
func TestLatency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewInMemoryServer(testConfig())
		defer s.Close()
		const d = 3 * time.Second
		s.SetLatency(d)
		start := time.Now()
		_, err := client(s, "alice").GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
		require.NoError(t, err)
		assert.Equal(t, d, time.Since(start))

		// A context deadline shorter than the latency fails the call then.
		start = time.Now()
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		_, err = client(s, "alice").GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		require.Error(t, err)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, time.Second, time.Since(start))

		s.SetLatency(0)
		start = time.Now()
		_, err = client(s, "alice").GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
		require.NoError(t, err)
		assert.Zero(t, time.Since(start))
	})
}

// TestCloseCutsLatencyShort checks that Close does not wait out a delayed
// request on a listening server.
func TestCloseCutsLatencyShort(t *testing.T) {
	s := NewUnstartedServer(testConfig())
	waiting := make(chan struct{})
	s.latencyHook = func() { close(waiting) }
	s.Start()
	s.SetLatency(time.Hour)
	answered := make(chan error, 1)
	go func() {
		_, err := client(s, "alice").GetCallerIdentity(ctxT(t), &sts.GetCallerIdentityInput{})
		answered <- err
	}()
	<-waiting
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close hung on a delayed request")
	}
	assert.NoError(t, <-answered, "the delayed request is answered")
	s.Close() // idempotent
}

func TestConcurrentUse(t *testing.T) {
	s := newTestServer(t, testConfig())
	ctx := ctxT(t)
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := 0; i < 20; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, err := client(s, "alice").GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			errs <- err
		}()
		go func() {
			defer wg.Done()
			_, err := assume(ctx, client(s, "alice"), roleA, "concurrent")
			errs <- err
			_ = s.Calls()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
	assert.Equal(t, 40, len(s.Calls()))
	assert.Len(t, s.Calls(Call{Action: "AssumeRole"}), 20)
}

func TestNotLoggedSecrets(t *testing.T) {
	s := newTestServer(t, testConfig())
	_, err := client(s, "bob").GetCallerIdentity(ctxT(t), &sts.GetCallerIdentityInput{})
	require.NoError(t, err)
	assert.Contains(t, s.URL, "http://127.0.0.1:")
	assert.False(t, strings.HasSuffix(s.URL, "/"))
}

func TestUnknownUserPanics(t *testing.T) {
	s := newTestServer(t, testConfig())
	assert.PanicsWithValue(t, `ststest: no user "nobody" in Config.Users`, func() { s.AWSConfig("nobody") })
	assert.Panics(t, func() { s.UserCredentials("nobody") })
}

func TestFaultArgumentsChecked(t *testing.T) {
	s := newTestServer(t, testConfig())
	assert.PanicsWithValue(t, "ststest: FailNext with HTTP status 0; want 400 to 599", func() { s.FailNext("", 1, 0, "Throttling") })
	assert.PanicsWithValue(t, "ststest: SetOutage with HTTP status 200; want 400 to 599", func() { s.SetOutage("", 200, "X") })
	assert.PanicsWithValue(t, "ststest: FailNext with an empty error code", func() { s.FailNext("", 1, 503, "") })
	_, err := client(s, "alice").GetCallerIdentity(ctxT(t), &sts.GetCallerIdentityInput{})
	require.NoError(t, err, "refused rules are not queued")
}

// TestMFAContextFromAssumeRole: a session of a role assumed with an MFA
// code is MFA-authenticated for the next link; a session assumed without
// one is not, whatever roles it chains through.
func TestMFAContextFromAssumeRole(t *testing.T) {
	const roleMFA3 = "arn:aws:iam::123456789012:role/NeedsMFA3"
	cfg := testConfig()
	cfg.Roles = append(cfg.Roles, Role{ARN: roleMFA3, Trust: []string{roleA, roleMFA}, RequireMFA: true})
	s := newTestServer(t, cfg)
	ctx := ctxT(t)
	alice := client(s, "alice")

	withMFA, err := assume(ctx, alice, roleMFA, "with-mfa", func(in *sts.AssumeRoleInput) {
		in.SerialNumber, in.TokenCode = aws.String(aliceMFA), aws.String("111111")
	})
	require.NoError(t, err)
	_, err = assume(ctx, sessionClient(s, withMFA.Credentials), roleMFA3, "chained")
	require.NoError(t, err)

	plain, err := assume(ctx, alice, roleA, "plain")
	require.NoError(t, err)
	_, err = assume(ctx, sessionClient(s, plain.Credentials), roleMFA3, "chained")
	requireAPIError(t, err, "AccessDenied",
		"User: arn:aws:sts::123456789012:assumed-role/A/plain is not authorized to perform: sts:AssumeRole on resource: "+roleMFA3)

	// A non-MFA GetSessionToken session does not pass MFA on through a role.
	gst, err := alice.GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	require.NoError(t, err)
	viaGST, err := assume(ctx, sessionClient(s, gst.Credentials), roleA, "via-gst")
	require.NoError(t, err)
	_, err = assume(ctx, sessionClient(s, viaGST.Credentials), roleMFA3, "chained")
	requireAPIError(t, err, "AccessDenied", "")
}

// TestRevokeLeavesEarlierSessions: revoking a user's key stops the key,
// not the sessions issued with it, as AWS documents (temporary
// credentials are valid until they expire).
func TestRevokeLeavesEarlierSessions(t *testing.T) {
	s := newTestServer(t, testConfig())
	ctx := ctxT(t)
	gst, err := client(s, "alice").GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	require.NoError(t, err)
	sc := sessionClient(s, gst.Credentials)
	s.Revoke(aliceKey)
	_, err = client(s, "alice").GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	requireAPIError(t, err, "InvalidClientTokenId", msgInvalidToken)
	id, err := sc.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	require.NoError(t, err)
	assert.Equal(t, s.UserARN("alice"), aws.ToString(id.Arn))
	_, err = assume(ctx, sc, roleA, "after-revoke")
	require.NoError(t, err)
}

func TestCallsPatterns(t *testing.T) {
	s := newTestServer(t, testConfig())
	ctx := ctxT(t)
	alice := client(s, "alice")
	_, err := alice.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	require.NoError(t, err)
	a1, err := assume(ctx, alice, roleA, "one")
	require.NoError(t, err)
	_, err = assume(ctx, client(s, "bob"), roleA, "two")
	requireAPIError(t, err, "AccessDenied", "")
	_, err = assume(ctx, alice, roleLong, "three")
	require.NoError(t, err)
	all := s.Calls()
	require.Len(t, all, 4)

	tests := []struct {
		name    string
		pattern []Call
		want    []int // indexes into all
	}{
		{"no pattern", nil, []int{0, 1, 2, 3}},
		{"zero pattern", []Call{{}}, []int{0, 1, 2, 3}},
		{"action", []Call{{Action: "AssumeRole"}}, []int{1, 2, 3}},
		{"action and role", []Call{{Action: "AssumeRole", RoleARN: roleA}}, []int{1, 2}},
		{"all fields must match", []Call{{Action: "AssumeRole", RoleARN: roleA, Status: 200}}, []int{1}},
		{"error code", []Call{{ErrorCode: "AccessDenied"}}, []int{2}},
		{"caller key", []Call{{CallerAccessKeyID: bobKey}}, []int{2}},
		{"issued key", []Call{{IssuedAccessKeyID: aws.ToString(a1.Credentials.AccessKeyId)}}, []int{1}},
		{"either pattern", []Call{{Action: "GetCallerIdentity"}, {RoleARN: roleLong}}, []int{0, 3}},
		{"no match", []Call{{Action: "GetSessionToken"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want []Call
			for _, i := range tt.want {
				want = append(want, all[i])
			}
			assert.Equal(t, want, s.Calls(tt.pattern...))
		})
	}
	assert.Len(t, s.Calls(Call{Action: "AssumeRole"}), 3)
	assert.Len(t, s.Calls(), 4)
	assert.Equal(t, s.Calls(), s.Calls(Call{}), "the zero pattern matches every call")
}

// TestCallMatchesEveryField checks that a pattern compares each field of
// Call, so a field added to Call cannot be forgotten in matches.
func TestCallMatchesEveryField(t *testing.T) {
	var c Call
	cv := reflect.ValueOf(&c).Elem()
	for i := range cv.NumField() {
		f := cv.Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString("value-" + cv.Type().Field(i).Name)
		case reflect.Int:
			f.SetInt(int64(100 + i))
		default:
			t.Fatalf("Call.%s has kind %s; teach matches and this test about it", cv.Type().Field(i).Name, f.Kind())
		}
	}
	for i := range cv.NumField() {
		name := cv.Type().Field(i).Name
		var p Call
		pv := reflect.ValueOf(&p).Elem()
		pv.Field(i).Set(cv.Field(i))
		assert.True(t, p.matches(c), "a pattern with only %s equal must match", name)
		switch pv.Field(i).Kind() {
		case reflect.String:
			pv.Field(i).SetString("other")
		case reflect.Int:
			pv.Field(i).SetInt(1)
		}
		assert.False(t, p.matches(c), "a pattern with a different %s must not match", name)
	}
}

var _ http.Handler = (*Server)(nil)

func TestNewUnstartedServer(t *testing.T) {
	s := NewUnstartedServer(testConfig())
	assert.Empty(t, s.URL)
	assert.Nil(t, s.Listener, "an unstarted server does not listen")
	require.NotNil(t, s.HTTPServer)
	assert.Same(t, s, s.HTTPServer.Handler)
	assert.PanicsWithValue(t, "ststest: Client called before Start", func() { s.Client() })
	assert.Panics(t, func() { s.AWSConfig("alice") })

	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	s.Listener = ln
	s.Start()
	t.Cleanup(s.Close)
	assert.Equal(t, "http://"+ln.Addr().String(), s.URL)
	assert.PanicsWithValue(t, "ststest: Server already started", s.Start)
	_, err = client(s, "alice").GetCallerIdentity(ctxT(t), &sts.GetCallerIdentityInput{})
	require.NoError(t, err)

	cfg := testConfig()
	cfg.AccountID = "1"
	assert.PanicsWithError(t, `ststest: Config.AccountID "1" is not 12 digits`, func() { NewUnstartedServer(cfg) })
}

func TestCloseUnstarted(t *testing.T) {
	s := NewUnstartedServer(testConfig())
	s.Close() // nothing to stop
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	s = NewUnstartedServer(testConfig())
	s.Listener = ln
	s.Close()
	_, err = ln.Accept()
	assert.ErrorIs(t, err, net.ErrClosed, "Close closes a Listener the test set")
}

// TestServeHTTPDirectly serves the Server as a plain handler of another
// test server.
func TestServeHTTPDirectly(t *testing.T) {
	s := NewUnstartedServer(testConfig())
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	cfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(hs.URL), HTTPClient: hs.Client(),
		Credentials: s.UserCredentials("alice")}
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctxT(t), &sts.GetCallerIdentityInput{})
	require.NoError(t, err)
	assert.Equal(t, s.UserARN("alice"), aws.ToString(id.Arn))
	assert.Len(t, s.Calls(Call{Action: "GetCallerIdentity", Status: 200}), 1)
}

// dialServer opens a raw connection to s that the test closes, with a
// deadline that bounds the test.
func dialServer(t *testing.T, s *Server) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp4", strings.TrimPrefix(s.URL, "http://"))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	return conn
}

// readUntilClosed reads from conn until the server closes it, and fails
// when the test's deadline comes first.
func readUntilClosed(t *testing.T, r io.Reader) {
	t.Helper()
	_, err := io.Copy(io.Discard, r)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server left the connection open: %v", err)
	}
}

// trickle writes data one byte at a time until the connection fails or
// stop is closed.
func trickle(conn net.Conn, data string, stop <-chan struct{}) {
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		case <-time.After(5 * time.Millisecond):
		}
		if _, err := conn.Write([]byte{data[i%len(data)]}); err != nil {
			return
		}
	}
}

// TestServerTimeouts checks that the server drops slow and idle clients
// after its (shortened) timeouts, and not before: each case reads the
// clock before the server can start its timer, so a busy machine only
// makes the wait longer. Each case has its own server and runs in
// parallel; a case that the server never ends fails at the test's
// 10-second deadline.
func TestServerTimeouts(t *testing.T) {
	const timeout = 50 * time.Millisecond
	start := func(t *testing.T) *Server {
		s := NewUnstartedServer(testConfig())
		s.HTTPServer.ReadHeaderTimeout = timeout
		s.HTTPServer.ReadTimeout = 3 * timeout
		s.HTTPServer.IdleTimeout = timeout
		s.Start()
		t.Cleanup(s.Close)
		return s
	}
	const head = "POST / HTTP/1.1\r\nHost: sts\r\nContent-Type: application/x-www-form-urlencoded\r\n"

	t.Run("headers trickled", func(t *testing.T) {
		t.Parallel()
		s := start(t)
		began := time.Now() // before the connection, and so the server's timer
		conn := dialServer(t, s)
		_, err := io.WriteString(conn, head+"X-Slow: ")
		require.NoError(t, err)
		stop := make(chan struct{})
		defer close(stop)
		go trickle(conn, "abcdefgh", stop)
		readUntilClosed(t, conn)
		assert.GreaterOrEqual(t, time.Since(began), timeout)
		assert.Empty(t, s.Calls(), "the request never reached the handler")
	})
	t.Run("body trickled", func(t *testing.T) {
		t.Parallel()
		s := start(t)
		conn := dialServer(t, s)
		_, err := io.WriteString(conn, head+"Content-Length: 10000\r\n\r\n")
		require.NoError(t, err)
		stop := make(chan struct{})
		defer close(stop)
		go trickle(conn, "Action=GetCallerIdentity&", stop)
		readUntilClosed(t, conn)
		calls := s.Calls()
		require.Len(t, calls, 1)
		assert.Equal(t, "MalformedInput", calls[0].ErrorCode)
	})
	t.Run("idle keep-alive connection", func(t *testing.T) {
		t.Parallel()
		s := start(t)
		conn := dialServer(t, s)
		body := "Action=GetCallerIdentity&Version=2011-06-15"
		began := time.Now() // before the request, and so the server's idle timer
		_, err := fmt.Fprintf(conn, "%sContent-Length: %d\r\n\r\n%s", head, len(body), body)
		require.NoError(t, err)
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		require.NoError(t, err)
		_, err = io.Copy(io.Discard, resp.Body)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusForbidden, resp.StatusCode, "unsigned")
		assert.False(t, resp.Close, "the server keeps the connection alive")
		readUntilClosed(t, br)
		assert.GreaterOrEqual(t, time.Since(began), timeout)
	})
}
