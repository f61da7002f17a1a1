package awsprofile_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain/awsprofile"
	"github.com/stschain/stschain/ststest"
)

const loginConfig = `
[profile console]
login_session = arn:aws:iam::123456789012:user/alice
[profile deploy]
role_arn = arn:aws:iam::123456789012:role/deploy
source_profile = console
`

// writeLoginToken writes the login cache that aws login leaves in dir for
// the session of loginConfig: an access token of a session of role dev
// (expired when expired is set), and a refresh token the sign-in service
// takes for another.
func (e *env) writeLoginToken(dir string, expired bool) {
	t := e.t
	out, err := sts.NewFromConfig(e.srv.AWSConfig("alice")).AssumeRole(context.Background(), &sts.AssumeRoleInput{RoleArn: aws.String(roleARN("dev")), RoleSessionName: aws.String("login")})
	require.NoError(t, err)
	e.srv.ResetCalls()
	e.portal.AddRefreshToken("refresh-1", roleARN("dev"))
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	expires := aws.ToTime(out.Credentials.Expiration)
	if expired {
		expires = time.Now().Add(-time.Minute)
	}
	b, err := json.Marshal(map[string]any{
		"accessToken": map[string]string{
			"accessKeyId":     aws.ToString(out.Credentials.AccessKeyId),
			"secretAccessKey": aws.ToString(out.Credentials.SecretAccessKey),
			"sessionToken":    aws.ToString(out.Credentials.SessionToken),
			"accountId":       account,
			"expiresAt":       expires.UTC().Format(time.RFC3339),
		},
		"tokenType":     "aws_sigv4",
		"refreshToken":  "refresh-1",
		"identityToken": "id",
		"clientId":      "arn:aws:signin:::devtools/same-device",
		"dpopKey":       string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})),
	})
	require.NoError(t, err)
	sum := sha256.Sum256([]byte("arn:aws:iam::123456789012:user/alice"))
	require.NoError(t, os.MkdirAll(dir, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, hex.EncodeToString(sum[:])+".json"), b, 0o600))
}

func loginRoles() []ststest.Role {
	return []ststest.Role{{ARN: roleARN("dev")}, {ARN: roleARN("deploy"), Trust: []string{roleARN("dev")}}}
}

// A login_session profile (aws login) is a root, alone and as the source
// of a role; an expired access token is refreshed at the sign-in service
// the config's endpoint names. Not parallel: it sets the environment.
func TestLoginSessionRoot(t *testing.T) {
	for _, expired := range []bool{false, true} {
		t.Run(map[bool]string{false: "fresh", true: "refreshed"}[expired], func(t *testing.T) {
			e := newEnv(t, loginRoles()...)
			cache := filepath.Join(e.dir, "login")
			t.Setenv("AWS_LOGIN_CACHE_DIRECTORY", cache)
			t.Setenv("AWS_ENDPOINT_URL", e.url)
			e.writeLoginToken(cache, expired)
			cf, crf := e.files(loginConfig, "")
			opts := func(o *awsprofile.Options) { o.ConfigFiles, o.CredentialsFiles = []string{cf}, []string{crf} }

			chain, err := awsprofile.LoadChain(context.Background(), "deploy", opts)
			require.NoError(t, err)
			assert.Equal(t, []awsprofile.LinkKind{awsprofile.KindLogin, awsprofile.KindAssumeRole}, kinds(chain))
			_, err = chain.Config.Credentials.Retrieve(context.Background())
			require.NoError(t, err)
			want := []call{{Action: "AssumeRole", Role: roleARN("deploy"), Signer: "issued by #0", Session: "<generated>", Status: 200}}
			if expired {
				want = []call{
					{Action: "CreateOAuth2Token", Role: roleARN("dev"), Status: 200},
					{Action: "AssumeRole", Role: roleARN("deploy"), Signer: "issued by #1", Session: "<generated>", Status: 200},
				}
			}
			got := calls(e.srv)
			if !expired {
				// The session of the login cache, issued before the calls
				// were reset.
				require.Len(t, got, 1)
				got[0].Signer = "issued by #0"
			}
			assert.Equal(t, want, got)

			alone, err := awsprofile.LoadChain(context.Background(), "console", opts)
			require.NoError(t, err)
			assert.Equal(t, []awsprofile.LinkKind{awsprofile.KindLogin}, kinds(alone))
			c, err := alone.Config.Credentials.Retrieve(context.Background())
			require.NoError(t, err)
			assert.Equal(t, account, c.AccountID)
		})
	}
}

// A missing login session, or one the sign-in service refuses, is a
// LoginRequiredError naming aws login.
func TestLoginSessionRequired(t *testing.T) {
	for _, state := range []string{"missing", "refused"} {
		t.Run(state, func(t *testing.T) {
			e := newEnv(t, loginRoles()...)
			cache := filepath.Join(e.dir, "login")
			t.Setenv("AWS_LOGIN_CACHE_DIRECTORY", cache)
			if state == "refused" {
				e.writeLoginToken(cache, true)
				e.portal.AddRefreshToken("refresh-1", "") // spent
			}
			cfg, err := awsprofile.LoadConfig(context.Background(), "deploy", e.opts(loginConfig, ""))
			require.NoError(t, err)
			_, err = cfg.Credentials.Retrieve(context.Background())
			require.ErrorIs(t, err, awsprofile.ErrLoginRequired)
			var lr *awsprofile.LoginRequiredError
			require.ErrorAs(t, err, &lr)
			assert.Equal(t, "aws login --profile console", lr.Command)
			assert.Contains(t, err.Error(), `awsprofile: profile "console": the login session is missing or has expired: run aws login --profile console`)
			assert.Empty(t, e.srv.Calls(ststest.Call{Action: "AssumeRole"}))
		})
	}
}
