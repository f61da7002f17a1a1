package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain/ststest"
)

// Codes alice's device accepts once each (withCodes), and one it never
// accepts.
const (
	goodCode  = "246810"
	goodCode2 = "975310"
	badCode   = "135790"
)

// withCodes gives alice's device the fixed codes instead of a TOTP secret.
func withCodes(codes ...string) func(*ststest.Config) {
	return func(c *ststest.Config) {
		c.Users[0].MFACodes = codes
		c.Users[0].TOTPSecret = ""
	}
}

// mfaRun runs credential-process for roleMFA with alice's device and the
// extra flags, on a server whose device accepts goodCode and goodCode2.
func mfaRun(t *testing.T, extra ...string) (result, *ststest.Server, string) {
	t.Helper()
	h := isolateEnv(t)
	srv, serial := newServer(t, withCodes(goodCode, goodCode2))
	args := append([]string{"credential-process", "--profile", "source", "--mfa-serial", serial,
		"--role-arn", roleMFA, "--endpoint-url", srv.URL, "--cache-dir", h.cache}, extra...)
	for i, a := range args {
		args[i] = strings.ReplaceAll(a, "{serial}", serial)
	}
	return runInProcess(t, args...), srv, serial
}

// codesSent lists the TokenCode of each AssumeRole, with whether STS took
// it.
func codesSent(srv *ststest.Server) []string {
	var out []string
	for _, c := range srv.Calls(ststest.Call{Action: "AssumeRole"}) {
		s := c.TokenCode
		if c.Status != 200 {
			s += " refused"
		}
		out = append(out, s)
	}
	return out
}

func TestMFAToken(t *testing.T) {
	t.Run("accepted", func(t *testing.T) {
		r, srv, serial := mfaRun(t, "--mfa-token", goodCode)
		require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
		decodeOutput(t, r.stdout)
		calls := srv.Calls(ststest.Call{Action: "AssumeRole"})
		require.Len(t, calls, 1)
		assert.Equal(t, serial, calls[0].SerialNumber)
		assert.Equal(t, []string{goodCode}, codesSent(srv))
	})
	t.Run("refused: a second code is needed", func(t *testing.T) {
		r, srv, serial := mfaRun(t, "--mfa-token", badCode)
		assert.Equal(t, exitError, r.code)
		assert.Empty(t, r.stdout)
		assert.Contains(t, failureLine(t, r), "a second MFA code for "+serial+" is needed")
		assert.Contains(t, r.stderr, "--mfa-token gives one")
		assert.NotContains(t, r.stderr, badCode)
		assert.Equal(t, []string{badCode + " refused"}, codesSent(srv), "the provider asked again; --mfa-token had none")
	})
}

func TestMFAProcess(t *testing.T) {
	t.Run("the device's serial in its environment", func(t *testing.T) {
		r, srv, _ := mfaRun(t, "--mfa-process", `test "$STSCHAIN_MFA_SERIAL" = "{serial}" && echo `+goodCode)
		require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
		decodeOutput(t, r.stdout)
		assert.Equal(t, []string{goodCode}, codesSent(srv))
	})
	t.Run("asked again after STS refused its code", func(t *testing.T) {
		state := filepath.Join(t.TempDir(), "asked")
		r, srv, _ := mfaRun(t, "--mfa-process", `if [ -e '`+state+`' ]; then echo `+goodCode+`; else touch '`+state+`'; echo `+badCode+`; fi`)
		require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
		decodeOutput(t, r.stdout)
		assert.Equal(t, []string{badCode + " refused", goodCode}, codesSent(srv))
	})
	for _, tc := range []struct {
		name, command, want string
	}{
		{"fails", "exit 3", "running the MFA process for SERIAL: exit status 3"},
		{"prints no code", "echo 98765432", "the MFA process for SERIAL printed no 6-digit code"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, srv, serial := mfaRun(t, "--mfa-process", tc.command)
			assert.Equal(t, exitError, r.code)
			assert.Empty(t, r.stdout)
			assert.Contains(t, failureLine(t, r), strings.ReplaceAll(tc.want, "SERIAL", serial))
			assert.NotContains(t, r.stderr, "98765432", "the output, which may be a code, is not shown")
			assert.Zero(t, len(srv.Calls()), "no STS call without a code")
		})
	}
}

// TestOneTokenCode: the code once, then an error that says why.
func TestOneTokenCode(t *testing.T) {
	fn := oneTokenCode("--mfa-token", func() (string, error) { return goodCode, nil })
	code, err := fn(context.Background(), "arn:aws:iam::123456789012:mfa/alice")
	require.NoError(t, err)
	assert.Equal(t, goodCode, code)
	_, err = fn(context.Background(), "arn:aws:iam::123456789012:mfa/alice")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), goodCode)
	assert.Contains(t, err.Error(), "--mfa-token gives one")
}
