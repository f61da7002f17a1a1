package ststest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGetFederationToken: a user's long-term keys get a federated user's
// session, which answers GetCallerIdentity as the federated user; session
// credentials are refused; the call is recorded.
func TestGetFederationToken(t *testing.T) {
	s := newTestServer(t, testConfig())
	ctx := ctxT(t)
	out, err := client(s, "bob").GetFederationToken(ctx, &sts.GetFederationTokenInput{
		Name: aws.String("bob-console"), DurationSeconds: aws.Int32(3600), Policy: aws.String(`{"Version":"2012-10-17"}`)})
	require.NoError(t, err)
	assert.Equal(t, "arn:aws:sts::"+acct+":federated-user/bob-console", aws.ToString(out.FederatedUser.Arn))
	assert.Equal(t, acct+":bob-console", aws.ToString(out.FederatedUser.FederatedUserId))
	assert.WithinDuration(t, s.Now().Add(time.Hour), aws.ToTime(out.Credentials.Expiration), 2*time.Second)

	id, err := sessionClient(s, out.Credentials).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	require.NoError(t, err)
	assert.Equal(t, s.FederatedUserARN("bob-console"), aws.ToString(id.Arn))

	_, err = sessionClient(s, out.Credentials).GetFederationToken(ctx, &sts.GetFederationTokenInput{Name: aws.String("again")})
	requireAPIError(t, err, "AccessDenied", "Cannot call GetFederationToken with session credentials")
	_, err = client(s, "bob").GetFederationToken(ctx, &sts.GetFederationTokenInput{Name: aws.String("x")})
	requireAPIError(t, err, "ValidationError", "")
	_, err = client(s, "bob").GetFederationToken(ctx, &sts.GetFederationTokenInput{Name: aws.String("bob"), DurationSeconds: aws.Int32(129601)})
	requireAPIError(t, err, "ValidationError", "")

	calls := s.Calls(Call{Action: "GetFederationToken"})
	require.Len(t, calls, 4)
	assert.Equal(t, Call{Action: "GetFederationToken", CallerARN: s.UserARN("bob"), CallerAccessKeyID: bobKey,
		DurationSeconds: 3600, Status: 200, IssuedAccessKeyID: aws.ToString(out.Credentials.AccessKeyId)}, calls[0])
}

// signinToken asks the federation endpoint of s for a sign-in token of
// creds, with the console duration d when it is not zero; it returns the
// HTTP status and the token.
func signinToken(t *testing.T, s *Server, creds *types.Credentials, d time.Duration) (int, string) {
	t.Helper()
	session, err := json.Marshal(map[string]string{"sessionId": aws.ToString(creds.AccessKeyId),
		"sessionKey": aws.ToString(creds.SecretAccessKey), "sessionToken": aws.ToString(creds.SessionToken)})
	require.NoError(t, err)
	q := url.Values{"Action": {"getSigninToken"}, "Session": {string(session)}}
	if d != 0 {
		q.Set("SessionDuration", strconv.Itoa(int(d/time.Second)))
	}
	resp, err := s.Client().Get(s.FederationURL() + "?" + q.Encode())
	require.NoError(t, err)
	defer resp.Body.Close()
	var out struct{ SigninToken string }
	if resp.StatusCode == http.StatusOK {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	}
	return resp.StatusCode, out.SigninToken
}

