//go:build unix

package main

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain/internal/awsclitest"
)

// requireShellsEnv makes the tests require the shells they drive that
// Debian packages (bash, zsh, fish; pwsh is not among them, and is used
// where it is installed) instead of skipping what needs them, and
// requireToolsEnv the other programs (curl, ip, unshare), as CI does once
// it has installed them.
const (
	requireShellsEnv = "STSCHAIN_REQUIRE_SHELLS"
	requireToolsEnv  = "STSCHAIN_REQUIRE_TOOLS"
)

// shellPath returns the path of shell, skipping the test when it is not
// installed (failing when requireShellsEnv says it must be, but for
// pwsh).
func shellPath(t *testing.T, shell string) string {
	t.Helper()
	if shell == "pwsh" {
		return lookPath(t, shell, "")
	}
	return lookPath(t, shell, requireShellsEnv)
}

// toolPath returns the path of the program name, skipping the test when
// it is not installed (failing when requireToolsEnv says it must be).
func toolPath(t *testing.T, name string) string {
	t.Helper()
	return lookPath(t, name, requireToolsEnv)
}

func lookPath(t *testing.T, name, requireEnv string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if requireEnv != "" && os.Getenv(requireEnv) != "" {
			t.Fatalf("%s is not installed, and %s is set", name, requireEnv)
		}
		t.Skipf("skipping: %s is not installed", name)
	}
	return path
}

// shellRun is how a shell reads a file of a format and writes each
// variable of names to dir/NAME, exactly.
type shellRun struct {
	shell  string
	format string
	script func(file, dir string, names []string) []string // the shell's argv after its path
}

var shellRuns = []shellRun{
	{"sh", "env", posixScript},
	{"bash", "env", posixScript},
	{"sh", "env-no-export", posixScript},
	{"bash", "env-no-export", posixScript},
	{"zsh", "env", posixScript},
	{"fish", "fish", func(file, dir string, names []string) []string {
		s := "source '" + file + "'"
		for _, n := range names {
			s += fmt.Sprintf("; printf '%%s' \"$%s\" > '%s/%s'", n, dir, n)
		}
		return []string{"--no-config", "-c", s}
	}},
	{"pwsh", "powershell", func(file, dir string, names []string) []string {
		s := ". '" + file + "'"
		for _, n := range names {
			s += fmt.Sprintf("; [IO.File]::WriteAllText('%s/%s', $Env:%s)", dir, n, n)
		}
		return []string{"-NoProfile", "-NonInteractive", "-Command", s}
	}},
}

// posixScript sources file (as eval "$(stschain export ...)" would) and
// writes each variable: sh, bash, zsh.
func posixScript(file, dir string, names []string) []string {
	s := `eval "$(cat '` + file + `')"`
	for _, n := range names {
		s += fmt.Sprintf("; printf '%%s' \"$%s\" > '%s/%s'", n, dir, n)
	}
	return []string{"-c", s}
}

// evalExport has run's shell read out, the output of its format, in a
// directory of its own, and returns the value of each variable of names it
// then holds; it fails when the shell made hostileMarker there.
func evalExport(t *testing.T, run shellRun, out string, names []string) map[string]string {
	t.Helper()
	path := shellPath(t, run.shell)
	dir := t.TempDir()
	file := filepath.Join(dir, "export")
	require.NoError(t, os.WriteFile(file, []byte(out), 0o600))
	vars := filepath.Join(dir, "vars")
	require.NoError(t, os.Mkdir(vars, 0o700))
	ctx, cancel := context.WithTimeout(t.Context(), testTime)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, run.script(file, vars, names)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir)
	got, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s: %s", run.shell, got)
	assert.NoFileExists(t, filepath.Join(dir, hostileMarker), "%s ran a command of a value", run.shell)
	values := map[string]string{}
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(vars, n))
		require.NoError(t, err, "%s set no %s", run.shell, n)
		values[n] = string(data)
	}
	return values
}

// hostileMarker is created by a command a hostile value would run.
const hostileMarker = "pwned"

