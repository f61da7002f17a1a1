//go:build unix

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain/internal/awsclitest"
	"github.com/stschain/stschain/ststest"
)

// The README's credential_process profiles work as written: the AWS CLI
// runs them, against the fake STS, with the built stschain on PATH; the
// first asks for the MFA code once, the second needs none.
func TestREADMEProfilesWorkAsWritten(t *testing.T) {
	awsPath := awsclitest.Require(t)
	t.Parallel()
	bin := binary(t)
	text := readme(t)
	section := text[strings.Index(text, "### `stschain credential-process`"):]
	m := regexp.MustCompile("(?s)```ini\n(.*?)```").FindStringSubmatch(section)
	require.NotNil(t, m, "the section has an ini block")
	const (
		alice   = "arn:aws:iam::111111111111:user/alice"
		device  = "arn:aws:iam::111111111111:mfa/alice"
		admin   = "arn:aws:iam::111111111111:role/admin"
		target  = "arn:aws:iam::333333333333:role/target"
		code    = "864213"
		aliceID = "AKIAREADMEALICE00001"
	)
	srv := ststest.NewServer(ststest.Config{
		AccountID: "111111111111",
		Region:    "eu-west-1",
		Users: []ststest.User{{Name: "alice", AccessKeyID: aliceID, SecretAccessKey: userSecret,
			MFASerial: device, MFACodes: []string{code}}},
		Roles: []ststest.Role{
			{ARN: admin, Trust: []string{alice}, RequireMFA: true},
			{ARN: target, Trust: []string{admin}, ExternalID: "my-ext-id"},
		},
	})
	t.Cleanup(srv.Close)
	h := newTestHome(t)
	require.NoError(t, os.WriteFile(h.config, []byte(m[1]), 0o600))
	require.NoError(t, os.WriteFile(h.credentials, []byte("[alice]\naws_access_key_id = "+aliceID+"\naws_secret_access_key = "+userSecret+"\n"), 0o600))

	env := h.environ("AWS_ENDPOINT_URL="+srv.URL, "NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost")
	for i, kv := range env {
		if strings.HasPrefix(kv, "PATH=") {
			env[i] = "PATH=" + filepath.Dir(bin) + string(os.PathListSeparator) + strings.TrimPrefix(kv, "PATH=")
		}
	}
	env = append(env, awsclitest.HomeEnv(awsPath)...)
	identity := func(profile, stdin string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), testTime)
		defer cancel()
		cmd := exec.CommandContext(ctx, awsPath, "sts", "get-caller-identity", "--profile", profile, "--output", "json")
		cmd.Env = env
		// No terminal: the prompt reads the code from standard input,
		// which the AWS CLI hands on to credential_process.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		var stdout, stderr bytes.Buffer
		cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(stdin), &stdout, &stderr
		require.NoError(t, cmd.Run(), "aws --profile %s: stderr: %s", profile, stderr.String())
		var out struct{ Arn string }
		require.NoError(t, json.Unmarshal(stdout.Bytes(), &out), stdout.String())
		assertNoSecret(t, stderr.String())
		return out.Arn
	}

	assert.Contains(t, identity("admin-daily", code+"\n"), ":assumed-role/admin/")
	gst := srv.Calls(ststest.Call{Action: "GetSessionToken"})
	require.Len(t, gst, 1, "one MFA session")
	assert.Equal(t, device, gst[0].SerialNumber)
	assert.Equal(t, 43200, gst[0].DurationSeconds)

	assert.Contains(t, identity("target", ""), "arn:aws:sts::333333333333:assumed-role/target/")
	assert.Len(t, srv.Calls(ststest.Call{Action: "GetSessionToken"}), 1, "no second MFA session, no second code")
	calls := srv.Calls(ststest.Call{Action: "AssumeRole", Status: 200})
	require.Len(t, calls, 2, "admin once, from the session; then target")
	assert.Equal(t, []string{admin, target}, []string{calls[0].RoleARN, calls[1].RoleARN})
	assert.Empty(t, calls[0].SerialNumber, "admin is assumed with the session's MFA context")
}
