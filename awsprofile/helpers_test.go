package awsprofile_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/stschain/stschain"
	"github.com/stschain/stschain/awsprofile"
	"github.com/stschain/stschain/internal/clidriver"
	"github.com/stschain/stschain/ststest"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(childMain())
	}
	// The tests describe every setting they use: nothing of this
	// machine's AWS setup may leak in, and nothing may reach out to an
	// instance metadata service.
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") {
			os.Unsetenv(k)
		}
	}
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	// The race detector pauses a second before a process that still runs
	// goroutines exits; the test binary's children need not.
	os.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	code := m.Run()
	clidriver.CloseShared()
	if code == 0 {
		if err := goleak.Find(
			// Idle keep-alive connections of the SDK's HTTP clients.
			goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
			goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
		); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

const (
	account  = "123456789012"
	aliceKey = "AKIAALICEEXAMPLE0001"
	aliceSec = "aliceSecretKey00"
	bobKey   = "AKIABOBEXAMPLE000001"
	bobSec   = "bobSecretKey00"
	aliceARN = "arn:aws:iam::" + account + ":user/alice"
	bobARN   = "arn:aws:iam::" + account + ":user/bob"
)

func roleARN(name string) string { return "arn:aws:iam::" + account + ":role/" + name }

var mfaSeq atomic.Int64

// newMFASerial is a device of its own for one test run: a code is never
// sent twice for one device within its time step, process-wide, and tests
// repeat within seconds under -count.
func newMFASerial(t testing.TB) string {
	return fmt.Sprintf("arn:aws:iam::%s:mfa/%s-%d", account, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()), mfaSeq.Add(1))
}

// env is one test's fake STS and its files.
type env struct {
	t      *testing.T
	srv    *ststest.Server
	portal *ststest.Portal // the SSO portal and sign-in service in front of srv
	url    string          // the portal's URL, which reaches srv too
	client *http.Client    // the portal's client
	dir    string
	serial string // alice's MFA device
	codes  []string
}

// newEnv starts a fake STS with users alice (with an MFA device taking the
// codes 100001..100099) and bob, and the roles given; a role whose Trust
// is nil trusts the whole account. With envOptions.web, it knows webToken,
// which it writes to the file "token" in e.dir.
func newEnv(t *testing.T, roles ...ststest.Role) *env {
	t.Helper()
	return newEnvWith(t, envOptions{}, roles...)
}

// envOptions change what newEnvWith starts.
type envOptions struct {
	serial string // alice's MFA device; empty means a new one
	region string // the server's region; empty means ststest's default
	web    bool   // the server knows webToken, of webProvider
}

// The web identity token of an EKS pod, as the fake STS knows it.
const (
	webToken       = "eyJhbGciOiJSUzI1NiJ9.eks-pod-token.signature"
	webProvider    = "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
	webProviderARN = "arn:aws:iam::" + account + ":oidc-provider/" + webProvider
	webSubject     = "system:serviceaccount:default:app"
)

// newEnvWith is newEnv with the options given.
func newEnvWith(t *testing.T, eo envOptions, roles ...ststest.Role) *env {
	t.Helper()
	if eo.serial == "" {
		eo.serial = newMFASerial(t)
	}
	e := &env{t: t, dir: t.TempDir(), serial: eo.serial}
	for i := 1; i < 100; i++ {
		e.codes = append(e.codes, fmt.Sprintf("1%05d", i))
	}
	for i := range roles {
		if roles[i].Trust == nil {
			roles[i].Trust = []string{account}
		}
		if roles[i].MaxSessionDuration == 0 {
			roles[i].MaxSessionDuration = 12 * time.Hour
		}
	}
	var tokens []ststest.WebIdentityToken
	if eo.web {
		tokens = []ststest.WebIdentityToken{{Token: webToken, Provider: webProvider, Subject: webSubject}}
		require.NoError(t, os.WriteFile(filepath.Join(e.dir, "token"), []byte(webToken), 0o600))
	}
	e.srv = ststest.NewServer(ststest.Config{
		AccountID:         account,
		Region:            eo.region,
		WebIdentityTokens: tokens,
		Users: []ststest.User{
			{Name: "alice", AccessKeyID: aliceKey, SecretAccessKey: aliceSec, MFASerial: e.serial, MFACodes: e.codes},
			{Name: "bob", AccessKeyID: bobKey, SecretAccessKey: bobSec},
		},
		Roles: roles,
	})
	t.Cleanup(e.srv.Close)
	e.portal = ststest.NewPortal(e.srv)
	hs := httptest.NewServer(e.portal)
	t.Cleanup(hs.Close)
	e.url, e.client = hs.URL, hs.Client()
	return e
}

