package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/stschain/stschain"
	"github.com/stschain/stschain/internal/mfacode"
)

// Environment variables of the prompts.
const (
	// promptEnv chooses the prompt when --prompt does not.
	promptEnv = "STSCHAIN_PROMPT"
	// mfaTokenEnv holds an MFA code, as --mfa-token does, without putting
	// it on the command line: it answers where the prompt would ask.
	mfaTokenEnv = "STSCHAIN_MFA_TOKEN"
	// aws-vault's variables of its ykman prompt, read as it reads them so
	// that its users keep their settings: the OATH account of the code
	// (else the device's serial number), and the YubiKey to ask when
	// several are plugged in.
	ykmanAccountEnv = "YKMAN_OATH_CREDENTIAL_NAME"
	ykmanDeviceEnv  = "YKMAN_OATH_DEVICE_SERIAL"
)

// mfaTokenStdin is the --mfa-token value that reads the code from
// standard input.
const mfaTokenStdin = "-"

// promptToolTimeout bounds how long the user has to answer a dialog (or
// touch a key); mfacode.Output bounds how much of its output is read.
const promptToolTimeout = 3 * time.Minute

// A promptDriver asks for MFA codes somewhere: on the terminal, in a
// dialog of the desktop, or of a YubiKey.
type promptDriver struct {
	name  string
	about string
	// tool is the program it runs, found on PATH; "" for none.
	tool string
	// goos lists the systems it exists on; nil for every one.
	goos []string
	// args are the tool's arguments to ask for the code of serial.
	args func(serial string, env func(string) string) []string
	// touch: the tool waits for a touch of a key, which the user is told
	// of; a dialog needs no word.
	touch bool
}

// promptDrivers are the values of --prompt and STSCHAIN_PROMPT, as
// aws-vault names its prompts (wincred is its wincredui).
var promptDrivers = []promptDriver{
	{name: "terminal", about: "the terminal (the default)"},
	{name: "osascript", about: "a dialog of macOS", tool: "osascript", goos: []string{"darwin"}, args: osascriptArgs},
	{name: "zenity", about: "a GNOME dialog", tool: "zenity", args: func(serial string, _ func(string) string) []string {
		return []string{"--entry", "--title", "stschain", "--text", promptText(serial)}
	}},
	{name: "kdialog", about: "a KDE dialog", tool: "kdialog", args: func(serial string, _ func(string) string) []string {
		return []string{"--title", "stschain", "--inputbox", promptText(serial)}
	}},
	{name: "wincred", about: "a Windows credentials dialog", goos: []string{"windows"}},
	{name: "ykman", about: "a YubiKey's OATH code, by ykman", tool: "ykman", args: ykmanArgs, touch: true},
}

// promptText is what a dialog asks.
func promptText(serial string) string { return "Enter MFA code for " + quote(serial) }

// osascriptArgs shows a dialog that returns what the user typed. The
// message is an argument of the script, never part of its text.
func osascriptArgs(serial string, _ func(string) string) []string {
	return []string{
		"-e", "on run argv",
		"-e", `display dialog (item 1 of argv) default answer "" with title "stschain" buttons {"Cancel", "OK"} default button "OK"`,
		"-e", "return text returned of result",
		"-e", "end run",
		promptText(serial),
	}
}

// ykmanArgs asks ykman for the current code of the OATH account named by
// YKMAN_OATH_CREDENTIAL_NAME, else of the one named as the device's
// serial number (aws-vault's rule), on the YubiKey YKMAN_OATH_DEVICE_SERIAL
// names when set.
func ykmanArgs(serial string, env func(string) string) []string {
	var args []string
	if dev := env(ykmanDeviceEnv); dev != "" {
		args = append(args, "--device", dev)
	}
	account := env(ykmanAccountEnv)
	if account == "" {
		account = serial
	}
	return append(args, "oath", "accounts", "code", "--single", account)
}

// promptNames lists the names of the drivers that exist on this system.
func promptNames() []string {
	var out []string
	for _, d := range promptDrivers {
		if d.goos == nil || slices.Contains(d.goos, runtime.GOOS) {
			out = append(out, d.name)
		}
	}
	return out
}

// promptSource returns what asks for the MFA codes of the links no flag
// gives codes to (and whose profile has no mfa_process): the code in
// STSCHAIN_MFA_TOKEN, once; else the prompt of --prompt, else of
// STSCHAIN_PROMPT, else the terminal. STSCHAIN_MFA_TOKEN leaves this
// process's environment once read, so that no process stschain starts
// inherits the code. A prompt that is not the terminal never writes to
// standard error once the command's own retrieval is over (a renewal under
// exec --server), so nothing of it lands in a command's output.
func promptSource(inv *invocation, f *chainFlags) (stschain.TokenCodeFunc, error) {
	name := inv.cmd.name
	if code := inv.env(mfaTokenEnv); code != "" {
		_ = os.Unsetenv(mfaTokenEnv)
		if code = strings.TrimSpace(code); !mfacode.Valid(code) {
			return nil, usagef(name, "%s is not a code: want the 6 digits the device shows", mfaTokenEnv)
		}
		return oneTokenCode(mfaTokenEnv, func() (string, error) { return code, nil }), nil
	}
	choice, from := f.prompt, "--prompt"
	if choice == "" {
		choice, from = inv.env(promptEnv), promptEnv
	}
	if choice == "" {
		choice = "terminal"
	}
	i := slices.IndexFunc(promptDrivers, func(d promptDriver) bool { return d.name == choice })
	if i < 0 || !slices.Contains(promptNames(), choice) {
		return nil, usagef(name, "%s %s is not a prompt here: want one of %s", from, quote(choice), strings.Join(promptNames(), ", "))
	}
	d := promptDrivers[i]
	switch {
	case d.name == "terminal":
		return terminalPrompt(), nil
	case d.name == "wincred":
		return wincredPrompt()
	}
	path, err := exec.LookPath(d.tool)
	if err != nil {
		return nil, usagef(name, "%s %s: %s is not on PATH", from, d.name, d.tool)
	}
	p := &toolPrompt{driver: d, path: path, env: inv.env, stderr: inv.stderr}
	return p.code, nil
}

