package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/stschain/stschain/ststest"
)

// startOnTerminal starts the built command with h's environment and
// extra, on a pseudo-terminal that is its controlling terminal, and
// returns it with the terminal's other end.
func startOnTerminal(t *testing.T, h testHome, extra []string, args ...string) (*exec.Cmd, *terminal) {
	cmd, term, _ := startOnTerminalPath(t, h, extra, args...)
	return cmd, term
}

// startOnTerminalPath is startOnTerminal, also returning the path of the
// command's terminal.
func startOnTerminalPath(t *testing.T, h testHome, extra []string, args ...string) (*exec.Cmd, *terminal, string) {
	t.Helper()
	master, slavePath := openPTY(t)
	slave, err := os.OpenFile(slavePath, os.O_RDWR|syscall.O_NOCTTY, 0)
	require.NoError(t, err)
	defer slave.Close()
	ctx, cancel := context.WithTimeout(t.Context(), testTime)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, binary(t), args...)
	cmd.Env = h.environ(extra...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	cmd.WaitDelay = 5 * time.Second
	require.NoError(t, cmd.Start())
	return cmd, newTerminal(t, master), slavePath
}

// TestKeyringPrompts drives add, remove and a chain through the terminal:
// the keys and the passphrase are asked for there, the secret and the
// passphrase never shown; remove asks before removing.
func TestKeyringPrompts(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t, withKeyringUsers)
	h := keyringHome(t)
	dir := filepath.Join(h.dir, ".stschain", "keys")
	env := []string{"STSCHAIN_BACKEND=file"}

	cmd, term := startOnTerminal(t, h, env, "add", "kr")
	term.expect("Access key ID: ")
	term.typeLine(krKey)
	term.expect("Secret access key: ")
	term.typeLine(krSecret)
	term.expect("New passphrase for stschain's keyring in " + dir + ": ")
	term.typeLine(krPass)
	term.expect("The same passphrase again: ")
	term.typeLine(krPass)
	term.expect(`Added the keys of profile kr (access key ****************0001)`)
	require.NoError(t, cmd.Wait(), "the terminal showed:\n%s", term.seen.String())
	assertNoSecret(t, term.seen.String(), krSecret, krPass)

	// A chain asks for the passphrase when it needs the keys.
	cmd, term = startOnTerminal(t, h, env, "credential-process", "--profile", "admin", "--endpoint-url", srv.URL, "--no-cache")
	term.expect("Passphrase of stschain's keyring in " + dir + ": ")
	term.typeLine(krPass)
	term.expect(`{"Version":1,"AccessKeyId":"ASIA`)
	require.NoError(t, cmd.Wait(), "the terminal showed:\n%s", term.seen.String())
	assertNoSecret(t, term.seen.String(), krSecret, krPass)
	assert.Equal(t, krKey, srv.Calls(ststest.Call{Action: "AssumeRole"})[0].CallerAccessKeyID)

	// A second add must give the passphrase of the items already there.
	cmd, term = startOnTerminal(t, h, append(env, "AWS_ACCESS_KEY_ID="+vaultKey, "AWS_SECRET_ACCESS_KEY="+krSecret), "add", "other")
	term.expect("Passphrase of stschain's keyring in " + dir + ": ")
	term.typeLine("not the passphrase")
	term.expect("the passphrase does not decrypt the items already in " + dir)
	assert.Error(t, cmd.Wait())
	_, err := os.Stat(filepath.Join(dir, "other"))
	assert.ErrorIs(t, err, os.ErrNotExist)

	for _, answer := range []string{"n", "y"} {
		cmd, term = startOnTerminal(t, h, env, "remove", "kr")
		term.expect(`Remove the keys of profile kr from stschain's keyring (file ` + dir + `)? [y/N] `)
		term.typeLine(answer)
		if answer == "n" {
			term.expect("Nothing removed.")
		} else {
			term.expect(`Removed the keys of profile kr`)
		}
		require.NoError(t, cmd.Wait(), "the terminal showed:\n%s", term.seen.String())
		_, err := os.Stat(filepath.Join(dir, "kr"))
		assert.Equal(t, answer == "y", os.IsNotExist(err), "after %q", answer)
	}
}

// TestKeyringPromptInterrupted: Ctrl-C at the secret's prompt ends add at
// once, stores nothing and gives the terminal its echo back.
func TestKeyringPromptInterrupted(t *testing.T) {
	t.Parallel()
	h := keyringHome(t)
	cmd, term, path := startOnTerminalPath(t, h, []string{"STSCHAIN_BACKEND=file", "STSCHAIN_FILE_PASSPHRASE=" + krPass}, "add", "kr")
	term.expect("Access key ID: ")
	term.typeLine(krKey)
	term.expect("Secret access key: ")
	_, err := term.master.Write([]byte{0x03}) // Ctrl-C, the terminal's VINTR
	require.NoError(t, err)
	term.expect("stschain: interrupted by interrupt")
	err = cmd.Wait()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, 130, ee.ExitCode())
	_, err = os.Stat(filepath.Join(h.dir, ".stschain"))
	assert.ErrorIs(t, err, os.ErrNotExist)

	tty, err := os.OpenFile(path, os.O_RDWR|syscall.O_NOCTTY, 0)
	require.NoError(t, err)
	defer tty.Close()
	termios, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	require.NoError(t, err)
	assert.NotZero(t, termios.Lflag&unix.ECHO, "the terminal echoes again")
}
