//go:build unix

package main

import (
	"context"
	"fmt"
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

// The long run of exec --server: sessions of sessionLife, renewed while
// the children use them until the Go child has seen goSessions of them
// and the AWS CLI cliSessions.
const (
	sessionLife = 3 * time.Second
	goSessions  = 5
	cliSessions = 3
)

// TestExecServerOutlivesSessions runs, through exec --server, a Go program
// using config.LoadDefaultConfig that calls STS ten times a second and,
// beside it, the AWS CLI calling it in a loop, on a two-role chain (alice
// -> A -> B) whose sessions live three seconds, until the Go program has
// used five sessions of B and the AWS CLI three: every call succeeds, each
// link is renewed with the session below it, and each once a cycle, after
// the refresh window of the session it replaces opened.
func TestExecServerOutlivesSessions(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the several-session run of exec --server in -short mode")
	}
	t.Parallel()
	bin := binary(t)
	child := []string{sdkChildBuild.wait(t), "-sessions", fmt.Sprint(goSessions)}
	srv := ststest.NewServer(ststest.Config{
		AccountID: acct,
		Users:     []ststest.User{{Name: userName, AccessKeyID: userKey, SecretAccessKey: userSecret}},
		Roles: []ststest.Role{
			{ARN: roleA, Trust: []string{userARN}, Lifetime: sessionLife},
			{ARN: roleB, Trust: []string{roleA}, Lifetime: sessionLife},
		},
	})
	t.Cleanup(srv.Close)
	proxy := newRecordingProxy(t, srv)
	h := newTestHome(t)
	env := h.environ("AWS_ENDPOINT_URL="+srv.URL, "NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost")
	command := child
	awsPath, withCLI := awsclitest.Find(t)
	if withCLI {
		// The Go program runs until the AWS CLI has seen its sessions
		// too.
		env = append(env, awsclitest.HomeEnv(awsPath)...)
		done := filepath.Join(h.dir, "cli-done")
		command = []string{"sh", "-c", fmt.Sprintf(`%s -until '%s' & child=$!
n=0 last=
while [ "$n" -lt %d ] && kill -0 $child 2>/dev/null; do
	arn=$('%s' sts get-caller-identity --query Arn --output text) || { echo "error: aws failed"; kill $child; exit 1; }
	echo "cli $arn"
	[ "$arn" = "$last" ] || { n=$((n+1)); last=$arn; }
done
touch '%s'
wait $child`, strings.Join(child, " "), done, cliSessions, awsPath, done)}
	}

	ctx, cancel := context.WithTimeout(t.Context(), testTime)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"exec", "--server", "--profile", "source",
		"--role-arn", roleA, "--role-arn", roleB, "--region", "us-east-1",
		"--endpoint-url", proxy.URL, "--cache-dir", h.cache, "--"}, command...)...)
	cmd.Env = env
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "stdout: %s\nstderr: %s", stdout.String(), stderr.String())
	assertNoSecret(t, stderr.String())

	// Every call succeeded, each on a session of B; the children saw the
	// sessions they waited for.
	used := map[string]map[string]bool{"ok": {}, "cli": {}}
	for _, line := range strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n") {
		who, arn, _ := strings.Cut(line, " ")
		require.Contains(t, used, who, "a failed call: %q", line)
		assert.Contains(t, arn, ":assumed-role/B/")
		used[who][arn] = true
	}
	assert.GreaterOrEqual(t, len(used["ok"]), goSessions, "sessions the Go program used")
	if withCLI {
		assert.GreaterOrEqual(t, len(used["cli"]), cliSessions, "sessions the AWS CLI used")
	}

	// In the order STS saw them: A is assumed with alice's keys, B with
	// a session of A, GetCallerIdentity signed with a session of B; none
	// failed.
	issued := map[string]string{} // access key ID -> the role that issued it
	for _, c := range srv.Calls() {
		require.Equal(t, 200, c.Status, "no STS call failed: %+v", c)
		switch {
		case c.Action == "AssumeRole" && c.RoleARN == roleA:
			assert.Equal(t, userKey, c.CallerAccessKeyID, "A is assumed with alice's keys")
		case c.Action == "AssumeRole" && c.RoleARN == roleB:
			assert.Equal(t, roleA, issued[c.CallerAccessKeyID], "B is assumed with a session of A")
		case c.Action == "GetCallerIdentity":
			assert.Equal(t, roleB, issued[c.CallerAccessKeyID], "the children sign with a session of B")
		default:
			t.Errorf("an unexpected call: %+v", c)
		}
		issued[c.IssuedAccessKeyID] = c.RoleARN
	}

	// One AssumeRole per link per cycle: each renewal of a link comes
	// after the refresh window of the session it replaces opened, a third
	// of that session's life before its Expiration (the windows of
	// sessions this short), as the proxy in front of STS saw them; a busy
	// machine can only make it later. The first renewal is spread from a
	// tenth of the first session on.
	last := map[string]proxiedAssumeRole{}
	renewals := map[string]int{}
	for _, call := range proxy.assumeRoles() {
		role := call.form.Get("RoleArn")
		require.False(t, call.expiration.IsZero(), "AssumeRole %s failed", role)
		if prev, ok := last[role]; ok {
			window := prev.expiration.Add(-prev.expiration.Sub(prev.sent) / 3)
			if renewals[role] == 0 {
				window = prev.sent.Add(prev.expiration.Sub(prev.sent) / 10)
			}
			assert.False(t, call.sent.Before(window), "%s was renewed %v before the refresh window of its session opened",
				role, window.Sub(call.sent))
			renewals[role]++
		}
		last[role] = call
	}
	assert.GreaterOrEqual(t, renewals[roleB], goSessions-1, "renewals of B")
	t.Logf("renewals of A %d, of B %d; sessions of B used by the Go program %d, by the AWS CLI %d",
		renewals[roleA], renewals[roleB], len(used["ok"]), len(used["cli"]))
}
