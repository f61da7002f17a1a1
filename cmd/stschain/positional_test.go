package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain/ststest"
)

// runBinary runs the built command with args in env, and standard input
// stdin.
func runBinary(t *testing.T, env []string, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTime)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(stdin), &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// habitsHome is a scratch HOME whose config has the profile admin (role A
// from source's keys, at srv) beside source, and a $SHELL that says who
// it runs as.
func habitsHome(t *testing.T, srv *ststest.Server) (testHome, []string) {
	t.Helper()
	h := newTestHome(t)
	config := "[profile source]\nregion = us-east-1\n\n[profile admin]\nregion = us-east-1\nrole_arn = " + roleA +
		"\nsource_profile = source\nendpoint_url = " + srv.URL + "\n"
	require.NoError(t, os.WriteFile(h.config, []byte(config), 0o600))
	shell := filepath.Join(h.dir, "shell")
	require.NoError(t, os.WriteFile(shell, []byte("#!/bin/sh\necho \"shell $# $STSCHAIN_PROFILE $STSCHAIN_ROLE_ARN\"\n"), 0o700))
	return h, h.environ("SHELL="+shell, "STSCHAIN_TEST_NO_SUCH=1")
}

// The habits of aws-vault users: the profile as the first argument,
// before "--" or without it; flags after it; -p and the other one-letter
// flags. What worked before keeps working.
func TestProfileArgument(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t)
	h, env := habitsHome(t, srv)
	who := []string{"sh", "-c", `echo "$STSCHAIN_PROFILE $STSCHAIN_ROLE_ARN $AWS_REGION"`}
	cache := []string{"--cache-dir", h.cache}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"exec PROFILE -- COMMAND", append(append([]string{"exec", "admin"}, cache...), append([]string{"--"}, who...)...), "admin " + roleA + " us-east-1\n"},
		{"exec PROFILE flags -- COMMAND", append([]string{"exec", "admin", "--cache-dir", h.cache, "--"}, who...), "admin " + roleA + " us-east-1\n"},
		{"exec PROFILE COMMAND", append([]string{"exec", "--cache-dir", h.cache, "admin"}, who...), "admin " + roleA + " us-east-1\n"},
		{"exec PROFILE starts a shell", []string{"exec", "--cache-dir", h.cache, "admin"}, "shell 0 admin " + roleA + "\n"},
		{"exec -p PROFILE -- COMMAND", append([]string{"exec", "-p", "admin", "--cache-dir", h.cache, "--"}, who...), "admin " + roleA + " us-east-1\n"},
		{"exec --profile PROFILE COMMAND, as before", append([]string{"exec", "--profile", "admin", "--cache-dir", h.cache}, who...), "admin " + roleA + " us-east-1\n"},
		{"exec --profile PROFILE -- COMMAND, as before", append([]string{"exec", "--profile", "admin", "--cache-dir", h.cache, "--"}, who...), "admin " + roleA + " us-east-1\n"},
		{"the profile twice, the same", append([]string{"exec", "--profile", "admin", "admin", "--cache-dir", h.cache, "--"}, who...), "admin " + roleA + " us-east-1\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runBinary(t, env, "", tc.args...)
			require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
			assert.Equal(t, tc.want, r.stdout)
		})
	}

	t.Run("credential-process and export", func(t *testing.T) {
		r := runBinary(t, env, "", "credential-process", "admin", "--cache-dir", h.cache)
		require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
		pc := decodeOutput(t, r.stdout)
		assert.Contains(t, callerARN(t, srv, pc), ":assumed-role/A/")
		r = runBinary(t, env, "", "export", "admin", "--format", "env-no-export", "--cache-dir", h.cache)
		require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
		assert.Contains(t, r.stdout, "AWS_ACCESS_KEY_ID="+pc.AccessKeyID+"\n", "the session credential-process cached")
	})

	t.Run("COMMAND without a profile, as before", func(t *testing.T) {
		r := runBinary(t, append(env, "AWS_PROFILE=admin"), "", append([]string{"exec", "--cache-dir", h.cache}, who...)...)
		require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
		assert.Equal(t, "admin "+roleA+" us-east-1\n", r.stdout)
	})

	t.Run("one-letter flags", func(t *testing.T) {
		srv.ResetCalls()
		r := runBinary(t, env, "", "credential-process", "-p", "source", "--role-arn", roleA, "-d", "1800", "--endpoint-url", srv.URL, "--no-cache")
		require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
		calls := srv.Calls(ststest.Call{Action: "AssumeRole"})
		require.Len(t, calls, 1)
		assert.Equal(t, 1800, calls[0].DurationSeconds, "-d is --duration")
		r = runBinary(t, env, "", "exec", "admin", "-s", "--cache-dir", h.cache, "--", "sh", "-c", `echo "$AWS_CONTAINER_CREDENTIALS_FULL_URI"`)
		require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
		assert.Contains(t, r.stdout, "http://127.0.0.1:", "-s is --server")
	})
}

