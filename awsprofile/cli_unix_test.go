//go:build unix

package awsprofile_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain"
	"github.com/stschain/stschain/awsprofile"
	"github.com/stschain/stschain/internal/awsclitest"
	"github.com/stschain/stschain/ststest"
)

// cliCase is one profile configuration run by the AWS CLI and by
// LoadConfig against fake STS servers configured alike.
type cliCase struct {
	name        string
	config      string
	credentials string
	profile     string
	roles       []ststest.Role
	mfa         bool     // the chain asks for one MFA code
	env         []string // for both sides
	fails       bool     // both must fail
	region      string   // the servers' region, for a profile that names one
	web         bool     // the servers know the web identity token
}

// runCLI runs "aws sts get-caller-identity --profile profile" against e's
// server with a sealed environment: HOME and the files in e.dir (so the
// CLI's cache starts empty), the server's region (the CLI needs one; its
// profile's is the same), no metadata service, no terminal (the CLI
// reads an MFA code from standard input when it has none), and stdin.
// It returns whether the CLI succeeded, and its standard error.
func runCLI(t *testing.T, e *env, region, profile, stdin string, extraEnv []string) (bool, string) {
	t.Helper()
	if region == "" {
		region = "us-east-1"
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "aws", "sts", "get-caller-identity", "--profile", profile, "--output", "json")
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + e.dir,
		"AWS_CONFIG_FILE=" + e.dir + "/config",
		"AWS_SHARED_CREDENTIALS_FILE=" + e.dir + "/credentials",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_DEFAULT_REGION=" + region,
		"AWS_ENDPOINT_URL=" + e.srv.URL,
		"AWS_PAGER=",
		"AWS_MAX_ATTEMPTS=1",
	}, extraEnv...)
	cmd.Stdin = strings.NewReader(stdin)
	// A session of its own: no controlling terminal for getpass to open.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("aws timed out: %s", stderr.String())
	}
	return err == nil, stderr.String()
}

