//go:build unix

package main

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain/ststest"
)

// The roots whose credentials are temporary without a role of stschain's.
const (
	roleWeb        = "arn:aws:iam::123456789012:role/Web"
	webToken       = "eyJhbGciOiJSUzI1NiJ9.pod-token.signature"
	webProvider    = "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE"
	webSessionName = "pod"
	ssoStartURL    = "https://example.awsapps.com/start"
	ssoAccessToken = "sso-access-token"
	ssoSessionName = "sso-user" // ststest.Portal's session name
)

// rootServers starts a fake STS knowing the web identity token and role
// Web besides the usual users and roles, its roles' sessions lasting
// lifetime (0: as asked), with the SSO portal in front of it, whose URL
// reaches both. The portal takes ssoAccessToken for an hour.
func rootServers(t *testing.T, lifetime time.Duration) (*ststest.Server, *ststest.Portal, string) {
	t.Helper()
	srv, _ := newServer(t, func(c *ststest.Config) {
		c.WebIdentityTokens = []ststest.WebIdentityToken{{Token: webToken, Provider: webProvider, Subject: "system:serviceaccount:default:app"}}
		c.Roles = append(c.Roles, ststest.Role{ARN: roleWeb, Trust: []string{"arn:aws:iam::" + acct + ":oidc-provider/" + webProvider}})
		for i := range c.Roles {
			c.Roles[i].Lifetime = lifetime
		}
	})
	portal := ststest.NewPortal(srv)
	portal.AddAccessToken(ssoAccessToken, time.Now().Add(time.Hour))
	hs := httptest.NewServer(portal)
	t.Cleanup(hs.Close)
	return srv, portal, hs.URL
}

// rootsConfig is the config of the three roots, for a HOME of h:
//   - sso: role A of the SSO portal;
//   - proc: a credential_process printing h.dir/session.json, a session of
//     alice's, and counting its runs in h.dir/runs;
//   - web: web identity, role Web, with the token in h.dir/web-token;
func rootsConfig(h testHome) string {
	return "[profile sso]\nsso_session = corp\nsso_account_id = " + acct + "\nsso_role_name = A\nregion = us-east-1\n\n" +
		"[sso-session corp]\nsso_start_url = " + ssoStartURL + "\nsso_region = us-east-1\n\n" +
		"[profile proc]\ncredential_process = " + filepath.Join(h.dir, "proc") + "\nregion = us-east-1\n\n" +
		"[profile web]\nrole_arn = " + roleWeb + "\nweb_identity_token_file = " + filepath.Join(h.dir, "web-token") +
		"\nrole_session_name = " + webSessionName + "\nregion = us-east-1\n"
}

// writeRoots writes, in h, the config of rootsConfig, the SSO token cache
// entry, the web identity token, and the credential_process with its
// session: a GetSessionToken session of alice's from srv, or with
// longTerm alice's keys themselves. It resets srv's calls.
func writeRoots(t *testing.T, h testHome, srv *ststest.Server, longTerm bool) {
	t.Helper()
	require.NoError(t, os.WriteFile(h.config, []byte(rootsConfig(h)), 0o600))

	sum := sha1.Sum([]byte("corp"))
	cacheDir := filepath.Join(h.dir, ".aws", "sso", "cache")
	require.NoError(t, os.MkdirAll(cacheDir, 0o700))
	token, err := json.Marshal(map[string]string{
		"accessToken": ssoAccessToken, "expiresAt": time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
		"region": "us-east-1", "startUrl": ssoStartURL,
	})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(cacheDir, hex.EncodeToString(sum[:])+".json"), token, 0o600))

	require.NoError(t, os.WriteFile(filepath.Join(h.dir, "web-token"), []byte(webToken), 0o600))

	out := map[string]any{"Version": 1, "AccessKeyId": userKey, "SecretAccessKey": userSecret}
	if !longTerm {
		s, err := sts.NewFromConfig(srv.AWSConfig(userName)).GetSessionToken(t.Context(), &sts.GetSessionTokenInput{})
		require.NoError(t, err)
		c := s.Credentials
		out = map[string]any{"Version": 1, "AccessKeyId": aws.ToString(c.AccessKeyId), "SecretAccessKey": aws.ToString(c.SecretAccessKey),
			"SessionToken": aws.ToString(c.SessionToken), "Expiration": aws.ToTime(c.Expiration).UTC().Format(time.RFC3339)}
	}
	session, err := json.Marshal(out)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(h.dir, "session.json"), session, 0o600))
	script := "#!/bin/sh\necho run >> '" + filepath.Join(h.dir, "runs") + "'\ncat '" + filepath.Join(h.dir, "session.json") + "'\n"
	require.NoError(t, os.WriteFile(filepath.Join(h.dir, "proc"), []byte(script), 0o700))
	srv.ResetCalls()
}

