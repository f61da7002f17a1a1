package ststest

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWebIdentityRoleProvider runs the SDK's web identity provider, as
// EKS pods and CI jobs use it, against the fake: an unsigned request, a
// role session that answers GetCallerIdentity as the role and chains
// further under the one-hour rule.
func TestWebIdentityRoleProvider(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewInMemoryServer(webConfig())
		defer s.Close()
		ctx := t.Context()
		tokenFile := filepath.Join(t.TempDir(), "token")
		require.NoError(t, os.WriteFile(tokenFile, []byte(eksToken), 0o600))
		p := stscreds.NewWebIdentityRoleProvider(sts.NewFromConfig(s.AWSConfig("bob")), roleWeb,
			stscreds.IdentityTokenFile(tokenFile), func(o *stscreds.WebIdentityRoleOptions) {
				o.RoleSessionName = "irsa"
				o.Duration = 2 * time.Hour
			})
		creds, err := p.Retrieve(ctx)
		require.NoError(t, err)
		assert.True(t, creds.CanExpire)
		assert.WithinDuration(t, time.Now().Add(2*time.Hour), creds.Expires, 0)
		assert.Equal(t, acct, creds.AccountID)
		assert.Regexp(t, `^ASIA`, creds.AccessKeyID)
		assert.Equal(t, []Call{{Action: "AssumeRoleWithWebIdentity", RoleARN: roleWeb, RoleSessionName: "irsa",
			DurationSeconds: 7200, Status: 200, IssuedAccessKeyID: creds.AccessKeyID, WebIdentitySubject: eksSubject}},
			s.Calls(), "the SDK sends the request unsigned: no CallerAccessKeyID")

		cfg := s.AWSConfig("bob")
		cfg.Credentials = credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken)
		web := sts.NewFromConfig(cfg)
		id, err := web.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		require.NoError(t, err)
		assert.Equal(t, "arn:aws:sts::123456789012:assumed-role/Web/irsa", aws.ToString(id.Arn))
		assert.Regexp(t, `^AROA[A-Z2-7]{17}:irsa$`, aws.ToString(id.UserId))
		assert.Equal(t, acct, aws.ToString(id.Account))

		// Role chaining from the web identity session: one hour at most.
		_, err = assume(ctx, web, roleWebChained, "chained", func(in *sts.AssumeRoleInput) { in.DurationSeconds = aws.Int32(7200) })
		requireAPIError(t, err, "ValidationError", msgChaining)
		out, err := assume(ctx, web, roleWebChained, "chained")
		require.NoError(t, err)
		assert.Equal(t, "arn:aws:sts::123456789012:assumed-role/WebChained/chained", aws.ToString(out.AssumedRoleUser.Arn))
		chained := s.Calls(Call{Action: "AssumeRole", Status: 200})
		require.Len(t, chained, 1)
		assert.Equal(t, creds.AccessKeyID, chained[0].CallerAccessKeyID)
		assert.Equal(t, s.AssumedRoleARN(roleWeb, "irsa"), chained[0].CallerARN)

		// The session expires on the bubble's clock.
		time.Sleep(2 * time.Hour)
		_, err = web.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		requireAPIError(t, err, "ExpiredToken", msgExpiredToken)
	})
}

func TestWebIdentityAnswer(t *testing.T) {
	s := NewInMemoryServer(webConfig())
	t.Cleanup(s.Close)
	c := sts.NewFromConfig(s.AWSConfig("bob"))
	for _, tt := range []struct {
		token, role, subject, audience, provider string
	}{
		{eksToken, roleWeb, eksSubject, "sts.amazonaws.com", eksProviderARN},
		{ciToken, roleCI, ciSubject, "sigstore", ciProviderARN},
	} {
		out, err := c.AssumeRoleWithWebIdentity(ctxT(t), &sts.AssumeRoleWithWebIdentityInput{
			RoleArn: aws.String(tt.role), RoleSessionName: aws.String("answer"), WebIdentityToken: aws.String(tt.token)})
		require.NoError(t, err)
		assert.Equal(t, tt.subject, aws.ToString(out.SubjectFromWebIdentityToken))
		assert.Equal(t, tt.audience, aws.ToString(out.Audience))
		assert.Equal(t, tt.provider, aws.ToString(out.Provider))
		assert.Equal(t, s.AssumedRoleARN(tt.role, "answer"), aws.ToString(out.AssumedRoleUser.Arn))
		assert.Regexp(t, `^AROA[A-Z2-7]{17}:answer$`, aws.ToString(out.AssumedRoleUser.AssumedRoleId))
		assert.WithinDuration(t, s.Now().Add(time.Hour), aws.ToTime(out.Credentials.Expiration), 2*time.Second, "one hour by default")
	}
}