// runOurs does with LoadConfig what the CLI does: load the profile, and
// call GetCallerIdentity with its credentials.
func runOurs(t *testing.T, e *env, profile string, mfa bool) error {
	t.Helper()
	codes := e.tokenCodes()
	codes.codes = codes.codes[1:] // the first one is the CLI's
	cf, crf := e.files(e.configText, e.credentialsText)
	cfg, err := awsprofile.LoadConfig(context.Background(), profile, func(o *awsprofile.Options) {
		o.ConfigFiles, o.CredentialsFiles = []string{cf}, []string{crf}
		o.LoadOptions = e.sdkOptions()
		o.TokenCode = codes.fn
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// STS's global endpoint's region, where the profile names none, as
	// the CLI signs.
	_, err = sts.NewFromConfig(cfg, func(o *sts.Options) {
		if o.Region == "" {
			o.Region = "us-east-1"
		}
	}).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if mfa {
		assert.Equal(t, 1, codes.count(), "one MFA code asked for")
	}
	return err
}

func cliCases() []cliCase {
	role := func(name string) string { return "role_arn = " + roleARN(name) + "\n" }
	keys := func(id, secret string) string {
		return "aws_access_key_id = " + id + "\naws_secret_access_key = " + secret + "\n"
	}
	all := []ststest.Role{{ARN: roleARN("r1")}, {ARN: roleARN("r2")}, {ARN: roleARN("r3")}}
	return []cliCase{
		{name: "rule 1: a role from a source profile", profile: "r1", roles: all,
			config: "[profile r1]\n" + role("r1") + "source_profile = alice\n", credentials: aliceCredentials},
		{name: "a 3-deep chain", profile: "r3", roles: all,
			config: "[profile r1]\n" + role("r1") + "source_profile = alice\n[profile r2]\n" + role("r2") + "source_profile = r1\n" +
				"[profile r3]\n" + role("r3") + "source_profile = r2\nrole_session_name = top\n", credentials: aliceCredentials},
		{name: "rule 2: a source profile's keys end the chain", profile: "r2", roles: all,
			config:      "[profile mid]\n" + keys(bobKey, bobSec) + role("r1") + "source_profile = alice\n[profile r2]\n" + role("r2") + "source_profile = mid\n",
			credentials: aliceCredentials},
		{name: "rule 2: the selected profile's role wins over its keys", profile: "mid", roles: all,
			config:      "[profile mid]\n" + keys(bobKey, bobSec) + role("r1") + "source_profile = alice\n",
			credentials: aliceCredentials},
		{name: "rule 3: a profile that is its own source", profile: "self", roles: all,
			config: "[profile self]\n" + role("r1") + "source_profile = self\n" + keys(bobKey, bobSec)},
		{name: "rule 7: external_id, role_session_name, duration_seconds, region", profile: "ext", region: "eu-west-1",
			roles:  []ststest.Role{{ARN: roleARN("ext"), ExternalID: "ext-123"}},
			config: "[profile ext]\n" + role("ext") + "source_profile = alice\nexternal_id = ext-123\nrole_session_name = deployer\nduration_seconds = 1800\nregion = eu-west-1\n", credentials: aliceCredentials},
		{name: "rule 7: a wrong external_id fails at STS", profile: "ext", fails: true,
			roles:  []ststest.Role{{ARN: roleARN("ext"), ExternalID: "ext-123"}},
			config: "[profile ext]\n" + role("ext") + "source_profile = alice\nexternal_id = wrong-id\n", credentials: aliceCredentials},
		{name: "rule 5: a web identity as the source of a role", profile: "app", web: true,
			roles:  []ststest.Role{{ARN: roleARN("web"), Trust: []string{webProviderARN}}, {ARN: roleARN("app"), Trust: []string{roleARN("web")}}},
			config: "[profile web]\n" + role("web") + "web_identity_token_file = {{dir}}/token\nrole_session_name = pod\n[profile app]\n" + role("app") + "source_profile = web\n"},
		{name: "an MFA role", profile: "admin", mfa: true,
			roles:  []ststest.Role{{ARN: roleARN("admin"), Trust: []string{aliceARN}, RequireMFA: true}, {ARN: roleARN("r2")}},
			config: "[profile admin]\n" + role("admin") + "source_profile = alice\nmfa_serial = {{serial}}\n[profile above]\n" + role("r2") + "source_profile = admin\n", credentials: aliceCredentials},
		{name: "rule 8: a loop", profile: "a", fails: true, roles: all,
			config: "[profile a]\n" + role("r1") + "source_profile = b\n[profile b]\n" + role("r2") + "source_profile = a\n"},
		{name: "rule 8: a loop through keys", profile: "a", fails: true, roles: all,
			config: "[profile a]\n" + role("r1") + "source_profile = b\n" + keys(bobKey, bobSec) + "[profile b]\n" + role("r2") + "source_profile = a\n"},
		{name: "rule 8: a missing source profile", profile: "a", fails: true, roles: all,
			config: "[profile a]\n" + role("r1") + "source_profile = nope\n"},
		{name: "rule 8: source_profile and credential_source", profile: "a", fails: true, roles: all,
			config: "[profile a]\n" + role("r1") + "source_profile = alice\ncredential_source = Environment\n", credentials: aliceCredentials},
		{name: "rule 8: role_arn with neither", profile: "a", fails: true, roles: all,
			config: "[profile a]\n" + role("r1") + keys(bobKey, bobSec)},
		{name: "rule 8: one static key", profile: "a", fails: true, roles: all,
			config: "[profile a]\n" + role("r1") + "source_profile = alice\n", credentials: "[alice]\naws_access_key_id = " + aliceKey + "\n"},
		{name: "rule 8: an unknown credential_source", profile: "a", fails: true, roles: all,
			config: "[profile a]\n" + role("r1") + "credential_source = Ec2Metadata\n"},
		{name: "rule 8: no such profile", profile: "nope", fails: true, roles: all,
			config: "[profile a]\n" + role("r1") + "source_profile = alice\n", credentials: aliceCredentials},
	}
}

// The AWS CLI and LoadConfig make the same STS calls for the same files,
// or both fail.
func TestSameCallsAsTheAWSCLI(t *testing.T) {
	awsclitest.Require(t)
	t.Parallel()
	for _, tc := range cliCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			compareWithCLI(t, tc)
		})
	}
}

