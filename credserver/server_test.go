package credserver_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain"
	"github.com/stschain/stschain/credserver"
	"github.com/stschain/stschain/internal/awsclitest"
	"github.com/stschain/stschain/ststest"
)

const (
	acct        = "123456789012"
	roleA       = "arn:aws:iam::123456789012:role/A"
	sessionName = "credserver-test"
	secret      = "test+secret/DO+NOT+SHOW"
	token       = "test+session+token/DO+NOT+SHOW"
)

var _ aws.CredentialsProvider = providerFunc(nil)

// providerFunc is an aws.CredentialsProvider made of a function.
type providerFunc func(context.Context) (aws.Credentials, error)

func (f providerFunc) Retrieve(ctx context.Context) (aws.Credentials, error) { return f(ctx) }

// countingProvider returns fixed credentials and counts its calls.
type countingProvider struct {
	creds aws.Credentials
	calls atomic.Int64
}

func (p *countingProvider) Retrieve(context.Context) (aws.Credentials, error) {
	p.calls.Add(1)
	return p.creds, nil
}

func fixedCreds() aws.Credentials {
	return aws.Credentials{
		AccessKeyID: "ASIAFIXED0000000", SecretAccessKey: secret, SessionToken: token,
		CanExpire: true, Expires: time.Now().Add(time.Hour), AccountID: acct,
	}
}

// start starts a server for p and stops it when the test ends.
func start(t *testing.T, p aws.CredentialsProvider) *credserver.Server {
	t.Helper()
	s, err := credserver.Start(p)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	return s
}

// env returns the URL and token of s.Env.
func env(t *testing.T, s *credserver.Server) (uri, tok string) {
	t.Helper()
	e := s.Env()
	require.Len(t, e, 2)
	uri, ok := strings.CutPrefix(e[0], credserver.FullURIEnv+"=")
	require.True(t, ok, e[0])
	tok, ok = strings.CutPrefix(e[1], credserver.AuthTokenEnv+"=")
	require.True(t, ok, "token entry")
	return uri, tok
}

// newSTS starts a fake STS with user alice and role A, whose sessions live
// for lifetime (0: as requested).
func newSTS(t *testing.T, lifetime time.Duration) *ststest.Server {
	t.Helper()
	srv := ststest.NewServer(ststest.Config{
		AccountID: acct,
		Users:     []ststest.User{{Name: "alice", AccessKeyID: "AKIAALICE00000000000", SecretAccessKey: "alice-secret"}},
		Roles:     []ststest.Role{{ARN: roleA, Trust: []string{"arn:aws:iam::123456789012:user/alice"}, Lifetime: lifetime}},
	})
	t.Cleanup(srv.Close)
	return srv
}

// roleProvider is a ChainableProvider of role A assumed from alice.
func roleProvider(t *testing.T, srv *ststest.Server) *stschain.ChainableProvider {
	t.Helper()
	p, err := stschain.New(srv.AWSConfig("alice"), func(o *stschain.Options) {
		o.RoleARN = roleA
		o.RoleSessionName = sessionName
	})
	require.NoError(t, err)
	return p
}

// get sends a GET to uri with the Authorization header tok (none when
// empty) and returns the status, headers and body.
func get(t *testing.T, uri, tok string, edit ...func(*http.Request)) (int, http.Header, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	require.NoError(t, err)
	if tok != "" {
		req.Header.Set("Authorization", tok)
	}
	for _, fn := range edit {
		fn(req)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, string(body)
}

// closesAfterAnswer sends a GET to uri with the Authorization header tok
// on a connection of its own, reads the answer, and reports whether the
// server then closed the connection.
func closesAfterAnswer(t *testing.T, uri, tok string) bool {
	t.Helper()
	u, err := url.Parse(uri)
	require.NoError(t, err)
	c, err := net.DialTimeout("tcp", u.Host, time.Minute)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(time.Minute)))
	req, err := http.NewRequest(http.MethodGet, uri, nil)
	require.NoError(t, err)
	if tok != "" {
		req.Header.Set("Authorization", tok)
	}
	require.NoError(t, req.Write(c))
	r := bufio.NewReader(c)
	resp, err := http.ReadResponse(r, req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	_, err = r.ReadByte()
	return errors.Is(err, io.EOF)
}

