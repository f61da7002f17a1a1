package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/stschain/stschain/internal/awsclitest"
	"github.com/stschain/stschain/ststest"
)

// TestConcurrentProcessesShareOneSession starts many credential-process
// runs at once on one cache directory, for a role that requires MFA: the
// cache's lock lets exactly one of them call STS, and all print its
// session.
func TestConcurrentProcessesShareOneSession(t *testing.T) {
	t.Parallel()
	const processes = 20
	bin := binary(t)
	srv, serial := newServer(t)
	h := newTestHome(t)
	ctx, cancel := context.WithTimeout(t.Context(), testTime)
	defer cancel()

	type output struct {
		stdout, stderr string
		err            error
	}
	outputs := make([]output, processes)
	var wg sync.WaitGroup
	for i := range processes {
		wg.Go(func() {
			cmd := exec.CommandContext(ctx, bin, "credential-process", "--profile", "source",
				"--mfa-serial", serial, "--totp-secret-env", totpEnv, "--role-arn", roleMFA,
				"--endpoint-url", srv.URL, "--cache-dir", h.cache)
			cmd.Env = h.environ(totpEnv + "=" + totpSecret)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			outputs[i] = output{stdout.String(), stderr.String(), err}
		})
	}
	wg.Wait()

	for i, o := range outputs {
		require.NoError(t, o.err, "process %d: stderr: %s", i, o.stderr)
		assert.Empty(t, o.stderr, "process %d", i)
		assert.Equal(t, outputs[0].stdout, o.stdout, "process %d printed other credentials", i)
	}
	pc := decodeOutput(t, outputs[0].stdout)
	calls := srv.Calls(ststest.Call{Action: "AssumeRole"})
	require.Len(t, calls, 1, "exactly one AssumeRole reaches STS")
	assert.Equal(t, serial, calls[0].SerialNumber)
	assert.Equal(t, calls[0].IssuedAccessKeyID, pc.AccessKeyID)
	assert.Equal(t, 1, len(srv.Calls()), "no other call either")
}

// TestAWSCLIInterop has the AWS CLI run the built binary as the
// credential_process of a profile.
func TestAWSCLIInterop(t *testing.T) {
	awsPath := awsclitest.Require(t)
	t.Parallel()
	bin := binary(t)
	srv, _ := newServer(t)
	h := newTestHome(t)
	config := "[profile source]\nregion = us-east-1\n\n" +
		"[profile chain]\nregion = us-east-1\n" +
		"credential_process = " + bin + " credential-process --profile source --role-arn " + roleA +
		" --role-arn " + roleB + " --endpoint-url " + srv.URL + " --cache-dir " + h.cache + "\n"
	require.NoError(t, os.WriteFile(h.config, []byte(config), 0o600))

	env := append(h.environ("NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost"), awsclitest.HomeEnv(awsPath)...)
	identity := func() (arn string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), testTime)
		defer cancel()
		cmd := exec.CommandContext(ctx, awsPath, "sts", "get-caller-identity", "--profile", "chain",
			"--endpoint-url", srv.URL, "--output", "json")
		cmd.Env = env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		require.NoError(t, cmd.Run(), "aws: stderr: %s", stderr.String())
		var out struct{ Arn string }
		require.NoError(t, json.Unmarshal(stdout.Bytes(), &out), stdout.String())
		assertNoSecret(t, stderr.String())
		return out.Arn
	}

	arn := identity()
	calls := srv.Calls(ststest.Call{Action: "AssumeRole"})
	require.Len(t, calls, 2)
	assert.Equal(t, roleB, calls[1].RoleARN)
	assert.Equal(t, srv.AssumedRoleARN(roleB, calls[1].RoleSessionName), arn)
	assert.True(t, strings.Contains(arn, ":assumed-role/B/"), arn)

	srv.ResetCalls()
	assert.Equal(t, arn, identity(), "the second run is the same session")
	assert.Zero(t, len(srv.Calls(ststest.Call{Action: "AssumeRole"})), "the file cache served the second run")
	assert.Equal(t, 1, len(srv.Calls(ststest.Call{Action: "GetCallerIdentity"})))
}
