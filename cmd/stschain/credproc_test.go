package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain/ststest"
)

func testCreds() aws.Credentials {
	return aws.Credentials{
		AccessKeyID: "ASIAEXAMPLE", SecretAccessKey: "secret", SessionToken: "token",
		CanExpire: true, Expires: time.Date(2030, 1, 2, 3, 4, 5, 600, time.UTC),
		AccountID: acct,
	}
}

// decodeOutput checks that out is exactly one credential_process JSON
// object with the version 1 keys (AccountId being optional), and returns
// it.
func decodeOutput(t *testing.T, out string) processCredentials {
	t.Helper()
	require.True(t, strings.HasSuffix(out, "}\n"), "output %q", out)
	var raw map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &raw))
	want := []string{"Version", "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"}
	if _, ok := raw["AccountId"]; ok {
		want = append(want, "AccountId")
	}
	assert.ElementsMatch(t, want, keys(raw))
	assert.Equal(t, float64(1), raw["Version"], "Version is the number 1")
	var pc processCredentials
	require.NoError(t, json.Unmarshal([]byte(out), &pc))
	assert.Equal(t, 1, pc.Version)
	assert.True(t, strings.HasPrefix(pc.AccessKeyID, "ASIA"), pc.AccessKeyID)
	assert.NotEmpty(t, pc.SecretAccessKey)
	assert.NotEmpty(t, pc.SessionToken)
	exp, err := time.Parse(expirationLayout, pc.Expiration)
	require.NoError(t, err, "Expiration %q", pc.Expiration)
	assert.Equal(t, exp.Format(time.RFC3339), pc.Expiration, "RFC 3339 in UTC")
	assert.True(t, exp.After(time.Now()), "Expiration %q is past", pc.Expiration)
	return pc
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// callerARN asks srv who pc is.
func callerARN(t *testing.T, srv *ststest.Server, pc processCredentials) string {
	t.Helper()
	cfg := srv.AWSConfig(userName)
	cfg.Credentials = credentials.NewStaticCredentialsProvider(pc.AccessKeyID, pc.SecretAccessKey, pc.SessionToken)
	out, err := sts.NewFromConfig(cfg).GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
	require.NoError(t, err)
	return aws.ToString(out.Arn)
}

func TestCredentialProcessTwoRoleChain(t *testing.T) {
	h := isolateEnv(t)
	srv, _ := newServer(t)
	r := runInProcess(t, "credential-process", "--profile", "source",
		"--role-arn", roleA, "--role-arn", roleB, "--session-name", "chain-test",
		"--endpoint-url", srv.URL, "--cache-dir", h.cache)
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Empty(t, r.stderr)
	pc := decodeOutput(t, r.stdout)

	calls := srv.Calls(ststest.Call{Action: "AssumeRole"})
	require.Len(t, calls, 2)
	assert.Equal(t, roleA, calls[0].RoleARN)
	assert.Equal(t, userKey, calls[0].CallerAccessKeyID, "A is assumed with the source keys")
	assert.Equal(t, roleB, calls[1].RoleARN)
	assert.Equal(t, calls[0].IssuedAccessKeyID, calls[1].CallerAccessKeyID, "B is assumed with A's session")
	assert.Equal(t, calls[1].IssuedAccessKeyID, pc.AccessKeyID, "the printed keys are B's")
	assert.Equal(t, acct, pc.AccountID, "the account of role B")
	assert.Equal(t, "chain-test", calls[1].RoleSessionName)
	assert.Equal(t, srv.AssumedRoleARN(roleB, "chain-test"), callerARN(t, srv, pc))

	// A second run is served by the cache.
	srv.ResetCalls()
	r2 := runInProcess(t, "credential-process", "--profile", "source",
		"--role-arn", roleA, "--role-arn", roleB, "--session-name", "chain-test",
		"--endpoint-url", srv.URL, "--cache-dir", h.cache)
	require.Equal(t, exitOK, r2.code, "stderr: %s", r2.stderr)
	assert.Equal(t, r.stdout, r2.stdout)
	assert.Zero(t, len(srv.Calls()))

	// --no-cache calls STS again.
	r3 := runInProcess(t, "credential-process", "--profile", "source",
		"--role-arn", roleA, "--role-arn", roleB, "--endpoint-url", srv.URL, "--no-cache")
	require.Equal(t, exitOK, r3.code, "stderr: %s", r3.stderr)
	assert.Equal(t, 2, len(srv.Calls(ststest.Call{Action: "AssumeRole"})))
}

