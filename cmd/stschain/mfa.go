package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"

	"golang.org/x/term"

	"github.com/stschain/stschain"
)

// tokenCodeFunc returns what gives the MFA codes of --mfa-serial: a TOTP
// generator with --totp-secret-env, the command of --mfa-process, the one
// code of --mfa-token, else the terminal prompt; nil without --mfa-serial.
// validate has made sure that at most one of them is given.
func tokenCodeFunc(name string, f *chainFlags, stderr io.Writer, env func(string) string) (stschain.TokenCodeFunc, error) {
	switch {
	case f.mfaSerial == "":
		return nil, nil
	case f.mfaProcess != "":
		return stschain.ProcessTokenCode(f.mfaProcess), nil
	case f.mfaToken != "":
		return oneTokenCode(f.mfaToken), nil
	case f.totpSecretEnv == "":
		return promptTokenCode(stderr), nil
	}
	secret := env(f.totpSecretEnv)
	if secret == "" {
		return nil, usagef("stschain %s: environment variable %s of --totp-secret-env is empty or unset", name, f.totpSecretEnv)
	}
	fn, err := stschain.TOTPTokenCode(secret) // its errors never show the secret
	if err != nil {
		return nil, usagef("stschain %s: environment variable %s of --totp-secret-env: %s", name, f.totpSecretEnv, strings.TrimPrefix(err.Error(), "stschain: "))
	}
	return fn, nil
}

// oneTokenCode gives code once, for --mfa-token. A second request, which
// comes when STS refused the code or a session that needs MFA is renewed,
// fails with an error that says so.
func oneTokenCode(code string) stschain.TokenCodeFunc {
	var used atomic.Bool
	return func(_ context.Context, serial string) (string, error) {
		if used.Swap(true) {
			return "", fmt.Errorf("a second MFA code for %s is needed (STS refused the code, or a session that needs MFA is renewed), and --mfa-token gives one; use --mfa-process, --totp-secret-env or the prompt for more", serial)
		}
		return code, nil
	}
}

// promptTokenCode is stschain.PromptTokenCode, which prompts on standard
// error and reads the terminal. The AWS CLI captures the standard error of
// a credential_process and shows it only on failure, so when stderr is not
// a terminal the prompt is also written to the terminal itself.
func promptTokenCode(stderr io.Writer) stschain.TokenCodeFunc {
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return stschain.PromptTokenCode
	}
	return func(ctx context.Context, serial string) (string, error) {
		if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
			fmt.Fprintf(tty, "stschain: MFA code for %s (type it and press Enter): ", serial)
			tty.Close()
		}
		return stschain.PromptTokenCode(ctx, serial)
	}
}