// Rule 4 with credential_source = Environment and EcsContainer, whose
// sources are in the environment of both. Not parallel: it sets this
// process's environment.
func TestSameCallsAsTheAWSCLIFromCredentialSource(t *testing.T) {
	awsclitest.Require(t)
	ecs := fakeECS(t, "ecs-token", new(atomic.Int32))
	for _, tc := range []cliCase{
		{name: "Environment", env: []string{"AWS_ACCESS_KEY_ID=" + bobKey, "AWS_SECRET_ACCESS_KEY=" + bobSec}},
		{name: "EcsContainer", env: []string{"AWS_CONTAINER_CREDENTIALS_FULL_URI=" + ecs.URL + "/creds", "AWS_CONTAINER_AUTHORIZATION_TOKEN=ecs-token"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.profile = "top"
			tc.roles = []ststest.Role{{ARN: roleARN("src")}, {ARN: roleARN("top")}}
			tc.config = "[profile src]\nrole_arn = " + roleARN("src") + "\ncredential_source = " + tc.name +
				"\n[profile top]\nrole_arn = " + roleARN("top") + "\nsource_profile = src\n"
			for _, kv := range tc.env {
				k, v, _ := strings.Cut(kv, "=")
				t.Setenv(k, v)
			}
			compareWithCLI(t, tc)
		})
	}
}

func compareWithCLI(t *testing.T, tc cliCase) {
	t.Helper()
	cli := newEnvWith(t, envOptions{region: tc.region, web: tc.web}, cloneRoles(tc.roles)...)
	cli.configText, cli.credentialsText = tc.config, tc.credentials
	cli.files(tc.config, tc.credentials)
	stdin := ""
	if tc.mfa {
		stdin = cli.codes[0] + "\n"
	}
	cliOK, stderr := runCLI(t, cli, tc.region, tc.profile, stdin, tc.env)

	ours := newEnvWith(t, envOptions{serial: cli.serial, region: tc.region, web: tc.web}, cloneRoles(tc.roles)...) // the same device, in the same files
	ours.configText, ours.credentialsText = tc.config, tc.credentials
	err := runOurs(t, ours, tc.profile, tc.mfa)

	if tc.fails {
		assert.False(t, cliOK, "the AWS CLI succeeded")
		assert.Error(t, err, "LoadConfig and GetCallerIdentity succeeded")
	} else {
		require.True(t, cliOK, "aws: %s", stderr)
		require.NoError(t, err)
	}
	want, got := calls(cli.srv), calls(ours.srv)
	if !assert.Equal(t, want, got, "STS calls: the AWS CLI's, then ours") {
		t.Logf("aws stderr: %s", stderr)
	}
	t.Logf("%d calls; ours: %v", len(got), err)
}

func cloneRoles(roles []ststest.Role) []ststest.Role { return append([]ststest.Role(nil), roles...) }

// A FileCache on the AWS CLI's cache directory shares the sessions of a
// profile chain with the CLI, both ways.
func TestSharesTheAWSCLICache(t *testing.T) {
	awsclitest.Require(t)
	t.Parallel()
	config := "[profile r1]\nrole_arn = " + roleARN("r1") + "\nsource_profile = alice\n[profile r2]\nrole_arn = " + roleARN("r2") + "\nsource_profile = r1\n"
	load := func(t *testing.T, e *env) {
		t.Helper()
		cache, err := stschain.NewFileCache(filepath.Join(e.dir, ".aws", "cli", "cache"))
		require.NoError(t, err)
		cfg, err := awsprofile.LoadConfig(context.Background(), "r2", e.opts(config, aliceCredentials, func(o *awsprofile.Options) { o.Cache = cache }))
		require.NoError(t, err)
		_, err = cfg.Credentials.Retrieve(context.Background())
		require.NoError(t, err)
	}
	t.Run("the CLI first", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, ststest.Role{ARN: roleARN("r1")}, ststest.Role{ARN: roleARN("r2")})
		e.files(config, aliceCredentials)
		ok, stderr := runCLI(t, e, "", "r2", "", nil)
		require.True(t, ok, stderr)
		require.Len(t, e.srv.CallsFor("AssumeRole"), 2)
		e.srv.ResetCalls()
		load(t, e)
		assert.Zero(t, e.srv.CountCalls(""), "the CLI's cached session of r2 served")
	})
	t.Run("LoadConfig first", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, ststest.Role{ARN: roleARN("r1")}, ststest.Role{ARN: roleARN("r2")})
		load(t, e)
		require.Len(t, e.srv.CallsFor("AssumeRole"), 2)
		e.srv.ResetCalls()
		ok, stderr := runCLI(t, e, "", "r2", "", nil)
		require.True(t, ok, stderr)
		assert.Equal(t, []string{"GetCallerIdentity"}, actions(e.srv), "the CLI used the cached session of r2")
	})
}
