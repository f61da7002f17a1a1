package awsprofile_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain/awsprofile"
	"github.com/stschain/stschain/ststest"
)

const webConfig = `
[profile web]
role_arn = arn:aws:iam::123456789012:role/web
web_identity_token_file = {{dir}}/token
role_session_name = pod
[profile app]
role_arn = arn:aws:iam::123456789012:role/app
source_profile = web
`

func webRoles() []ststest.Role {
	return []ststest.Role{{ARN: roleARN("web"), Trust: []string{webProviderARN}}, {ARN: roleARN("app"), Trust: []string{roleARN("web")}}}
}

// Rule 5: web_identity_token_file + role_arn is the root
// (AssumeRoleWithWebIdentity), and the source of more roles.
func TestWebIdentityRoot(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, envOptions{web: true}, webRoles()...)
	opts := e.opts(webConfig, "")
	chain, err := awsprofile.LoadChain(context.Background(), "app", opts)
	require.NoError(t, err)
	assert.Equal(t, []awsprofile.Link{
		{Kind: awsprofile.KindWebIdentity, Profile: "web", RoleARN: roleARN("web"), Provider: chain.Links[0].Provider},
		{Kind: awsprofile.KindAssumeRole, Profile: "app", RoleARN: roleARN("app"), Provider: chain.Top()},
	}, chain.Links)
	assert.IsType(t, (*aws.CredentialsCache)(nil), chain.Links[0].Provider)
	for range 3 {
		_, err = chain.Config.Credentials.Retrieve(context.Background())
		require.NoError(t, err)
	}
	assertCalls(t, []call{
		{Action: "AssumeRoleWithWebIdentity", Role: roleARN("web"), Session: "pod", Status: 200},
		{Action: "AssumeRole", Role: roleARN("app"), Signer: "issued by #1", Session: "<generated>", Status: 200},
	}, e.srv)
	assert.Equal(t, webSubject, e.srv.Calls()[0].WebIdentitySubject)

	// The web identity profile alone: the SDK's provider, in its cache.
	alone, err := awsprofile.LoadChain(context.Background(), "web", opts)
	require.NoError(t, err)
	assert.Equal(t, []awsprofile.LinkKind{awsprofile.KindWebIdentity}, kinds(alone))
	assert.Nil(t, alone.Top())
	c, err := alone.Config.Credentials.Retrieve(context.Background())
	require.NoError(t, err)
	assert.Equal(t, e.srv.Calls(ststest.Call{Action: "AssumeRoleWithWebIdentity"})[1].IssuedAccessKeyID, c.AccessKeyID)
}

// The web identity root's STS call goes where the config's others go,
// also when only AWS_ENDPOINT_URL says where (the SDK's own loader builds
// that client before it reads AWS_ENDPOINT_URL). Not parallel: it sets
// the environment.
func TestWebIdentityEndpoint(t *testing.T) {
	e := newEnvWith(t, envOptions{web: true}, webRoles()...)
	t.Setenv("AWS_ENDPOINT_URL", e.srv.URL)
	cf, crf := e.files(webConfig, "")
	for _, profile := range []string{"web", "app"} {
		cfg, err := awsprofile.LoadConfig(context.Background(), profile, func(o *awsprofile.Options) {
			o.ConfigFiles, o.CredentialsFiles = []string{cf}, []string{crf}
		})
		require.NoError(t, err)
		_, err = cfg.Credentials.Retrieve(context.Background())
		require.NoError(t, err, profile)
	}
	assert.Equal(t, []string{"AssumeRoleWithWebIdentity", "AssumeRoleWithWebIdentity", "AssumeRole"}, actions(e.srv))
}

// With no profile named, a web identity in the environment (EKS IRSA,
// CI) comes before AWS_PROFILE, as in the SDK. Not parallel: it sets the
// environment.
func TestWebIdentityFromEnvironment(t *testing.T) {
	e := newEnvWith(t, envOptions{web: true}, webRoles()...)
	t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", filepath.Join(e.dir, "token"))
	t.Setenv("AWS_ROLE_ARN", roleARN("web"))
	t.Setenv("AWS_ROLE_SESSION_NAME", "irsa")
	chain, err := awsprofile.LoadChain(context.Background(), "", e.opts("[default]\nregion = us-east-1\n", ""))
	require.NoError(t, err)
	assert.Equal(t, []awsprofile.LinkKind{awsprofile.KindWebIdentity}, kinds(chain))
	_, err = chain.Config.Credentials.Retrieve(context.Background())
	require.NoError(t, err)
	assertCalls(t, []call{{Action: "AssumeRoleWithWebIdentity", Role: roleARN("web"), Session: "irsa", Status: 200}}, e.srv)
}

// Plain http to a host that is not loopback would send the web identity
// token and the keys STS answers in clear: the clients awsprofile builds
// refuse it before sending anything, and a role link refuses the endpoint
// when the chain is loaded.
func TestPlainHTTPEndpointRefused(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, envOptions{web: true}, webRoles()...)
	opts := e.opts(webConfig, "", func(o *awsprofile.Options) {
		o.LoadOptions = append(o.LoadOptions, config.WithBaseEndpoint("http://sts.example.com"))
	})
	_, err := awsprofile.LoadChain(context.Background(), "app", opts)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "cfg.BaseEndpoint http://sts.example.com uses plain http to a host that is not this one")

	alone, err := awsprofile.LoadChain(context.Background(), "web", opts)
	require.NoError(t, err)
	_, err = alone.Config.Credentials.Retrieve(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the resolved STS endpoint http://sts.example.com uses plain http to a host that is not this one")
	assert.Empty(t, e.srv.Calls(), "nothing was sent")
}
