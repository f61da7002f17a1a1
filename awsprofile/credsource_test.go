package awsprofile_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain/awsprofile"
	"github.com/stschain/stschain/ststest"
)

// credsJSON is what the ECS and EC2 credential endpoints answer: bob's
// keys, as if they were a session.
func credsJSON() map[string]string {
	return map[string]string{
		"Code":            "Success",
		"Type":            "AWS-HMAC",
		"AccessKeyId":     bobKey,
		"SecretAccessKey": bobSec,
		"Token":           "",
		"Expiration":      time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
		"LastUpdated":     time.Now().UTC().Format(time.RFC3339),
	}
}

// fakeIMDS answers the IMDSv2 token and the instance role's credentials;
// hits counts the credential fetches.
func fakeIMDS(t testing.TB, hits *atomic.Int32) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		const creds = "/latest/meta-data/iam/security-credentials/"
		switch {
		case r.Method == http.MethodPut && r.URL.Path == "/latest/api/token":
			w.Header().Set("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", r.Header.Get("X-Aws-Ec2-Metadata-Token-Ttl-Seconds"))
			_, _ = w.Write([]byte("imds-token"))
		case r.Header.Get("X-Aws-Ec2-Metadata-Token") != "imds-token":
			http.Error(w, "no token", http.StatusUnauthorized)
		case r.URL.Path == creds:
			_, _ = w.Write([]byte("instance-role"))
		case r.URL.Path == creds+"instance-role":
			hits.Add(1)
			_ = json.NewEncoder(w).Encode(credsJSON())
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// fakeECS answers the container credentials, checking the authorization
// token.
func fakeECS(t testing.TB, token string, hits *atomic.Int32) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/creds" || r.Header.Get("Authorization") != token {
			http.Error(w, "denied", http.StatusForbidden)
			return
		}
		hits.Add(1)
		_ = json.NewEncoder(w).Encode(credsJSON())
	}))
	t.Cleanup(srv.Close)
	return srv
}

// Rule 4: credential_source names the SDK's provider of the root.
// Not parallel: the sources are configured through the environment.
func TestCredentialSource(t *testing.T) {
	for _, tc := range []struct {
		source string
		setup  func(t *testing.T, hits *atomic.Int32)
	}{
		{"Environment", func(t *testing.T, _ *atomic.Int32) {
			t.Setenv("AWS_ACCESS_KEY_ID", bobKey)
			t.Setenv("AWS_SECRET_ACCESS_KEY", bobSec)
		}},
		{"Ec2InstanceMetadata", func(t *testing.T, hits *atomic.Int32) {
			t.Setenv("AWS_EC2_METADATA_DISABLED", "false")
			t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", fakeIMDS(t, hits).URL)
		}},
		{"EcsContainer", func(t *testing.T, hits *atomic.Int32) {
			t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", fakeECS(t, "ecs-token", hits).URL+"/creds")
			t.Setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "ecs-token")
		}},
	} {
		t.Run(tc.source, func(t *testing.T) {
			var hits atomic.Int32
			tc.setup(t, &hits)
			e := newEnv(t, ststest.Role{ARN: roleARN("src")}, ststest.Role{ARN: roleARN("top")})
			opts := e.opts(`
[profile src]
role_arn = `+roleARN("src")+`
credential_source = `+tc.source+`
[profile top]
role_arn = `+roleARN("top")+`
source_profile = src
`, "")
			chain, err := awsprofile.LoadChain(context.Background(), "top", opts)
			require.NoError(t, err)
			assert.Equal(t, []awsprofile.LinkKind{awsprofile.LinkKind(tc.source), awsprofile.KindAssumeRole, awsprofile.KindAssumeRole}, kinds(chain))
			assert.Equal(t, "src", chain.Links[0].Profile)
			assert.Zero(t, hits.Load(), "loading fetches nothing")

			for range 3 {
				_, err = chain.Config.Credentials.Retrieve(context.Background())
				require.NoError(t, err)
			}
			assertCalls(t, []call{
				{Action: "AssumeRole", Role: roleARN("src"), Signer: bobKey, Session: "<generated>", Status: 200},
				{Action: "AssumeRole", Role: roleARN("top"), Signer: "issued by #1", Session: "<generated>", Status: 200},
			}, e.srv)
			if tc.source != "Environment" {
				assert.Equal(t, int32(1), hits.Load(), "the source was asked once")
			}
		})
	}
}