// processRuns is how many times the credential_process of writeRoots ran.
func processRuns(t *testing.T, h testHome) int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(h.dir, "runs"))
	if os.IsNotExist(err) {
		return 0
	}
	require.NoError(t, err)
	return strings.Count(string(data), "run\n")
}

// identityLines parses the output of childIdentity.
func identityLines(t *testing.T, out string) (key, arn string) {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		k, v, _ := strings.Cut(line, " ")
		switch k {
		case "key":
			key = v
		case "arn":
			arn = v
		default:
			t.Errorf("the child: %q", line)
		}
	}
	return key, arn
}

// actions lists the actions of srv's calls, in order.
func actions(srv *ststest.Server) []string {
	var out []string
	for _, c := range srv.Calls() {
		out = append(out, c.Action)
	}
	return out
}

// TestRootsWithoutRole runs every verb on a profile whose credentials are
// temporary already, without a role on top: an SSO profile, a
// credential_process printing a session and a web identity profile. Each
// hands out the root's credentials as the AWS CLI uses them, with no
// GetSessionToken and no AssumeRole of stschain's; exec --server serves
// them to a Go child.
func TestRootsWithoutRole(t *testing.T) {
	srv, _, url := rootServers(t, 0)
	roots := []struct {
		profile, arn string
		calls        []string // the root's calls to make its credentials
	}{
		{"sso", srv.AssumedRoleARN(roleA, ssoSessionName), []string{"GetRoleCredentials"}},
		{"proc", userARN, nil},
		{"web", srv.AssumedRoleARN(roleWeb, webSessionName), []string{"AssumeRoleWithWebIdentity"}},
	}
	verbs := []struct {
		name string
		args []string
		// arn returns the ARN of the credentials the run handed out, from
		// its output; child runs the identity child.
		arn   func(t *testing.T, out string) string
		child bool
	}{
		{"credential-process", []string{"credential-process"}, func(t *testing.T, out string) string {
			return callerARN(t, srv, decodeOutput(t, out))
		}, false},
		{"export", []string{"export", "--format", "env"}, func(t *testing.T, out string) string {
			vars := map[string]string{}
			for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
				k, v, _ := strings.Cut(strings.TrimPrefix(line, "export "), "=")
				vars[k] = v
			}
			return callerARN(t, srv, processCredentials{AccessKeyID: vars["AWS_ACCESS_KEY_ID"],
				SecretAccessKey: vars["AWS_SECRET_ACCESS_KEY"], SessionToken: vars["AWS_SESSION_TOKEN"]})
		}, false},
		{"exec", []string{"exec"}, nil, true},
		{"exec --server", []string{"exec", "--server"}, nil, true},
	}
	for _, root := range roots {
		for _, verb := range verbs {
			t.Run(root.profile+"/"+verb.name, func(t *testing.T) {
				h := isolateEnv(t)
				writeRoots(t, h, srv, false)
				t.Setenv("AWS_ENDPOINT_URL", url)
				args := append(append([]string(nil), verb.args...), "--profile", root.profile, "--cache-dir", h.cache)
				var arn string
				if verb.child {
					t.Setenv(testChildEnv, childIdentity)
					r := runInProcess(t, append(args, "--", os.Args[0])...)
					require.Equal(t, exitOK, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
					_, arn = identityLines(t, r.stdout)
				} else {
					r := runInProcess(t, args...)
					require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
					assert.Empty(t, r.stderr)
					arn = verb.arn(t, r.stdout)
				}
				assert.Equal(t, root.arn, arn)
				assert.Equal(t, append(root.calls, "GetCallerIdentity"), actions(srv), "the calls in order")
				if root.profile == "proc" {
					assert.Equal(t, 1, processRuns(t, h), "the credential_process ran once")
				}
			})
		}
	}
}

