package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/aws/smithy-go"

	"github.com/stschain/stschain"
)

// Exit statuses.
const (
	exitOK    = 0
	exitError = 1 // credentials could not be had
	exitUsage = 2 // bad flags or usage
)

// cmdError is an error the command found itself, or one of a package
// whose messages do not start with "stschain" (awsprofile, credserver,
// os ...). Like os.PathError it puts its context before the cause, once:
// "stschain NAME: " and the cause for subcommand NAME, "stschain: " and
// the cause when cmd is empty.
//
// An error of package stschain already starts with "stschain: ", the
// command's name: it is reported as it is, neither wrapped in a cmdError
// nor trimmed.
type cmdError struct {
	cmd string // the subcommand; "" for stschain itself
	err error
}

func (e *cmdError) Error() string {
	if e.cmd == "" {
		return "stschain: " + e.err.Error()
	}
	return "stschain " + e.cmd + ": " + e.err.Error()
}

func (e *cmdError) Unwrap() error { return e.err }

// usageError marks a mistake in the command line or in what it names (an
// empty --totp-secret-env variable, an invalid role ARN, a wrong
// profile ...): exit 2. Its message is err's.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }

func (e *usageError) Unwrap() error { return e.err }

// usagef returns the usage error of subcommand cmd ("" for stschain
// itself) that format and args say.
func usagef(cmd, format string, args ...any) error {
	return &usageError{&cmdError{cmd: cmd, err: fmt.Errorf(format, args...)}}
}

// fail reports err as one line on stderr, with a hint where the error
// alone leaves the user guessing, and returns its exit status.
func fail(stderr io.Writer, err error) int {
	fmt.Fprintln(stderr, flat(err)+profileHint(err)+accessDeniedHint(err))
	if errors.As(err, new(*usageError)) {
		return exitUsage
	}
	return exitError
}

// accessDeniedHint is what fail adds to an AccessDenied answer to
// AssumeRole that is not about the MFA code (STS's own words are clear
// there): what usually causes it.
func accessDeniedHint(err error) string {
	var link *stschain.Error
	if !errors.As(err, &link) {
		return ""
	}
	for link.Op == stschain.OpMaster {
		var next *stschain.Error
		if !errors.As(link.Err, &next) {
			return ""
		}
		link = next
	}
	var api smithy.APIError
	if link.Op != stschain.OpAssumeRole || !errors.As(link.Err, &api) || api.ErrorCode() != "AccessDenied" ||
		strings.HasPrefix(api.ErrorMessage(), "MultiFactorAuthentication") {
		return ""
	}
	return " (AccessDenied on AssumeRole usually means: the trust policy of " + quote(link.Link) +
		" does not name the caller; or it requires MFA, and the link sent none (mfa_serial, --mfa-serial);" +
		" or its external ID is missing or wrong (external_id, --external-id);" +
		" or a session policy of the link below does not allow sts:AssumeRole on it)"
}

// flat returns err's message on a single line, printable (see printable).
func flat(err error) string {
	return printable(strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " "))
}
