package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain/internal/awsclitest"
	"github.com/stschain/stschain/ststest"
)

// TestExecServerAddrAndTokenFile: with --server-addr on another address
// (127.0.0.2, a loopback address other than the default) and
// --server-token-file, the command gets the URL on that address and the
// token in a new file of its own, 0600 and without a line end, and no
// token in its environment; a Go program and the AWS CLI reach the server
// with them; the file is gone once exec returns.
func TestExecServerAddrAndTokenFile(t *testing.T) {
	h := isolateEnv(t)
	srv, _ := newServer(t)
	tokenFile := filepath.Join(h.dir, "token")
	t.Setenv("AWS_ENDPOINT_URL", srv.URL)
	t.Setenv(testChildEnv, childIdentity)
	base := []string{"exec", "--server-addr", "127.0.0.2", "--server-token-file", tokenFile, "--profile", "source",
		"--role-arn", roleA, "--endpoint-url", srv.URL, "--cache-dir", h.cache, "--"}

	r := runInProcess(t, append(base, "sh", "-c", `printf '%s\n' "$AWS_CONTAINER_CREDENTIALS_FULL_URI" "${AWS_CONTAINER_AUTHORIZATION_TOKEN-unset}" "$AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"
stat -c %a "$AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"; wc -c < "$AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"; tail -c 1 "$AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE" | od -An -c
exec "$0"`, os.Args[0])...)
	require.Equal(t, exitOK, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
	assert.Empty(t, r.stderr, "no warning for a loopback address")
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	require.Len(t, lines, 8, r.stdout)
	assert.Regexp(t, `^http://127\.0\.0\.2:\d+/credentials$`, lines[0])
	assert.Equal(t, []string{"unset", tokenFile, "600", "43"}, lines[1:5])
	assert.NotContains(t, lines[5], `\n`, "no line end")
	key, arn := identityLines(t, strings.Join(lines[6:], "\n"))
	calls := srv.Calls(ststest.Call{Action: "AssumeRole"})
	require.Len(t, calls, 1)
	assert.Equal(t, calls[0].IssuedAccessKeyID, key)
	assert.Equal(t, srv.AssumedRoleARN(roleA, calls[0].RoleSessionName), arn)
	assert.NoFileExists(t, tokenFile)

	if awsPath, ok := awsclitest.Find(t); ok {
		for _, kv := range append(awsclitest.HomeEnv(awsPath), "NO_PROXY=127.0.0.1,127.0.0.2,localhost") {
			k, v, _ := strings.Cut(kv, "=")
			t.Setenv(k, v)
		}
		r := runInProcess(t, append(base, awsPath, "sts", "get-caller-identity", "--output", "json")...)
		require.Equal(t, exitOK, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
		var out struct{ Arn string }
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &out), r.stdout)
		assert.Equal(t, srv.AssumedRoleARN(roleA, calls[0].RoleSessionName), out.Arn, "the AWS CLI read the token file")
		assert.NoFileExists(t, tokenFile)
	}
}

// TestExecServerTokenFileExists: an existing file is not written through,
// and nothing runs.
func TestExecServerTokenFileExists(t *testing.T) {
	h := isolateEnv(t)
	srv, _ := newServer(t)
	tokenFile := filepath.Join(h.dir, "token")
	require.NoError(t, os.WriteFile(tokenFile, []byte("theirs"), 0o644))
	marker := filepath.Join(h.dir, "ran")
	r := runInProcess(t, "exec", "--server-token-file", tokenFile, "--profile", "source", "--role-arn", roleA,
		"--endpoint-url", srv.URL, "--cache-dir", h.cache, "--", "touch", marker)
	assert.Equal(t, exitError, r.code)
	assert.Contains(t, r.stderr, "exists")
	assert.NoFileExists(t, marker)
	data, err := os.ReadFile(tokenFile)
	require.NoError(t, err)
	assert.Equal(t, "theirs", string(data))
}