func TestWebIdentityRefusals(t *testing.T) {
	cfg := webConfig()
	expired := time.Now().Add(-time.Hour).Truncate(time.Second)
	cfg.WebIdentityTokens = append(cfg.WebIdentityTokens,
		WebIdentityToken{Token: "expired-token", Provider: eksProvider, Subject: "system:serviceaccount:default:old", Expires: expired})
	s := NewInMemoryServer(cfg)
	t.Cleanup(s.Close)
	c := sts.NewFromConfig(s.AWSConfig("bob"), func(o *sts.Options) { o.RetryMaxAttempts = 1 })
	tests := []struct {
		name   string
		in     sts.AssumeRoleWithWebIdentityInput
		status int
		code   string
		msg    string
	}{
		{"unknown token", sts.AssumeRoleWithWebIdentityInput{WebIdentityToken: aws.String("not-a-known-token")},
			400, "InvalidIdentityToken", msgWebInvalid},
		{"expired token", sts.AssumeRoleWithWebIdentityInput{WebIdentityToken: aws.String("expired-token")},
			400, "ExpiredTokenException", fmt.Sprintf(" must be before the expiration date/time %d", expired.Unix())},
		{"role not trusting the provider", sts.AssumeRoleWithWebIdentityInput{RoleArn: aws.String(roleA)},
			403, "AccessDenied", msgWebDenied},
		{"role trusting another provider", sts.AssumeRoleWithWebIdentityInput{RoleArn: aws.String(roleCI)},
			403, "AccessDenied", msgWebDenied},
		{"unknown role", sts.AssumeRoleWithWebIdentityInput{RoleArn: aws.String("arn:aws:iam::123456789012:role/Nope")},
			403, "AccessDenied", msgWebDenied},
		{"role requiring MFA", sts.AssumeRoleWithWebIdentityInput{RoleArn: aws.String(roleWebMFA)},
			403, "AccessDenied", msgWebDenied},
		{"session name too short", sts.AssumeRoleWithWebIdentityInput{RoleSessionName: aws.String("x")},
			400, "ValidationError", "1 validation error detected: Value 'x' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2"},
		{"token too short", sts.AssumeRoleWithWebIdentityInput{WebIdentityToken: aws.String("abc")},
			400, "ValidationError", "1 validation error detected: Value at 'webIdentityToken' failed to satisfy constraint: Member must have length greater than or equal to 4"},
		{"token too long", sts.AssumeRoleWithWebIdentityInput{WebIdentityToken: aws.String(strings.Repeat("t", 20001))},
			400, "ValidationError", "1 validation error detected: Value at 'webIdentityToken' failed to satisfy constraint: Member must have length less than or equal to 20000"},
		{"duration above the role's maximum", sts.AssumeRoleWithWebIdentityInput{DurationSeconds: aws.Int32(7201)},
			400, "ValidationError", msgMaxDuration},
		{"duration above 12 hours", sts.AssumeRoleWithWebIdentityInput{DurationSeconds: aws.Int32(43201)},
			400, "ValidationError", "1 validation error detected: Value '43201' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 43200"},
		{"duration too short", sts.AssumeRoleWithWebIdentityInput{DurationSeconds: aws.Int32(899)},
			400, "ValidationError", "1 validation error detected: Value '899' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.ResetCalls()
			in := tt.in
			in.RoleArn = cmpOr(in.RoleArn, roleWeb)
			in.RoleSessionName = cmpOr(in.RoleSessionName, "refused")
			in.WebIdentityToken = cmpOr(in.WebIdentityToken, eksToken)
			_, err := c.AssumeRoleWithWebIdentity(ctxT(t), &in)
			requireAPIError(t, err, tt.code, "")
			var ae interface{ ErrorMessage() string }
			require.ErrorAs(t, err, &ae)
			if strings.HasPrefix(tt.msg, " ") {
				assert.True(t, strings.HasPrefix(ae.ErrorMessage(), "Token expired: current date/time "), ae.ErrorMessage())
				assert.True(t, strings.HasSuffix(ae.ErrorMessage(), tt.msg), ae.ErrorMessage())
			} else {
				assert.Equal(t, tt.msg, ae.ErrorMessage())
			}
			assert.NotContains(t, ae.ErrorMessage(), *in.WebIdentityToken, "the token is a credential")
			calls := s.Calls()
			require.Len(t, calls, 1)
			assert.Equal(t, tt.status, calls[0].Status)
			assert.Equal(t, tt.code, calls[0].ErrorCode)
			assert.Empty(t, calls[0].IssuedAccessKeyID)
			assert.NotContains(t, fmt.Sprintf("%+v", calls[0]), *in.WebIdentityToken)
		})
	}
}

