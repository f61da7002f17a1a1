package stschain_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/stschain/stschain"
	"github.com/stschain/stschain/internal/awsclitest"
	"github.com/stschain/stschain/ststest"
)

// cliHome writes an AWS config in a new HOME: profile "alice" with her keys,
// profile "deploy" assuming role B from it, and profile "admin" assuming
// Admin from it with her MFA device. It returns HOME and its CLI cache,
// which it creates with mode 0700 (and HOME too): the CLI and t.TempDir
// would make them 0777 less the umask, which NewFileCache refuses under a
// umask of 002.
func cliHome(t *testing.T, srv *ststest.Server, serial string) (home, cacheDir string) {
	home = t.TempDir()
	require.NoError(t, os.Chmod(home, 0o700))
	cacheDir = filepath.Join(home, ".aws", "cli", "cache")
	require.NoError(t, os.MkdirAll(cacheDir, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(home, "credentials"),
		[]byte("[alice]\naws_access_key_id = "+aliceKey+"\naws_secret_access_key = "+aliceSKey+"\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(home, "config"), []byte(
		"[profile deploy]\nrole_arn = "+e2eRoleB+"\nsource_profile = alice\n\n"+
			"[profile admin]\nrole_arn = "+e2eAdmin+"\nsource_profile = alice\nmfa_serial = "+serial+"\n"), 0o600))
	return home, cacheDir
}

// awsCLI runs the AWS CLI against srv with nothing of this machine's AWS
// setup, and returns its JSON answer.
func awsCLI(t *testing.T, srv *ststest.Server, home, stdin string, args ...string) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, awsclitest.Require(t), append(args, "--output", "json")...)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"AWS_CONFIG_FILE=" + filepath.Join(home, "config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_ENDPOINT_URL=" + srv.URL,
		"AWS_PAGER=",
	}
	cmd.Stdin = strings.NewReader(stdin)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "aws %v: %s", args, stderr.String())
	var m map[string]any
	require.NoError(t, json.Unmarshal(out, &m), string(out))
	return m
}

func newFileCache(t *testing.T, dir string) *stschain.FileCache {
	t.Helper()
	c, err := stschain.NewFileCache(dir)
	require.NoError(t, err)
	return c
}

func noCode(t *testing.T) stschain.TokenCodeFunc {
	return func(context.Context, string) (string, error) {
		t.Error("MFA code asked for although the cache holds a session")
		return "", context.Canceled
	}
}

// The CLI assumes a role and caches the session; the library reuses it.
func TestFileCacheReusesTheAWSCLISession(t *testing.T) {
	awsclitest.Require(t)
	t.Parallel() // it waits for the AWS CLI
	for _, tc := range []struct {
		name, profile, role string
		mfa                 bool
	}{
		{"role", "deploy", e2eRoleB, false},
		{"role requiring MFA, prompted once by the CLI", "admin", e2eAdmin, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := e2eServer(t, 0, 0, "111111")
			home, cacheDir := cliHome(t, srv, mfaSerial(t))
			id := awsCLI(t, srv, home, "111111\n", "sts", "get-caller-identity", "--profile", tc.profile)
			require.Len(t, srv.Calls(ststest.Call{Action: "AssumeRole"}), 1)
			cliKey := srv.Calls(ststest.Call{Action: "AssumeRole"})[0].IssuedAccessKeyID
			assert.Contains(t, id["Arn"], "assumed-role/")
			files, err := filepath.Glob(filepath.Join(cacheDir, "*.json"))
			require.NoError(t, err)
			require.Len(t, files, 1, "the CLI cached the session")

			p := mustNew(t, srv.AWSConfig("alice"), func(o *stschain.Options) {
				o.RoleARN = tc.role
				o.Cache = newFileCache(t, cacheDir)
				if tc.mfa {
					o.SerialNumber = mfaSerial(t)
					o.TokenCode = noCode(t)
				}
			})
			creds, err := p.Retrieve(context.Background())
			require.NoError(t, err)
			assert.Equal(t, cliKey, creds.AccessKeyID)
			assert.Equal(t, account, creds.AccountID)
			assert.Len(t, srv.Calls(ststest.Call{Action: "AssumeRole"}), 1, "the library made no STS call")
		})
	}
}

// The library assumes a role and caches the session; the CLI reuses it.
func TestAWSCLIReusesTheFileCacheSession(t *testing.T) {
	awsclitest.Require(t)
	t.Parallel() // it waits for the AWS CLI
	for _, tc := range []struct {
		name, profile, role string
		mfa                 bool
	}{
		{"role", "deploy", e2eRoleB, false},
		{"role requiring MFA", "admin", e2eAdmin, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := e2eServer(t, 0, 0, "222222")
			home, cacheDir := cliHome(t, srv, mfaSerial(t))
			p := mustNew(t, srv.AWSConfig("alice"), func(o *stschain.Options) {
				o.RoleARN = tc.role
				o.Cache = newFileCache(t, cacheDir)
				if tc.mfa {
					o.SerialNumber = mfaSerial(t)
					o.TokenCode = func(context.Context, string) (string, error) { return "222222", nil }
				}
			})
			creds, err := p.Retrieve(context.Background())
			require.NoError(t, err)
			require.Len(t, srv.Calls(ststest.Call{Action: "AssumeRole"}), 1)

			// No MFA code on stdin: the CLI must not need one.
			id := awsCLI(t, srv, home, "", "sts", "get-caller-identity", "--profile", tc.profile)
			assert.Contains(t, id["Arn"], "assumed-role/")
			assert.Len(t, srv.Calls(ststest.Call{Action: "AssumeRole"}), 1, "the CLI made no AssumeRole call")
			gci := srv.Calls(ststest.Call{Action: "GetCallerIdentity"})
			require.Len(t, gci, 1)
			assert.Equal(t, creds.AccessKeyID, gci[0].CallerAccessKeyID, "the CLI signed with the library's session")
		})
	}
}