// A profile that is not in the files is refused before any STS call, with
// the profiles it may be a typo of; exec's first word that is neither a
// profile nor a command is not run.
func TestProfileArgumentMistakes(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t)
	h, env := habitsHome(t, srv)
	marker := filepath.Join(h.dir, "ran")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"a typo before --", []string{"exec", "amdin", "--", "touch", marker}, exitUsage,
			`stschain exec: awsprofile: profile "amdin": the profile is in none of the files; did you mean admin?`},
		{"a typo alone", []string{"exec", "admn"}, exitNotFound,
			`stschain exec: admn is neither a profile of the AWS config files nor a command on PATH; did you mean admin?`},
		{"neither a profile nor a command", []string{"exec", "stschain-no-such-thing"}, exitNotFound,
			`stschain exec: stschain-no-such-thing is neither a profile of the AWS config files nor a command on PATH`},
		{"a typo of credential-process", []string{"credential-process", "sorce"}, exitUsage,
			`did you mean source?`},
		{"a typo of --profile", []string{"export", "--profile", "Admin"}, exitUsage,
			`did you mean admin?`},
		{"two profiles", []string{"exec", "--profile", "admin", "source", "--", "touch", marker}, exitUsage,
			`stschain exec: the profile is named twice, source and --profile admin: name it once`},
		{"two profiles, the flag after", []string{"exec", "admin", "--profile", "source", "--", "touch", marker}, exitUsage,
			`stschain exec: the profile is named twice, admin and --profile source: name it once`},
		{"a hostile name", []string{"exec", "x\x1b[31m", "--", "touch", marker}, exitUsage,
			`profile "x\x1b[31m"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runBinary(t, env, "", tc.args...)
			assert.Equal(t, tc.code, r.code, "stderr: %s", r.stderr)
			assert.Empty(t, r.stdout)
			assert.Contains(t, failureLine(t, r), tc.want)
			assert.NotContains(t, r.stderr, "\x1b", "no escape reaches the terminal")
		})
	}
	assert.NoFileExists(t, marker)
	assert.Empty(t, srv.Calls(), "no STS call")
}

// TestNearestProfiles: typos, swaps, case and prefixes find the profile;
// what is far from every name finds none.
func TestNearestProfiles(t *testing.T) {
	names := []string{"admin", "admin-prod", "dev", "production", "staging"}
	for word, want := range map[string][]string{
		"dve":     {"dev"},
		"Dev":     {"dev"},
		"admn":    {"admin"},
		"admin-p": {"admin", "admin-prod"},
		"prod":    {"production"},
		"stagign": {"staging"},
		"xyz":     nil,
		"":        nil,
	} {
		assert.Equal(t, want, nearestProfiles(word, names), word)
	}
	assert.Equal(t, 1, editDistance("ab", "ba"), "a swap is one edit")
	assert.Equal(t, 3, editDistance("kitten", "sitting"))
}

// TestProfileNames: the config file's profiles, [default] among them, and
// the credentials file's sections.
func TestProfileNames(t *testing.T) {
	dir := t.TempDir()
	config := filepath.Join(dir, "config")
	creds := filepath.Join(dir, "credentials")
	require.NoError(t, os.WriteFile(config, []byte("[default]\n[profile a]\nx = 1\n[ profile  \"b c\" ]\n[sso-session s]\n[profilex]\n[services s]\n"), 0o600))
	require.NoError(t, os.WriteFile(creds, []byte("[a]\n[keys]\n# [comment]\n"), 0o600))
	env := func(k string) string {
		return map[string]string{"AWS_CONFIG_FILE": config, "AWS_SHARED_CREDENTIALS_FILE": creds, "HOME": dir}[k]
	}
	assert.Equal(t, []string{"a", "b c", "default", "keys"}, profileNames(env))
}

// AccessDenied on AssumeRole says what usually causes it; an MFA refusal,
// which STS words clearly, gets no such note.
func TestAccessDeniedHint(t *testing.T) {
	t.Parallel()
	srv, serial := newServer(t, withCodes(goodCode))
	h := newTestHome(t)
	r := runBinary(t, h.environ(), "", "credential-process", "source", "--role-arn", roleDenied, "--endpoint-url", srv.URL, "--no-cache")
	assert.Equal(t, exitError, r.code)
	line := failureLine(t, r)
	assert.Contains(t, line, "AccessDenied")
	assert.Contains(t, line, "(AccessDenied on AssumeRole usually means: the trust policy of "+roleDenied+" does not name the caller;")
	for _, cause := range []string{"requires MFA", "external ID", "session policy"} {
		assert.Contains(t, line, cause)
	}

	r = runBinary(t, h.environ(), "", "credential-process", "source", "--role-arn", roleMFA, "--mfa-serial", serial,
		"--mfa-token", badCode, "--endpoint-url", srv.URL, "--no-cache")
	assert.Equal(t, exitError, r.code)
	assert.NotContains(t, failureLine(t, r), "usually means")
}