func TestStartListensOnLoopback(t *testing.T) {
	s := start(t, &countingProvider{creds: fixedCreds()})
	uri, tok := env(t, s)
	u, err := url.Parse(uri)
	require.NoError(t, err)
	assert.Equal(t, "http", u.Scheme)
	assert.Equal(t, "127.0.0.1", u.Hostname())
	assert.NotEmpty(t, u.Port())

	raw, err := base64.RawURLEncoding.DecodeString(tok)
	require.NoError(t, err, "the token is unpadded base64url")
	assert.Len(t, raw, 32, "256 bits")
	_, tok2 := env(t, start(t, &countingProvider{creds: fixedCreds()}))
	assert.NotEqual(t, tok, tok2, "each server makes its own token")
}

func TestStartNilProvider(t *testing.T) {
	s, err := credserver.Start(nil)
	assert.Nil(t, s)
	assert.EqualError(t, err, "credserver: the credentials provider is nil")
}

// TestResponse pins what a request gets: the container credentials JSON,
// no-store, and one Retrieve per request.
func TestResponse(t *testing.T) {
	p := &countingProvider{creds: fixedCreds()}
	p.creds.Expires = time.Date(2030, 1, 2, 3, 4, 5, 999, time.FixedZone("CET", 3600))
	uri, tok := env(t, start(t, p))

	for i := 1; i <= 3; i++ {
		status, h, body := get(t, uri, tok)
		require.Equal(t, http.StatusOK, status, body)
		assert.Equal(t, "application/json", h.Get("Content-Type"))
		assert.Equal(t, "no-store", h.Get("Cache-Control"))
		assert.JSONEq(t, `{"AccessKeyId":"ASIAFIXED0000000","SecretAccessKey":"`+secret+`","Token":"`+token+`",`+
			`"Expiration":"2030-01-02T02:04:05Z","AccountId":"123456789012"}`, body)
		assert.Equal(t, int64(i), p.calls.Load(), "a fresh Retrieve for each request")
	}

	// Long-term keys: an empty Token, no AccountId, and an Expiration an
	// hour ahead, which botocore requires.
	p.creds = aws.Credentials{AccessKeyID: "AKIASTATIC000000", SecretAccessKey: secret}
	status, _, body := get(t, uri, tok)
	require.Equal(t, http.StatusOK, status, body)
	var got map[string]string
	require.NoError(t, json.Unmarshal([]byte(body), &got))
	assert.Equal(t, []string{"AccessKeyId", "Expiration", "SecretAccessKey", "Token"}, slices.Sorted(maps.Keys(got)))
	assert.Empty(t, got["Token"])
	exp, err := time.Parse(time.RFC3339, got["Expiration"])
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now().Add(time.Hour), exp, time.Minute)
}

