package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"

	"github.com/stschain/stschain"
)

// mfaSources returns what gives the MFA codes: codes, from the flags (nil
// when none gives them), and prompt, for the links no flag gives codes to
// and whose profile has no mfa_process.
func mfaSources(inv *invocation, f *chainFlags) (codes, prompt stschain.TokenCodeFunc, err error) {
	if codes, err = codeSource(inv.cmd.name, f, inv.env, inv.stdin); err != nil {
		return nil, nil, err
	}
	if prompt, err = promptSource(inv, f); err != nil {
		return nil, nil, err
	}
	return codes, prompt, nil
}

// codeSource returns what the flags give MFA codes with: a TOTP generator
// with --totp-secret-env, the command of --mfa-process, the one code of
// --mfa-token (read from standard input for "-"); nil when none is given
// (the links with a device then use their profile's mfa_process, or the
// prompt of promptSource). validate has made sure that at most one of
// them is given. The variable of --totp-secret-env is removed from this
// process's environment once read, so that no process stschain starts (a
// source profile's credential_process, an MFA process, exec's command)
// inherits the seed.
func codeSource(name string, f *chainFlags, env func(string) string, stdin io.Reader) (stschain.TokenCodeFunc, error) {
	switch {
	case f.mfaProcess != "":
		return stschain.ProcessTokenCode(f.mfaProcess), nil
	case f.mfaToken == mfaTokenStdin:
		return stdinCode(stdin), nil
	case f.mfaToken != "":
		code := strings.TrimSpace(f.mfaToken)
		return oneTokenCode("--mfa-token", func() (string, error) { return code, nil }), nil
	case f.totpSecretEnv == "":
		return nil, nil
	}
	secret := env(f.totpSecretEnv)
	_ = os.Unsetenv(f.totpSecretEnv)
	if secret == "" {
		return nil, usagef(name, "environment variable %s of --totp-secret-env is empty or unset", quote(f.totpSecretEnv))
	}
	fn, err := stschain.TOTPTokenCode(secret) // its errors never show the secret
	if err != nil {
		return nil, usagef(name, "environment variable %s of --totp-secret-env: %w", quote(f.totpSecretEnv), errors.Unwrap(err))
	}
	return fn, nil
}

// oneTokenCode gives the code of get once, for --mfa-token or
// STSCHAIN_MFA_TOKEN, which source names. A second request, which comes
// when STS refused the code or a session that needs MFA is renewed, fails
// with an error that says so.
func oneTokenCode(source string, get func() (string, error)) stschain.TokenCodeFunc {
	var used atomic.Bool
	return func(_ context.Context, serial string) (string, error) {
		if used.Swap(true) {
			return "", fmt.Errorf("a second MFA code for %s is needed (STS refused the code, or a session that needs MFA is renewed), and %s gives one; use --mfa-process, --totp-secret-env or the prompt for more", quote(serial), source)
		}
		return get()
	}
}
