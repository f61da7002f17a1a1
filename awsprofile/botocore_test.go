package awsprofile_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain"
	"github.com/stschain/stschain/awsprofile"
	"github.com/stschain/stschain/ststest"
)

// The files are read as botocore reads them. Each test here is a
// configuration that the AWS CLI and the SDK's loader read differently,
// and the calls it makes are the CLI's.

// Every call of every kind of root goes to the endpoint the config
// resolves, however it is given; here with files that have no [default]
// section, and with the root in the environment. Not parallel: it sets
// the environment.
func TestEveryRootCallGoesToTheEndpoint(t *testing.T) {
	for _, how := range []string{"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS", "endpoint_url", "services"} {
		t.Run(how, func(t *testing.T) {
			e := newEnvWith(t, envOptions{web: true}, append(webRoles(), ststest.Role{ARN: roleARN("r1")})...)
			var profileKeys string
			switch how {
			case "endpoint_url":
				profileKeys = "endpoint_url = {{url}}\n"
			case "services":
				profileKeys = "services = local\n[services local]\nsts =\n  endpoint_url = {{url}}\n"
			default:
				t.Setenv(how, e.url)
			}
			cf, crf := e.files("[profile app]\nrole_arn = "+roleARN("app")+"\nsource_profile = web\n"+profileKeys+
				"[profile web]\nrole_arn = "+roleARN("web")+"\nweb_identity_token_file = {{dir}}/token\n"+
				"[profile r1]\nrole_arn = "+roleARN("r1")+"\nsource_profile = alice\n"+profileKeys, aliceCredentials)
			files := func(o *awsprofile.Options) { o.ConfigFiles, o.CredentialsFiles = []string{cf}, []string{crf} }
			for _, profile := range []string{"app", "r1"} {
				retrieve(t, profile, files)
			}
			assert.Equal(t, []string{"AssumeRoleWithWebIdentity", "AssumeRole", "AssumeRole"}, actions(e.srv))
			if how == "AWS_ENDPOINT_URL" || how == "AWS_ENDPOINT_URL_STS" {
				// The web identity of the environment, with no profile.
				e.srv.ResetCalls()
				t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", filepath.Join(e.dir, "token"))
				t.Setenv("AWS_ROLE_ARN", roleARN("web"))
				retrieve(t, "", files)
				assert.Equal(t, []string{"AssumeRoleWithWebIdentity"}, actions(e.srv))
			}
		})
	}
}

// aws_session_token belongs to the keys of its own file: a token in the
// config file is not glued onto the credentials file's keys.
func TestSessionTokenFromTheKeysFile(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ststest.Role{ARN: roleARN("r1")})
	retrieve(t, "r1", e.opts("[profile alice]\naws_session_token = stale-token-of-another-session\n[profile r1]\nrole_arn = "+roleARN("r1")+"\nsource_profile = alice\n", aliceCredentials))
	assertCalls(t, []call{{Action: "AssumeRole", Role: roleARN("r1"), Signer: aliceKey, Session: "<generated>", Status: 200}}, e.srv)
}

// The legacy aws_security_token is a session's token, as
// aws_session_token is (and comes first where both are set).
func TestLegacySecurityToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ststest.Role{ARN: roleARN("r1")})
	c, err := sts.NewFromConfig(e.srv.AWSConfig("alice")).GetSessionToken(context.Background(), &sts.GetSessionTokenInput{})
	require.NoError(t, err)
	creds := "[tmp]\naws_access_key_id = " + aws.ToString(c.Credentials.AccessKeyId) + "\naws_secret_access_key = " + aws.ToString(c.Credentials.SecretAccessKey) +
		"\naws_security_token = " + aws.ToString(c.Credentials.SessionToken) + "\naws_session_token = not-this-one\n"
	e.srv.ResetCalls()
	retrieve(t, "r1", e.opts("[profile r1]\nrole_arn = "+roleARN("r1")+"\nsource_profile = tmp\n", creds))
	assertCalls(t, []call{{Action: "AssumeRole", Role: roleARN("r1"), Signer: aws.ToString(c.Credentials.AccessKeyId), Session: "<generated>", Status: 200}}, e.srv)
}

// Where the SDK's loader refuses "only one credential type" but botocore
// builds a chain, the chain is botocore's.
func TestMixedCredentialTypes(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, envOptions{web: true}, append(webRoles(), ststest.Role{ARN: roleARN("r1")})...)
	opts := e.opts(`
[profile web]
role_arn = `+roleARN("web")+`
web_identity_token_file = {{dir}}/token
source_profile = alice
[profile app]
role_arn = `+roleARN("app")+`
source_profile = web
[profile proc]
role_arn = `+roleARN("r1")+`
source_profile = alice
credential_process = false
`, aliceCredentials)
	for _, tc := range []struct {
		profile string
		want    []call
	}{
		{"web", []call{{Action: "AssumeRoleWithWebIdentity", Role: roleARN("web"), Session: "<generated>", Status: 200}}},
		{"app", []call{
			{Action: "AssumeRoleWithWebIdentity", Role: roleARN("web"), Session: "<generated>", Status: 200},
			{Action: "AssumeRole", Role: roleARN("app"), Signer: "issued by #1", Session: "<generated>", Status: 200},
		}},
		{"proc", []call{{Action: "AssumeRole", Role: roleARN("r1"), Signer: aliceKey, Session: "<generated>", Status: 200}}},
	} {
		e.srv.ResetCalls()
		retrieve(t, tc.profile, opts)
		assertCalls(t, tc.want, e.srv)
	}
}