// TestExecServerAddrRefused: an address that is not an IP address, or
// would serve every interface, is a usage error before any call.
func TestExecServerAddrRefused(t *testing.T) {
	h := isolateEnv(t)
	srv, _ := newServer(t)
	for _, addr := range []string{"0.0.0.0", "[::]:9911", "localhost", "host.docker.internal:80"} {
		r := runInProcess(t, "exec", "--server-addr", addr, "--profile", "source", "--role-arn", roleA,
			"--endpoint-url", srv.URL, "--cache-dir", h.cache, "--", "true")
		assert.Equal(t, exitUsage, r.code, "%s: %s", addr, r.stderr)
		assert.Contains(t, r.stderr, "stschain exec: --server-addr: credserver: invalid options: address")
	}
	assert.Empty(t, srv.Calls())
}

// TestExecServerContainerHost serves, in a network namespace of its own
// as on a host whose container bridge has it, on 169.254.170.2, the ECS
// container host, with the token file: a Go program and the AWS CLI read
// the credentials as a container's SDK would. On an address the SDKs
// refuse over plain http (10.9.8.7), exec warns, and the Go SDK and
// botocore refuse it. Needs root, for the namespace.
func TestExecServerContainerHost(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipping: a network namespace of its own needs root")
	}
	toolPath(t, "unshare")
	toolPath(t, "ip")
	t.Parallel()
	bin := binary(t)
	srv, _, _ := rootServers(t, 0)
	h := newTestHome(t)
	writeRoots(t, h, srv, false)
	var session struct{ AccessKeyId string }
	data, err := os.ReadFile(filepath.Join(h.dir, "session.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &session))
	awsPath, withCLI := awsclitest.Find(t)
	cli := "true"
	if withCLI {
		cli = `'` + awsPath + `' configure list || true`
	}

	run := func(addr string) (string, string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), testTime)
		defer cancel()
		script := `set -e
ip link set lo up
ip addr add 169.254.170.2/32 dev lo
ip addr add 10.9.8.7/32 dev lo
exec '` + bin + `' exec --server-addr ` + addr + ` --server-token-file '` + filepath.Join(h.dir, "token") + `' --profile proc --cache-dir '` + h.cache + `' -- sh -c '
echo "uri $AWS_CONTAINER_CREDENTIALS_FULL_URI"
"$0" || true
` + strings.ReplaceAll(cli, "'", `'\''`) + `' '` + os.Args[0] + `'`
		cmd := exec.CommandContext(ctx, "unshare", "--net", "sh", "-c", script)
		cmd.Env = h.environ(append(awsclitest.HomeEnv(awsPath), testChildEnv+"="+childKey)...)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		require.NoError(t, cmd.Run(), "stdout: %s\nstderr: %s", stdout.String(), stderr.String())
		return stdout.String(), stderr.String()
	}

	stdout, stderr := run("169.254.170.2")
	assert.Empty(t, stderr)
	assert.Regexp(t, `(?m)^uri http://169\.254\.170\.2:\d+/credentials$`, stdout)
	assert.Contains(t, stdout, "\nkey "+session.AccessKeyId+"\n", "the Go SDK took the credentials")
	if withCLI {
		assert.Regexp(t, `access_key +\*+`+session.AccessKeyId[len(session.AccessKeyId)-4:]+` +container-role`, stdout, "the AWS CLI took them")
	}
	assert.NoFileExists(t, filepath.Join(h.dir, "token"))

	stdout, stderr = run("10.9.8.7")
	assert.Contains(t, stderr, `stschain exec: warning: 10.9.8.7 is not an address from which the AWS SDKs`)
	assert.Contains(t, stdout, "error: ")
	assert.Contains(t, stdout, "only loopback/ecs/eks hosts are allowed", "the Go SDK refuses it")
	if withCLI {
		assert.Contains(t, stderr, "Unsupported host '10.9.8.7'", "botocore refuses it")
	}
}
