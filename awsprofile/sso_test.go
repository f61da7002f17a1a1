package awsprofile_test

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain/awsprofile"
	"github.com/stschain/stschain/ststest"
)

const (
	ssoStartURL = "https://example.awsapps.com/start"
	ssoToken    = "sso-access-token"
)

// ssoConfig is an SSO profile "sso" of each kind (sso_session, legacy
// keys) for role dev of account, and a role profile "deploy" over it.
func ssoConfig(keys string) string {
	return "[profile sso]\n" + keys + `
[sso-session corp]
sso_start_url = ` + ssoStartURL + `
sso_region = us-east-1
[profile deploy]
role_arn = ` + roleARN("deploy") + `
source_profile = sso
`
}

var ssoKinds = []struct {
	name, keys, tokenKey string
}{
	{"sso_session", "sso_session = corp\nsso_account_id = " + account + "\nsso_role_name = dev\n", "corp"},
	{"legacy keys", "sso_start_url = " + ssoStartURL + "\nsso_region = us-east-1\nsso_account_id = " + account + "\nsso_role_name = dev\n", ssoStartURL},
}

// writeSSOToken puts an SSO access token that the portal accepts in
// HOME's cache, under the name the SDK and the AWS CLI look for (the
// SHA-1 of the session name, or of the start URL for the legacy keys),
// expiring at expires.
func (e *env) writeSSOToken(home, key string, expires time.Time) {
	e.portal.AddAccessToken(ssoToken, expires)
	writeSSOTokenFile(e.t, home, key, expires)
}

// writeSSOTokenFile writes ssoToken into home's SSO cache under key.
func writeSSOTokenFile(t *testing.T, home, key string, expires time.Time) {
	sum := sha1.Sum([]byte(key))
	dir := filepath.Join(home, ".aws", "sso", "cache")
	require.NoError(t, os.MkdirAll(dir, 0o700))
	b, err := json.Marshal(map[string]string{
		"accessToken": ssoToken,
		"expiresAt":   expires.UTC().Format(time.RFC3339),
		"region":      "us-east-1",
		"startUrl":    ssoStartURL,
	})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, hex.EncodeToString(sum[:])+".json"), b, 0o600))
}

func ssoRoles() []ststest.Role {
	return []ststest.Role{{ARN: roleARN("dev")}, {ARN: roleARN("deploy"), Trust: []string{roleARN("dev")}}}
}

// An SSO profile is the root, with or without a role above it; its
// GetRoleCredentials goes where the config's endpoints say, here
// AWS_ENDPOINT_URL alone (the SDK's loader sends it to
// portal.sso.<region>.amazonaws.com). Not parallel: the SDK finds the
// token cache through HOME.
func TestSSORoot(t *testing.T) {
	for _, kind := range ssoKinds {
		t.Run(kind.name, func(t *testing.T) {
			e := newEnv(t, ssoRoles()...)
			t.Setenv("HOME", e.dir)
			t.Setenv("AWS_ENDPOINT_URL", e.url)
			e.writeSSOToken(e.dir, kind.tokenKey, time.Now().Add(time.Hour))
			cf, crf := e.files(ssoConfig(kind.keys), "")
			opts := func(o *awsprofile.Options) { o.ConfigFiles, o.CredentialsFiles = []string{cf}, []string{crf} }

			chain, err := awsprofile.LoadChain(context.Background(), "deploy", opts)
			require.NoError(t, err)
			assert.Equal(t, []awsprofile.LinkKind{awsprofile.KindSSO, awsprofile.KindAssumeRole}, kinds(chain))
			assert.Empty(t, e.srv.Calls(), "loading calls nothing")
			for range 2 {
				_, err = chain.Config.Credentials.Retrieve(context.Background())
				require.NoError(t, err)
			}
			assertCalls(t, []call{
				{Action: "GetRoleCredentials", Role: roleARN("dev"), Status: 200},
				{Action: "AssumeRole", Role: roleARN("deploy"), Signer: "issued by #1", Session: "<generated>", Status: 200},
			}, e.srv)

			// The SSO profile alone: its role credentials are the chain's.
			e.srv.ResetCalls()
			alone, err := awsprofile.LoadChain(context.Background(), "sso", opts)
			require.NoError(t, err)
			assert.Equal(t, []awsprofile.LinkKind{awsprofile.KindSSO}, kinds(alone))
			c, err := alone.Config.Credentials.Retrieve(context.Background())
			require.NoError(t, err)
			assert.Equal(t, e.srv.Calls()[0].IssuedAccessKeyID, c.AccessKeyID)
			assert.Equal(t, account, c.AccountID)
		})
	}
}

// A missing or expired SSO token is a LoginRequiredError naming the
// command that fixes it, and no SSO call is made for it.
func TestSSOLoginRequired(t *testing.T) {
	for _, kind := range ssoKinds {
		for _, state := range []string{"missing", "expired", "refused"} {
			t.Run(kind.name+"/"+state, func(t *testing.T) {
				e := newEnv(t, ssoRoles()...)
				t.Setenv("HOME", e.dir)
				switch state {
				case "expired":
					e.writeSSOToken(e.dir, kind.tokenKey, time.Now().Add(-time.Minute))
				case "refused":
					// The cache says the token is good; the portal has
					// revoked it.
					e.writeSSOToken(e.dir, kind.tokenKey, time.Now().Add(time.Hour))
					e.portal.AddAccessToken(ssoToken, time.Now().Add(-time.Minute))
				}
				cfg, err := awsprofile.LoadConfig(context.Background(), "deploy", e.opts(ssoConfig(kind.keys), ""))
				require.NoError(t, err)
				_, err = cfg.Credentials.Retrieve(context.Background())
				require.ErrorIs(t, err, awsprofile.ErrLoginRequired)
				var lr *awsprofile.LoginRequiredError
				require.ErrorAs(t, err, &lr)
				assert.Equal(t, "sso", lr.Profile)
				assert.Equal(t, "aws sso login --profile sso", lr.Command)
				assert.Contains(t, err.Error(), `profile "sso": the SSO session is missing or has expired: run aws sso login --profile sso`)
				wantCalls := 0
				if state == "refused" {
					wantCalls = 1
				}
				assert.Len(t, e.srv.Calls(ststest.Call{Action: "GetRoleCredentials"}), wantCalls)
				assert.Empty(t, e.srv.Calls(ststest.Call{Action: "AssumeRole"}))
			})
		}
	}
}

// Any other failure of the portal is no LoginRequiredError.
func TestSSOOtherFailure(t *testing.T) {
	e := newEnv(t, ststest.Role{ARN: roleARN("deploy")}) // no role dev: the portal refuses it
	t.Setenv("HOME", e.dir)
	e.writeSSOToken(e.dir, "corp", time.Now().Add(time.Hour))
	cfg, err := awsprofile.LoadConfig(context.Background(), "sso", e.opts(ssoConfig(ssoKinds[0].keys), ""))
	require.NoError(t, err)
	_, err = cfg.Credentials.Retrieve(context.Background())
	require.Error(t, err)
	assert.False(t, errors.Is(err, awsprofile.ErrLoginRequired), err.Error())
	assert.Contains(t, err.Error(), `awsprofile: profile "sso": SSO: `)
	assert.Contains(t, err.Error(), "ForbiddenException")
}
