// Command stschain gives programs that are not written in Go the chained,
// MFA-aware, cached STS credentials of package
// github.com/stschain/stschain.
//
// Usage:
//
//	stschain credential-process [flags]
//	stschain exec [flags] [--] [COMMAND [ARG...]]
//	stschain export [flags] [--format FORMAT]
//	stschain version
//	stschain help [SUBCOMMAND]
//
// credential-process prints the JSON that credential_process in an AWS
// config profile expects. exec runs COMMAND (else a shell) with the
// credentials in AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN and AWS_CREDENTIAL_EXPIRATION, or with --server from a
// local credential server that renews them while COMMAND runs. export
// prints them as the AWS CLI v2's "aws configure export-credentials" does.
// All three build the same chain from the same flags; run "stschain help"
// for them. version (or --version) prints the module version and VCS
// revision stschain was built from.
//
// Exit status: 0 on success; 2 for a bad flag or usage, with one line on
// standard error; 1 when the credentials cannot be had (an STS or source
// credential error), with one line naming the failing link; for exec, the
// command's own status, 128+N when a signal N killed it, 127 when it
// cannot be found and 126 when it cannot be started.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
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
	depth, _ := strconv.Atoi(os.Getenv(depthVar))
	// Any credential_process the SDK runs while loading the source
	// credentials inherits this.
	_ = os.Setenv(depthVar, strconv.Itoa(depth+1))
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}

// Exit statuses.
const (
	exitOK    = 0
	exitError = 1 // credentials could not be had
	exitUsage = 2 // bad flags or usage
)

// usageError is a mistake in the command line or in what it names (an
// empty --totp-secret-env variable, an invalid role ARN ...): exit 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// run is the whole command; main only wires it to the process. env looks up
// environment variables (os.Getenv in main).
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, env func(string) string) int {
	if d, _ := strconv.Atoi(env(depthVar)); d > maxDepth {
		fmt.Fprintf(stderr, "stschain: nested %d levels deep through credential_process: a source profile seems to run stschain itself; give --profile a profile with its own credentials\n", d)
		return exitError
	}
	if len(args) == 0 {
		fmt.Fprint(stderr, mainUsage)
		return exitUsage
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "credential-process":
		return runCredentialProcess(ctx, rest, stdout, stderr, env)
	case "exec":
		return runExec(ctx, rest, stdin, stdout, stderr, env)
	case "export":
		return runExport(ctx, rest, stdout, stderr, env)
	case "version", "--version", "-version":
		return runVersion(rest, stdout, stderr)
	case "help", "-h", "-help", "--help":
		return runHelp(rest, stdout, stderr)
	default:
		return fail(stderr, usagef("unknown subcommand %q: want credential-process, exec, export, version or help", cmd))
	}
}

// runHelp prints the help of the subcommand args names, or the overview.
func runHelp(args []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) == 0:
		fmt.Fprint(stdout, mainUsage)
		return exitOK
	case len(args) == 1 && args[0] == "version":
		fmt.Fprint(stdout, versionHelp)
		return exitOK
	case len(args) == 1 && subcommands[args[0]].name != "":
		printSubcommandHelp(stdout, args[0])
		return exitOK
	default:
		return fail(stderr, usagef("help: unknown subcommand %q: want credential-process, exec, export or version", strings.Join(args, " ")))
	}
}

// fail prints err as one line on stderr and returns its exit status.
func fail(stderr io.Writer, err error) int {
	fmt.Fprintln(stderr, oneLine(err))
	var ue *usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitError
}

// flat returns err's message on a single line.
func flat(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
}

// oneLine returns err's message on a single line, prefixed "stschain"
// once.
func oneLine(err error) string {
	msg := strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
	if !strings.HasPrefix(msg, "stschain") {
		msg = "stschain: " + msg
	}
	return msg
}

const mainUsage = `stschain - chained, MFA-aware, cached AWS STS credentials for any program

Usage:
  stschain credential-process [flags]           print credentials for credential_process
  stschain exec [flags] [--] [COMMAND [ARG...]] run COMMAND (else $SHELL) with the credentials
  stschain export [flags] [--format FORMAT]     print the credentials for a shell (env, powershell ...)
  stschain version                              print the version stschain was built from
  stschain help [SUBCOMMAND]                    show the help of a subcommand

The chain, from the bottom up:
  the chain of --profile (else AWS_PROFILE, else default) in ~/.aws/config
  -> GetSessionToken with MFA          (only with --session-duration)
  -> --role-arn ROLE_1 -> ... -> ROLE_N (each assumed with the one before)

Example (~/.aws/config):
  [profile admin]
  region = eu-west-1
  role_arn = arn:aws:iam::111111111111:role/admin
  source_profile = alice
  mfa_serial = arn:aws:iam::111111111111:mfa/alice

  [profile admin-daily]
  region = eu-west-1
  credential_process = stschain credential-process --profile admin --session-duration 12h

Example (shell):
  stschain exec --profile admin -- terraform plan
  stschain exec --server --profile admin --session-duration 12h -- terraform apply
  eval "$(stschain export --profile admin --format env)"

Run "stschain help SUBCOMMAND" for the flags.
`

// versionHelp is the help of version.
const versionHelp = `Usage: stschain version
       stschain --version

Prints the module version and the VCS revision stschain was built from,
and the Go toolchain: "unknown" where the build did not record them (as
with go build -buildvcs=false).
`