// hostileValues try to run hostileMarker's command in every shell: command
// substitution, backticks, ;, quotes of every kind, newlines, and
// PowerShell's $() and typographic quotes.
func hostileValues() aws.Credentials {
	return aws.Credentials{
		AccessKeyID:     "ASIA$(touch " + hostileMarker + ")`touch " + hostileMarker + "`",
		SecretAccessKey: "a'b\"c;touch " + hostileMarker + ";'\n$(touch " + hostileMarker + ")\\",
		SessionToken:    "t\u2018;touch " + hostileMarker + ";\u2019\"$(New-Item " + hostileMarker + ")\"'\r\n' ; touch " + hostileMarker + " #",
		CanExpire:       true,
		Expires:         time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC),
	}
}

var exportNames = []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_CREDENTIAL_EXPIRATION", "AWS_REGION", "AWS_DEFAULT_REGION"}

// TestExportQuotingInRealShells: every shell format, read by its shell,
// sets each variable to the exact value, hostile ones included, and runs
// nothing of them; cmd.exe's format and ini refuse what they cannot hold.
func TestExportQuotingInRealShells(t *testing.T) {
	t.Parallel()
	normal := aws.Credentials{AccessKeyID: "ASIAEXAMPLE0123", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCY=", SessionToken: "IQoJb3JpZ2luX2VjE/+=",
		CanExpire: true, Expires: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	for _, tc := range []struct {
		name   string
		creds  aws.Credentials
		region string
	}{
		{"normal", normal, "eu-west-1"},
		{"hostile", hostileValues(), "eu-west-1$(touch " + hostileMarker + ")"},
	} {
		for _, run := range shellRuns {
			t.Run(tc.name+"/"+run.shell+"/"+run.format, func(t *testing.T) {
				f, ok := lookupFormat(run.format)
				require.True(t, ok)
				out := mustRender(t, f, exportValues{creds: tc.creds, region: tc.region}, false)
				got := evalExport(t, run, out, exportNames)
				want := []string{tc.creds.AccessKeyID, tc.creds.SecretAccessKey, tc.creds.SessionToken, pyISOFormat(tc.creds.Expires), tc.region, tc.region}
				for i, n := range exportNames {
					assert.Equal(t, want[i], got[n], n)
				}
			})
		}
		for _, format := range []string{"windows-cmd", "ini"} {
			f, _ := lookupFormat(format)
			_, err := f.render(exportValues{creds: tc.creds, region: tc.region}, false)
			if tc.name == "normal" {
				assert.NoError(t, err, format)
			} else {
				assert.Error(t, err, format)
			}
		}
	}
}

// TestExportEveryFormatThroughTheBinary: the built command's output in
// every format gives the session credential-process gives, with the
// profile's region: read by each shell, by the JSON decoder, and by the
// AWS CLI for ini.
func TestExportEveryFormatThroughTheBinary(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t)
	h, env := habitsHome(t, srv)
	r := runBinary(t, env, "", "credential-process", "admin", "--cache-dir", h.cache)
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	pc := decodeOutput(t, r.stdout)
	expires, err := time.Parse(expirationLayout, pc.Expiration)
	require.NoError(t, err)
	want := map[string]string{
		"AWS_ACCESS_KEY_ID": pc.AccessKeyID, "AWS_SECRET_ACCESS_KEY": pc.SecretAccessKey, "AWS_SESSION_TOKEN": pc.SessionToken,
		"AWS_CREDENTIAL_EXPIRATION": pyISOFormat(expires), "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
	}
	export := func(t *testing.T, format string) string {
		t.Helper()
		r := runBinary(t, env, "", "export", "admin", "--format", format, "--cache-dir", h.cache)
		require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
		assert.Empty(t, r.stderr)
		return r.stdout
	}
	// Each format's run waits for a shell or the AWS CLI to start: they
	// run side by side, and the count of STS calls follows them all.
	t.Run("formats", func(t *testing.T) {
		for _, run := range shellRuns {
			t.Run(run.shell+"/"+run.format, func(t *testing.T) {
				t.Parallel()
				assert.Equal(t, want, evalExport(t, run, export(t, run.format), exportNames))
			})
		}
		t.Run("json", func(t *testing.T) {
			t.Parallel()
			var got map[string]any
			require.NoError(t, json.Unmarshal([]byte(export(t, "json")), &got))
			assert.Equal(t, map[string]any{"Version": 1.0, "AccessKeyId": pc.AccessKeyID, "SecretAccessKey": pc.SecretAccessKey,
				"SessionToken": pc.SessionToken, "Expiration": pyISOFormat(expires), "AccountId": acct, "Region": "us-east-1"}, got)
		})
		t.Run("ini, read by the AWS CLI", func(t *testing.T) {
			awsPath := awsclitest.Require(t)
			t.Parallel()
			file := filepath.Join(t.TempDir(), "credentials")
			require.NoError(t, os.WriteFile(file, []byte(export(t, "ini")), 0o600))
			for key, value := range map[string]string{"aws_access_key_id": pc.AccessKeyID, "aws_secret_access_key": pc.SecretAccessKey,
				"aws_session_token": pc.SessionToken, "region": "us-east-1"} {
				t.Run(key, func(t *testing.T) {
					t.Parallel()
					cmd := exec.CommandContext(t.Context(), awsPath, "configure", "get", key, "--profile", "admin")
					cmd.Env = append(h.environ(awsclitest.HomeEnv(awsPath)...), "AWS_SHARED_CREDENTIALS_FILE="+file, "AWS_CONFIG_FILE=/nonexistent")
					got, err := cmd.Output()
					require.NoError(t, err)
					assert.Equal(t, value, strings.TrimSpace(string(got)))
				})
			}
		})
	})
	assert.Len(t, srv.Calls(), 1, "every run used the session credential-process cached")
}