// TestSigninToken: role sessions and federated users' sessions get sign-in
// tokens the server then accepts; a console duration is refused to a
// chained role session and to a federated user, as AWS refuses it; a
// GetSessionToken session's token cannot sign in; a session the server
// did not issue, or has expired, gets none; tokens last 15 minutes.
func TestSigninToken(t *testing.T) {
	s := newTestServer(t, testConfig())
	ctx := ctxT(t)
	a, err := assume(ctx, client(s, "alice"), roleA, "direct")
	require.NoError(t, err)
	b, err := assume(ctx, sessionClient(s, a.Credentials), roleB, "chained")
	require.NoError(t, err)
	fed, err := client(s, "bob").GetFederationToken(ctx, &sts.GetFederationTokenInput{Name: aws.String("bob")})
	require.NoError(t, err)
	gst, err := client(s, "bob").GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	require.NoError(t, err)

	for _, tc := range []struct {
		name     string
		creds    *types.Credentials
		d        time.Duration
		status   int
		arn      string
		loginErr error
	}{
		{"a role session", a.Credentials, 0, 200, s.AssumedRoleARN(roleA, "direct"), nil},
		{"a role session for 8 hours", a.Credentials, 8 * time.Hour, 200, s.AssumedRoleARN(roleA, "direct"), nil},
		{"a chained role session", b.Credentials, 0, 200, s.AssumedRoleARN(roleB, "chained"), nil},
		{"a chained role session with a duration", b.Credentials, time.Hour, 400, "", nil},
		{"a federated user", fed.Credentials, 0, 200, s.FederatedUserARN("bob"), nil},
		{"a federated user with a duration", fed.Credentials, time.Hour, 400, "", nil},
		{"a GetSessionToken session", gst.Credentials, 0, 200, s.UserARN("bob"), ErrSigninSessionKind},
		{"a duration too short", a.Credentials, time.Minute, 400, "", nil},
		{"a duration too long", a.Credentials, 13 * time.Hour, 400, "", nil},
		{"a wrong secret", &types.Credentials{AccessKeyId: a.Credentials.AccessKeyId, SecretAccessKey: aws.String("x"), SessionToken: a.Credentials.SessionToken}, 0, 400, "", nil},
		{"an unknown session", &types.Credentials{AccessKeyId: aws.String("ASIANOSUCHSESSION000"), SecretAccessKey: aws.String("x"), SessionToken: aws.String("y")}, 0, 400, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, token := signinToken(t, s, tc.creds, tc.d)
			require.Equal(t, tc.status, status)
			if status != 200 {
				assert.Empty(t, token)
				return
			}
			ss, err := s.ValidateSigninToken(token)
			assert.ErrorIs(t, err, tc.loginErr)
			assert.Equal(t, tc.arn, ss.ARN)
			assert.Equal(t, aws.ToString(tc.creds.AccessKeyId), ss.AccessKeyID)
			assert.Equal(t, tc.d, ss.ConsoleDuration)
		})
	}
	codes := map[string]int{}
	for _, c := range s.Calls(Call{Action: "getSigninToken"}) {
		codes[c.ErrorCode]++
	}
	assert.Equal(t, map[string]int{"": 5, "SessionDurationNotAllowed": 2, "InvalidSessionDuration": 2, "InvalidSession": 2}, codes)
	assert.Len(t, s.Calls(Call{Action: "getSigninToken", CallerAccessKeyID: aws.ToString(a.Credentials.AccessKeyId), DurationSeconds: 8 * 3600}), 1)

	_, token := signinToken(t, s, a.Credentials, 0)
	_, err = s.ValidateSigninToken(token + "x")
	assert.ErrorIs(t, err, ErrInvalidSigninToken)
	_, err = s.ValidateSigninToken("")
	assert.ErrorIs(t, err, ErrInvalidSigninToken)
	s.Advance(SigninTokenLifetime)
	_, err = s.ValidateSigninToken(token)
	assert.ErrorIs(t, err, ErrExpiredSigninToken)

	s.Advance(time.Hour)
	status, _ := signinToken(t, s, a.Credentials, 0)
	assert.Equal(t, 400, status, "the session has expired")
	assert.Len(t, s.Calls(Call{Action: "getSigninToken", ErrorCode: "ExpiredSession"}), 1)
}

// TestFederationLogin: Action=login sends the browser on to Destination
// with a token the server accepts, and answers 400 to any other.
func TestFederationLogin(t *testing.T) {
	s := newTestServer(t, testConfig())
	a, err := assume(ctxT(t), client(s, "alice"), roleA, "direct")
	require.NoError(t, err)
	_, token := signinToken(t, s, a.Credentials, 0)
	noRedirect := *s.Client()
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	login := func(token string) *http.Response {
		q := url.Values{"Action": {"login"}, "Issuer": {"test"}, "Destination": {"https://console.aws.amazon.com/"}, "SigninToken": {token}}
		resp, err := noRedirect.Get(s.FederationURL() + "?" + q.Encode())
		require.NoError(t, err)
		resp.Body.Close()
		return resp
	}
	resp := login(token)
	assert.Equal(t, http.StatusFound, resp.StatusCode)
	assert.Equal(t, "https://console.aws.amazon.com/", resp.Header.Get("Location"))
	assert.Equal(t, http.StatusBadRequest, login("forged").StatusCode)
	assert.Len(t, s.Calls(Call{Action: "login", Status: 200}), 1)
	assert.Len(t, s.Calls(Call{Action: "login", ErrorCode: "InvalidSigninToken"}), 1)

	resp, err = noRedirect.Get(s.FederationURL() + "?Action=nothing")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
}