// TestRefusals sends requests the server must refuse: none of them reaches
// the provider, and every answer is the JSON error shape without a secret.
func TestRefusals(t *testing.T) {
	p := &countingProvider{creds: fixedCreds()}
	uri, tok := env(t, start(t, p))
	u, err := url.Parse(uri)
	require.NoError(t, err)
	port := u.Port()

	for _, tc := range []struct {
		name   string
		tok    string
		edit   func(*http.Request)
		status int
		code   string
	}{
		{"no token", "", nil, http.StatusForbidden, "AccessDenied"},
		{"wrong token", strings.ToUpper(tok[:1]) + strings.ToLower(tok[1:]) + "x", nil, http.StatusForbidden, "AccessDenied"},
		{"token prefix", tok[:len(tok)-1], nil, http.StatusForbidden, "AccessDenied"},
		{"bearer token", "Bearer " + tok, nil, http.StatusForbidden, "AccessDenied"},
		{"token twice", tok, func(r *http.Request) { r.Header.Add("Authorization", tok) }, http.StatusForbidden, "AccessDenied"},
		{"POST", tok, func(r *http.Request) { r.Method = http.MethodPost }, http.StatusMethodNotAllowed, "MethodNotAllowed"},
		{"PUT", tok, func(r *http.Request) { r.Method = http.MethodPut }, http.StatusMethodNotAllowed, "MethodNotAllowed"},
		{"DELETE", tok, func(r *http.Request) { r.Method = http.MethodDelete }, http.StatusMethodNotAllowed, "MethodNotAllowed"},
		{"another path", tok, func(r *http.Request) { r.URL.Path = "/" }, http.StatusNotFound, "NotFound"},
		{"a sub-path", tok, func(r *http.Request) { r.URL.Path += "/x" }, http.StatusNotFound, "NotFound"},
		{"foreign Host", tok, func(r *http.Request) { r.Host = "attacker.example:" + port }, http.StatusForbidden, "AccessDenied"},
		{"foreign Host without port", tok, func(r *http.Request) { r.Host = "attacker.example" }, http.StatusForbidden, "AccessDenied"},
		{"loopback-looking name", tok, func(r *http.Request) { r.Host = "127.0.0.1.attacker.example:" + port }, http.StatusForbidden, "AccessDenied"},
		{"private address", tok, func(r *http.Request) { r.Host = "192.168.1.1:" + port }, http.StatusForbidden, "AccessDenied"},
		{"foreign Host, no token", "", func(r *http.Request) { r.Host = "attacker.example" }, http.StatusForbidden, "AccessDenied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := p.calls.Load()
			var edits []func(*http.Request)
			if tc.edit != nil {
				edits = append(edits, tc.edit)
			}
			status, h, body := get(t, uri, tc.tok, edits...)
			assert.Equal(t, tc.status, status, body)
			assert.Equal(t, "no-store", h.Get("Cache-Control"))
			assert.Equal(t, "application/json", h.Get("Content-Type"))
			var e struct{ Code, Message string }
			require.NoError(t, json.Unmarshal([]byte(body), &e), body)
			assert.Equal(t, tc.code, e.Code)
			assert.NotEmpty(t, e.Message)
			if tc.status == http.StatusMethodNotAllowed {
				assert.Equal(t, "GET", h.Get("Allow"))
			}
			assert.NotContains(t, body, secret)
			assert.NotContains(t, body, tok)
			assert.Equal(t, before, p.calls.Load(), "the provider was not asked")
			if tc.code == "AccessDenied" && tc.tok != tok {
				assert.True(t, closesAfterAnswer(t, uri, tc.tok), "a request without the token has its connection closed")
			}
		})
	}
}

// TestLoopbackHosts: the names of the loopback interface are served.
func TestLoopbackHosts(t *testing.T) {
	uri, tok := env(t, start(t, &countingProvider{creds: fixedCreds()}))
	u, err := url.Parse(uri)
	require.NoError(t, err)
	for _, host := range []string{u.Host, "127.0.0.1", "127.1.2.3:" + u.Port(), "localhost:" + u.Port(), "LOCALHOST", "[::1]:" + u.Port(), "[::1]", "[::ffff:127.0.0.1]:" + u.Port()} {
		t.Run(host, func(t *testing.T) {
			status, _, body := get(t, uri, tok, func(r *http.Request) { r.Host = host })
			assert.Equal(t, http.StatusOK, status, body)
		})
	}
}

// TestFailingProvider: a Retrieve error is an HTTP error whose body says
// what failed and holds no secret, even when the provider handed back
// credentials with its error.
func TestFailingProvider(t *testing.T) {
	p := providerFunc(func(context.Context) (aws.Credentials, error) {
		return fixedCreds(), errors.New("stschain: arn:aws:iam::123456789012:role/A: AssumeRole:\nAccessDenied: not authorized")
	})
	uri, tok := env(t, start(t, p))
	status, h, body := get(t, uri, tok)
	assert.Equal(t, http.StatusInternalServerError, status)
	assert.Equal(t, "no-store", h.Get("Cache-Control"))
	assert.JSONEq(t, `{"code":"CredentialsUnavailable","message":"stschain: arn:aws:iam::123456789012:role/A: AssumeRole: AccessDenied: not authorized"}`, body)
	assert.NotContains(t, body, secret)
	assert.NotContains(t, body, token)

	// The SDK reports the message.
	_, err := endpointcreds.New(uri, func(o *endpointcreds.Options) { o.AuthorizationToken = tok }).Retrieve(t.Context())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "CredentialsUnavailable: stschain: arn:aws:iam::123456789012:role/A: AssumeRole: AccessDenied")
	assert.NotContains(t, err.Error(), secret)
}

