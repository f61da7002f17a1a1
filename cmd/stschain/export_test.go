package main

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/stschain/stschain/ststest"
)

// TestExportFormatsMatchAWSCLI compares each format with the output the
// AWS CLI v2 documents in its own tests (test_cred_formatter in
// tests/unit/customizations/configure/test_exportcreds.py) for the same
// credentials: access_key, secret_key, then with token and an expiry. The
// AWS CLI prints a real expiry as botocore's datetime.isoformat()
// (test_can_convert_refreshable_with_expiry), 2023-01-01T00:00:00+00:00
// for the test's 2023-01-01T00:00:00Z.
func TestExportFormatsMatchAWSCLI(t *testing.T) {
	static := aws.Credentials{AccessKeyID: "access_key", SecretAccessKey: "secret_key"}
	temporary := aws.Credentials{AccessKeyID: "access_key", SecretAccessKey: "secret_key", SessionToken: "token",
		CanExpire: true, Expires: time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC), AccountID: acct}
	const exp = "2023-01-01T00:00:00+00:00"
	for _, tc := range []struct {
		format            string
		static, temporary string
		crlfOnWindows     bool
	}{
		{"env",
			"export AWS_ACCESS_KEY_ID=access_key\nexport AWS_SECRET_ACCESS_KEY=secret_key\n",
			"export AWS_ACCESS_KEY_ID=access_key\nexport AWS_SECRET_ACCESS_KEY=secret_key\nexport AWS_SESSION_TOKEN=token\nexport AWS_CREDENTIAL_EXPIRATION=" + exp + "\n",
			false},
		{"env-no-export",
			"AWS_ACCESS_KEY_ID=access_key\nAWS_SECRET_ACCESS_KEY=secret_key\n",
			"AWS_ACCESS_KEY_ID=access_key\nAWS_SECRET_ACCESS_KEY=secret_key\nAWS_SESSION_TOKEN=token\nAWS_CREDENTIAL_EXPIRATION=" + exp + "\n",
			false},
		{"powershell",
			"$Env:AWS_ACCESS_KEY_ID=\"access_key\"\n$Env:AWS_SECRET_ACCESS_KEY=\"secret_key\"\n",
			"$Env:AWS_ACCESS_KEY_ID=\"access_key\"\n$Env:AWS_SECRET_ACCESS_KEY=\"secret_key\"\n$Env:AWS_SESSION_TOKEN=\"token\"\n$Env:AWS_CREDENTIAL_EXPIRATION=\"" + exp + "\"\n",
			true},
		{"windows-cmd",
			"set AWS_ACCESS_KEY_ID=access_key\nset AWS_SECRET_ACCESS_KEY=secret_key\n",
			"set AWS_ACCESS_KEY_ID=access_key\nset AWS_SECRET_ACCESS_KEY=secret_key\nset AWS_SESSION_TOKEN=token\nset AWS_CREDENTIAL_EXPIRATION=" + exp + "\n",
			true},
		{"fish",
			"set -gx AWS_ACCESS_KEY_ID \"access_key\"\nset -gx AWS_SECRET_ACCESS_KEY \"secret_key\"\n",
			"set -gx AWS_ACCESS_KEY_ID \"access_key\"\nset -gx AWS_SECRET_ACCESS_KEY \"secret_key\"\nset -gx AWS_SESSION_TOKEN \"token\"\nset -gx AWS_CREDENTIAL_EXPIRATION \"" + exp + "\"\n",
			false},
		// json.dumps(output, indent=2, separators=(',', ': ')) + '\n';
		// the AWS CLI's test compares it as JSON, these are its bytes.
		{"process",
			"{\n  \"Version\": 1,\n  \"AccessKeyId\": \"access_key\",\n  \"SecretAccessKey\": \"secret_key\"\n}\n",
			"{\n  \"Version\": 1,\n  \"AccessKeyId\": \"access_key\",\n  \"SecretAccessKey\": \"secret_key\",\n  \"SessionToken\": \"token\",\n  \"Expiration\": \"" + exp + "\"\n}\n",
			true},
	} {
		t.Run(tc.format, func(t *testing.T) {
			f, ok := lookupFormat(tc.format)
			require.True(t, ok)
			assert.Equal(t, tc.static, mustRender(t, f, exportValues{creds: static}, false))
			assert.Equal(t, tc.temporary, mustRender(t, f, exportValues{creds: temporary}, false))
			// On Windows, Python's standard output writes "\r\n" for each
			// "\n", except for the formats the AWS CLI forces to "\n".
			want := tc.temporary
			if tc.crlfOnWindows {
				want = strings.ReplaceAll(want, "\n", "\r\n")
			}
			assert.Equal(t, want, mustRender(t, f, exportValues{creds: temporary}, true))
		})
	}
	assert.Equal(t, []string{"process", "env", "env-no-export", "powershell", "windows-cmd", "fish"}, formatNames()[:6],
		"the AWS CLI's names, in its order")
}

