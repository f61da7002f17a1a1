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

// awsCommand returns the command that runs the AWS CLI at path for args
// against s, with a sealed environment: HOME and the config and
// credentials files in home, no metadata service, and only the variables
// given in env besides.
func awsCommand(ctx context.Context, path string, s *Server, home string, env []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, path, args...)
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
		"AWS_MAX_ATTEMPTS=1",
	}, env...)
	return cmd
}

// awsCLI runs the AWS CLI against s (see awsCommand) and returns its
// parsed JSON output.
func awsCLI(t *testing.T, s *Server, home string, env []string, args ...string) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	out, err := awsCommand(ctx, awsclitest.Require(t), s, home, env, append(args, "--output", "json")...).Output()
	var stderr string
	if ee, ok := err.(*exec.ExitError); ok {
		stderr = string(ee.Stderr)
	}
	require.NoError(t, err, "aws %v: %s", args, stderr)
	var m map[string]any
	require.NoError(t, json.Unmarshal(out, &m), string(out))
	return m
}

// awsCLIFails runs the AWS CLI against s and returns its combined output,
// requiring it to fail.
func awsCLIFails(t *testing.T, s *Server, home string, env []string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	out, err := awsCommand(ctx, awsclitest.Require(t), s, home, env, args...).CombinedOutput()
	require.Error(t, err, "aws %v succeeded: %s", args, out)
	return string(out)
}

// cliHome writes alice's keys to a credentials file, and a config file
// with a profile that assumes role A with them.
func cliHome(t *testing.T, s *Server) string {
	home := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(home, "credentials"), []byte(
		"[alice]\naws_access_key_id = "+aliceKey+"\naws_secret_access_key = alice-secret\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(home, "config"), []byte(
		"[profile alice]\nregion = us-east-1\nendpoint_url = "+s.URL+"\n\n"+
			"[profile deploy]\nrole_arn = "+roleA+"\nsource_profile = alice\nrole_session_name = cli-profile\nregion = us-east-1\nendpoint_url = "+s.URL+"\n"), 0o600))
	return home
}

// TestAWSCLIInterop runs the AWS CLI against the server: every request is
// signed by botocore and verified by the server. The cases are
// independent and run in parallel, each with its own server.
func TestAWSCLIInterop(t *testing.T) {
	awsclitest.Require(t)
	aliceEnv := []string{"AWS_ACCESS_KEY_ID=" + aliceKey, "AWS_SECRET_ACCESS_KEY=alice-secret"}
	tests := []struct {
		name string
		run  func(t *testing.T, s *Server, home string)
	}{
		{"user keys", func(t *testing.T, s *Server, home string) {
			id := awsCLI(t, s, home, aliceEnv, "sts", "get-caller-identity", "--endpoint-url", s.URL)
			assert.Equal(t, "arn:aws:iam::123456789012:user/alice", id["Arn"])
			assert.Equal(t, acct, id["Account"])
			assert.Equal(t, []Call{{Action: "GetCallerIdentity", CallerARN: s.UserARN("alice"), CallerAccessKeyID: aliceKey, Status: 200}}, s.Calls())
		}},
		{"assume-role, then sign with the session", func(t *testing.T, s *Server, home string) {
			ar := awsCLI(t, s, home, aliceEnv, "sts", "assume-role", "--role-arn", roleA, "--role-session-name", "cli-session", "--duration-seconds", "900")
			assert.Equal(t, "arn:aws:sts::123456789012:assumed-role/A/cli-session", ar["AssumedRoleUser"].(map[string]any)["Arn"])
			creds := ar["Credentials"].(map[string]any)
			assert.Regexp(t, `^ASIA`, creds["AccessKeyId"])
			roleEnv := []string{"AWS_ACCESS_KEY_ID=" + creds["AccessKeyId"].(string),
				"AWS_SECRET_ACCESS_KEY=" + creds["SecretAccessKey"].(string), "AWS_SESSION_TOKEN=" + creds["SessionToken"].(string)}
			rid := awsCLI(t, s, home, roleEnv, "sts", "get-caller-identity")
			assert.Equal(t, "arn:aws:sts::123456789012:assumed-role/A/cli-session", rid["Arn"])
			calls := s.Calls()
			require.Len(t, calls, 2)
			assert.Equal(t, Call{Action: "AssumeRole", CallerARN: s.UserARN("alice"), CallerAccessKeyID: aliceKey, RoleARN: roleA,
				RoleSessionName: "cli-session", DurationSeconds: 900, Status: 200, IssuedAccessKeyID: creds["AccessKeyId"].(string)}, calls[0])
			assert.Equal(t, creds["AccessKeyId"], calls[1].CallerAccessKeyID)
			assert.Equal(t, 200, calls[1].Status)
		}},
		{"get-session-token with MFA", func(t *testing.T, s *Server, home string) {
			gst := awsCLI(t, s, home, aliceEnv, "sts", "get-session-token", "--serial-number", aliceMFA, "--token-code", "111111", "--duration-seconds", "900")
			assert.Regexp(t, `^ASIA`, gst["Credentials"].(map[string]any)["AccessKeyId"])
			assert.Len(t, s.Calls(Call{Action: "GetSessionToken", SerialNumber: aliceMFA, TokenCode: "111111", Status: 200}), 1)
		}},
		{"profile with role_arn and source_profile", func(t *testing.T, s *Server, home string) {
			prof := awsCLI(t, s, home, nil, "sts", "get-caller-identity", "--profile", "deploy")
			assert.Equal(t, "arn:aws:sts::123456789012:assumed-role/A/cli-profile", prof["Arn"])
			calls := s.Calls()
			require.Len(t, calls, 2)
			assert.Equal(t, "AssumeRole", calls[0].Action)
			assert.Equal(t, aliceKey, calls[0].CallerAccessKeyID)
			assert.Equal(t, calls[0].IssuedAccessKeyID, calls[1].CallerAccessKeyID)
			assert.Equal(t, 200, calls[1].Status)
		}},
		{"wrong secret", func(t *testing.T, s *Server, home string) {
			out := awsCLIFails(t, s, home, []string{"AWS_ACCESS_KEY_ID=" + aliceKey, "AWS_SECRET_ACCESS_KEY=wrong"},
				"sts", "get-caller-identity", "--endpoint-url", s.URL, "--region", "us-east-1")
			assert.Contains(t, out, "SignatureDoesNotMatch")
			assert.Len(t, s.Calls(Call{ErrorCode: "SignatureDoesNotMatch", Status: 403}), 1)
		}},
		{"another region than the server's", func(t *testing.T, s *Server, home string) {
			out := awsCLIFails(t, s, home, aliceEnv, "sts", "get-caller-identity", "--region", "eu-west-1")
			assert.Contains(t, out, "SignatureDoesNotMatch")
			assert.Contains(t, out, "Credential should be scoped to a valid region.")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newTestServer(t, testConfig())
			tt.run(t, s, cliHome(t, s))
		})
	}
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
