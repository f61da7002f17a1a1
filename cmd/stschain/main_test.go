package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain/ststest"
)

const (
	acct       = "123456789012"
	userName   = "alice"
	userKey    = "AKIAALICE00000000000"
	userSecret = "aliceSecretDoNotPrint+/0123456789"
	totpSecret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	userARN    = "arn:aws:iam::123456789012:user/alice"
	roleA      = "arn:aws:iam::123456789012:role/A"
	roleB      = "arn:aws:iam::123456789012:role/B"
	roleMFA    = "arn:aws:iam::123456789012:role/NeedsMFA"
	roleExt    = "arn:aws:iam::123456789012:role/External"
	roleDenied = "arn:aws:iam::123456789012:role/Denied"
	externalID = "ext-123"
	totpEnv    = "STSCHAIN_TEST_TOTP_SECRET"
	testTime   = 2 * time.Minute // bound of every command a test runs
)

// serialSeq makes each server's MFA serial unique. The library remembers,
// process-wide and per serial, the codes it sent; in-process runs against
// fresh servers would otherwise wait for the next TOTP step.
var serialSeq atomic.Int64

// newServer starts a fake STS with user alice (keys, TOTP device) and the
// roles the tests use, changed by edits; it returns the server and alice's
// MFA serial.
func newServer(t *testing.T, edits ...func(*ststest.Config)) (*ststest.Server, string) {
	t.Helper()
	serial := fmt.Sprintf("arn:aws:iam::%s:mfa/alice-%d-%d", acct, os.Getpid(), serialSeq.Add(1))
	cfg := ststest.Config{
		AccountID: acct,
		Users: []ststest.User{{
			Name: userName, AccessKeyID: userKey, SecretAccessKey: userSecret,
			MFASerial: serial, TOTPSecret: totpSecret,
		}},
		Roles: []ststest.Role{
			{ARN: roleA, Trust: []string{userARN}},
			{ARN: roleB, Trust: []string{roleA}},
			{ARN: roleMFA, Trust: []string{userARN}, RequireMFA: true},
			{ARN: roleExt, Trust: []string{userARN}, ExternalID: externalID},
			{ARN: roleDenied, Trust: []string{"arn:aws:iam::123456789012:user/nobody"}},
		},
	}
	for _, edit := range edits {
		edit(&cfg)
	}
	srv := ststest.NewServer(cfg)
	t.Cleanup(srv.Close)
	return srv, serial
}

// inRegion makes the server an endpoint of region, which signatures must
// be scoped to, as STS's regional endpoints are.
func inRegion(region string) func(*ststest.Config) {
	return func(c *ststest.Config) { c.Region = region }
}

// awsEnvNames are the variables isolateEnv clears.
var awsEnvNames = []string{
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
	"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION",
	"AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS",
	"AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
	"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CREDENTIAL_EXPIRATION", depthVar, totpEnv,
}

// testHome is a temporary HOME with an AWS config and credentials file
// holding profile "source" with alice's keys.
type testHome struct {
	dir, config, credentials, cache string
}

func newTestHome(t *testing.T) testHome {
	t.Helper()
	dir := t.TempDir()
	h := testHome{
		dir:         dir,
		config:      filepath.Join(dir, "config"),
		credentials: filepath.Join(dir, "credentials"),
		cache:       filepath.Join(dir, "cache"),
	}
	require.NoError(t, os.WriteFile(h.config, []byte("[profile source]\nregion = us-east-1\n"), 0o600))
	require.NoError(t, os.WriteFile(h.credentials, []byte(
		"[source]\naws_access_key_id = "+userKey+"\naws_secret_access_key = "+userSecret+"\n"), 0o600))
	return h
}

// isolateEnv points this process's AWS environment at a fresh testHome,
// with no variable from the machine. Tests that call it cannot be
// parallel.
func isolateEnv(t *testing.T) testHome {
	t.Helper()
	h := newTestHome(t)
	for _, k := range awsEnvNames {
		t.Setenv(k, "")
		require.NoError(t, os.Unsetenv(k))
	}
	t.Setenv("HOME", h.dir)
	t.Setenv("AWS_CONFIG_FILE", h.config)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", h.credentials)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return h
}

