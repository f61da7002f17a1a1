//go:build unix

package awsprofile_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain/awsprofile"
	"github.com/stschain/stschain/internal/clidriver"
	"github.com/stschain/stschain/ststest"
)

// The differential test: each case of differentialCases, a profile setup
// taken from a test of botocore's or aws-sdk-go-v2's own suite, is run
// through the AWS CLI (its own code, in one Python process: see
// internal/clidriver) and through LoadChain + Retrieve, against one fake
// STS (with the SSO portal and container and instance endpoints). Both
// make the same calls (operation, role, signing key, session name,
// external ID, duration, MFA serial) and both succeed or both fail, or the
// case names the row of the README's table of differences that explains
// why not, and then they do differ.

// diffCase is one case of the differential test.
type diffCase struct {
	from        string            // the peer test it comes from
	config      string            // ~/.aws/config, with placeholders (see diffWorld.expand)
	credentials string            // ~/.aws/credentials
	profile     string            // --profile, and LoadChain's profile; "" for neither
	env         map[string]string // more environment for both, with placeholders
	sso         string            // an SSO token to write: the sso-session name, or "legacy" for the start URL
	differs     string            // the README row (D1 ...) explaining a difference; "" when the calls match
}

// diffWorld is what every case runs against.
type diffWorld struct {
	srv     *ststest.Server
	portal  *ststest.Portal
	url     string // the endpoint: the portal, in front of srv, recording
	ecs     string // a container credentials endpoint
	imds    string // an instance metadata endpoint
	serial  string // alice's MFA device
	codes   []string
	next    atomic.Int32 // the next code
	session aws.Credentials
	path    string // PATH, read once: runOurs changes the environment while the other worker runs

	mu     sync.Mutex
	extIDs []string // guarded by mu: the ExternalId of each STS request, in order ("-" for none)
}

// roleRef is a role in a case's text: {{role:NAME}}.
var roleRef = regexp.MustCompile(`\{\{role:([\w+=,.@-]+)\}\}`)

// diffSSORoles are the roles of the SSO portal's accounts in the cases.
var diffSSORoles = []string{"SSORole", "dev"}

func newDiffWorld(t *testing.T, cases []diffCase) *diffWorld {
	w := &diffWorld{serial: newMFASerial(t), path: os.Getenv("PATH")}
	for i := 1; i < 1000; i++ {
		w.codes = append(w.codes, fmt.Sprintf("%06d", 100000+i))
	}
	names := map[string]bool{}
	for _, c := range cases {
		for _, text := range append([]string{c.config, c.credentials}, slices.Collect(maps.Values(c.env))...) {
			for _, m := range roleRef.FindAllStringSubmatch(text, -1) {
				names[m[1]] = true
			}
		}
	}
	for _, n := range diffSSORoles {
		names[n] = true
	}
	var roles []ststest.Role
	for _, n := range slices.Sorted(maps.Keys(names)) {
		r := ststest.Role{ARN: roleARN(n), Trust: []string{account, webProviderARN}, MaxSessionDuration: 12 * time.Hour}
		switch {
		case strings.HasPrefix(n, "MFA"):
			r.RequireMFA = true
		case strings.HasPrefix(n, "Ext"):
			r.ExternalID = "ext-123"
		}
		roles = append(roles, r)
	}
	w.srv = ststest.NewServer(ststest.Config{
		AccountID:         account,
		WebIdentityTokens: []ststest.WebIdentityToken{{Token: webToken, Provider: webProvider, Subject: webSubject}},
		Users: []ststest.User{
			{Name: "alice", AccessKeyID: aliceKey, SecretAccessKey: aliceSec, MFASerial: w.serial, MFACodes: w.codes},
			{Name: "bob", AccessKeyID: bobKey, SecretAccessKey: bobSec},
		},
		Roles: roles,
	})
	t.Cleanup(w.srv.Close)
	w.portal = ststest.NewPortal(w.srv)
	w.portal.AddAccessToken(ssoToken, time.Now().Add(24*time.Hour))
	hs := httptest.NewServer(http.HandlerFunc(w.serve))
	t.Cleanup(hs.Close)
	w.url = hs.URL
	var hits atomic.Int32
	w.ecs = fakeECS(t, "ecs-token", &hits).URL + "/creds"
	w.imds = fakeIMDS(t, &hits).URL
	out, err := sts.NewFromConfig(w.srv.AWSConfig("bob")).GetSessionToken(context.Background(), &sts.GetSessionTokenInput{})
	require.NoError(t, err)
	c := out.Credentials
	w.session = aws.Credentials{AccessKeyID: aws.ToString(c.AccessKeyId), SecretAccessKey: aws.ToString(c.SecretAccessKey),
		SessionToken: aws.ToString(c.SessionToken), Expires: aws.ToTime(c.Expiration)}
	w.srv.ResetCalls()
	return w
}

