package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"

	"github.com/stschain/stschain"
)

// codeSource returns what the flags give MFA codes with: a TOTP generator
// with --totp-secret-env, the command of --mfa-process, the one code of
// --mfa-token; nil when none is given (the links with a device then use
// the terminal prompt, or their profile's mfa_process). validate has made
// sure that at most one of them is given. The variable of
// --totp-secret-env is removed from this process's environment once read,
// so that no process stschain starts (a source profile's
// credential_process, an MFA process, exec's command) inherits the seed.
func codeSource(name string, f *chainFlags, env func(string) string) (stschain.TokenCodeFunc, error) {
	switch {
	case f.mfaProcess != "":
		return stschain.ProcessTokenCode(f.mfaProcess), nil
	case f.mfaToken != "":
		return oneTokenCode(strings.TrimSpace(f.mfaToken)), nil
	case f.totpSecretEnv == "":
		return nil, nil
	}
	secret := env(f.totpSecretEnv)
	_ = os.Unsetenv(f.totpSecretEnv)
	if secret == "" {
		return nil, usagef(name, "environment variable %s of --totp-secret-env is empty or unset", f.totpSecretEnv)
	}
	fn, err := stschain.TOTPTokenCode(secret) // its errors never show the secret
	if err != nil {
		return nil, usagef(name, "environment variable %s of --totp-secret-env: %w", f.totpSecretEnv, errors.Unwrap(err))
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