// files writes the config and credentials files, after replacing
// {{serial}} and {{url}} in them.
func (e *env) files(configText, credentialsText string) (configFile, credentialsFile string) {
	e.t.Helper()
	r := strings.NewReplacer("{{serial}}", e.serial, "{{url}}", e.url, "{{dir}}", e.dir)
	configFile = filepath.Join(e.dir, "config")
	credentialsFile = filepath.Join(e.dir, "credentials")
	require.NoError(e.t, os.WriteFile(configFile, []byte(r.Replace(configText)), 0o600))
	require.NoError(e.t, os.WriteFile(credentialsFile, []byte(r.Replace(credentialsText)), 0o600))
	return configFile, credentialsFile
}

// opts points LoadConfig at the files and the server.
func (e *env) opts(configText, credentialsText string, more ...func(*awsprofile.Options)) func(*awsprofile.Options) {
	cf, crf := e.files(configText, credentialsText)
	return func(o *awsprofile.Options) {
		o.ConfigFiles = []string{cf}
		o.CredentialsFiles = []string{crf}
		o.LoadOptions = append(o.LoadOptions, e.sdkOptions()...)
		for _, fn := range more {
			fn(o)
		}
	}
}

// sdkOptions send everything to the server, quickly.
func (e *env) sdkOptions() []func(*config.LoadOptions) error {
	return []func(*config.LoadOptions) error{
		config.WithBaseEndpoint(e.url),
		config.WithHTTPClient(e.client),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) { o.MaxBackoff = 50 * time.Millisecond })
		}),
	}
}

// tokenCodes hands out alice's codes in order, counting the calls.
type tokenCodes struct {
	mu    sync.Mutex
	codes []string
	asked []string // serial numbers asked for
}

func (e *env) tokenCodes() *tokenCodes { return &tokenCodes{codes: append([]string(nil), e.codes...)} }

func (c *tokenCodes) fn(_ context.Context, serial string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.asked = append(c.asked, serial)
	code := c.codes[0]
	c.codes = c.codes[1:]
	return code, nil
}

func (c *tokenCodes) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.asked)
}

func noTokenCode(t *testing.T) stschain.TokenCodeFunc {
	return func(context.Context, string) (string, error) {
		t.Error("MFA code asked for")
		return "", context.Canceled
	}
}

// retrieve loads profile and retrieves its credentials.
func retrieve(t *testing.T, profile string, opts ...func(*awsprofile.Options)) (aws.Config, aws.Credentials) {
	t.Helper()
	cfg, err := awsprofile.LoadConfig(context.Background(), profile, opts...)
	require.NoError(t, err)
	creds, err := cfg.Credentials.Retrieve(context.Background())
	require.NoError(t, err)
	return cfg, creds
}

// call is the part of a recorded STS call the tests compare; Signer is
// the long-term key that signed it, or "issued by #N" for a session
// issued by the Nth call (from 1).
type call struct {
	Action, Role, Signer, Session, Serial string
	Duration                              int
	Status                                int
}

func (c call) String() string {
	return fmt.Sprintf("%s role=%s signer=%s session=%s serial=%s duration=%d status=%d", c.Action, c.Role, c.Signer, c.Session, c.Serial, c.Duration, c.Status)
}

// calls returns the server's calls in comparable form; generated session
// names (botocore's and stschain's) read "<generated>".
func calls(srv *ststest.Server) []call {
	issued := map[string]int{}
	var out []call
	for i, c := range srv.Calls() {
		signer := c.CallerAccessKeyID
		if n, ok := issued[signer]; ok {
			signer = fmt.Sprintf("issued by #%d", n)
		}
		session := c.RoleSessionName
		if generatedSession(session) {
			session = "<generated>"
		}
		out = append(out, call{Action: c.Action, Role: c.RoleARN, Signer: signer, Session: session, Serial: c.SerialNumber, Duration: c.DurationSeconds, Status: c.Status})
		if c.IssuedAccessKeyID != "" {
			issued[c.IssuedAccessKeyID] = i + 1
		}
	}
	return out
}

// generatedSession reports whether a session name is one a provider
// made up: botocore's, stschain's, or the SDK's web identity provider's
// (the time in nanoseconds).
func generatedSession(name string) bool {
	if strings.HasPrefix(name, "botocore-session-") || strings.HasPrefix(name, "stschain-") {
		return true
	}
	return len(name) >= 15 && strings.Trim(name, "0123456789") == ""
}

func kinds(c *awsprofile.Chain) []awsprofile.LinkKind {
	var out []awsprofile.LinkKind
	for _, l := range c.Links {
		out = append(out, l.Kind)
	}
	return out
}

func assertCalls(t *testing.T, want []call, srv *ststest.Server) {
	t.Helper()
	got := calls(srv)
	if !assert.Equal(t, want, got) {
		for _, c := range got {
			t.Log(c)
		}
	}
}
