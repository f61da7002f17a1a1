package main

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain/ststest"
)

// roleOnTop trusts roleMFA: a role a flag puts on top of a profile's chain.
const roleOnTop = "arn:aws:iam::123456789012:role/OnTop"

// profileHome writes, beside the source profile with alice's keys, the
// profile "admin": role roleMFA, which requires MFA, assumed from source
// with alice's device, in eu-west-1, at the fake STS, as a user keeps it in
// ~/.aws/config.
func profileHome(t *testing.T, srv *ststest.Server, serial string) testHome {
	t.Helper()
	h := isolateEnv(t)
	config := "[profile source]\nregion = eu-west-1\n\n" +
		"[profile admin]\nregion = eu-west-1\nendpoint_url = " + srv.URL + "\n" +
		"role_arn = " + roleMFA + "\nsource_profile = source\nmfa_serial = " + serial + "\nrole_session_name = admin\n"
	require.NoError(t, os.WriteFile(h.config, []byte(config), 0o600))
	t.Setenv(totpEnv, totpSecret)
	return h
}

func profileServer(t *testing.T) (*ststest.Server, string) {
	return newServer(t, inRegion("eu-west-1"), func(c *ststest.Config) {
		c.Roles = append(c.Roles, ststest.Role{ARN: roleOnTop, Trust: []string{roleMFA}})
		for i := range c.Roles {
			if c.Roles[i].ARN == roleMFA {
				c.Roles[i].MaxSessionDuration = 12 * 3600e9
			}
		}
	})
}

// --profile is the profile's whole chain: its role, with its MFA device,
// its region and its endpoint, and no flag needed but the code's source.
func TestProfileIsTheWholeChain(t *testing.T) {
	srv, serial := profileServer(t)
	h := profileHome(t, srv, serial)
	r := runInProcess(t, "credential-process", "--profile", "admin", "--totp-secret-env", totpEnv, "--cache-dir", h.cache)
	require.Equal(t, exitOK, r.code, r.stderr)
	pc := decodeOutput(t, r.stdout)
	calls := srv.Calls(ststest.Call{Action: "AssumeRole"})
	require.Len(t, calls, 1)
	assert.Equal(t, roleMFA, calls[0].RoleARN)
	assert.Equal(t, serial, calls[0].SerialNumber, "the profile's mfa_serial")
	assert.Equal(t, "admin", calls[0].RoleSessionName)
	assert.Equal(t, userKey, calls[0].CallerAccessKeyID)
	assert.Equal(t, calls[0].IssuedAccessKeyID, pc.AccessKeyID)
	_, isSet := os.LookupEnv(totpEnv)
	assert.False(t, isSet, "the seed's variable is gone from stschain's environment once read")
}

// AWS_PROFILE names the profile when there is no --profile.
func TestProfileFromAWSProfile(t *testing.T) {
	srv, serial := profileServer(t)
	profileHome(t, srv, serial)
	t.Setenv("AWS_PROFILE", "admin")
	r := runInProcess(t, "credential-process", "--totp-secret-env", totpEnv, "--no-cache")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Len(t, srv.Calls(ststest.Call{Action: "AssumeRole", RoleARN: roleMFA}), 1)
}

// --role-arn links go on top of the profile's chain.
func TestRoleOnTopOfAProfile(t *testing.T) {
	srv, serial := profileServer(t)
	h := profileHome(t, srv, serial)
	r := runInProcess(t, "credential-process", "--profile", "admin", "--totp-secret-env", totpEnv,
		"--role-arn", roleOnTop, "--session-name", "top", "--cache-dir", h.cache)
	require.Equal(t, exitOK, r.code, r.stderr)
	calls := srv.Calls(ststest.Call{Action: "AssumeRole"})
	require.Len(t, calls, 2)
	assert.Equal(t, []string{roleMFA, roleOnTop}, []string{calls[0].RoleARN, calls[1].RoleARN})
	assert.Equal(t, calls[0].IssuedAccessKeyID, calls[1].CallerAccessKeyID, "the flag's role is assumed with the profile's session")
	assert.Equal(t, calls[1].IssuedAccessKeyID, decodeOutput(t, r.stdout).AccessKeyID)
}

