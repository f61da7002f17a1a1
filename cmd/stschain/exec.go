package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Exit statuses of exec when the command does not run, as shells use them.
const (
	exitCannotRun = 126
	exitNotFound  = 127
)

// replacedEnv are removed from the command's environment: the credentials
// and expiry are set anew, and a profile would make the command's SDK pick
// other credentials than the injected ones.
var replacedEnv = []string{
	"AWS_ACCESS_KEY_ID",
	"AWS_SECRET_ACCESS_KEY",
	"AWS_SESSION_TOKEN",
	"AWS_SECURITY_TOKEN", // boto2's name of the session token
	"AWS_CREDENTIAL_EXPIRATION",
	"AWS_ACCOUNT_ID", // read with the keys by the SDKs, for account-based endpoints
	"AWS_PROFILE",
	"AWS_DEFAULT_PROFILE",
	depthVar, // the command starts a new nesting of its own
}

func runExec(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, env func(string) string) int {
	const name = "exec"
	f, command, help, err := parseFlags(name, args)
	if help {
		printSubcommandHelp(stdout, name)
		return exitOK
	}
	if err != nil {
		return fail(stderr, err)
	}
	if len(command) == 0 {
		return fail(stderr, usagef("stschain exec: no COMMAND given: want stschain exec [flags] -- COMMAND [ARG...]"))
	}

	sigCtx, stopSignals := withSignals(ctx)
	creds, c, code := retrieve(sigCtx, name, f, stderr, env)
	if code != exitOK {
		stopSignals()
		return code
	}
	// From here on signals go to the command. Catch them before releasing
	// the credential phase's handler, so none is lost between the two.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, forwardedSignals...)
	defer signal.Stop(sigs)
	stopSignals()
	if sig := pendingSignal(sigCtx, sigs); sig != nil { // the command is not started
		return interrupted(stderr, sig)
	}

	cmd := exec.CommandContext(ctx, command[0], command[1:]...)
	cmd.Env = childEnv(os.Environ(), creds, c.region)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "stschain exec: %v\n", err)
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			return exitNotFound
		}
		return exitCannotRun
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		select {
		case s := <-sigs:
			if !reachedCommand(s) {
				_ = cmd.Process.Signal(s) // fails only once the command has exited
			}
		case err := <-done:
			return exitStatus(stderr, err)
		}
	}
}

// childEnv is environ without replacedEnv (and the region variables when
// region is set), plus the credentials and region.
func childEnv(environ []string, creds aws.Credentials, region string) []string {
	drop := func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		for _, r := range replacedEnv {
			if k == r {
				return true
			}
		}
		return region != "" && (k == "AWS_REGION" || k == "AWS_DEFAULT_REGION")
	}
	out := make([]string, 0, len(environ)+7)
	for _, kv := range environ {
		if !drop(kv) {
			out = append(out, kv)
		}
	}
	out = append(out,
		"AWS_ACCESS_KEY_ID="+creds.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY="+creds.SecretAccessKey,
	)
	if creds.SessionToken != "" {
		out = append(out, "AWS_SESSION_TOKEN="+creds.SessionToken)
	}
	if exp := expirationOf(creds); exp != "" {
		out = append(out, "AWS_CREDENTIAL_EXPIRATION="+exp)
	}
	if creds.AccountID != "" {
		out = append(out, "AWS_ACCOUNT_ID="+creds.AccountID)
	}
	if region != "" {
		out = append(out, "AWS_REGION="+region, "AWS_DEFAULT_REGION="+region)
	}
	return out
}

// exitStatus is the status stschain exec exits with after the command's
// Wait returned err.
func exitStatus(stderr io.Writer, err error) int {
	if err == nil {
		return exitOK
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		fmt.Fprintf(stderr, "stschain exec: %v\n", err)
		return exitError
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ee.ExitCode()
}
