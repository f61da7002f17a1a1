package ststest

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stored counts what the server holds: sessions, the expiry heap, calls,
// and TOTP steps remembered.
func (s *Server) stored() (sessions, heap, calls, steps int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.usedSteps {
		steps += len(v)
	}
	return len(s.sessions.byKey), len(s.sessions.byExpiry), len(s.calls.calls), steps
}

// TestMemoryStaysBounded issues many sessions, each expired before the
// next: the server keeps only the sessions still valid, the last MaxCalls
// calls, and the TOTP steps that may still match.
func TestMemoryStaysBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig()
		cfg.MaxCalls = 20
		cfg.SessionTokenLifetime = 5 * time.Second
		s := NewInMemoryServer(cfg)
		defer s.Close()
		ctx := t.Context()
		alice, carol := client(s, "alice"), client(s, "carol")
		first, err := assume(ctx, alice, roleShort, "first")
		require.NoError(t, err)
		opts := totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}
		const n = 60 // three times MaxCalls, in calls of each kind
		for i := range n {
			s.Advance(11 * time.Second) // past roleShort's 10 s lifetime
			_, err := assume(ctx, alice, roleShort, "many")
			require.NoError(t, err)
			if i%3 == 0 { // a fresh TOTP step each time
				code, err := totp.GenerateCodeCustom(totpSecret, s.Now(), opts)
				require.NoError(t, err)
				_, err = carol.GetSessionToken(ctx, &sts.GetSessionTokenInput{SerialNumber: aws.String(carolMFA), TokenCode: aws.String(code)})
				require.NoError(t, err)
			}
		}
		sessions, heap, calls, steps := s.stored()
		assert.Equal(t, 1, sessions, "only the last session is still valid")
		assert.Equal(t, 1, heap)
		assert.Equal(t, 20, calls)
		assert.LessOrEqual(t, steps, 3)

		log := s.Calls()
		require.Len(t, log, 20)
		assert.Equal(t, "many", log[len(log)-1].RoleSessionName, "the newest calls are kept, oldest first")

		// The first session was forgotten; its credentials still get
		// ExpiredToken, as STS answers for an expired token, and the call
		// still names its caller.
		s.ResetCalls()
		_, err = sessionClient(s, first.Credentials).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		requireAPIError(t, err, "ExpiredToken", msgExpiredToken)
		assert.Equal(t, []Call{{Action: "GetCallerIdentity", CallerARN: s.AssumedRoleARN(roleShort, "first"),
			CallerAccessKeyID: aws.ToString(first.Credentials.AccessKeyId), Status: 400, ErrorCode: "ExpiredToken"}}, s.Calls())
	})
}

// TestForgottenSessionTokens checks the tokens of forgotten sessions:
// only this server's, for their own key, with the right secret, answer
// ExpiredToken.
func TestForgottenSessionTokens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewInMemoryServer(testConfig())
		defer s.Close()
		other := NewInMemoryServer(testConfig())
		defer other.Close()
		ctx := t.Context()
		old, err := assume(ctx, client(s, "alice"), roleShort, "old")
		require.NoError(t, err)
		foreign, err := assume(ctx, client(other, "alice"), roleShort, "foreign")
		require.NoError(t, err)
		s.Advance(time.Minute)
		_, err = assume(ctx, client(s, "alice"), roleShort, "new") // forgets old
		require.NoError(t, err)
		sessions, _, _, _ := s.stored()
		require.Equal(t, 1, sessions)

		c := old.Credentials
		with := func(akid, secret, token string) error {
			cfg := s.AWSConfig("bob")
			cfg.Credentials = credentials.NewStaticCredentialsProvider(akid, secret, token)
			_, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			return err
		}
		fc := foreign.Credentials
		for _, tt := range []struct {
			name                string
			akid, secret, token string
			code                string
		}{
			{"as issued", *c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken, "ExpiredToken"},
			{"wrong secret", *c.AccessKeyId, "wrong", *c.SessionToken, "SignatureDoesNotMatch"},
			{"token of another key", "ASIAAAAAAAAAAAAAAAAA", *c.SecretAccessKey, *c.SessionToken, "InvalidClientTokenId"},
			{"token changed", *c.AccessKeyId, *c.SecretAccessKey, (*c.SessionToken)[:100] + "A" + (*c.SessionToken)[101:], "InvalidClientTokenId"},
			{"another server's session", *fc.AccessKeyId, *fc.SecretAccessKey, *fc.SessionToken, "InvalidClientTokenId"},
		} {
			err := with(tt.akid, tt.secret, tt.token)
			var ae smithy.APIError
			if assert.ErrorAs(t, err, &ae, tt.name) {
				assert.Equal(t, tt.code, ae.ErrorCode(), tt.name)
			}
		}
	})
}

// TestDefaultMaxCalls checks the default bound's wiring; the ring itself
// is exercised with a small bound by TestMemoryStaysBounded.
func TestDefaultMaxCalls(t *testing.T) {
	assert.Equal(t, DefaultMaxCalls, NewUnstartedServer(testConfig()).calls.max)
	cfg := testConfig()
	cfg.MaxCalls = 3
	s := NewUnstartedServer(cfg)
	for i := range 5 {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("Action=GetCallerIdentity&N="+strconv.Itoa(i)))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAKEY"+strconv.Itoa(i)+"/20240101/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=00")
		s.ServeHTTP(httptest.NewRecorder(), r)
	}
	var keys []string
	for _, c := range s.Calls() {
		keys = append(keys, c.CallerAccessKeyID)
	}
	assert.Equal(t, []string{"AKIAKEY2", "AKIAKEY3", "AKIAKEY4"}, keys, "the oldest calls are dropped, the rest kept oldest first")
	s.ResetCalls()
	assert.Empty(t, s.Calls())
}
