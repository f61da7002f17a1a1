package main

import (
	"context"
	"errors"
	"flag"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/stschain/stschain/credserver"
)

// Exit statuses of exec when the command does not run, as shells use them.
const (
	exitCannotRun = 126
	exitNotFound  = 127
)

// Variables exec sets to tell the command, its scripts and prompts that it
// runs inside stschain, and as what.
const (
	profileMarker = "STSCHAIN_PROFILE"  // the profile of the chain's source
	roleMarker    = "STSCHAIN_ROLE_ARN" // the chain's last role
)

// removedEnv are never passed from stschain's environment to exec's
// command (nor is the variable --totp-secret-env names). Those the command
// needs are set anew: the credentials, or with --server the server's two
// variables; the markers; the region with --region.
var removedEnv = []string{
	// The credentials, and what the SDKs read beside them.
	"AWS_ACCESS_KEY_ID",
	"AWS_SECRET_ACCESS_KEY",
	"AWS_SESSION_TOKEN",
	"AWS_CREDENTIAL_EXPIRATION",
	"AWS_ACCOUNT_ID",
	// Older names of the same: the Go SDK reads AWS_ACCESS_KEY and
	// AWS_SECRET_KEY, boto2 AWS_SECURITY_TOKEN.
	"AWS_ACCESS_KEY",
	"AWS_SECRET_KEY",
	"AWS_SECURITY_TOKEN",
	// Container credentials, which the SDKs would use in place of the
	// keys when these are missing (--server sets its own).
	credserver.FullURIEnv,
	"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
	credserver.AuthTokenEnv,
	"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
	// Web identity (EKS IRSA, CI OIDC): another set of credentials.
	"AWS_WEB_IDENTITY_TOKEN_FILE",
	"AWS_ROLE_ARN",
	"AWS_ROLE_SESSION_NAME",
	// A profile would make the command's SDK pick other credentials.
	"AWS_PROFILE",
	"AWS_DEFAULT_PROFILE",
	// stschain's own: the command starts a nesting of its own, and gets
	// the markers of this run.
	depthVar,
	profileMarker,
	roleMarker,
	// The passphrases of the file keyrings, stschain's and aws-vault's.
	keyringPassphraseEnv,
	awsVaultPassphraseEnv,
}

func execCommand() *command {
	return &command{
		name:       "exec",
		args:       "[flags] [PROFILE] [--] [COMMAND [ARG...]]",
		maxArgs:    -1,
		profileArg: true,
		short:      "run COMMAND (else $SHELL) with the credentials",
		long: `Runs COMMAND (else $SHELL, else /bin/sh) with the credentials of the
chain's last link in AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_SESSION_TOKEN and AWS_CREDENTIAL_EXPIRATION, not renewed; with
--server, from a credential server on 127.0.0.1 that renews them while
COMMAND runs. COMMAND also gets the region, ` + profileMarker + ` and
` + roleMarker + `, and no other credentials of stschain's environment.
Signals are passed on; the exit status is COMMAND's. Run "stschain help
chain" for the chain; the README's "stschain exec" says more.
`,
		example: `  stschain exec --profile admin -- terraform plan
  stschain exec --server --profile admin --session-duration 12h -- make
`,
		flags: func(fs *flag.FlagSet, f *chainFlags) {
			chainFlagSet(fs, f)
			fs.BoolVar(&f.server, "server", false, "serve renewed credentials to COMMAND while it runs")
			fs.StringVar(&f.serverAddr, "server-addr", "", "serve on `ADDR` (IP[:PORT]), not 127.0.0.1")
			fs.StringVar(&f.serverTokenFile, "server-token-file", "", "give COMMAND the token in new file `F`, not its value")
		},
		run: runExec,
	}
}

