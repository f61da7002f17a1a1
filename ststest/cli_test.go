package ststest

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/stschain/stschain/internal/awsclitest"
)

// awsCLI runs the AWS CLI against s with a sealed environment: a temp HOME,
// temp config and credentials files, no metadata service, and only the
// variables given in env. It returns the parsed JSON output.
func awsCLI(t *testing.T, s *Server, home string, env []string, args ...string) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "aws", append(args, "--output", "json")...)
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"AWS_CONFIG_FILE=" + filepath.Join(home, "config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_REGION=us-east-1",
		"AWS_ENDPOINT_URL=" + s.URL,
		"AWS_PAGER=",
	}, env...)
	out, err := cmd.Output()
	var stderr string
	if ee, ok := err.(*exec.ExitError); ok {
		stderr = string(ee.Stderr)
	}
	require.NoError(t, err, "aws %v: %s", args, stderr)
	var m map[string]any
	require.NoError(t, json.Unmarshal(out, &m), string(out))
	return m
}

func TestAWSCLIInterop(t *testing.T) {
	awsclitest.Require(t)
	t.Parallel()
	s := newTestServer(t, testConfig())
	home := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(home, "credentials"), []byte(
		"[alice]\naws_access_key_id = "+aliceKey+"\naws_secret_access_key = alice-secret\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(home, "config"), []byte(
		"[profile alice]\nregion = us-east-1\nendpoint_url = "+s.URL+"\n\n"+
			"[profile deploy]\nrole_arn = "+roleA+"\nsource_profile = alice\nrole_session_name = cli-profile\nregion = us-east-1\nendpoint_url = "+s.URL+"\n"), 0o600))
	aliceEnv := []string{"AWS_ACCESS_KEY_ID=" + aliceKey, "AWS_SECRET_ACCESS_KEY=alice-secret"}

	id := awsCLI(t, s, home, aliceEnv, "sts", "get-caller-identity", "--endpoint-url", s.URL)
	assert.Equal(t, "arn:aws:iam::123456789012:user/alice", id["Arn"])
	assert.Equal(t, acct, id["Account"])

	ar := awsCLI(t, s, home, aliceEnv, "sts", "assume-role", "--role-arn", roleA, "--role-session-name", "cli-session", "--duration-seconds", "900")
	assert.Equal(t, "arn:aws:sts::123456789012:assumed-role/A/cli-session", ar["AssumedRoleUser"].(map[string]any)["Arn"])
	creds := ar["Credentials"].(map[string]any)
	assert.Regexp(t, `^ASIA`, creds["AccessKeyId"])

	// The CLI signs with the issued session credentials too.
	roleEnv := []string{"AWS_ACCESS_KEY_ID=" + creds["AccessKeyId"].(string),
		"AWS_SECRET_ACCESS_KEY=" + creds["SecretAccessKey"].(string), "AWS_SESSION_TOKEN=" + creds["SessionToken"].(string)}
	rid := awsCLI(t, s, home, roleEnv, "sts", "get-caller-identity")
	assert.Equal(t, "arn:aws:sts::123456789012:assumed-role/A/cli-session", rid["Arn"])

	gst := awsCLI(t, s, home, aliceEnv, "sts", "get-session-token", "--serial-number", aliceMFA, "--token-code", "111111", "--duration-seconds", "900")
	assert.Regexp(t, `^ASIA`, gst["Credentials"].(map[string]any)["AccessKeyId"])

	prof := awsCLI(t, s, home, nil, "sts", "get-caller-identity", "--profile", "deploy")
	assert.Equal(t, "arn:aws:sts::123456789012:assumed-role/A/cli-profile", prof["Arn"])

	// A wrong secret is refused: the server really checks botocore's signature.
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	bad := exec.CommandContext(ctx, "aws", "sts", "get-caller-identity", "--endpoint-url", s.URL, "--region", "us-east-1")
	bad.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "AWS_CONFIG_FILE=" + filepath.Join(home, "config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "credentials"), "AWS_EC2_METADATA_DISABLED=true",
		"AWS_ACCESS_KEY_ID=" + aliceKey, "AWS_SECRET_ACCESS_KEY=wrong", "AWS_MAX_ATTEMPTS=1"}
	badOut, err := bad.CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(badOut), "SignatureDoesNotMatch")
	require.Equal(t, 403, s.Calls()[len(s.Calls())-1].Status)

	// So is a scope for another region than the server's.
	wrongRegion := exec.CommandContext(ctx, "aws", "sts", "get-caller-identity", "--endpoint-url", s.URL, "--region", "eu-west-1")
	wrongRegion.Env = append(bad.Env[:len(bad.Env)-2:len(bad.Env)-2], "AWS_SECRET_ACCESS_KEY=alice-secret", "AWS_MAX_ATTEMPTS=1")
	regionOut, err := wrongRegion.CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(regionOut), "SignatureDoesNotMatch")
	assert.Contains(t, string(regionOut), "Credential should be scoped to a valid region.")

	// Every request was signed by botocore and verified by the server.
	calls := s.Calls()[:6]
	require.Len(t, calls, 6)
	for _, c := range calls {
		assert.Equal(t, 200, c.Status, "%+v", c)
	}
	assert.Equal(t, aliceKey, calls[4].CallerAccessKeyID)
	assert.Equal(t, "AssumeRole", calls[4].Action)
	assert.Equal(t, calls[4].IssuedAccessKeyID, calls[5].CallerAccessKeyID)
}

// TestAWSCLIWebIdentity runs the AWS CLI with a web identity profile, as
// in an EKS pod or a CI job: botocore sends AssumeRoleWithWebIdentity
// unsigned with the token file's contents, then signs with the session.
func TestAWSCLIWebIdentity(t *testing.T) {
	awsclitest.Require(t)
	t.Parallel()
	s := newTestServer(t, webConfig())
	home := t.TempDir()
	tokenFile := filepath.Join(home, "token")
	require.NoError(t, os.WriteFile(tokenFile, []byte(eksToken), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(home, "config"), []byte(
		"[profile web]\nrole_arn = "+roleWeb+"\nweb_identity_token_file = "+tokenFile+"\nrole_session_name = cli-web\nregion = us-east-1\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(home, "credentials"), nil, 0o600))

	id := awsCLI(t, s, home, nil, "sts", "get-caller-identity", "--profile", "web")
	assert.Equal(t, "arn:aws:sts::123456789012:assumed-role/Web/cli-web", id["Arn"])
	assert.Equal(t, acct, id["Account"])

	calls := s.Calls()
	require.Len(t, calls, 2)
	assert.Equal(t, Call{Action: "AssumeRoleWithWebIdentity", RoleARN: roleWeb, RoleSessionName: "cli-web", Status: 200,
		IssuedAccessKeyID: calls[0].IssuedAccessKeyID, WebIdentitySubject: eksSubject}, calls[0], "botocore sends it unsigned")
	assert.Equal(t, Call{Action: "GetCallerIdentity", CallerARN: s.AssumedRoleARN(roleWeb, "cli-web"),
		CallerAccessKeyID: calls[0].IssuedAccessKeyID, Status: 200}, calls[1])
}