// toolPrompt asks for codes by running a program: a dialog, or ykman.
type toolPrompt struct {
	driver promptDriver
	path   string // the tool, found on PATH
	env    func(string) string
	stderr io.Writer // the command's standard error

	mu sync.Mutex // one dialog at a time
}

// code is a stschain.TokenCodeFunc: it runs the tool until it gives 6
// digits, up to mfacode.Attempts times.
func (p *toolPrompt) code(ctx context.Context, serial string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	notices, closeNotices := p.noticeWriter(ctx)
	defer closeNotices()
	for attempt := 1; ; attempt++ {
		if p.driver.touch {
			fmt.Fprintf(notices, "stschain: touch your YubiKey for the MFA code of %s\n", quote(serial))
		}
		out, err := p.run(ctx, serial, notices)
		if err != nil {
			return "", err
		}
		code := strings.Join(strings.Fields(out), "")
		switch {
		case mfacode.Valid(code):
			return code, nil
		case attempt == mfacode.Attempts || p.driver.touch:
			// ykman's answer is the device's: asking again gives the same.
			return "", fmt.Errorf("the %s prompt gave no 6-digit code for %s", p.driver.name, quote(serial))
		}
	}
}

// run runs the tool once, bounded in time, and returns what it printed.
// It fails when the tool does: the user cancelled, or it could not ask.
func (p *toolPrompt) run(parent context.Context, serial string, notices io.Writer) (string, error) {
	ctx, cancel := context.WithTimeout(parent, promptToolTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, p.path, p.driver.args(serial, p.env)...)
	cmd.Env = toolEnv(os.Environ())
	cmd.WaitDelay = time.Second
	var out, errOut mfacode.Output
	cmd.Stdout = &out
	cmd.Stderr = &errOut // a dialog's warnings are nobody's business
	if p.driver.touch {
		cmd.Stderr = notices // ykman's "Touch your YubiKey..."
	}
	err := cmd.Run()
	what := fmt.Sprintf("the %s prompt for the MFA code of %s", p.driver.name, quote(serial))
	switch {
	case parent.Err() != nil:
		return "", fmt.Errorf("%s: %w", what, parent.Err())
	case ctx.Err() != nil:
		return "", fmt.Errorf("%s had no answer in %v", what, promptToolTimeout)
	case err != nil:
		return "", fmt.Errorf("%s was cancelled or failed: %w", what, err)
	case out.Overflow():
		return "", fmt.Errorf("%s printed more than %d bytes", what, mfacode.MaxOutput)
	}
	return out.String(), nil
}

// noticeWriter is where a touch notice goes: the command's standard error
// while the command itself waits for the credentials; later (a renewal
// under exec --server, whose command shares that standard error) the
// terminal, or nowhere when there is none.
func (p *toolPrompt) noticeWriter(ctx context.Context) (io.Writer, func()) {
	if !p.driver.touch {
		return io.Discard, func() {}
	}
	if isForeground(ctx) {
		return p.stderr, func() {}
	}
	if tty, err := openTerminalOut(); err == nil {
		return tty, func() { tty.Close() }
	}
	return io.Discard, func() {}
}

// toolEnv is environ without the credentials and stschain's own
// variables: a dialog needs none of them.
func toolEnv(environ []string) []string {
	return slices.DeleteFunc(slices.Clone(environ), func(kv string) bool {
		return strings.HasPrefix(kv, "AWS_") || strings.HasPrefix(kv, "STSCHAIN_")
	})
}

// foregroundKey marks the context of a command's own run, as opposed to
// the refreshes that run later on their own (a renewal under exec
// --server), whose contexts do not carry it.
type foregroundKey struct{}

// withForeground marks ctx as the command's own.
func withForeground(ctx context.Context) context.Context {
	return context.WithValue(ctx, foregroundKey{}, true)
}

// isForeground reports whether ctx is, or derives from, the command's own.
func isForeground(ctx context.Context) bool {
	v, _ := ctx.Value(foregroundKey{}).(bool)
	return v
}

// stdinCode returns the TokenCodeFunc of "--mfa-token -": on a terminal,
// the terminal prompt; else the first line of in, read when a code is
// first needed (so that a cached session leaves standard input alone),
// for one request.
func stdinCode(in io.Reader) stschain.TokenCodeFunc {
	if f, ok := in.(*os.File); ok && isTerminal(f) {
		return terminalPrompt()
	}
	return oneTokenCode("--mfa-token -", sync.OnceValues(func() (string, error) {
		line, err := bufio.NewReader(io.LimitReader(in, 256)).ReadString('\n')
		code := strings.TrimSpace(line)
		switch {
		case mfacode.Valid(code):
			return code, nil
		case err != nil && code == "":
			return "", fmt.Errorf("--mfa-token -: no code on standard input: %w", err)
		}
		return "", errors.New("--mfa-token -: the line on standard input is not a code: want the 6 digits the device shows")
	}))
}

// isTerminal reports whether f is a terminal (a character device).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