// serve records the ExternalId of each STS request and hands it to the
// portal.
func (w *diffWorld) serve(rw http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		r.Body = io.NopCloser(bytes.NewReader(body))
		if form, err := url.ParseQuery(string(body)); err == nil && form.Get("Action") != "GetCallerIdentity" {
			id := "-"
			if form.Has("ExternalId") {
				id = form.Get("ExternalId")
			}
			w.mu.Lock()
			w.extIDs = append(w.extIDs, id)
			w.mu.Unlock()
		}
	}
	w.portal.ServeHTTP(rw, r)
}

// tokenCode hands out the next MFA code.
func (w *diffWorld) tokenCode(context.Context, string) (string, error) {
	return w.codes[w.next.Add(1)], nil
}

// expand replaces the placeholders of a case's text.
func (w *diffWorld) expand(dir, s string) string {
	s = roleRef.ReplaceAllString(s, "arn:aws:iam::"+account+":role/$1")
	return strings.NewReplacer(
		"{{url}}", w.url, "{{dir}}", dir, "{{token}}", filepath.Join(dir, "token"),
		"{{serial}}", w.serial, "{{account}}", account, "{{ecs}}", w.ecs, "{{imds}}", w.imds,
		"{{process:long}}", filepath.Join(dir, "long.sh"), "{{process:session}}", filepath.Join(dir, "session.sh"),
		"{{process:fail}}", filepath.Join(dir, "fail.sh"), "{{process:args}}", filepath.Join(dir, "args.sh"),
		"{{process:version2}}", filepath.Join(dir, "version2.sh"), "{{process:noversion}}", filepath.Join(dir, "noversion.sh"),
		"{{process:nokey}}", filepath.Join(dir, "nokey.sh"), "{{process:nosecret}}", filepath.Join(dir, "nosecret.sh"),
		"{{session:id}}", w.session.AccessKeyID, "{{session:secret}}", w.session.SecretAccessKey, "{{session:token}}", w.session.SessionToken,
		"{{bob-session-legacy}}", "aws_access_key_id = "+w.session.AccessKeyID+"\naws_secret_access_key = "+w.session.SecretAccessKey+"\naws_security_token = "+w.session.SessionToken,
		"{{alice}}", "aws_access_key_id = "+aliceKey+"\naws_secret_access_key = "+aliceSec,
		"{{bob}}", "aws_access_key_id = "+bobKey+"\naws_secret_access_key = "+bobSec,
		"{{bob-session}}", "aws_access_key_id = "+w.session.AccessKeyID+"\naws_secret_access_key = "+w.session.SecretAccessKey+"\naws_session_token = "+w.session.SessionToken,
		"{{ssoStartURL}}", ssoStartURL,
	).Replace(s)
}

// fixtures writes the files every case may use into dir.
func (w *diffWorld) fixtures(t *testing.T, dir string) {
	write := func(name, text string, mode os.FileMode) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), mode))
	}
	write("token", webToken, 0o600)
	doc := func(m map[string]any) string {
		b, err := json.Marshal(m)
		require.NoError(t, err)
		return "#!/bin/sh\necho '" + string(b) + "'\n"
	}
	long := map[string]any{"Version": 1, "AccessKeyId": bobKey, "SecretAccessKey": bobSec}
	session := map[string]any{"Version": 1, "AccessKeyId": w.session.AccessKeyID, "SecretAccessKey": w.session.SecretAccessKey,
		"SessionToken": w.session.SessionToken, "Expiration": w.session.Expires.UTC().Format(time.RFC3339)}
	without := func(m map[string]any, key string, more ...any) map[string]any {
		out := maps.Clone(m)
		delete(out, key)
		for i := 0; i+1 < len(more); i += 2 {
			out[more[i].(string)] = more[i+1]
		}
		return out
	}
	write("long.sh", doc(long), 0o700)
	write("session.sh", doc(session), 0o700)
	b, err := json.Marshal(session)
	require.NoError(t, err)
	write("session.json", string(b), 0o600)
	write("version2.sh", doc(without(session, "Version", "Version", 2)), 0o700)
	write("noversion.sh", doc(without(session, "Version")), 0o700)
	write("nokey.sh", doc(without(session, "AccessKeyId")), 0o700)
	write("nosecret.sh", doc(without(session, "SecretAccessKey")), 0o700)
	// The arguments arrive as written: the CLI splits the command as a
	// shell would, the SDK runs it in one.
	write("args.sh", "#!/bin/sh\n[ \"$1 $2 $3\" = '--foo --bar one two' ] && [ $# = 3 ] || exit 1\ncat '"+filepath.Join(dir, "session.json")+"'\n", 0o700)
	write("fail.sh", "#!/bin/sh\necho 'no credentials for you' >&2\nexit 3\n", 0o700)
	write("ecs-token", "ecs-token", 0o600)
}