func TestCredentialProcessEnvironmentKeys(t *testing.T) {
	h := isolateEnv(t)
	srv, _ := newServer(t, inRegion("eu-west-1"))
	t.Setenv("AWS_ACCESS_KEY_ID", userKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", userSecret)
	r := runInProcess(t, "credential-process", "--role-arn", roleExt, "--external-id", externalID,
		"--duration", "30m", "--region", "eu-west-1", "--endpoint-url", srv.URL, "--cache-dir", h.cache)
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	pc := decodeOutput(t, r.stdout)
	calls := srv.Calls(ststest.Call{Action: "AssumeRole"})
	require.Len(t, calls, 1)
	assert.Equal(t, userKey, calls[0].CallerAccessKeyID)
	assert.Equal(t, 1800, calls[0].DurationSeconds)
	assert.Equal(t, calls[0].IssuedAccessKeyID, pc.AccessKeyID)
}

func TestCredentialProcessSessionDurationMFA(t *testing.T) {
	h := isolateEnv(t)
	srv, serial := newServer(t)
	t.Setenv(totpEnv, totpSecret)
	args := []string{"credential-process", "--profile", "source",
		"--mfa-serial", serial, "--totp-secret-env", totpEnv, "--session-duration", "20h",
		"--role-arn", roleMFA, "--endpoint-url", srv.URL, "--cache-dir", h.cache, "--verbose"}
	r := runInProcess(t, args...)
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	pc := decodeOutput(t, r.stdout)
	assert.Contains(t, r.stderr, "link=GetSessionToken", "--verbose logs each link")
	assert.Contains(t, r.stderr, "link="+roleMFA)
	assertNoSecret(t, r.stderr, pc.SecretAccessKey, pc.SessionToken)

	gst := srv.Calls(ststest.Call{Action: "GetSessionToken"})
	require.Len(t, gst, 1)
	assert.Equal(t, serial, gst[0].SerialNumber, "the MFA goes on the GetSessionToken link")
	assert.NotEmpty(t, gst[0].TokenCode)
	assert.Equal(t, 20*3600, gst[0].DurationSeconds)
	ar := srv.Calls(ststest.Call{Action: "AssumeRole"})
	require.Len(t, ar, 1)
	assert.Empty(t, ar[0].SerialNumber, "the role above carries no MFA")
	assert.Equal(t, gst[0].IssuedAccessKeyID, ar[0].CallerAccessKeyID)
	assert.Equal(t, ar[0].IssuedAccessKeyID, pc.AccessKeyID)
}

func TestCredentialProcessGetSessionTokenOnly(t *testing.T) {
	h := isolateEnv(t)
	srv, serial := newServer(t)
	t.Setenv(totpEnv, totpSecret)
	r := runInProcess(t, "credential-process", "--profile", "source",
		"--mfa-serial", serial, "--totp-secret-env", totpEnv, "--endpoint-url", srv.URL, "--cache-dir", h.cache)
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	pc := decodeOutput(t, r.stdout)
	gst := srv.Calls(ststest.Call{Action: "GetSessionToken"})
	require.Len(t, gst, 1)
	assert.Equal(t, serial, gst[0].SerialNumber)
	assert.Equal(t, gst[0].IssuedAccessKeyID, pc.AccessKeyID)
	assert.Equal(t, userARN, callerARN(t, srv, pc))
}

func TestSTSErrors(t *testing.T) {
	isolateEnv(t)
	srv, serial := newServer(t)
	t.Setenv(totpEnv, totpSecret)
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"untrusted role", []string{"--role-arn", roleDenied},
			[]string{"stschain: " + roleDenied + ": AssumeRole", "AccessDenied"}},
		{"second link fails", []string{"--role-arn", roleA, "--role-arn", roleMFA},
			[]string{"stschain: " + roleMFA + ": AssumeRole", "AccessDenied"}},
		{"first link fails under a second", []string{"--role-arn", roleB, "--role-arn", roleA},
			[]string{"stschain: " + roleA + " -> " + roleB + ": AssumeRole", "AccessDenied"}},
		{"MFA refused", []string{"--mfa-serial", serial + "x", "--totp-secret-env", totpEnv, "--role-arn", roleMFA},
			[]string{"stschain: " + roleMFA + ": AssumeRole", "AccessDenied"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A cache of its own: an earlier case's session of a role
			// would serve that role without calling STS (or its master).
			args := append([]string{"credential-process", "--profile", "source", "--endpoint-url", srv.URL, "--cache-dir", t.TempDir()}, tc.args...)
			r := runInProcess(t, args...)
			assert.Equal(t, exitError, r.code)
			assert.Empty(t, r.stdout)
			line := failureLine(t, r)
			for _, w := range tc.want {
				assert.Contains(t, line, w)
			}
			assertNoSecret(t, r.stderr)
			for _, c := range srv.Calls() {
				if c.TokenCode != "" {
					assert.NotContains(t, r.stderr, c.TokenCode, "an MFA code")
				}
			}
		})
	}
}

// TestProcessCredentialsJSON pins the exact bytes credential_process
// prints for one set of credentials: the keys botocore's ProcessProvider
// and the Go SDK's processcreds read, and an Expiration both parse.
func TestProcessCredentialsJSON(t *testing.T) {
	creds := testCreds()
	data, err := json.Marshal(processCredentials{
		Version: 1, AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey,
		SessionToken: creds.SessionToken, Expiration: expirationOf(creds), AccountID: creds.AccountID,
	})
	require.NoError(t, err)
	assert.JSONEq(t, `{"Version":1,"AccessKeyId":"ASIAEXAMPLE","SecretAccessKey":"secret",`+
		`"SessionToken":"token","Expiration":"2030-01-02T03:04:05Z","AccountId":"123456789012"}`, string(data))
	assert.Empty(t, expirationOf(aws.Credentials{AccessKeyID: "AKIA", SecretAccessKey: "s"}), "no Expiration: never expires")
}