func TestUnusableCredentials(t *testing.T) {
	for name, creds := range map[string]aws.Credentials{
		"no keys": {},
		"expired": {AccessKeyID: "ASIAX", SecretAccessKey: secret, SessionToken: token, CanExpire: true, Expires: time.Now().Add(-time.Second)},
	} {
		t.Run(name, func(t *testing.T) {
			uri, tok := env(t, start(t, &countingProvider{creds: creds}))
			status, _, body := get(t, uri, tok)
			assert.Equal(t, http.StatusInternalServerError, status)
			assert.Contains(t, body, `"code":"CredentialsUnavailable"`)
			assert.NotContains(t, body, secret)
		})
	}
}

// TestLongMessage: a provider's long error is cut, on a valid UTF-8
// boundary.
func TestLongMessage(t *testing.T) {
	p := providerFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{}, errors.New(strings.Repeat("é", 2000))
	})
	uri, tok := env(t, start(t, p))
	_, _, body := get(t, uri, tok)
	var e struct{ Message string }
	require.NoError(t, json.Unmarshal([]byte(body), &e))
	assert.LessOrEqual(t, len(e.Message), 1024+4)
	assert.True(t, strings.HasSuffix(e.Message, " ..."))
}

// TestCloseWaitsForRequestInFlight holds a request inside Retrieve while
// Close runs: Close stops taking connections, waits, and returns only
// after Retrieve has returned and the request has been answered.
func TestCloseWaitsForRequestInFlight(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var returned atomic.Bool // Retrieve has returned
	p := providerFunc(func(context.Context) (aws.Credentials, error) {
		close(entered)
		<-release
		returned.Store(true)
		return fixedCreds(), nil
	})
	s, err := credserver.Start(p)
	require.NoError(t, err)
	uri, tok := env(t, s)
	u, err := url.Parse(uri)
	require.NoError(t, err)

	type answer struct {
		status int
		body   string
		err    error
	}
	answered := make(chan answer, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, uri, nil)
		req.Header.Set("Authorization", tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			answered <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		answered <- answer{resp.StatusCode, string(body), err}
	}()
	<-entered

	type closeResult struct {
		err   error
		after bool // Retrieve had returned when Close did
	}
	closed := make(chan closeResult, 1)
	go func() {
		err := s.Close()
		closed <- closeResult{err, returned.Load()}
	}()
	// Close has begun once the port refuses connections.
	require.Eventually(t, func() bool {
		c, err := net.DialTimeout("tcp", u.Host, time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	}, 10*time.Second, 5*time.Millisecond, "Close did not stop listening")

	close(release)
	c := <-closed
	require.NoError(t, c.err)
	assert.True(t, c.after, "Close returned while a request was in flight")
	a := <-answered
	require.NoError(t, a.err)
	assert.Equal(t, http.StatusOK, a.status)
	assert.Contains(t, a.body, `"AccessKeyId":"ASIAFIXED0000000"`)
	assert.NoError(t, s.Close(), "a second Close")
}

// TestSDKEndpointProvider: the SDK's endpoint credentials provider reads
// the server, and the credentials are the chain's.
func TestSDKEndpointProvider(t *testing.T) {
	srv := newSTS(t, 0)
	p := roleProvider(t, srv)
	uri, tok := env(t, start(t, p))

	got, err := endpointcreds.New(uri, func(o *endpointcreds.Options) { o.AuthorizationToken = tok }).Retrieve(t.Context())
	require.NoError(t, err)
	want, err := p.Retrieve(t.Context())
	require.NoError(t, err)
	assert.Equal(t, want.AccessKeyID, got.AccessKeyID)
	assert.Equal(t, want.SecretAccessKey, got.SecretAccessKey)
	assert.Equal(t, want.SessionToken, got.SessionToken)
	assert.Equal(t, want.AccountID, got.AccountID)
	assert.Equal(t, acct, got.AccountID)
	assert.True(t, got.CanExpire)
	assert.Equal(t, want.Expires.Truncate(time.Second).UTC(), got.Expires.UTC())
	assert.Equal(t, 1, len(srv.Calls(ststest.Call{Action: "AssumeRole"})))
}

// TestSDKDefaultConfig: config.LoadDefaultConfig finds the server through
// the two variables of Env and signs with its credentials.
func TestSDKDefaultConfig(t *testing.T) {
	srv := newSTS(t, 0)
	s := start(t, roleProvider(t, srv))
	dir := t.TempDir()
	for _, kv := range append(s.Env(),
		"AWS_CONFIG_FILE="+filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "credentials"),
		"AWS_ENDPOINT_URL="+srv.URL, "AWS_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=", "AWS_SESSION_TOKEN=", "AWS_PROFILE=",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=",
		"AWS_WEB_IDENTITY_TOKEN_FILE=", "AWS_ROLE_ARN=", "AWS_EC2_METADATA_DISABLED=true",
	) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	cfg, err := config.LoadDefaultConfig(t.Context())
	require.NoError(t, err)
	out, err := sts.NewFromConfig(cfg).GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
	require.NoError(t, err)
	assert.Equal(t, srv.AssumedRoleARN(roleA, sessionName), aws.ToString(out.Arn))
}

