//go:build unix

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain/ststest"
)

// promptCodes are the codes alice's device accepts in the prompt tests,
// each once, in the order the fake tools give them.
var promptCodes = []string{"111111", "222222", "333333", "444444", "555555", "666666", "777777", "888888"}

// fakeTool is a program name on a PATH of its own: each run appends its
// arguments to a log, one line a run, writes stderr to its standard error
// and prints the next of lines (one per run) on its standard output, then
// exits with status.
type fakeTool struct {
	dir, log string
}

func newFakeTool(t *testing.T, name, stderr string, status int, lines ...string) fakeTool {
	t.Helper()
	dir := t.TempDir()
	ft := fakeTool{dir: dir, log: filepath.Join(dir, "log")}
	answers := filepath.Join(dir, "answers")
	require.NoError(t, os.WriteFile(answers, []byte(strings.Join(lines, "\n")+"\n"), 0o600))
	script := fmt.Sprintf(`#!/bin/sh
printf '%%s\n' "$*" >> '%s'
n=$(wc -l < '%s')
printf '%%s' '%s' >&2
sed -n "${n}p" '%s'
exit %d
`, ft.log, ft.log, stderr, answers, status)
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(script), 0o700))
	return ft
}

// runs returns the arguments of each run.
func (ft fakeTool) runs(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(ft.log)
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

// env is h's environment with the tool first on PATH, no terminal prompt
// setting, and extra.
func (ft fakeTool) env(h testHome, extra ...string) []string {
	env := h.environ(extra...)
	for i, kv := range env {
		if p, ok := strings.CutPrefix(kv, "PATH="); ok {
			env[i] = "PATH=" + ft.dir + string(os.PathListSeparator) + p
		}
	}
	return env
}

// A fake zenity on PATH answers the MFA prompt of a role that requires
// MFA, through the built binary; nothing is written on the terminal or
// standard error; STSCHAIN_PROMPT chooses it as --prompt does.
func TestZenityPrompt(t *testing.T) {
	t.Parallel()
	srv, serial := newServer(t, withCodes(promptCodes...))
	h := newTestHome(t)
	for i, how := range [][]string{{"--prompt", "zenity"}, nil} {
		zenity := newFakeTool(t, "zenity", "Gtk-WARNING: no display\n", 0, promptCodes[i])
		env := zenity.env(h)
		if how == nil {
			env = append(env, promptEnv+"=zenity")
		}
		args := append([]string{"credential-process", "source", "--role-arn", roleMFA, "--mfa-serial", serial,
			"--endpoint-url", srv.URL, "--no-cache"}, how...)
		r := runBinary(t, env, "", args...)
		require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
		decodeOutput(t, r.stdout)
		assert.Empty(t, r.stderr, "the dialog's warnings and no prompt")
		assert.Equal(t, []string{"--entry --title stschain --text Enter MFA code for " + serial}, zenity.runs(t))
	}
	calls := srv.Calls(ststest.Call{Action: "AssumeRole", Status: 200})
	require.Len(t, calls, 2)
	assert.Equal(t, []string{promptCodes[0], promptCodes[1]}, []string{calls[0].TokenCode, calls[1].TokenCode})
}

// A dialog that gives no code is asked again, three times in all; one the
// user cancels ends the run with no STS call; a prompt that is not here,
// or whose tool is not on PATH, is a usage error.
func TestToolPromptFailures(t *testing.T) {
	t.Parallel()
	srv, serial := newServer(t, withCodes(promptCodes...))
	h := newTestHome(t)
	base := []string{"credential-process", "source", "--role-arn", roleMFA, "--mfa-serial", serial,
		"--endpoint-url", srv.URL, "--no-cache"}

	typo := newFakeTool(t, "kdialog", "", 0, "12345", "abc", promptCodes[2])
	r := runBinary(t, typo.env(h), "", append(base, "--prompt", "kdialog")...)
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Len(t, typo.runs(t), 3, "asked until it got 6 digits")
	assert.Equal(t, "--title stschain --inputbox Enter MFA code for "+serial, typo.runs(t)[0])

	never := newFakeTool(t, "kdialog", "", 0, "x", "y", "z", promptCodes[3])
	r = runBinary(t, never.env(h), "", append(base, "--prompt", "kdialog")...)
	assert.Equal(t, exitError, r.code)
	assert.Contains(t, failureLine(t, r), "the kdialog prompt gave no 6-digit code for "+serial)
	assert.Len(t, never.runs(t), 3)

	cancel := newFakeTool(t, "zenity", "", 1, "")
	r = runBinary(t, cancel.env(h), "", append(base, "--prompt", "zenity")...)
	assert.Equal(t, exitError, r.code)
	assert.Contains(t, failureLine(t, r), "the zenity prompt for the MFA code of "+serial+" was cancelled or failed: exit status 1")
	assert.Len(t, cancel.runs(t), 1, "a cancelled dialog is not shown again")

	huge := newFakeTool(t, "zenity", "", 0, strings.Repeat("1", 5000))
	r = runBinary(t, huge.env(h), "", append(base, "--prompt", "zenity")...)
	assert.Equal(t, exitError, r.code)
	assert.Contains(t, failureLine(t, r), "printed more than 4096 bytes")
	assert.NotContains(t, r.stderr, "1111111")

	r = runBinary(t, h.environ("PATH=/nonexistent"), "", append(base, "--prompt", "zenity")...)
	assert.Equal(t, exitUsage, r.code)
	assert.Equal(t, "stschain credential-process: --prompt zenity: zenity is not on PATH", failureLine(t, r))

	r = runBinary(t, h.environ(promptEnv+"=dialog"), "", base...)
	assert.Equal(t, exitUsage, r.code)
	assert.Equal(t, `stschain credential-process: STSCHAIN_PROMPT dialog is not a prompt here: want one of `+strings.Join(promptNames(), ", "), failureLine(t, r))

	assert.Len(t, srv.Calls(ststest.Call{Action: "AssumeRole"}), 1, "the first run's; no STS call without a code")
}

// A fake ykman gives the code of the account named as the device, or as
// YKMAN_OATH_CREDENTIAL_NAME says, on the YubiKey YKMAN_OATH_DEVICE_SERIAL
// names; the touch prompt is on standard error, ykman's own words too.
func TestYkmanPrompt(t *testing.T) {
	t.Parallel()
	srv, serial := newServer(t, withCodes(promptCodes...))
	h := newTestHome(t)
	base := []string{"credential-process", "source", "--role-arn", roleMFA, "--mfa-serial", serial,
		"--endpoint-url", srv.URL, "--no-cache", "--prompt", "ykman"}

	ykman := newFakeTool(t, "ykman", "Touch your YubiKey...\n", 0, promptCodes[0])
	r := runBinary(t, ykman.env(h), "", base...)
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	decodeOutput(t, r.stdout)
	assert.Equal(t, "stschain: touch your YubiKey for the MFA code of "+serial+"\nTouch your YubiKey...\n", r.stderr)
	assert.Equal(t, []string{"oath accounts code --single " + serial}, ykman.runs(t))

	ykman = newFakeTool(t, "ykman", "", 0, promptCodes[1])
	r = runBinary(t, ykman.env(h, ykmanAccountEnv+"=aws:alice", ykmanDeviceEnv+"=12345678"), "", base...)
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Equal(t, []string{"--device 12345678 oath accounts code --single aws:alice"}, ykman.runs(t))

	ykman = newFakeTool(t, "ykman", "", 0, "not a code")
	r = runBinary(t, ykman.env(h), "", base...)
	assert.Equal(t, exitError, r.code)
	assert.Contains(t, r.stderr, "the ykman prompt gave no 6-digit code for "+serial)
	assert.Len(t, ykman.runs(t), 1, "the key's answer is not asked again")
}

// Under exec --server, the renewals of a role that requires MFA ask the
// prompt chosen again, and write nothing into the command's output: the
// first touch prompt, before the command starts, is the only line on
// standard error, which the command shares.
func TestPromptQuietUnderServer(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the renewals of exec --server in -short mode")
	}
	toolPath(t, "curl") // the command's credential client here
	t.Parallel()
	srv, serial := newServer(t, withCodes(promptCodes...), func(c *ststest.Config) {
		for i := range c.Roles {
			if c.Roles[i].ARN == roleMFA {
				c.Roles[i].Lifetime = 3 * time.Second
			}
		}
	})
	h := newTestHome(t)
	ykman := newFakeTool(t, "ykman", "Touch your YubiKey...\n", 0, promptCodes...)
	// The command fetches the credentials until it has seen three
	// sessions: the first and two renewals, each with a new code.
	child := `n=0 last=
while [ "$n" -lt 3 ]; do
	key=$(curl -sf -H "Authorization: $AWS_CONTAINER_AUTHORIZATION_TOKEN" "$AWS_CONTAINER_CREDENTIALS_FULL_URI" |
		sed -n 's/.*"AccessKeyId" *: *"\([A-Z0-9]*\)".*/\1/p') || exit 9
	[ -n "$key" ] || exit 8
	[ "$key" = "$last" ] || { n=$((n+1)); last=$key; }
	sleep 0.2
done; echo done`
	ctx, cancel := context.WithTimeout(t.Context(), testTime)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), "exec", "--server", "source", "--role-arn", roleMFA, "--mfa-serial", serial,
		"--prompt", "ykman", "--endpoint-url", srv.URL, "--no-cache", "--", "sh", "-c", child)
	cmd.Env = ykman.env(h, "NO_PROXY=127.0.0.1", "no_proxy=127.0.0.1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // no terminal to write to
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "stderr: %s", stderr.String())
	assert.Equal(t, "done\n", stdout.String())
	assert.Equal(t, "stschain: touch your YubiKey for the MFA code of "+serial+"\nTouch your YubiKey...\n", stderr.String(),
		"the renewals wrote nothing")
	assert.GreaterOrEqual(t, len(ykman.runs(t)), 3)
	calls := srv.Calls(ststest.Call{Action: "AssumeRole", Status: 200})
	assert.GreaterOrEqual(t, len(calls), 3, "renewed with a new code each time")
}

