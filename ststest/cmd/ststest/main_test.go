package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testConfig = `{
  "AccountID": "123456789012",
  "MaxCalls": 100,
  "Users": [{"Name": "alice", "AccessKeyID": "AKIAALICE00000000000", "SecretAccessKey": "alice-secret"}],
  "Roles": [{"ARN": "arn:aws:iam::123456789012:role/A",
             "Trust": ["arn:aws:iam::123456789012:user/alice"],
             "MaxSessionDuration": "2h", "Lifetime": 30},
            {"ARN": "arn:aws:iam::123456789012:role/CI",
             "Trust": ["arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"]}],
  "WebIdentityTokens": [{"Token": "ci-token-1234", "Provider": "token.actions.githubusercontent.com",
                         "Subject": "repo:octo/app:ref:refs/heads/main"}]
}`

func TestCommand(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on PATH")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "ststest")
	build := exec.CommandContext(ctx, goBin, "build", "-o", bin, ".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, string(out))
	cfgPath := filepath.Join(dir, "config.json")
	require.NoError(t, os.WriteFile(cfgPath, []byte(testConfig), 0o600))

	cmd := exec.CommandContext(ctx, bin, "-config", cfgPath)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err, stderr.String())
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "LISTEN ")
	require.True(t, ok, "first line: %q", line)
	assert.Regexp(t, `^http://127\.0\.0\.1:\d+$`, url)

	client := sts.NewFromConfig(aws.Config{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIAALICE00000000000", "alice-secret", ""),
	})
	res, err := client.AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn: aws.String("arn:aws:iam::123456789012:role/A"), RoleSessionName: aws.String("cmd"),
		DurationSeconds: aws.Int32(7200),
	})
	require.NoError(t, err)
	assert.Equal(t, "arn:aws:sts::123456789012:assumed-role/A/cmd", aws.ToString(res.AssumedRoleUser.Arn))
	assert.WithinDuration(t, time.Now().Add(30*time.Second), aws.ToTime(res.Credentials.Expiration), 3*time.Second)

	web, err := client.AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{
		RoleArn: aws.String("arn:aws:iam::123456789012:role/CI"), RoleSessionName: aws.String("ci"),
		WebIdentityToken: aws.String("ci-token-1234"),
	})
	require.NoError(t, err)
	assert.Equal(t, "repo:octo/app:ref:refs/heads/main", aws.ToString(web.SubjectFromWebIdentityToken))

	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	require.NoError(t, cmd.Wait(), stderr.String())
	assert.Equal(t, 0, cmd.ProcessState.ExitCode())
	assert.NotContains(t, stderr.String(), "alice-secret")
	assert.NotContains(t, stderr.String(), "ci-token-1234")
}

func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"AccountID": "1"}`), 0o600))
	good := filepath.Join(dir, "good.json")
	require.NoError(t, os.WriteFile(good, []byte(testConfig), 0o600))
	for _, tt := range []struct {
		args []string
		code int
		msg  string
	}{
		{nil, 2, "usage"},
		{[]string{"-config", filepath.Join(dir, "missing.json")}, 2, "no such file"},
		{[]string{"-config", bad}, 2, "AccountID"},
		{[]string{"-config", good, "-addr", "0.0.0.0:0"}, 1, "only 127.0.0.1"},
		{[]string{"-config", good, "-addr", ":0"}, 1, "only 127.0.0.1"},
		{[]string{"-config", good, "-addr", "[::1]:0"}, 1, "only 127.0.0.1"},
		{[]string{"-config", good, "-addr", "localhost:0"}, 1, "only 127.0.0.1"},
		{[]string{"-config", good, "-addr", "127.0.0.1"}, 1, "missing port"},
		{[]string{"-nope"}, 2, "flag provided but not defined"},
	} {
		var stdout, stderr strings.Builder
		assert.Equal(t, tt.code, run(tt.args, &stdout, &stderr), tt.args)
		assert.Contains(t, stderr.String(), tt.msg)
		assert.Empty(t, stdout.String())
	}
}
