package awsprofile_test

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
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

// fakeSSO answers the SSO portal's GetRoleCredentials for account and
// role dev with bob's keys.
func fakeSSO(t *testing.T, hits *atomic.Int32) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.URL.Path != "/federation/credentials" || q.Get("account_id") != account || q.Get("role_name") != "dev" ||
			r.Header.Get("X-Amz-Sso_bearer_token") != ssoToken {
			http.Error(w, `{"message":"denied"}`, http.StatusForbidden)
			return
		}
		hits.Add(1)
		_ = json.NewEncoder(w).Encode(map[string]any{"roleCredentials": map[string]any{
			"accessKeyId": bobKey, "secretAccessKey": bobSec, "sessionToken": "",
			"expiration": time.Now().Add(time.Hour).UnixMilli(),
		}})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// writeSSOToken puts a valid SSO access token in HOME's cache, under the
// name the SDK looks for (the SHA-1 of the session name, or of the start
// URL for the legacy keys).
func writeSSOToken(t *testing.T, home, key string) {
	sum := sha1.Sum([]byte(key))
	dir := filepath.Join(home, ".aws", "sso", "cache")
	require.NoError(t, os.MkdirAll(dir, 0o700))
	b, err := json.Marshal(map[string]string{
		"accessToken": ssoToken,
		"expiresAt":   time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
		"region":      "us-east-1",
		"startUrl":    ssoStartURL,
	})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, hex.EncodeToString(sum[:])+".json"), b, 0o600))
}

// Rule 6: an SSO profile is the root, with the SDK's provider. Not
// parallel: the SDK finds the token cache through HOME.
func TestSSORoot(t *testing.T) {
	for _, tc := range []struct {
		name, keys, tokenKey string
	}{
		{"sso_session", "sso_session = corp\nsso_account_id = " + account + "\nsso_role_name = dev\n", "corp"},
		{"legacy keys", "sso_start_url = " + ssoStartURL + "\nsso_region = us-east-1\nsso_account_id = " + account + "\nsso_role_name = dev\n", ssoStartURL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hits atomic.Int32
			portal := fakeSSO(t, &hits)
			e := newEnv(t, ststest.Role{ARN: roleARN("deploy")})
			t.Setenv("HOME", e.dir)
			writeSSOToken(t, e.dir, tc.tokenKey)
			cf, crf := e.files(`
[profile sso]
`+tc.keys+`services = local
[sso-session corp]
sso_start_url = `+ssoStartURL+`
sso_region = us-east-1
[services local]
sso =
  endpoint_url = `+portal.URL+`
sts =
  endpoint_url = {{url}}
[profile deploy]
role_arn = `+roleARN("deploy")+`
source_profile = sso
services = local
`, "")
			// The endpoints come from the services section alone: the
			// SDK's SSO client would take a global endpoint for its own.
			opts := func(o *awsprofile.Options) { o.ConfigFiles, o.CredentialsFiles = []string{cf}, []string{crf} }
			chain, err := awsprofile.LoadChain(context.Background(), "deploy", opts)
			require.NoError(t, err)
			assert.Equal(t, []awsprofile.LinkKind{awsprofile.KindSSO, awsprofile.KindAssumeRole}, kinds(chain))
			assert.Zero(t, hits.Load())
			for range 2 {
				_, err = chain.Config.Credentials.Retrieve(context.Background())
				require.NoError(t, err)
			}
			assert.Equal(t, int32(1), hits.Load())
			assertCalls(t, []call{{Action: "AssumeRole", Role: roleARN("deploy"), Signer: bobKey, Session: "<generated>", Status: 200}}, e.srv)
		})
	}
}