// writeSSOCache writes the SSO token of kind ("legacy", or the name of an
// sso-session) into home's SSO cache.
func writeSSOCache(t *testing.T, home, kind string) {
	key := kind
	if kind == "legacy" {
		key = ssoStartURL
	}
	writeSSOTokenFile(t, home, key, time.Now().Add(24*time.Hour))
}

// diffResult is what one side did.
type diffResult struct {
	ok     bool
	detail string // the CLI's stderr, or LoadChain's or Retrieve's error
	calls  []call
	extIDs []string
	final  string // the access key the side ended with: the one that signed the CLI's GetCallerIdentity, the one Retrieve returned
}

// take returns the calls since the last take, without the CLI's
// GetCallerIdentity, and the final access key (final, or the signer of
// the CLI's GetCallerIdentity when empty) in the form calls gives
// signers.
func (w *diffWorld) take(ok bool, detail, final string) diffResult {
	r := diffResult{ok: ok, detail: detail}
	issued := map[string]int{}
	for i, c := range w.srv.Calls() {
		if c.IssuedAccessKeyID != "" {
			issued[c.IssuedAccessKeyID] = i + 1
		}
		if c.Action == "GetCallerIdentity" && c.Status == http.StatusOK && final == "" {
			final = c.CallerAccessKeyID
		}
	}
	if n, ok := issued[final]; ok {
		final = fmt.Sprintf("issued by #%d", n)
	}
	r.final = final
	for _, c := range calls(w.srv) {
		if c.Action != "GetCallerIdentity" {
			r.calls = append(r.calls, c)
		}
	}
	w.srv.ResetCalls()
	w.mu.Lock()
	r.extIDs, w.extIDs = w.extIDs, nil
	w.mu.Unlock()
	return r
}

// baseEnv is the environment of both sides, but HOME.
func (w *diffWorld) baseEnv(dir string, c diffCase) map[string]string {
	env := map[string]string{
		"PATH":                        w.path,
		"AWS_CONFIG_FILE":             filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_DEFAULT_REGION":          "us-east-1",
		"AWS_ENDPOINT_URL":            w.url,
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_MAX_ATTEMPTS":            "1",
	}
	for k, v := range c.env {
		if v == "" {
			delete(env, k)
			continue
		}
		env[k] = w.expand(dir, v)
	}
	return env
}

func (w *diffWorld) runCLI(t *testing.T, d *clidriver.Driver, dir string, c diffCase) diffResult {
	env := w.baseEnv(dir, c)
	env["HOME"] = filepath.Join(dir, "cli-home")
	args := []string{"sts", "get-caller-identity", "--output", "json"}
	if c.profile != "" {
		args = append(args, "--profile", c.profile)
	}
	var codes []string
	for range 3 {
		codes = append(codes, w.codes[w.next.Add(1)])
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := d.Run(ctx, clidriver.Request{Env: env, Args: args, MFACodes: codes})
	require.NoError(t, err)
	return w.take(res.RC == 0, strings.TrimSpace(res.Stderr), "")
}

// ourEnviron serializes the runs of LoadChain, which read the process's
// environment.
var ourEnviron sync.Mutex

// setEnviron makes env the process's environment for the AWS_ variables
// and HOME, and returns what restores the earlier one. (PATH is left
// alone: the other worker's runs read it.)
func setEnviron(env map[string]string) (restore func()) {
	old := map[string]string{}
	env = maps.Clone(env)
	delete(env, "PATH")
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") || k == "HOME" {
			old[k] = v
			os.Unsetenv(k)
		}
	}
	for k, v := range env {
		os.Setenv(k, v)
	}
	return func() {
		for k := range env {
			os.Unsetenv(k)
		}
		for k, v := range old {
			os.Setenv(k, v)
		}
	}
}

func (w *diffWorld) runOurs(dir string, c diffCase) diffResult {
	env := w.baseEnv(dir, c)
	env["HOME"] = filepath.Join(dir, "our-home")
	ourEnviron.Lock()
	defer ourEnviron.Unlock()
	defer setEnviron(env)()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	chain, err := awsprofile.LoadChain(ctx, c.profile, func(o *awsprofile.Options) { o.TokenCode = w.tokenCode })
	if err != nil {
		return w.take(false, "LoadChain: "+err.Error(), "-")
	}
	if _, err := chain.Config.Credentials.Retrieve(ctx); err != nil {
		return w.take(false, "Retrieve: "+err.Error(), "-")
	}
	// What the CLI does with the credentials: so that credentials STS
	// refuses (a session without its token, say) count as a failure.
	client := sts.NewFromConfig(chain.Config, func(o *sts.Options) { o.Region = cmp.Or(o.Region, "us-east-1") })
	if _, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		return w.take(false, "GetCallerIdentity: "+err.Error(), "-")
	}
	return w.take(true, chain.String(), "")
}