// hostileSTS answers every AssumeRole with creds, as a hostile or broken
// endpoint could.
func hostileSTS(t *testing.T, creds aws.Credentials) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		type credentials struct {
			AccessKeyID     string `xml:"AccessKeyId"`
			SecretAccessKey string
			SessionToken    string
			Expiration      string
		}
		var out struct {
			XMLName xml.Name `xml:"https://sts.amazonaws.com/doc/2011-06-15/ AssumeRoleResponse"`
			Result  struct {
				AssumedRoleUser struct{ AssumedRoleId, Arn string }
				Credentials     credentials
			} `xml:"AssumeRoleResult"`
		}
		out.Result.AssumedRoleUser.Arn = "arn:aws:sts::123456789012:assumed-role/A/s"
		out.Result.AssumedRoleUser.AssumedRoleId = "AROAEXAMPLE:s"
		out.Result.Credentials = credentials{creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken,
			time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}
		w.Header().Set("Content-Type", "text/xml")
		_ = xml.NewEncoder(w).Encode(out)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestExportHostileAnswer: an STS answer holding shell code, through the
// built binary, in every shell format: either refused (nothing on
// standard output), or printed so that each shell sets the exact values
// and runs nothing of them.
func TestExportHostileAnswer(t *testing.T) {
	t.Parallel()
	creds := hostileValues()
	url := hostileSTS(t, creds)
	h := newTestHome(t)
	for _, run := range shellRuns {
		t.Run(run.shell+"/"+run.format, func(t *testing.T) {
			r := runBinary(t, h.environ(), "", "export", "source", "--role-arn", roleA, "--endpoint-url", url,
				"--no-cache", "--format", run.format)
			if r.code != exitOK {
				assert.Empty(t, r.stdout, "refused: nothing printed")
				return
			}
			got := evalExport(t, run, r.stdout, exportNames[:3])
			assert.Equal(t, creds.AccessKeyID, got["AWS_ACCESS_KEY_ID"])
			assert.Equal(t, creds.SecretAccessKey, got["AWS_SECRET_ACCESS_KEY"])
			assert.Equal(t, creds.SessionToken, got["AWS_SESSION_TOKEN"])
		})
	}
	for _, format := range []string{"windows-cmd", "ini"} {
		r := runBinary(t, h.environ(), "", "export", "source", "--role-arn", roleA, "--endpoint-url", url,
			"--no-cache", "--format", format)
		assert.Equal(t, exitError, r.code, format)
		assert.Empty(t, r.stdout, format)
		assert.NotContains(t, r.stderr, "touch", format)
	}
}
