package main

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/stschain/stschain/ststest"
)

func TestExecEnvironment(t *testing.T) {
	h := isolateEnv(t)
	srv, _ := newServer(t, inRegion("eu-west-1"))
	t.Setenv("AWS_PROFILE", "source") // the source profile; the command must not see it
	t.Setenv("AWS_DEFAULT_PROFILE", "source")
	r := runInProcess(t, "exec", "--role-arn", roleA, "--region", "eu-west-1",
		"--endpoint-url", srv.URL, "--cache-dir", h.cache, "--",
		"sh", "-c", `printf '%s\n' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" "$AWS_SESSION_TOKEN" `+
			`"$AWS_CREDENTIAL_EXPIRATION" "$AWS_REGION" "$AWS_DEFAULT_REGION" "${AWS_PROFILE-unset}" "${AWS_DEFAULT_PROFILE-unset}" "${`+depthVar+`-unset}" `+
			`"$STSCHAIN_PROFILE" "$STSCHAIN_ROLE_ARN" "${AWS_CONTAINER_CREDENTIALS_FULL_URI-unset}"`)
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Empty(t, r.stderr)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	require.Len(t, lines, 12, r.stdout)

	calls := srv.Calls(ststest.Call{Action: "AssumeRole"})
	require.Len(t, calls, 1)
	assert.Equal(t, userKey, calls[0].CallerAccessKeyID, "AWS_PROFILE chose the source")
	assert.Equal(t, calls[0].IssuedAccessKeyID, lines[0])
	assert.NotEmpty(t, lines[1])
	assert.NotEmpty(t, lines[2])
	exp, err := time.Parse(time.RFC3339, lines[3])
	require.NoError(t, err)
	assert.True(t, exp.After(time.Now()))
	assert.Equal(t, []string{"eu-west-1", "eu-west-1", "unset", "unset", "unset", "source", roleA, "unset"}, lines[4:])
	assert.Equal(t, srv.AssumedRoleARN(roleA, calls[0].RoleSessionName),
		callerARN(t, srv, processCredentials{AccessKeyID: lines[0], SecretAccessKey: lines[1], SessionToken: lines[2]}))
}

// TestExecServerEnvironment: with --server the command gets the server's
// two variables and no keys, and the server answers with the chain's
// credentials.
func TestExecServerEnvironment(t *testing.T) {
	h := isolateEnv(t)
	srv, _ := newServer(t, inRegion("eu-west-1"))
	r := runInProcess(t, "exec", "--server", "--profile", "source", "--role-arn", roleA, "--region", "eu-west-1",
		"--endpoint-url", srv.URL, "--cache-dir", h.cache, "--",
		"sh", "-c", `printf '%s\n' "${AWS_ACCESS_KEY_ID-unset}" "${AWS_SECRET_ACCESS_KEY-unset}" "${AWS_SESSION_TOKEN-unset}" `+
			`"${AWS_CREDENTIAL_EXPIRATION-unset}" "$AWS_REGION" "$AWS_CONTAINER_CREDENTIALS_FULL_URI" "$AWS_CONTAINER_AUTHORIZATION_TOKEN"`)
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	require.Len(t, lines, 7, r.stdout)
	assert.Equal(t, []string{"unset", "unset", "unset", "unset", "eu-west-1"}, lines[:5])
	assert.Regexp(t, `^http://127\.0\.0\.1:\d+/credentials$`, lines[5])
	assert.Len(t, lines[6], 43, "256 bits in unpadded base64")
	assertNoSecret(t, r.stderr)
}

func TestExecStartsShell(t *testing.T) {
	h := isolateEnv(t)
	srv, _ := newServer(t)
	fake := h.dir + "/fake-shell"
	require.NoError(t, os.WriteFile(fake, []byte("#!/bin/sh\necho \"fake shell $# $STSCHAIN_PROFILE $STSCHAIN_ROLE_ARN\"\n"), 0o700))
	args := []string{"exec", "--profile", "source", "--role-arn", roleA, "--endpoint-url", srv.URL, "--cache-dir", h.cache}

	t.Setenv("SHELL", fake)
	for _, a := range [][]string{args, append(args, "--")} {
		r := runInProcess(t, a...)
		require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
		assert.Equal(t, "fake shell 0 source "+roleA+"\n", r.stdout, "$SHELL with no arguments")
	}

	// No $SHELL: /bin/sh, which reads its commands from standard input.
	require.NoError(t, os.Unsetenv("SHELL"))
	var stdout, stderr strings.Builder
	ctx, cancel := context.WithTimeout(t.Context(), testTime)
	defer cancel()
	code := run(ctx, args, strings.NewReader("echo \"sh $STSCHAIN_PROFILE\"\nexit 3\n"), &stdout, &stderr, os.Getenv)
	assert.Equal(t, 3, code, "stderr: %s", stderr.String())
	assert.Equal(t, "sh source\n", stdout.String())
}