// TestSessionDurationNeedsLongTermKeys: GetSessionToken takes an IAM
// user's keys only; asked for on a root that hands out sessions, it is a
// usage error naming the root, before any call. On a credential_process
// printing long-term keys it works.
func TestSessionDurationNeedsLongTermKeys(t *testing.T) {
	srv, _, url := rootServers(t, 0)
	for _, tc := range []struct {
		profile, flag, kind string
		args                []string
	}{
		{"sso", "--session-duration", "IAM Identity Center (SSO) role credentials", []string{"--session-duration", "1h"}},
		{"proc", "--session-duration", "the session its credential_process prints", []string{"--session-duration", "1h"}},
		{"web", "--session-duration", "", []string{"--session-duration", "1h"}},
		{"sso", "--mfa-serial", "IAM Identity Center (SSO) role credentials", []string{"--mfa-serial", "arn:aws:iam::123456789012:mfa/alice"}},
	} {
		t.Run(tc.profile+"/"+tc.flag, func(t *testing.T) {
			h := isolateEnv(t)
			writeRoots(t, h, srv, false)
			t.Setenv("AWS_ENDPOINT_URL", url)
			r := runInProcess(t, append([]string{"credential-process", "--profile", tc.profile, "--cache-dir", h.cache}, tc.args...)...)
			assert.Equal(t, exitUsage, r.code, "stderr: %s", r.stderr)
			assert.Empty(t, r.stdout)
			assert.Contains(t, r.stderr, tc.flag)
			assert.Contains(t, r.stderr, "long-term keys")
			assert.Contains(t, r.stderr, tc.kind)
			assert.Empty(t, srv.Calls())
		})
	}

	t.Run("long-term keys from credential_process", func(t *testing.T) {
		h := isolateEnv(t)
		writeRoots(t, h, srv, true)
		t.Setenv("AWS_ENDPOINT_URL", url)
		r := runInProcess(t, "credential-process", "--profile", "proc", "--session-duration", "1h", "--cache-dir", h.cache)
		require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
		pc := decodeOutput(t, r.stdout)
		calls := srv.Calls()
		require.Len(t, calls, 1)
		assert.Equal(t, "GetSessionToken", calls[0].Action)
		assert.Equal(t, userKey, calls[0].CallerAccessKeyID)
		assert.Equal(t, 3600, calls[0].DurationSeconds)
		assert.Equal(t, calls[0].IssuedAccessKeyID, pc.AccessKeyID)
		assert.Equal(t, 1, processRuns(t, h), "the process ran once, for both the check and the keys")
	})
}

// TestLoginRequired: an SSO profile without a token, or an aws login
// profile without a session, fails with exit 1 and says what to run, with
// and without a role on top; nothing is run.
func TestLoginRequired(t *testing.T) {
	srv, _, url := rootServers(t, 0)
	for _, tc := range []struct {
		profile, want string
	}{
		{"sso", "aws sso login --profile sso"},
		{"over-sso", "aws sso login --profile sso"},
		{"console", "aws login --profile console"},
	} {
		t.Run(tc.profile, func(t *testing.T) {
			h := isolateEnv(t)
			writeRoots(t, h, srv, false)
			require.NoError(t, os.RemoveAll(filepath.Join(h.dir, ".aws", "sso")))
			config := rootsConfig(h) + "\n[profile over-sso]\nrole_arn = " + roleB + "\nsource_profile = sso\n" +
				"\n[profile console]\nlogin_session = " + userARN + "\nregion = us-east-1\n"
			require.NoError(t, os.WriteFile(h.config, []byte(config), 0o600))
			t.Setenv("AWS_ENDPOINT_URL", url)
			marker := filepath.Join(h.dir, "ran")
			for _, args := range [][]string{
				{"credential-process"},
				{"exec", "--server", "--", "touch", marker},
			} {
				r := runInProcess(t, append(args[:1:1], append([]string{"--profile", tc.profile, "--cache-dir", h.cache}, args[1:]...)...)...)
				assert.Equal(t, exitError, r.code, "stderr: %s", r.stderr)
				assert.Empty(t, r.stdout)
				assert.True(t, strings.HasPrefix(r.stderr, "stschain "+args[0]+": awsprofile: profile "), r.stderr)
				assert.True(t, strings.HasSuffix(r.stderr, ": run "+tc.want+"\n"), "the line ends with what to run: %q", r.stderr)
				assert.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %q", r.stderr)
				assert.NoFileExists(t, marker)
			}
			assert.Empty(t, srv.Calls(), "no call without a session")
		})
	}
}