// result is what one run of the command left.
type result struct {
	code           int
	stdout, stderr string
}

// runInProcess runs the command in this process with args.
func runInProcess(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTime)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, args, strings.NewReader(""), &stdout, &stderr, os.Getenv)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// build is a program the tests run, which TestMain builds in the
// background while the in-process tests run.
type build struct {
	done chan struct{} // closed once built
	path string
	err  error // set before done is closed
}

// startBuild starts building the package pkg into dir/name, and returns
// at once. The go command starts now, in this process's environment as it
// is before the tests change HOME (and with it the build cache), and
// before any test writes a file that it runs next (a fork while such a
// file is open for writing makes running it fail with "text file busy").
func startBuild(dir, name, pkg string) *build {
	b := &build{done: make(chan struct{}), path: filepath.Join(dir, name)}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "go", "build", "-o", b.path, pkg)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Start()
	go func() {
		defer close(b.done)
		defer cancel()
		if err == nil {
			err = cmd.Wait()
		}
		if err != nil {
			b.err = fmt.Errorf("go build %s: %w\n%s", pkg, err, out.Bytes())
		}
	}()
	return b
}

// wait returns the program's path once it is built.
func (b *build) wait(t *testing.T) string {
	t.Helper()
	<-b.done
	require.NoError(t, b.err)
	return b.path
}

// The command, and testdata/sdkchild unless in -short mode, which
// TestMain builds.
var commandBuild, sdkChildBuild *build

// binary returns the path of the command built from this package.
func binary(t *testing.T) string {
	t.Helper()
	return commandBuild.wait(t)
}

// testChildEnv, when set, makes the test binary a command for the exec
// tests to run (see testChild) instead of the tests.
const testChildEnv = "STSCHAIN_TEST_CHILD"

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == keeperArg {
		// The in-process tests of exec --server start the test binary as
		// the keeper of their server's port.
		os.Exit(runKeeper(os.Args[2:]))
	}
	if mode := os.Getenv(testChildEnv); mode != "" {
		os.Exit(testChild(mode))
	}
	// The race detector pauses a second before a process that ran
	// goroutines exits; the test binary's children (testChild, the keeper)
	// need not.
	os.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	flag.Parse()
	if fl := flag.Lookup("test.fuzz"); fl != nil && fl.Value.String() != "" {
		// Fuzzing runs a fuzz target in worker processes, which run
		// TestMain too, and no test that runs the programs.
		os.Exit(m.Run())
	}
	// The parallel tests wait on the processes they start far more than
	// they compute: let more of them run at once than there are CPUs,
	// unless -parallel says how many.
	parallelGiven := false
	flag.Visit(func(f *flag.Flag) { parallelGiven = parallelGiven || f.Name == "test.parallel" })
	if !parallelGiven {
		_ = flag.Set("test.parallel", "8")
	}
	// The programs' directory: every user may run them (a test runs
	// the command as another user), only this one may write there.
	dir, err := os.MkdirTemp("", "stschain-test-")
	if err == nil {
		err = os.Chmod(dir, 0o755)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	builds := []*build{startBuild(dir, "stschain", ".")}
	commandBuild = builds[0]
	if !testing.Short() {
		sdkChildBuild = startBuild(dir, "sdkchild", "./testdata/sdkchild")
		builds = append(builds, sdkChildBuild)
	}
	code := m.Run()
	for _, b := range builds {
		<-b.done
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// assertNoSecret fails when s holds one of the secrets a test knows.
func assertNoSecret(t *testing.T, s string, secrets ...string) {
	t.Helper()
	for _, secret := range append([]string{userSecret, totpSecret}, secrets...) {
		if secret != "" && strings.Contains(s, secret) {
			t.Errorf("output holds a secret: %q", s)
		}
	}
}

// environ is an environment for a built binary: this process's without any
// AWS variable, HOME and the AWS files pointing at h.
func (h testHome) environ(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") || k == "HOME" || k == depthVar {
			continue
		}
		env = append(env, kv)
	}
	env = append(env,
		"HOME="+h.dir,
		"AWS_CONFIG_FILE="+h.config,
		"AWS_SHARED_CREDENTIALS_FILE="+h.credentials,
		"AWS_EC2_METADATA_DISABLED=true",
	)
	return append(env, extra...)
}