// diffWorker is a world and the CLI driver that runs against it: two of
// them run the cases, two at a time, the CLI's side of one while the
// other runs LoadChain's.
type diffWorker struct {
	w *diffWorld
	d *clidriver.Driver
}

// TestSameCallsAsTheAWSCLI is the differential test.
func TestSameCallsAsTheAWSCLI(t *testing.T) {
	cases := differentialCases()
	require.GreaterOrEqual(t, len(cases), 150)
	rows := readmeDifferences(t)
	workers := make(chan diffWorker, 2)
	workers <- diffWorker{newDiffWorld(t, cases), clidriver.Shared(t)}
	workers <- diffWorker{newDiffWorld(t, cases), clidriver.Start(t)}
	var matched, differed atomic.Int32
	names := map[string]bool{}
	t.Run("cases", func(t *testing.T) {
		for _, c := range cases {
			require.False(t, names[c.from], "two cases named %q", c.from)
			names[c.from] = true
			t.Run(c.from, func(t *testing.T) {
				t.Parallel()
				wk := <-workers
				defer func() { workers <- wk }()
				w := wk.w
				dir := t.TempDir()
				w.fixtures(t, dir)
				require.NoError(t, os.WriteFile(filepath.Join(dir, "config"), []byte(w.expand(dir, c.config)), 0o600))
				require.NoError(t, os.WriteFile(filepath.Join(dir, "credentials"), []byte(w.expand(dir, c.credentials)), 0o600))
				for _, side := range []string{"cli-home", "our-home"} {
					require.NoError(t, os.MkdirAll(filepath.Join(dir, side), 0o700))
					if c.sso != "" {
						writeSSOCache(t, filepath.Join(dir, side), c.sso)
					}
				}
				cli := w.runCLI(t, wk.d, dir, c)
				ours := w.runOurs(dir, c)
				for _, r := range []*diffResult{&cli, &ours} {
					if !r.ok {
						r.final = "-"
					}
				}
				same := cli.ok == ours.ok && slices.Equal(cli.calls, ours.calls) && slices.Equal(cli.extIDs, ours.extIDs) && cli.final == ours.final
				if c.differs != "" {
					assert.Contains(t, rows, c.differs, "the README's table of differences has no row %s", c.differs)
					if assert.False(t, same, "the case is listed as difference %s, but the calls are the same: take it off", c.differs) {
						differed.Add(1)
					}
				} else if assert.True(t, same, "the AWS CLI and LoadChain differ") {
					matched.Add(1)
				}
				if !same || c.differs != "" {
					t.Logf("the AWS CLI: ok=%v %s", cli.ok, cli.detail)
					for _, x := range cli.calls {
						t.Logf("  %v", x)
					}
					t.Logf("LoadChain: ok=%v %s", ours.ok, ours.detail)
					for _, x := range ours.calls {
						t.Logf("  %v", x)
					}
					t.Logf("external IDs: %v / %v; final keys: %s / %s", cli.extIDs, ours.extIDs, cli.final, ours.final)
				}
			})
		}
	})
	t.Logf("%d cases: %d make the same calls as the AWS CLI, %d differ as the README says", len(cases), matched.Load(), differed.Load())
	if !t.Failed() {
		readme, err := os.ReadFile("../README.md")
		require.NoError(t, err)
		text := strings.Join(strings.Fields(string(readme)), " ")
		assert.Contains(t, text, fmt.Sprintf("A differential test runs %d profile setups", len(cases)), "the README's count of cases")
		assert.Contains(t, text, fmt.Sprintf("%d make the same calls", matched.Load()), "the README's count of matches")
		assert.Contains(t, text, fmt.Sprintf("the other %d differ as the table below says", differed.Load()), "the README's count of differences")
	}
}

// readmeDifferences returns the IDs of the rows of the README's table of
// differences from the AWS CLI.
func readmeDifferences(t *testing.T) map[string]bool {
	b, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	_, table, ok := strings.Cut(string(b), "### Differences from the AWS CLI")
	require.True(t, ok, "the README has no section Differences from the AWS CLI")
	rows := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\| (D\d+) \|`).FindAllStringSubmatch(table, -1) {
		rows[m[1]] = true
	}
	require.NotEmpty(t, rows)
	return rows
}
