// Command stschain gives programs that are not Go programs the chained,
// MFA-aware, cached STS credentials of package
// github.com/stschain/stschain.
//
// Usage:
//
//	stschain credential-process [flags] [PROFILE]
//	stschain exec [flags] [PROFILE] [--] [COMMAND [ARG...]]
//	stschain export [flags] [PROFILE] [--format FORMAT]
//	stschain login [flags] [PROFILE]
//	stschain completion bash|fish|zsh
//	stschain version
//	stschain help [COMMAND|TOPIC]
//
// credential-process prints the JSON that credential_process in an AWS
// config profile expects. exec runs COMMAND (else a shell) with the
// credentials in AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN and AWS_CREDENTIAL_EXPIRATION, or with --server from a
// local credential server that renews them while COMMAND runs. export
// prints them as the AWS CLI v2's "aws configure export-credentials" does,
// or as JSON or a credentials file section. login opens the AWS console
// with them. All four build the same chain from the same flags, on the
// profile named by the first argument or --profile: "stschain help flags"
// lists them, "stschain help chain" tells how they build it. completion
// prints a shell's completion script, version (or --version) the module
// version and VCS revision stschain was built from. The subcommands are
// declared in commands().
//
// Exit status: 0 on success; 2 for a bad flag or usage, with one line on
// standard error; 1 when the credentials cannot be had (an STS or source
// credential error), with one line naming the failing link; for exec, the
// command's own status, 128+N when a signal N killed it, 127 when it
// cannot be found (or its first word is neither a profile nor a command)
// and 126 when it cannot be started.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
)

// depthVar counts how deeply stschain processes are nested through
// credential_process: a source profile whose credential_process runs
// stschain again (directly or through AWS_PROFILE) would otherwise recurse
// without end. main sets it for the processes the SDK starts; exec removes
// it from its command's environment.
const (
	depthVar = "STSCHAIN_NESTING_DEPTH"
	maxDepth = 5
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == keeperArg {
		os.Exit(runKeeper(os.Args[2:])) // see keeper.go
	}
	depth, _ := strconv.Atoi(os.Getenv(depthVar))
	// Any credential_process the SDK runs while loading the source
	// credentials inherits this.
	_ = os.Setenv(depthVar, strconv.Itoa(depth+1))
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}

// run is the whole command; main only wires it to the process. env looks up
// environment variables (os.Getenv in main).
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, env func(string) string) int {
	inv := &invocation{stdin: stdin, stdout: stdout, stderr: stderr, env: env}
	if d, _ := strconv.Atoi(env(depthVar)); d > maxDepth {
		return fail(stderr, &cmdError{err: fmt.Errorf("nested %d levels deep through credential_process: a source profile seems to run stschain itself; give --profile a profile with its own credentials", d)})
	}
	if len(args) == 0 {
		printOverview(stderr)
		return exitUsage
	}
	c := lookup(args[0])
	if c == nil || c.run == nil {
		return fail(stderr, usagef("", "unknown subcommand %s: want %s", quote(args[0]), names(true)))
	}
	return c.dispatch(ctx, inv, args[1:])
}
