package main

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
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
		{"unknown subcommand", []string{"assume"}, `unknown subcommand "assume"`},
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
		{"bad region", []string{"credential-process", "--role-arn", roleA, "--region", "EU_WEST"}, `--region "EU_WEST" is not a region name`},
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
		{"totp env not base32", []string{"credential-process", "--mfa-serial", "arn:aws:iam::123456789012:mfa/alice", "--totp-secret-env", "BAD_SECRET"}, "BAD_SECRET of --totp-secret-env: the TOTP secret is not base32"},
		{"bad endpoint", []string{"credential-process", "--endpoint-url", "ftp://example.com"}, "--endpoint-url"},
		{"invalid role ARN", []string{"credential-process", "--role-arn", "arn:aws:iam::1:role/x"}, `RoleARN "arn:aws:iam::1:role/x" is not an IAM role ARN`},
		{"invalid MFA serial", []string{"credential-process", "--role-arn", roleA, "--mfa-serial", "x"}, `SerialNumber "x"`},
		{"invalid session name", []string{"credential-process", "--role-arn", roleA, "--session-name", "a b"}, `RoleSessionName "a b" is invalid`},
		{"extra argument", []string{"credential-process", "--role-arn", roleA, "extra"}, `unexpected argument "extra"`},
		{"help of unknown subcommand", []string{"help", "assume"}, `unknown subcommand "assume"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runInProcess(t, tc.args...)
			assert.Equal(t, exitUsage, r.code, "stderr: %s", r.stderr)
			assert.Empty(t, r.stdout)
			lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
			require.Len(t, lines, 1, "want one line on stderr, got %q", r.stderr)
			assert.True(t, strings.HasPrefix(lines[0], "stschain"), lines[0])
			assert.Contains(t, lines[0], tc.want)
			assertNoSecret(t, r.stderr)
		})
	}
}

func TestNoArgumentsPrintsUsage(t *testing.T) {
	r := runInProcess(t)
	assert.Equal(t, exitUsage, r.code)
	assert.Empty(t, r.stdout)
	assert.Contains(t, r.stderr, "stschain credential-process")
	assert.Contains(t, r.stderr, "stschain exec")
}

func TestHelp(t *testing.T) {
	flags := []string{
		"--role-arn", "--mfa-serial", "--totp-secret-env", "--mfa-process", "--mfa-token", "--session-duration", "--duration",
		"--session-name", "--external-id", "--tag", "--transitive-tag-key", "--source-identity", "--policy-arn", "--policy-file",
		"--profile", "--region", "--endpoint-url",
		"--cache-dir", "--no-cache", "--verbose", "--help",
	}
	for _, args := range [][]string{
		{"credential-process", "--help"},
		{"credential-process", "-h"},
		{"credential-process", "--role-arn", roleA, "-help"},
		{"exec", "--help"},
		{"exec", "-h"},
		{"help", "exec"},
		{"help", "credential-process"},
		{"export", "--help"},
		{"help", "export"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			r := runInProcess(t, args...)
			assert.Equal(t, exitOK, r.code)
			assert.Empty(t, r.stderr)
			for _, f := range flags {
				assert.Contains(t, r.stdout, f)
			}
			assert.Contains(t, r.stdout, "Example:")
			assert.Contains(t, r.stdout, "Usage: stschain ")
		})
	}
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			r := runInProcess(t, args...)
			assert.Equal(t, exitOK, r.code)
			assert.Empty(t, r.stderr)
			assert.Contains(t, r.stdout, "stschain credential-process [flags]")
			assert.Contains(t, r.stdout, "stschain exec [flags] [--] [COMMAND [ARG...]]")
			assert.Contains(t, r.stdout, "stschain export [flags] [--format FORMAT]")
			assert.Contains(t, r.stdout, "stschain version")
			assert.Contains(t, r.stdout, "credential_process = stschain credential-process")
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

func TestChildEnv(t *testing.T) {
	// The parent has a whole set of credentials of its own: every variable
	// of removedEnv, and the TOTP seed of --totp-secret-env.
	environ := []string{"PATH=/bin", "KEEP=1", "AWS_PROFILE_LIKE=kept", "AWS_REGION=us-west-2", "MY_TOTP=" + totpSecret}
	for _, k := range removedEnv {
		environ = append(environ, k+"=OLD")
	}
	creds := testCreds()
	got := childEnv(environ, "MY_TOTP", credentialEnv(creds))
	assert.Equal(t, []string{
		"PATH=/bin", "KEEP=1", "AWS_PROFILE_LIKE=kept", "AWS_REGION=us-west-2",
		"AWS_ACCESS_KEY_ID=ASIAEXAMPLE", "AWS_SECRET_ACCESS_KEY=secret", "AWS_SESSION_TOKEN=token",
		"AWS_CREDENTIAL_EXPIRATION=2030-01-02T03:04:05Z", "AWS_ACCOUNT_ID=123456789012",
	}, got)

	// What set gives replaces the parent's.
	got = childEnv(environ, "", []string{"AWS_REGION=eu-west-1", "AWS_DEFAULT_REGION=eu-west-1"})
	assert.Contains(t, got, "AWS_REGION=eu-west-1")
	assert.Contains(t, got, "AWS_DEFAULT_REGION=eu-west-1")
	assert.NotContains(t, got, "AWS_REGION=us-west-2")
	assert.Contains(t, got, "MY_TOTP="+totpSecret, "no --totp-secret-env: an unrelated variable")

	// Whatever the new credentials lack, nothing of the parent's is left.
	got = childEnv(environ, "MY_TOTP", credentialEnv(aws.Credentials{AccessKeyID: "AKIAEXAMPLE", SecretAccessKey: "secret"}))
	for _, kv := range got {
		assert.NotContains(t, kv, "OLD")
		assert.NotContains(t, kv, totpSecret)
	}
	assert.Len(t, got, 6)
}

func TestMarkerEnv(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    chain
		want []string
	}{
		{"profile", chain{profile: "me"}, []string{"STSCHAIN_PROFILE=me"}},
		{"none", chain{}, []string{"STSCHAIN_PROFILE=default"}},
		{"role", chain{profile: "me", roleARN: roleB}, []string{"STSCHAIN_PROFILE=me", "STSCHAIN_ROLE_ARN=" + roleB}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, markerEnv(&tc.c))
		})
	}
}

// TestHelpListsRemovedEnv: exec's help names every variable the code
// removes, so that the help (and the README, which copies it) cannot
// drift from the code.
func TestHelpListsRemovedEnv(t *testing.T) {
	r := runInProcess(t, "help", "exec")
	require.Equal(t, exitOK, r.code)
	help := strings.Join(strings.Fields(r.stdout), " ")
	assert.Contains(t, help, strings.Join(removedEnv, " "))
}

func TestNestingGuard(t *testing.T) {
	env := func(k string) string {
		if k == depthVar {
			return "6"
		}
		return ""
	}
	var stdout, stderr strings.Builder
	code := run(t.Context(), []string{"credential-process"}, strings.NewReader(""), &stdout, &stderr, env)
	assert.Equal(t, exitError, code)
	assert.Empty(t, stdout.String())
	assert.Contains(t, stderr.String(), "nested 6 levels deep")
}