// --session-duration is the profile's MFA session a day: GetSessionToken
// with the profile's device under its role, which is assumed without a
// code; a second run, on the same cache, makes no STS call.
func TestProfileSessionDuration(t *testing.T) {
	srv, serial := profileServer(t)
	h := profileHome(t, srv, serial)
	args := []string{"credential-process", "--profile", "admin", "--totp-secret-env", totpEnv, "--session-duration", "12h", "--cache-dir", h.cache}
	r := runInProcess(t, args...)
	require.Equal(t, exitOK, r.code, r.stderr)
	gst := srv.Calls(ststest.Call{Action: "GetSessionToken"})
	require.Len(t, gst, 1)
	assert.Equal(t, serial, gst[0].SerialNumber)
	assert.Equal(t, 43200, gst[0].DurationSeconds)
	ar := srv.Calls(ststest.Call{Action: "AssumeRole"})
	require.Len(t, ar, 1)
	assert.Empty(t, ar[0].SerialNumber, "the role is assumed with the session's MFA context")
	assert.Equal(t, gst[0].IssuedAccessKeyID, ar[0].CallerAccessKeyID)

	t.Setenv(totpEnv, totpSecret)
	r = runInProcess(t, args...)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Len(t, srv.Calls(), 2, "the second run took both sessions from the cache")
}

// exec gives the command the profile's region unless --region says
// otherwise, and says which profile and role it runs as.
func TestExecGetsTheProfilesRegion(t *testing.T) {
	srv, serial := profileServer(t)
	h := profileHome(t, srv, serial)
	r := runInProcess(t, "exec", "--profile", "admin", "--totp-secret-env", totpEnv, "--cache-dir", h.cache, "--", "env")
	require.Equal(t, exitOK, r.code, r.stderr)
	env := strings.Split(r.stdout, "\n")
	assert.Contains(t, env, "AWS_REGION=eu-west-1")
	assert.Contains(t, env, "AWS_DEFAULT_REGION=eu-west-1")
	assert.Contains(t, env, "STSCHAIN_PROFILE=admin")
	assert.Contains(t, env, "STSCHAIN_ROLE_ARN="+roleMFA)
	for _, kv := range env {
		assert.NotContains(t, kv, totpSecret, "the seed never reaches the command")
	}
}

// A wrong config is a usage error naming the profiles, before any STS
// call; so is a flag that cannot go on the profile's chain.
func TestProfileErrors(t *testing.T) {
	srv, serial := profileServer(t)
	h := profileHome(t, srv, serial)
	loop := "[profile a]\nrole_arn = " + roleA + "\nsource_profile = b\n[profile b]\nrole_arn = " + roleB + "\nsource_profile = a\n"
	require.NoError(t, os.WriteFile(h.config+"-loop", []byte(loop), 0o600))
	for _, tc := range []struct {
		name string
		env  string // AWS_CONFIG_FILE, when not h.config
		args []string
		want string
	}{
		{"loop", h.config + "-loop", []string{"--profile", "a"}, `stschain credential-process: awsprofile: profile "b" (a -> b -> a): source_profile "a" makes a loop`},
		{"session on a role", "", []string{"--profile", "admin", "--totp-secret-env", totpEnv, "--mfa-serial", serial, "--session-duration", "12h", "--role-arn", roleOnTop},
			"asks for an MFA GetSessionToken session on the profile's credentials, but profile admin ends in role " + roleMFA},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv("AWS_CONFIG_FILE", tc.env)
			}
			t.Setenv(totpEnv, totpSecret)
			r := runInProcess(t, append([]string{"credential-process", "--cache-dir", h.cache}, tc.args...)...)
			assert.Equal(t, exitUsage, r.code)
			assert.Contains(t, failureLine(t, r), tc.want)
		})
	}
	assert.Empty(t, srv.Calls(), "no STS call")
}

// Under umask 002 the AWS CLI leaves its cache directory group-writable,
// which the cache refuses: the command says how to fix it and goes on
// without the cache; a --cache-dir it refuses is an error.
func TestUnsafeCacheDirectory(t *testing.T) {
	srv, _ := newServer(t)
	h := isolateEnv(t)
	cliCache := h.dir + "/.aws/cli/cache"
	require.NoError(t, os.MkdirAll(cliCache, 0o700))
	require.NoError(t, os.Chmod(cliCache, 0o770))
	r := runInProcess(t, "credential-process", "--profile", "source", "--role-arn", roleA, "--endpoint-url", srv.URL)
	require.Equal(t, exitOK, r.code, r.stderr)
	decodeOutput(t, r.stdout)
	warning := failureLine(t, r)
	assert.True(t, strings.HasPrefix(warning, "stschain: NewFileCache: "), warning)
	assert.Contains(t, warning, "chmod go-w")
	assert.True(t, strings.HasSuffix(warning, "; going on without the session cache"), warning)

	r = runInProcess(t, "credential-process", "--profile", "source", "--role-arn", roleA, "--endpoint-url", srv.URL, "--cache-dir", cliCache)
	assert.Equal(t, exitError, r.code)
	assert.Contains(t, failureLine(t, r), "chmod go-w")
}