func runExec(ctx context.Context, inv *invocation, f *chainFlags, command []string) int {
	if len(command) == 0 {
		command = []string{shell(inv.env)}
	}

	if _, err := credserver.ParseAddr(f.serverAddr); err != nil {
		return fail(inv.stderr, usagef(inv.cmd.name, "--server-addr: %w", err))
	}
	sigCtx, stopSignals := withSignals(ctx)
	creds, c, code := retrieve(sigCtx, inv, f)
	if code != exitOK {
		stopSignals()
		return code
	}
	var set []string
	if f.server || f.serverAddr != "" || f.serverTokenFile != "" {
		srv, kp, err := startServer(inv, f, c.provider)
		if err != nil {
			stopSignals()
			return fail(inv.stderr, err)
		}
		// Deferred first, so run last: the server outlives the command
		// and waits for its requests in flight; then the keeper holds
		// its port.
		defer func() {
			_ = srv.Close()
			kp.release()
		}()
		set = srv.Env()
	} else {
		set = credentialEnv(creds)
	}
	set = append(set, markerEnv(c)...)
	if c.region != "" {
		set = append(set, "AWS_REGION="+c.region, "AWS_DEFAULT_REGION="+c.region)
	}

	// From here on signals go to the command. Catch them before releasing
	// the credential phase's handler, so none is lost between the two.
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, forwardedSignals...)
	defer signal.Stop(sigs)
	stopSignals()
	if sig := pendingSignal(sigCtx, sigs); sig != nil { // the command is not started
		return interrupted(inv.stderr, sig)
	}

	cmd := exec.CommandContext(ctx, command[0], command[1:]...)
	cmd.Env = childEnv(os.Environ(), f.totpSecretEnv, set)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inv.stdin, inv.stdout, inv.stderr
	cmd.SysProcAttr = childSysProcAttr()
	done, err := startCommand(cmd)
	if err != nil {
		fail(inv.stderr, &cmdError{cmd: inv.cmd.name, err: err})
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			return exitNotFound
		}
		return exitCannotRun
	}
	for {
		select {
		case s := <-sigs:
			if !reachedCommand(s) {
				_ = cmd.Process.Signal(s) // fails only once the command has exited
			}
		case err := <-done:
			return exitStatus(inv, err)
		}
	}
}

// shell is the command exec runs when none is given: $SHELL, else
// /bin/sh.
func shell(env func(string) string) string {
	if sh := env("SHELL"); sh != "" {
		return sh
	}
	return "/bin/sh"
}

// startCommand starts cmd and returns the channel of its Wait. It starts
// cmd from a goroutine locked to its OS thread, which stays until cmd has
// exited: the kernel sends the Pdeathsig of childSysProcAttr when the
// thread that started the command exits, and the Go runtime may end a
// thread that no goroutine holds.
func startCommand(cmd *exec.Cmd) (<-chan error, error) {
	started := make(chan error, 1)
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		done <- cmd.Wait()
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return done, nil
}

// credentialEnv are the variables that give the command creds.
func credentialEnv(creds aws.Credentials) []string {
	out := []string{
		"AWS_ACCESS_KEY_ID=" + creds.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + creds.SecretAccessKey,
	}
	if creds.SessionToken != "" {
		out = append(out, "AWS_SESSION_TOKEN="+creds.SessionToken)
	}
	if exp := expirationOf(creds); exp != "" {
		out = append(out, "AWS_CREDENTIAL_EXPIRATION="+exp)
	}
	if creds.AccountID != "" {
		out = append(out, "AWS_ACCOUNT_ID="+creds.AccountID)
	}
	return out
}

// markerEnv are the variables that tell the command it runs inside
// stschain: STSCHAIN_PROFILE, the profile of the chain's source (--profile,
// else AWS_PROFILE, else "default"), and, when the chain has a role,
// STSCHAIN_ROLE_ARN, its last role.
func markerEnv(c *chain) []string {
	profile := c.profile
	if profile == "" {
		profile = "default"
	}
	out := []string{profileMarker + "=" + profile}
	if c.roleARN != "" {
		out = append(out, roleMarker+"="+c.roleARN)
	}
	return out
}

// childEnv is environ without removedEnv, the variable secretVar names
// (when not empty) and the variables of set, followed by set.
func childEnv(environ []string, secretVar string, set []string) []string {
	drop := slices.Clone(removedEnv)
	if secretVar != "" {
		drop = append(drop, secretVar)
	}
	for _, kv := range set {
		k, _, _ := strings.Cut(kv, "=")
		drop = append(drop, k)
	}
	out := make([]string, 0, len(environ)+len(set))
	for _, kv := range environ {
		if k, _, _ := strings.Cut(kv, "="); !slices.Contains(drop, k) {
			out = append(out, kv)
		}
	}
	return append(out, set...)
}

// exitStatus is the status stschain exec exits with after the command's
// Wait returned err.
func exitStatus(inv *invocation, err error) int {
	if err == nil {
		return exitOK
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return fail(inv.stderr, &cmdError{cmd: inv.cmd.name, err: err})
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ee.ExitCode()
}