func mustRender(t *testing.T, f exportFormat, v exportValues, windows bool) string {
	t.Helper()
	out, err := f.render(v, windows)
	require.NoError(t, err)
	return out
}

// TestExportRegionJSONINI: the region after the four credential lines
// (which stay the AWS CLI's), in json with the account, and in ini; the
// process format stays the AWS CLI's.
func TestExportRegionJSONINI(t *testing.T) {
	v := exportValues{creds: aws.Credentials{AccessKeyID: "ASIAEXAMPLE", SecretAccessKey: "c2VjcmV0/+=", SessionToken: "dG9rZW4=",
		CanExpire: true, Expires: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC), AccountID: acct}, region: "eu-west-1", profile: "admin"}
	creds := "AWS_ACCESS_KEY_ID=ASIAEXAMPLE\nAWS_SECRET_ACCESS_KEY=c2VjcmV0/+=\nAWS_SESSION_TOKEN=dG9rZW4=\nAWS_CREDENTIAL_EXPIRATION=2030-01-02T03:04:05+00:00\n"
	for format, want := range map[string]string{
		"env":           "export " + strings.ReplaceAll(strings.TrimSuffix(creds, "\n"), "\n", "\nexport ") + "\nexport AWS_REGION=eu-west-1\nexport AWS_DEFAULT_REGION=eu-west-1\n",
		"env-no-export": creds + "AWS_REGION=eu-west-1\nAWS_DEFAULT_REGION=eu-west-1\n",
		"powershell":    "$Env:AWS_ACCESS_KEY_ID=\"ASIAEXAMPLE\"\n$Env:AWS_SECRET_ACCESS_KEY=\"c2VjcmV0/+=\"\n$Env:AWS_SESSION_TOKEN=\"dG9rZW4=\"\n$Env:AWS_CREDENTIAL_EXPIRATION=\"2030-01-02T03:04:05+00:00\"\n$Env:AWS_REGION=\"eu-west-1\"\n$Env:AWS_DEFAULT_REGION=\"eu-west-1\"\n",
		"windows-cmd":   "set " + strings.ReplaceAll(strings.TrimSuffix(creds, "\n"), "\n", "\nset ") + "\nset AWS_REGION=eu-west-1\nset AWS_DEFAULT_REGION=eu-west-1\n",
		"fish":          "set -gx AWS_ACCESS_KEY_ID \"ASIAEXAMPLE\"\nset -gx AWS_SECRET_ACCESS_KEY \"c2VjcmV0/+=\"\nset -gx AWS_SESSION_TOKEN \"dG9rZW4=\"\nset -gx AWS_CREDENTIAL_EXPIRATION \"2030-01-02T03:04:05+00:00\"\nset -gx AWS_REGION \"eu-west-1\"\nset -gx AWS_DEFAULT_REGION \"eu-west-1\"\n",
		"process":       "{\n  \"Version\": 1,\n  \"AccessKeyId\": \"ASIAEXAMPLE\",\n  \"SecretAccessKey\": \"c2VjcmV0/+=\",\n  \"SessionToken\": \"dG9rZW4=\",\n  \"Expiration\": \"2030-01-02T03:04:05+00:00\"\n}\n",
		"json":          "{\n  \"Version\": 1,\n  \"AccessKeyId\": \"ASIAEXAMPLE\",\n  \"SecretAccessKey\": \"c2VjcmV0/+=\",\n  \"SessionToken\": \"dG9rZW4=\",\n  \"Expiration\": \"2030-01-02T03:04:05+00:00\",\n  \"AccountId\": \"123456789012\",\n  \"Region\": \"eu-west-1\"\n}\n",
		"ini":           "[admin]\naws_access_key_id = ASIAEXAMPLE\naws_secret_access_key = c2VjcmV0/+=\naws_session_token = dG9rZW4=\naws_account_id = 123456789012\nregion = eu-west-1\n# expires 2030-01-02T03:04:05Z\n",
	} {
		f, ok := lookupFormat(format)
		require.True(t, ok, format)
		assert.Equal(t, want, mustRender(t, f, v, false), format)
	}
	f, _ := lookupFormat("ini")
	assert.Equal(t, "[default]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = c2VjcmV0\n",
		mustRender(t, f, exportValues{creds: aws.Credentials{AccessKeyID: "AKIAEXAMPLE", SecretAccessKey: "c2VjcmV0"}}, false),
		"long-term keys, no profile, no region")
	for _, profile := range []string{"a]\n[b", "x\ncredential_process = evil"} {
		_, err := f.render(exportValues{creds: v.creds, profile: profile}, false)
		assert.ErrorContains(t, err, "cannot be an INI section name")
	}
	_, err := f.render(exportValues{creds: aws.Credentials{AccessKeyID: "A", SecretAccessKey: "s\ncredential_process = evil"}}, false)
	assert.EqualError(t, err, "the secret access key holds characters an INI file cannot hold safely")
}

