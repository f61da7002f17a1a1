package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestUsageErrors(t *testing.T) {
	isolateEnv(t)
	t.Setenv("EMPTY_SECRET", "")
	t.Setenv("BAD_SECRET", "not-base32-"+totpSecret)
	for _, tc := range []struct {
		name string
		args []string
		want string // in the one line on stderr
	}{
		{"unknown subcommand", []string{"assume"}, `unknown subcommand assume`},
		{"unknown flag", []string{"credential-process", "--bogus"}, "flag provided but not defined: -bogus"},
		{"flag without value", []string{"exec", "--role-arn"}, "flag needs an argument: -role-arn"},
		{"empty role", []string{"credential-process", "--role-arn", ""}, "empty value"},
		{"bad duration", []string{"credential-process", "--role-arn", roleA, "--duration", "soon"}, "want a positive duration"},
		{"duration too short", []string{"credential-process", "--role-arn", roleA, "--duration", "5m"}, "--duration 5m0s is out of range"},
		{"duration too long", []string{"credential-process", "--role-arn", roleA, "--duration", "13h"}, "--duration 13h0m0s is out of range"},
		{"session duration too long", []string{"credential-process", "--session-duration", "37h"}, "--session-duration 37h0m0s is out of range"},
		{"negative duration", []string{"credential-process", "--role-arn", roleA, "--duration", "-1h"}, "want a positive duration"},
		{"negative seconds", []string{"credential-process", "--role-arn", roleA, "--duration", "-3600"}, "want a positive duration"},
		{"zero duration", []string{"credential-process", "--role-arn", roleA, "--duration", "0"}, "want a positive duration"},
		{"zero session duration", []string{"credential-process", "--role-arn", roleA, "--session-duration", "0s"}, "want a positive duration"},
		{"exponent duration", []string{"credential-process", "--role-arn", roleA, "--duration", "1e9"}, "want a positive duration"},
		{"huge seconds", []string{"credential-process", "--role-arn", roleA, "--duration", "99999999999999999999"}, "want a positive duration"},
		{"huge duration", []string{"credential-process", "--role-arn", roleA, "--duration", "2562048h"}, "want a positive duration"},
		{"large seconds", []string{"credential-process", "--role-arn", roleA, "--duration", "2147483647"}, "is out of range"},
		{"fractional seconds", []string{"credential-process", "--role-arn", roleA, "--duration", "1800.5s"}, "--duration 30m0.5s is out of range: want whole seconds"},
		{"role twice in a row", []string{"credential-process", "--role-arn", roleA, "--role-arn", roleA}, "--role-arn " + roleA + " is given twice in a row"},
		{"bad region", []string{"credential-process", "--role-arn", roleA, "--region", "EU_WEST"}, `--region EU_WEST is not a region name`},
		{"empty role with =", []string{"exec", "--role-arn=", "--", "true"}, "empty value"},
		{"duration without role", []string{"credential-process", "--duration", "1h"}, "--duration is the roles' session length"},
		{"external id without role", []string{"credential-process", "--external-id", externalID}, "--external-id needs a --role-arn"},
		{"session name without role", []string{"credential-process", "--session-name", "me"}, "--session-name needs a --role-arn"},
		{"mfa process without a device", []string{"credential-process", "--role-arn", roleA, "--mfa-process", "echo 123456"}, "--mfa-process gives MFA codes, but no link of the chain has an MFA device: give --mfa-serial, or a --profile with mfa_serial"},
		{"mfa token without a device", []string{"credential-process", "--role-arn", roleA, "--mfa-token", "123456"}, "--mfa-token gives MFA codes, but no link of the chain has an MFA device"},
		{"unknown profile", []string{"credential-process", "--profile", "nosuchprofile", "--role-arn", roleA}, `stschain credential-process: awsprofile: profile "nosuchprofile": the profile is in none of the files`},
		{"mfa token not a code", []string{"credential-process", "--role-arn", roleA, "--mfa-serial", "arn:aws:iam::123456789012:mfa/alice", "--mfa-token", "12345"}, "--mfa-token is not a code: want the 6 digits"},
		{"two MFA sources", []string{"exec", "--mfa-serial", "arn:aws:iam::123456789012:mfa/alice", "--mfa-token", "123456", "--mfa-process", "x", "--", "true"}, "--mfa-process and --mfa-token give MFA codes each: give one"},
		{"three MFA sources", []string{"export", "--mfa-serial", "arn:aws:iam::123456789012:mfa/alice", "--mfa-token", "123456", "--mfa-process", "x", "--totp-secret-env", "X"}, "--totp-secret-env and --mfa-process and --mfa-token give MFA codes each"},
		{"totp env empty", []string{"credential-process", "--role-arn", roleA, "--mfa-serial", "arn:aws:iam::123456789012:mfa/alice", "--totp-secret-env", "EMPTY_SECRET"}, "EMPTY_SECRET of --totp-secret-env is empty or unset"},
		{"totp env unset", []string{"exec", "--mfa-serial", "arn:aws:iam::123456789012:mfa/alice", "--totp-secret-env", "NO_SUCH_VAR_STSCHAIN", "--", "true"}, "NO_SUCH_VAR_STSCHAIN of --totp-secret-env is empty or unset"},
		{"totp env not base32", []string{"credential-process", "--mfa-serial", "arn:aws:iam::123456789012:mfa/alice", "--totp-secret-env", "BAD_SECRET"}, "the TOTP secret is not base32"},
		{"bad endpoint", []string{"credential-process", "--endpoint-url", "ftp://example.com"}, "--endpoint-url"},
		{"invalid role ARN", []string{"credential-process", "--role-arn", "arn:aws:iam::1:role/x"}, `RoleARN "arn:aws:iam::1:role/x" is not an IAM role ARN`},
		{"invalid MFA serial", []string{"credential-process", "--role-arn", roleA, "--mfa-serial", "x"}, `SerialNumber "x"`},
		{"invalid session name", []string{"credential-process", "--role-arn", roleA, "--session-name", "a b"}, `RoleSessionName "a b" is invalid`},
		{"extra argument", []string{"credential-process", "--role-arn", roleA, "source", "extra"}, `stschain credential-process: unexpected argument extra: want stschain credential-process [flags] [PROFILE]`},
		{"version argument", []string{"version", "extra"}, `stschain version: unexpected argument extra: it takes none`},
		{"version flag", []string{"version", "--short"}, `stschain version: flag provided but not defined: -short (see stschain help version)`},
		{"help of unknown subcommand", []string{"help", "assume"}, `stschain help: unknown subcommand or topic assume`},
		{"help of two", []string{"help", "exec", "export"}, `stschain help: unexpected argument export: want stschain help [COMMAND]`},
		{"topic run", []string{"chain"}, `stschain: unknown subcommand chain`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runInProcess(t, tc.args...)
			assert.Equal(t, exitUsage, r.code, "stderr: %s", r.stderr)
			assert.Empty(t, r.stdout)
			assert.Contains(t, failureLine(t, r), tc.want)
			assert.NotContains(t, r.stderr, "NewChain", "no Go call the user never made")
			assertNoSecret(t, r.stderr)
		})
	}
}

func TestDurationFlag(t *testing.T) {
	for in, want := range map[string]string{"3600": "1h0m0s", "90m": "1h30m0s", "12h": "12h0m0s"} {
		var d durationFlag
		require.NoError(t, d.Set(in), in)
		assert.Equal(t, want, d.String(), in)
	}
	for _, in := range []string{"1 hour", "", "0", "0s", "-1h", "-60", "1e9", "+-1", "9999999999"} {
		var d durationFlag
		assert.Error(t, d.Set(in), in)
		assert.Zero(t, d, in)
	}
}

func TestIsRegion(t *testing.T) {
	for _, s := range []string{"eu-west-1", "us-gov-west-1", "local", "a1"} {
		assert.True(t, isRegion(s), s)
	}
	for _, s := range []string{"", "EU_WEST", "eu--west-1", "-eu", "eu-", "eu west", "eu-west-1\n"} {
		assert.False(t, isRegion(s), "%q", s)
	}
}