func TestExecExitStatus(t *testing.T) {
	h := isolateEnv(t)
	srv, _ := newServer(t)
	base := []string{"exec", "--profile", "source", "--role-arn", roleA, "--endpoint-url", srv.URL, "--cache-dir", h.cache, "--"}
	for _, tc := range []struct {
		name    string
		command []string
		want    int
	}{
		{"success", []string{"true"}, 0},
		{"exit code", []string{"sh", "-c", "exit 7"}, 7},
		{"killed by a signal", []string{"sh", "-c", "kill -TERM $$"}, 128 + int(syscall.SIGTERM)},
		{"not found", []string{"stschain-no-such-command"}, exitNotFound},
		{"without --", []string{"sh", "-c", "exit 3"}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append([]string(nil), base...), tc.command...)
			if tc.name == "without --" {
				args = append(base[:len(base)-1:len(base)-1], tc.command...)
			}
			r := runInProcess(t, args...)
			assert.Equal(t, tc.want, r.code, "stderr: %s", r.stderr)
			assertNoSecret(t, r.stderr)
		})
	}
}

func TestExecSTSErrorDoesNotRun(t *testing.T) {
	h := isolateEnv(t)
	srv, _ := newServer(t)
	marker := h.dir + "/ran"
	r := runInProcess(t, "exec", "--profile", "source", "--role-arn", roleDenied,
		"--endpoint-url", srv.URL, "--cache-dir", h.cache, "--", "touch", marker)
	assert.Equal(t, exitError, r.code)
	assert.Contains(t, r.stderr, roleDenied)
	assert.NoFileExists(t, marker)
}

func TestExecPassesStdin(t *testing.T) {
	h := isolateEnv(t)
	srv, _ := newServer(t)
	var stdout, stderr strings.Builder
	ctx, cancel := context.WithTimeout(t.Context(), testTime)
	defer cancel()
	code := run(ctx, []string{"exec", "--profile", "source", "--role-arn", roleA,
		"--endpoint-url", srv.URL, "--cache-dir", h.cache, "--", "cat"},
		strings.NewReader("line 1\nline 2\n"), &stdout, &stderr, os.Getenv)
	require.Equal(t, exitOK, code, "stderr: %s", stderr.String())
	assert.Equal(t, "line 1\nline 2\n", stdout.String())
	assert.Empty(t, stderr.String())
}

func TestReachedCommand(t *testing.T) {
	// go test may run on a terminal: only SIGTERM's answer is fixed.
	assert.False(t, reachedCommand(syscall.SIGTERM), "SIGTERM is always passed on")
	assert.Equal(t, inForegroundGroup(), reachedCommand(os.Interrupt))
}

func TestChildEnv(t *testing.T) {
	// The parent has a whole set of credentials of its own: every variable
	// of removedEnv, and the TOTP seed of --totp-secret-env.
	environ := []string{"PATH=/bin", "KEEP=1", "AWS_PROFILE_LIKE=kept", "AWS_REGION=us-west-2", "MY_TOTP=" + totpSecret}
	for _, k := range removedEnv {
		environ = append(environ, k+"=OLD")
	}
	creds := testCreds()
	got := childEnv(environ, "MY_TOTP", credentialEnv(creds))
	assert.Equal(t, []string{
		"PATH=/bin", "KEEP=1", "AWS_PROFILE_LIKE=kept", "AWS_REGION=us-west-2",
		"AWS_ACCESS_KEY_ID=ASIAEXAMPLE", "AWS_SECRET_ACCESS_KEY=secret", "AWS_SESSION_TOKEN=token",
		"AWS_CREDENTIAL_EXPIRATION=2030-01-02T03:04:05Z", "AWS_ACCOUNT_ID=123456789012",
	}, got)

	// What set gives replaces the parent's.
	got = childEnv(environ, "", []string{"AWS_REGION=eu-west-1", "AWS_DEFAULT_REGION=eu-west-1"})
	assert.Contains(t, got, "AWS_REGION=eu-west-1")
	assert.Contains(t, got, "AWS_DEFAULT_REGION=eu-west-1")
	assert.NotContains(t, got, "AWS_REGION=us-west-2")
	assert.Contains(t, got, "MY_TOTP="+totpSecret, "no --totp-secret-env: an unrelated variable")

	// Whatever the new credentials lack, nothing of the parent's is left.
	got = childEnv(environ, "MY_TOTP", credentialEnv(aws.Credentials{AccessKeyID: "AKIAEXAMPLE", SecretAccessKey: "secret"}))
	for _, kv := range got {
		assert.NotContains(t, kv, "OLD")
		assert.NotContains(t, kv, totpSecret)
	}
	assert.Len(t, got, 6)
}

func TestMarkerEnv(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    chain
		want []string
	}{
		{"profile", chain{profile: "me"}, []string{"STSCHAIN_PROFILE=me"}},
		{"none", chain{}, []string{"STSCHAIN_PROFILE=default"}},
		{"role", chain{profile: "me", roleARN: roleB}, []string{"STSCHAIN_PROFILE=me", "STSCHAIN_ROLE_ARN=" + roleB}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, markerEnv(&tc.c))
		})
	}
}