func cmpOr(p *string, def string) *string {
	if p != nil {
		return p
	}
	return aws.String(def)
}

// TestWebIdentityMissingParameters sends what the SDK would refuse to
// send: STS's answer names each missing parameter.
func TestWebIdentityMissingParameters(t *testing.T) {
	s := NewInMemoryServer(webConfig())
	t.Cleanup(s.Close)
	post := func(form url.Values) (int, string) {
		form.Set("Action", "AssumeRoleWithWebIdentity")
		form.Set("Version", "2011-06-15")
		resp, err := s.Client().Post(s.URL+"/", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	status, body := post(url.Values{"RoleArn": {roleWeb}, "RoleSessionName": {"s1"}})
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, body, "<Code>ValidationError</Code><Message>1 validation error detected: Value null at &#39;webIdentityToken&#39; failed to satisfy constraint: Member must not be null</Message>")
	status, body = post(url.Values{"WebIdentityToken": {eksToken}})
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, body, "2 validation errors detected: Value null at &#39;roleArn&#39; failed to satisfy constraint: Member must not be null; Value null at &#39;roleSessionName&#39;")
	assert.NotContains(t, body, eksToken)

	// Signed or not, the request is judged by its token.
	status, body = post(url.Values{"RoleArn": {roleWeb}, "RoleSessionName": {"s1"}, "WebIdentityToken": {eksToken}})
	assert.Equal(t, http.StatusOK, status, body)
	assert.Contains(t, body, "<SubjectFromWebIdentityToken>"+eksSubject+"</SubjectFromWebIdentityToken>")
}

// TestWebIdentityTokenExpiry: a token's Expires is judged on the server
// clock.
func TestWebIdentityTokenExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := webConfig()
		cfg.WebIdentityTokens[0].Expires = time.Now().Add(time.Hour)
		s := NewInMemoryServer(cfg)
		defer s.Close()
		c := sts.NewFromConfig(s.AWSConfig("bob"), func(o *sts.Options) { o.RetryMaxAttempts = 1 })
		in := &sts.AssumeRoleWithWebIdentityInput{RoleArn: aws.String(roleWeb), RoleSessionName: aws.String("exp"), WebIdentityToken: aws.String(eksToken)}
		_, err := c.AssumeRoleWithWebIdentity(t.Context(), in)
		require.NoError(t, err)
		time.Sleep(time.Hour)
		_, err = c.AssumeRoleWithWebIdentity(t.Context(), in)
		requireAPIError(t, err, "ExpiredTokenException",
			fmt.Sprintf("Token expired: current date/time %d must be before the expiration date/time %d", time.Now().Unix(), time.Now().Unix()))
		assert.Equal(t, eksSubject, s.Calls()[1].WebIdentitySubject)
	})
}

// TestWebIdentityRoleProviderRefused: the SDK's provider retries
// InvalidIdentityToken, as it does against STS, then reports it.
func TestWebIdentityRoleProviderRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewInMemoryServer(webConfig())
		defer s.Close()
		tokenFile := filepath.Join(t.TempDir(), "token")
		require.NoError(t, os.WriteFile(tokenFile, []byte("eyJ.unknown.token"), 0o600))
		p := stscreds.NewWebIdentityRoleProvider(sts.NewFromConfig(s.AWSConfig("bob")), roleWeb, stscreds.IdentityTokenFile(tokenFile))
		_, err := p.Retrieve(t.Context())
		requireAPIError(t, err, "InvalidIdentityToken", msgWebInvalid)
		assert.Len(t, s.Calls(Call{Action: "AssumeRoleWithWebIdentity", ErrorCode: "InvalidIdentityToken", Status: 400}), 3)
	})
}