// TestAWSCLI: the AWS CLI reads the server from its environment and
// signs with the chain's credentials.
func TestAWSCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the AWS CLI interop test in -short mode: it starts the CLI")
	}
	awsPath := awsclitest.Require(t)
	srv := newSTS(t, 0)
	s := start(t, roleProvider(t, srv))
	dir := t.TempDir()

	var environ []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !strings.HasPrefix(k, "AWS_") && k != "HOME" {
			environ = append(environ, kv)
		}
	}
	environ = append(environ, s.Env()...)
	environ = append(environ,
		"HOME="+dir,
		"AWS_CONFIG_FILE="+filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "credentials"),
		"AWS_ENDPOINT_URL="+srv.URL, "AWS_DEFAULT_REGION=us-east-1", "AWS_EC2_METADATA_DISABLED=true",
		"NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost",
	)
	// A pyenv shim finds its installation through PYENV_ROOT, which
	// defaults to a directory of HOME, which the test replaces.
	if d := filepath.Dir(awsPath); filepath.Base(d) == "shims" && os.Getenv("PYENV_ROOT") == "" {
		environ = append(environ, "PYENV_ROOT="+filepath.Dir(d))
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, awsPath, "sts", "get-caller-identity", "--output", "json")
	cmd.Env = environ
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "aws: %s", stderr.String())
	var out struct{ Arn, Account string }
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &out), stdout.String())
	assert.Equal(t, srv.AssumedRoleARN(roleA, sessionName), out.Arn)
	assert.Equal(t, acct, out.Account)
	assert.Equal(t, 1, len(srv.Calls(ststest.Call{Action: "AssumeRole"})))
	assert.Equal(t, 1, len(srv.Calls(ststest.Call{Action: "GetCallerIdentity"})))
}

// TestConcurrentRequests: many clients at once each get an answer.
func TestConcurrentRequests(t *testing.T) {
	srv := newSTS(t, 0)
	uri, tok := env(t, start(t, roleProvider(t, srv)))
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for range 32 {
		wg.Go(func() {
			_, err := endpointcreds.New(uri, func(o *endpointcreds.Options) { o.AuthorizationToken = tok }).Retrieve(context.Background())
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
	assert.Equal(t, 1, len(srv.Calls(ststest.Call{Action: "AssumeRole"})), "the provider shared one refresh")
}
