package awsprofile_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain"
	"github.com/stschain/stschain/awsprofile"
	"github.com/stschain/stschain/ststest"
)

const aliceCredentials = "[alice]\naws_access_key_id = " + aliceKey + "\naws_secret_access_key = " + aliceSec + "\n"

// Rule 1: role_arn + source_profile, to any depth; each role is assumed
// with the session of the one below.
func TestSourceProfilesChain(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ststest.Role{ARN: roleARN("r1")}, ststest.Role{ARN: roleARN("r2")}, ststest.Role{ARN: roleARN("r3")})
	opts := e.opts(`
[profile r1]
role_arn = `+roleARN("r1")+`
source_profile = alice
[profile r2]
role_arn = `+roleARN("r2")+`
source_profile = r1
[profile r3]
role_arn = `+roleARN("r3")+`
source_profile = r2
role_session_name = top
`, aliceCredentials)
	chain, err := awsprofile.LoadChain(context.Background(), "r3", opts)
	require.NoError(t, err)
	assert.Equal(t, []awsprofile.LinkKind{awsprofile.KindStatic, awsprofile.KindAssumeRole, awsprofile.KindAssumeRole, awsprofile.KindAssumeRole}, kinds(chain))
	assert.Equal(t, "r3", chain.Profile)
	assert.Equal(t, "static (profile alice) -> AssumeRole "+roleARN("r1")+" (profile r1) -> AssumeRole "+roleARN("r2")+" (profile r2) -> AssumeRole "+roleARN("r3")+" (profile r3)", chain.String())
	require.NotNil(t, chain.Top())
	assert.Same(t, chain.Top(), chain.Config.Credentials, "the top ChainableProvider itself, not in a cache")
	assert.Zero(t, e.srv.CountCalls(""), "loading makes no STS call")

	creds, err := chain.Config.Credentials.Retrieve(context.Background())
	require.NoError(t, err)
	assert.Equal(t, stschain.ProviderName, creds.Source)
	assertCalls(t, []call{
		{Action: "AssumeRole", Role: roleARN("r1"), Signer: aliceKey, Session: "<generated>", Status: 200},
		{Action: "AssumeRole", Role: roleARN("r2"), Signer: "issued by #1", Session: "<generated>", Status: 200},
		{Action: "AssumeRole", Role: roleARN("r3"), Signer: "issued by #2", Session: "top", Status: 200},
	}, e.srv)
	assert.Equal(t, e.srv.CallsFor("AssumeRole")[2].IssuedAccessKeyID, creds.AccessKeyID)
}

// Rule 2: static keys end the chain when a profile is reached as a source,
// even if it has role_arn + source_profile too; on the selected profile,
// role_arn + source_profile win over its keys.
func TestStaticKeysEndTheChain(t *testing.T) {
	t.Parallel()
	config := `
[profile mid]
aws_access_key_id = ` + bobKey + `
aws_secret_access_key = ` + bobSec + `
role_arn = ` + roleARN("never") + `
source_profile = alice
[profile top]
role_arn = ` + roleARN("top") + `
source_profile = mid
aws_access_key_id = AKIANOTUSED000000001
aws_secret_access_key = not-used
`
	for _, tc := range []struct {
		name, profile string
		want          []call
		kinds         []awsprofile.LinkKind
	}{
		{"source profile with keys and a role", "top", []call{
			{Action: "AssumeRole", Role: roleARN("top"), Signer: bobKey, Session: "<generated>", Status: 200},
		}, []awsprofile.LinkKind{awsprofile.KindStatic, awsprofile.KindAssumeRole}},
		{"selected profile with keys and a role", "mid", []call{
			{Action: "AssumeRole", Role: roleARN("never"), Signer: aliceKey, Session: "<generated>", Status: 200},
		}, []awsprofile.LinkKind{awsprofile.KindStatic, awsprofile.KindAssumeRole}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, ststest.Role{ARN: roleARN("top")}, ststest.Role{ARN: roleARN("never")})
			chain, err := awsprofile.LoadChain(context.Background(), tc.profile, e.opts(config, aliceCredentials))
			require.NoError(t, err)
			assert.Equal(t, tc.kinds, kinds(chain))
			_, err = chain.Config.Credentials.Retrieve(context.Background())
			require.NoError(t, err)
			assertCalls(t, tc.want, e.srv)
		})
	}
}

// Rule 3: a profile that is its own source_profile assumes its role with
// its own keys.
func TestProfileIsItsOwnSource(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ststest.Role{ARN: roleARN("self")})
	opts := e.opts(`
[profile self]
role_arn = `+roleARN("self")+`
source_profile = self
aws_access_key_id = `+bobKey+`
aws_secret_access_key = `+bobSec+`
`, "")
	chain, err := awsprofile.LoadChain(context.Background(), "self", opts)
	require.NoError(t, err)
	assert.Equal(t, []awsprofile.Link{
		{Kind: awsprofile.KindStatic, Profile: "self", Provider: chain.Links[0].Provider},
		{Kind: awsprofile.KindAssumeRole, Profile: "self", RoleARN: roleARN("self"), Provider: chain.Top()},
	}, chain.Links)
	_, err = chain.Config.Credentials.Retrieve(context.Background())
	require.NoError(t, err)
	assertCalls(t, []call{{Action: "AssumeRole", Role: roleARN("self"), Signer: bobKey, Session: "<generated>", Status: 200}}, e.srv)
}

// Rule 6: credential_process is the root; so is SSO (see sso_test.go).
func TestCredentialProcessRoot(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ststest.Role{ARN: roleARN("deploy")})
	opts := e.opts(`
[profile proc]
credential_process = printf '{"Version":1,"AccessKeyId":"`+bobKey+`","SecretAccessKey":"`+bobSec+`"}'
[profile deploy]
role_arn = `+roleARN("deploy")+`
source_profile = proc
`, "")
	chain, err := awsprofile.LoadChain(context.Background(), "deploy", opts)
	require.NoError(t, err)
	assert.Equal(t, []awsprofile.LinkKind{awsprofile.KindProcess, awsprofile.KindAssumeRole}, kinds(chain))
	assert.IsType(t, (*aws.CredentialsCache)(nil), chain.Links[0].Provider, "the SDK's process provider, cached as the SDK caches it")
	_, err = chain.Config.Credentials.Retrieve(context.Background())
	require.NoError(t, err)
	assertCalls(t, []call{{Action: "AssumeRole", Role: roleARN("deploy"), Signer: bobKey, Session: "<generated>", Status: 200}}, e.srv)

	// The process profile alone is the SDK's provider as it is.
	alone, err := awsprofile.LoadChain(context.Background(), "proc", opts)
	require.NoError(t, err)
	assert.Equal(t, []awsprofile.LinkKind{awsprofile.KindProcess}, kinds(alone))
	assert.Nil(t, alone.Top())
	c, err := alone.Config.Credentials.Retrieve(context.Background())
	require.NoError(t, err)
	assert.Equal(t, bobKey, c.AccessKeyID)
}