func TestPyISOFormat(t *testing.T) {
	cet := time.FixedZone("CET", 3600)
	assert.Equal(t, "2023-01-01T00:00:00+00:00", pyISOFormat(time.Date(2023, 1, 1, 1, 0, 0, 0, cet)))
	assert.Equal(t, "2023-01-01T00:00:00.123456+00:00", pyISOFormat(time.Date(2023, 1, 1, 0, 0, 0, 123456789, time.UTC)))
}

// TestExport runs export against the fake STS: each format carries the
// role's session, and what a shell does with the env format gives the
// command those credentials.
func TestExport(t *testing.T) {
	h := isolateEnv(t)
	srv, _ := newServer(t)
	args := []string{"export", "--profile", "source", "--role-arn", roleA, "--endpoint-url", srv.URL, "--cache-dir", h.cache}

	r := runInProcess(t, args...)
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Empty(t, r.stderr)
	calls := srv.Calls(ststest.Call{Action: "AssumeRole"})
	require.Len(t, calls, 1)
	var out struct {
		Version                                   int
		AccessKeyID                               string `json:"AccessKeyId"`
		SecretAccessKey, SessionToken, Expiration string
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &out))
	var raw map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &raw))
	assert.ElementsMatch(t, []string{"Version", "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"}, keys(raw),
		"the AWS CLI v2's keys, without AccountId")
	assert.Equal(t, 1, out.Version, "process is the default")
	assert.Equal(t, calls[0].IssuedAccessKeyID, out.AccessKeyID)
	exp, err := time.Parse("2006-01-02T15:04:05-07:00", out.Expiration)
	require.NoError(t, err, out.Expiration)
	assert.True(t, exp.After(time.Now()))

	// The cache serves the next runs: the same session in every format.
	creds := aws.Credentials{AccessKeyID: out.AccessKeyID, SecretAccessKey: out.SecretAccessKey,
		SessionToken: out.SessionToken, CanExpire: true, Expires: exp, AccountID: acct}
	for _, f := range exportFormats {
		r := runInProcess(t, append(args, "--format", f.name)...)
		require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
		assert.Equal(t, mustRender(t, f, exportValues{creds: creds, profile: "source", region: "us-east-1"}, false), r.stdout, f.name)
	}
	assert.Equal(t, 1, len(srv.Calls(ststest.Call{Action: "AssumeRole"})))

	r = runInProcess(t, append(args, "--format", "env")...)
	sh := exec.Command("sh", "-c", r.stdout+`sh -c 'printf "%s\n" "$AWS_ACCESS_KEY_ID" "$AWS_SESSION_TOKEN" "$AWS_CREDENTIAL_EXPIRATION"'`)
	got, err := sh.Output()
	require.NoError(t, err)
	assert.Equal(t, out.AccessKeyID+"\n"+out.SessionToken+"\n"+out.Expiration+"\n", string(got), "the variables are exported")
}

func TestExportUsage(t *testing.T) {
	isolateEnv(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"export", "--format", "yaml"}, `stschain export: --format yaml is not a format: want one of process, env, env-no-export, powershell, windows-cmd, fish, json, ini`},
		{[]string{"export", "--format", "env", "source", "extra"}, `stschain export: unexpected argument extra: want stschain export [flags] [PROFILE] [--format FORMAT]`},
		{[]string{"export", "--server"}, "flag provided but not defined: -server"},
		{[]string{"credential-process", "--format", "env"}, "flag provided but not defined: -format"},
	} {
		r := runInProcess(t, tc.args...)
		assert.Equal(t, exitUsage, r.code)
		assert.Empty(t, r.stdout)
		assert.Contains(t, failureLine(t, r), tc.want)
	}
}