// Keys in the environment win over AWS_PROFILE, even when its chain is
// broken: the chain is not followed. Not parallel: it sets the
// environment.
func TestBrokenEnvironmentProfileBehindEnvironmentKeys(t *testing.T) {
	e := newEnv(t)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // where the SDK's loader gets its copy of the profile
	t.Setenv("AWS_PROFILE", "a")
	t.Setenv("AWS_ACCESS_KEY_ID", bobKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", bobSec)
	chain, err := awsprofile.LoadChain(context.Background(), "", e.opts("[profile a]\nregion = eu-west-3\nrole_arn = "+roleARN("a")+"\nsource_profile = b\n[profile b]\nrole_arn = "+roleARN("b")+"\nsource_profile = a\n", ""))
	require.NoError(t, err)
	assert.Equal(t, []awsprofile.LinkKind{awsprofile.KindEnvironment}, kinds(chain))
	assert.Equal(t, "eu-west-3", chain.Config.Region, "the profile still gives the config")
	c, err := chain.Config.Credentials.Retrieve(context.Background())
	require.NoError(t, err)
	assert.Equal(t, bobKey, c.AccessKeyID)
	left, err := os.ReadDir(tmp)
	require.NoError(t, err)
	assert.Empty(t, left, "the copy is removed")

	// Named, the profile is followed, and its loop found.
	_, err = awsprofile.LoadChain(context.Background(), "a", e.opts("[profile a]\nrole_arn = "+roleARN("a")+"\nsource_profile = b\n[profile b]\nrole_arn = "+roleARN("b")+"\nsource_profile = a\n", ""))
	assert.ErrorIs(t, err, awsprofile.ErrInvalidConfig)
}

// Profile names in quotes are read as botocore splits them.
func TestQuotedProfileNames(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, envOptions{region: "eu-north-1"}, ststest.Role{ARN: roleARN("r1")}, ststest.Role{ARN: roleARN("r2")})
	opts := e.opts(`
[profile "personal"]
region = eu-north-1
role_arn = `+roleARN("r1")+`
source_profile = alice
[profile "my profile"]
region = eu-north-1
role_arn = `+roleARN("r2")+`
source_profile = personal
`, aliceCredentials)
	for _, profile := range []string{"personal", "my profile"} {
		cfg, _ := retrieve(t, profile, opts)
		assert.Equal(t, "eu-north-1", cfg.Region, profile)
	}
	assert.Equal(t, []string{"AssumeRole", "AssumeRole", "AssumeRole"}, actions(e.srv))
	assert.Equal(t, roleARN("r2"), e.srv.Calls()[2].RoleARN)
}

// Of [profile default] and [default] in one file, the later one is the
// default profile, as for the AWS CLI (the SDK reads [profile default]).
func TestTwoDefaultSections(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, envOptions{region: "eu-west-1"}, ststest.Role{ARN: roleARN("first")}, ststest.Role{ARN: roleARN("second")})
	for _, tc := range []struct{ config, want string }{
		{"[profile default]\nregion = us-west-1\nrole_arn = " + roleARN("first") + "\nsource_profile = alice\n[default]\nregion = eu-west-1\nrole_arn = " + roleARN("second") + "\nsource_profile = alice\n", "second"},
		{"[default]\nregion = us-west-1\nrole_arn = " + roleARN("second") + "\nsource_profile = alice\n[profile default]\nregion = eu-west-1\nrole_arn = " + roleARN("first") + "\nsource_profile = alice\n", "first"},
	} {
		e.srv.ResetCalls()
		cfg, _ := retrieve(t, "default", e.opts(tc.config, aliceCredentials))
		assert.Equal(t, "eu-west-1", cfg.Region)
		assertCalls(t, []call{{Action: "AssumeRole", Role: roleARN(tc.want), Signer: aliceKey, Session: "<generated>", Status: 200}}, e.srv)
	}
}

// credential_source wins over static keys on the same profile, as for the
// AWS CLI (the SDK uses the keys). Not parallel: it sets the environment.
func TestCredentialSourceBeforeStaticKeys(t *testing.T) {
	e := newEnv(t, ststest.Role{ARN: roleARN("r1")})
	t.Setenv("AWS_ACCESS_KEY_ID", bobKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", bobSec)
	retrieve(t, "r1", e.opts("[profile r1]\nrole_arn = "+roleARN("r1")+"\ncredential_source = Environment\naws_access_key_id = "+aliceKey+"\naws_secret_access_key = "+aliceSec+"\n", ""))
	assertCalls(t, []call{{Action: "AssumeRole", Role: roleARN("r1"), Signer: bobKey, Session: "<generated>", Status: 200}}, e.srv)
}

// One rule for quotes: a value in one pair of quotes loses them, for the
// keys the SDK reads (role_session_name) and for aws-vault's alike.
func TestOneRuleForQuotes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ststest.Role{ARN: roleARN("r1")})
	rec := &recordingClient{Client: sts.NewFromConfig(e.srv.AWSConfig("alice"))}
	retrieve(t, "r1", e.opts(`[profile r1]
role_arn = "`+roleARN("r1")+`"
source_profile = 'alice'
role_session_name = "deployer"
source_identity = "alice-laptop"
session_tags = 'team=blue'
`, aliceCredentials, func(o *awsprofile.Options) {
		o.LinkOptions = append(o.LinkOptions, func(so *stschain.Options) { so.Client = rec })
	}))
	require.Len(t, rec.inputs, 1)
	in := rec.inputs[0]
	assert.Equal(t, roleARN("r1"), aws.ToString(in.RoleArn))
	assert.Equal(t, "deployer", aws.ToString(in.RoleSessionName))
	assert.Equal(t, "alice-laptop", aws.ToString(in.SourceIdentity))
	require.Len(t, in.Tags, 1)
	assert.Equal(t, "blue", aws.ToString(in.Tags[0].Value))
}
