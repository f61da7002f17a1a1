//go:build unix

package awsprofile_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain"
	"github.com/stschain/stschain/awsprofile"
	"github.com/stschain/stschain/internal/clidriver"
	"github.com/stschain/stschain/ststest"
)

// runCLI runs "aws sts get-caller-identity --profile profile" with the
// AWS CLI's own code (see internal/clidriver) against e's endpoint, with
// HOME, the files and the caches in e.dir. ssoCache gives the CLI's SSO
// provider the CLI's cache, as the AWS CLI v2 does. It returns whether
// the CLI succeeded, and its standard error.
func runCLI(t *testing.T, e *env, profile string, ssoCache bool) (bool, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := clidriver.Shared(t).Run(ctx, clidriver.Request{
		Env: map[string]string{
			"PATH":                        os.Getenv("PATH"),
			"HOME":                        e.dir,
			"AWS_CONFIG_FILE":             filepath.Join(e.dir, "config"),
			"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(e.dir, "credentials"),
			"AWS_EC2_METADATA_DISABLED":   "true",
			"AWS_DEFAULT_REGION":          "us-east-1",
			"AWS_ENDPOINT_URL":            e.url,
			"AWS_MAX_ATTEMPTS":            "1",
		},
		Args:     []string{"sts", "get-caller-identity", "--profile", profile, "--output", "json"},
		SSOCache: ssoCache,
	})
	require.NoError(t, err)
	return res.RC == 0, res.Stderr
}

// A FileCache on the AWS CLI's cache directory shares the sessions of a
// profile chain with the CLI, both ways.
func TestSharesTheAWSCLICache(t *testing.T) {
	config := "[profile r1]\nrole_arn = " + roleARN("r1") + "\nsource_profile = alice\n[profile r2]\nrole_arn = " + roleARN("r2") + "\nsource_profile = r1\n"
	load := func(t *testing.T, e *env) {
		t.Helper()
		cache, err := stschain.NewFileCache(filepath.Join(e.dir, ".aws", "cli", "cache"))
		require.NoError(t, err)
		retrieve(t, "r2", e.opts(config, aliceCredentials, func(o *awsprofile.Options) { o.Cache = cache }))
	}
	t.Run("the CLI first", func(t *testing.T) {
		e := newEnv(t, ststest.Role{ARN: roleARN("r1")}, ststest.Role{ARN: roleARN("r2")})
		e.files(config, aliceCredentials)
		ok, stderr := runCLI(t, e, "r2", false)
		require.True(t, ok, stderr)
		require.Len(t, e.srv.Calls(ststest.Call{Action: "AssumeRole"}), 2)
		e.srv.ResetCalls()
		load(t, e)
		assert.Empty(t, e.srv.Calls(), "the CLI's cached session of r2 served")
	})
	t.Run("LoadConfig first", func(t *testing.T) {
		e := newEnv(t, ststest.Role{ARN: roleARN("r1")}, ststest.Role{ARN: roleARN("r2")})
		load(t, e)
		require.Len(t, e.srv.Calls(ststest.Call{Action: "AssumeRole"}), 2)
		e.srv.ResetCalls()
		ok, stderr := runCLI(t, e, "r2", false)
		require.True(t, ok, stderr)
		assert.Equal(t, []string{"GetCallerIdentity"}, actions(e.srv), "the CLI used the cached session of r2")
	})
}

// SSO role credentials are cached under the AWS CLI's own key and in its
// format (botocore's SSOCredentialFetcher, given the CLI's cache as the
// AWS CLI v2 gives it): a FileCache on the CLI's cache directory shares
// them with the CLI, both ways. Not parallel: the SDK finds the SSO token
// through HOME.
func TestSharesSSOCredentialsWithTheAWSCLI(t *testing.T) {
	for _, kind := range ssoKinds {
		for _, first := range []string{"the CLI", "LoadConfig"} {
			t.Run(kind.name+"/"+first+" first", func(t *testing.T) {
				e := newEnv(t, ssoRoles()...)
				t.Setenv("HOME", e.dir)
				e.writeSSOToken(e.dir, kind.tokenKey, time.Now().Add(time.Hour))
				e.files(ssoConfig(kind.keys), "")
				load := func() {
					cache, err := stschain.NewFileCache(filepath.Join(e.dir, ".aws", "cli", "cache"))
					require.NoError(t, err)
					retrieve(t, "sso", e.opts(ssoConfig(kind.keys), "", func(o *awsprofile.Options) { o.Cache = cache }))
				}
				cli := func() {
					ok, stderr := runCLI(t, e, "sso", true)
					require.True(t, ok, stderr)
				}
				if first == "the CLI" {
					cli()
					e.srv.ResetCalls()
					load()
					assert.Empty(t, e.srv.Calls(), "the CLI's cached role credentials served")
				} else {
					load()
					e.srv.ResetCalls()
					cli()
					assert.Equal(t, []string{"GetCallerIdentity"}, actions(e.srv), "the CLI used the cached role credentials")
				}
			})
		}
	}
}