// "--mfa-token -" reads the code from standard input when a code is
// needed, and STSCHAIN_MFA_TOKEN holds one, so that neither is on the
// command line; STSCHAIN_EXTERNAL_ID gives the external ID. None reaches
// exec's command.
func TestSecretsOffTheCommandLine(t *testing.T) {
	t.Parallel()
	srv, serial := newServer(t, withCodes(promptCodes...))
	h := newTestHome(t)
	base := []string{"credential-process", "source", "--role-arn", roleMFA, "--mfa-serial", serial, "--endpoint-url", srv.URL}

	r := runBinary(t, h.environ(), promptCodes[0]+"\n", append(base, "--mfa-token", "-", "--no-cache")...)
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Empty(t, r.stderr, "no prompt: standard input is not a terminal")

	r = runBinary(t, h.environ(), "not a code\n", append(base, "-t", "-", "--no-cache")...)
	assert.Equal(t, exitError, r.code)
	assert.Contains(t, failureLine(t, r), "--mfa-token -: the line on standard input is not a code")

	r = runBinary(t, h.environ(mfaTokenEnv+"="+promptCodes[1]), "", append(base, "--cache-dir", h.cache)...)
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)

	// A cached session needs no code: standard input is left alone.
	r = runBinary(t, h.environ(), "", append(base, "--mfa-token", "-", "--cache-dir", h.cache)...)
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)

	calls := srv.Calls(ststest.Call{Action: "AssumeRole", Status: 200})
	require.Len(t, calls, 2)
	assert.Equal(t, []string{promptCodes[0], promptCodes[1]}, []string{calls[0].TokenCode, calls[1].TokenCode})

	r = runBinary(t, h.environ(mfaTokenEnv+"=12"), "", append(base, "--no-cache")...)
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, failureLine(t, r), "STSCHAIN_MFA_TOKEN is not a code")

	// The external ID, and what exec's command sees.
	r = runBinary(t, h.environ(externalIDEnv+"="+externalID, mfaTokenEnv+"="+promptCodes[2]), "",
		"exec", "source", "--role-arn", roleExt, "--endpoint-url", srv.URL, "--no-cache", "--",
		"sh", "-c", `echo "[$STSCHAIN_EXTERNAL_ID][$STSCHAIN_MFA_TOKEN]"`)
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Equal(t, "[][]\n", r.stdout)
	assert.Len(t, srv.Calls(ststest.Call{Action: "AssumeRole", RoleARN: roleExt, Status: 200}), 1)
}
