package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain/internal/awsclitest"
	"github.com/stschain/stschain/ststest"
)

// Session lifetimes of the long-run tests: the command runs for more than
// three of them.
const (
	shortLifetime = 8 * time.Second
	longRun       = 3*shortLifetime + 5*time.Second
)

var sdkChildBuild build

// sdkChild returns the path of testdata/sdkchild, built once.
func sdkChild(t *testing.T) string {
	t.Helper()
	dir := filepath.Dir(binary(t)) // removed by TestMain
	return sdkChildBuild.get(t, filepath.Join(dir, "sdkchild"), "./testdata/sdkchild")
}

// TestExecServerOutlivesSessions runs a child that calls STS for more than
// three session lifetimes through exec --server, once as the AWS CLI and
// once as a Go program using config.LoadDefaultConfig, on a two-role chain
// (alice -> A -> B) whose sessions live 8 seconds: every call succeeds,
// and each link makes one AssumeRole per cycle.
func TestExecServerOutlivesSessions(t *testing.T) {
	bin := binary(t)
	for _, tc := range []struct {
		name    string
		command func(t *testing.T) []string
	}{
		{"AWS CLI", func(t *testing.T) []string {
			awsclitest.Require(t)
			return []string{"sh", "-c", fmt.Sprintf(`end=$(($(date +%%s) + %d))
while [ "$(date +%%s)" -lt "$end" ]; do
	arn=$(aws sts get-caller-identity --query Arn --output text) || { echo "error: aws failed"; exit 1; }
	echo "ok $arn"
	sleep 1
done`, int(longRun/time.Second))}
		}},
		{"Go SDK", func(t *testing.T) []string {
			return []string{sdkChild(t), "-for", longRun.String()}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			command := tc.command(t)
			srv := ststest.NewServer(ststest.Config{
				AccountID: acct,
				Users:     []ststest.User{{Name: userName, AccessKeyID: userKey, SecretAccessKey: userSecret}},
				Roles: []ststest.Role{
					{ARN: roleA, Trust: []string{userARN}, Lifetime: shortLifetime},
					{ARN: roleB, Trust: []string{roleA}, Lifetime: shortLifetime},
				},
			})
			t.Cleanup(srv.Close)
			h := newTestHome(t)
			env := h.environ("AWS_ENDPOINT_URL="+srv.URL, "NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost")
			if awsPath, err := exec.LookPath("aws"); err == nil {
				// A pyenv shim finds its installation through PYENV_ROOT,
				// which defaults to a directory of HOME, which the test
				// replaces.
				if d := filepath.Dir(awsPath); filepath.Base(d) == "shims" && os.Getenv("PYENV_ROOT") == "" {
					env = append(env, "PYENV_ROOT="+filepath.Dir(d))
				}
			}

			ctx, cancel := context.WithTimeout(t.Context(), longRun+testTime)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, append([]string{"exec", "--server", "--profile", "source",
				"--role-arn", roleA, "--role-arn", roleB, "--region", "us-east-1",
				"--endpoint-url", srv.URL, "--cache-dir", h.cache, "--"}, command...)...)
			cmd.Env = env
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			start := time.Now()
			err := cmd.Run()
			elapsed := time.Since(start)
			require.NoError(t, err, "stdout: %s\nstderr: %s", stdout.String(), stderr.String())
			assertNoSecret(t, stderr.String())

			// Every call succeeded, and the calls crossed the sessions.
			sessions := map[string]bool{}
			lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
			for _, line := range lines {
				arn, ok := strings.CutPrefix(line, "ok ")
				require.True(t, ok, "a failed call: %q", line)
				assert.Contains(t, arn, ":assumed-role/B/")
				sessions[arn] = true
			}
			assert.GreaterOrEqual(t, len(sessions), int(longRun/shortLifetime)+1, "each session lives %v; the run took %v", shortLifetime, elapsed)
			for _, c := range srv.Calls() {
				assert.Equal(t, 200, c.Status, "no STS call failed: %+v", c)
			}

			// One AssumeRole per link per cycle. Each link renews its own
			// session on its own schedule: for sessions this short the
			// command's refresh windows shrink to the last third of a
			// session, so a link renews at most every two thirds of a
			// lifetime, and at least once a lifetime. The top link's
			// sessions are the ones the child used, and perhaps one more
			// that it renewed as the child ended.
			var a, b []ststest.Call
			for _, c := range srv.Calls(ststest.Call{Action: "AssumeRole"}) {
				switch c.RoleARN {
				case roleA:
					a = append(a, c)
				case roleB:
					b = append(b, c)
				}
			}
			maxCycles := 1 + int(elapsed/(shortLifetime*2/3))
			assert.Contains(t, []int{len(sessions), len(sessions) + 1}, len(b), "AssumeRole B calls for %d sessions used", len(sessions))
			for _, link := range []struct {
				name  string
				calls []ststest.Call
			}{{"A", a}, {"B", b}} {
				assert.LessOrEqual(t, len(link.calls), maxCycles, "AssumeRole %s calls: at most one per cycle", link.name)
				assert.GreaterOrEqual(t, len(link.calls), int(elapsed/shortLifetime), "AssumeRole %s calls: renewed in time", link.name)
			}
			issuedA := map[string]bool{}
			for _, c := range a {
				assert.Equal(t, userKey, c.CallerAccessKeyID, "A is assumed with alice's keys")
				issuedA[c.IssuedAccessKeyID] = true
			}
			for _, c := range b {
				assert.True(t, issuedA[c.CallerAccessKeyID], "B is assumed with a session of A")
			}
			t.Logf("%v: %d calls, %d sessions of B, AssumeRole A %d, B %d", elapsed, len(lines), len(sessions), len(a), len(b))
		})
	}
}