// A credential_source whose source is missing fails at load time, naming
// the profile, before any STS call.
func TestCredentialSourceUnavailable(t *testing.T) {
	for _, source := range []string{"Environment", "EcsContainer"} {
		t.Run(source, func(t *testing.T) {
			e := newEnv(t, ststest.Role{ARN: roleARN("src")})
			opts := e.opts("[profile src]\nrole_arn = "+roleARN("src")+"\ncredential_source = "+source+"\n", "")
			_, err := awsprofile.LoadConfig(context.Background(), "src", opts)
			require.ErrorIs(t, err, awsprofile.ErrInvalidConfig)
			var ce *awsprofile.ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, "src", ce.Profile)
			assert.True(t, strings.HasPrefix(err.Error(), `awsprofile: profile "src": `), err.Error())
			assert.Contains(t, err.Error(), source)
			assert.Zero(t, len(e.srv.Calls()))
		})
	}
}

// Every kind of root is usable without a role: LoadChain returns a chain
// of one link, whose provider hands out the root's credentials. Not
// parallel: the container and the instance are found through the
// environment.
func TestRootsWithoutRole(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, e *env, hits *atomic.Int32) (profile, config string)
		kind  awsprofile.LinkKind
	}{
		{"container", func(t *testing.T, e *env, hits *atomic.Int32) (string, string) {
			t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", fakeECS(t, "ecs-token", hits).URL+"/creds")
			t.Setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "ecs-token")
			return "", "[default]\nregion = us-east-1\n"
		}, awsprofile.KindEcsContainer},
		{"instance", func(t *testing.T, e *env, hits *atomic.Int32) (string, string) {
			t.Setenv("AWS_EC2_METADATA_DISABLED", "false")
			t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", fakeIMDS(t, hits).URL)
			return "plain", "[profile plain]\nregion = us-east-1\n"
		}, awsprofile.KindEc2InstanceMetadata},
		{"environment", func(t *testing.T, e *env, hits *atomic.Int32) (string, string) {
			t.Setenv("AWS_ACCESS_KEY_ID", bobKey)
			t.Setenv("AWS_SECRET_ACCESS_KEY", bobSec)
			hits.Add(1)
			return "", ""
		}, awsprofile.KindEnvironment},
		{"credential_process session", func(t *testing.T, e *env, hits *atomic.Int32) (string, string) {
			hits.Add(1)
			return "proc", "[profile proc]\ncredential_process = " + e.countingProcess("") + "\n"
		}, awsprofile.KindProcess},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hits atomic.Int32
			e := newEnv(t)
			profile, config := tc.setup(t, e, &hits)
			chain, err := awsprofile.LoadChain(context.Background(), profile, e.opts(config, ""))
			require.NoError(t, err)
			require.Equal(t, []awsprofile.LinkKind{tc.kind}, kinds(chain))
			if tc.kind == awsprofile.KindProcess {
				assert.Equal(t, profile, chain.Links[0].Profile)
			} else {
				assert.Empty(t, chain.Links[0].Profile, "no profile names the root")
			}
			assert.Nil(t, chain.Top())
			c, err := chain.Config.Credentials.Retrieve(context.Background())
			require.NoError(t, err)
			assert.True(t, c.HasKeys())
			assert.Equal(t, int32(1), hits.Load())
			// The credentials work.
			_, err = sts.NewFromConfig(chain.Config, func(o *sts.Options) { o.Region = "us-east-1" }).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
			require.NoError(t, err)
		})
	}
}
