package main

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain/awsprofile"
)

// TestMFASerialOfTheProfileUsesItsMFAProcess: --mfa-serial naming the
// device of the profile's mfa_serial (kept beside its keys, as aws-vault
// keeps it), on a --role-arn or the --session-duration link over that
// profile, takes its codes from the profile's mfa_process, not from a
// prompt (which has no terminal here and would fail).
func TestMFASerialOfTheProfileUsesItsMFAProcess(t *testing.T) {
	for _, tc := range []struct {
		name, action string
		args         []string
	}{
		{"role", "AssumeRole", []string{"--role-arn", roleMFA}},
		{"session", "GetSessionToken", []string{"--session-duration", "1h"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := isolateEnv(t)
			srv, serial := newServer(t, withCodes(goodCode))
			config := "[profile source]\nregion = us-east-1\nmfa_serial = " + serial + "\nmfa_process = echo " + goodCode + "\n"
			require.NoError(t, os.WriteFile(h.config, []byte(config), 0o600))

			r := runInProcess(t, append([]string{"credential-process", "--profile", "source", "--mfa-serial", serial,
				"--endpoint-url", srv.URL, "--cache-dir", h.cache}, tc.args...)...)
			require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
			calls := srv.Calls()
			require.Len(t, calls, 1)
			assert.Equal(t, tc.action, calls[0].Action)
			assert.Equal(t, serial, calls[0].SerialNumber)
			assert.Equal(t, goodCode, calls[0].TokenCode, "the code came from mfa_process")
			assert.Equal(t, 200, calls[0].Status)
		})
	}
}

// Every kind of root has words of its own in the errors.
func TestRootKind(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range []awsprofile.LinkKind{awsprofile.KindStatic, awsprofile.KindEnvironment, awsprofile.KindProcess,
		awsprofile.KindSSO, awsprofile.KindLogin, awsprofile.KindWebIdentity, awsprofile.KindEcsContainer,
		awsprofile.KindEc2InstanceMetadata} {
		s := rootKind(k)
		assert.NotContains(t, seen, s, "%s", k)
		seen[s] = true
	}
	assert.Equal(t, "SDK credentials", rootKind(awsprofile.KindSDK))
}
