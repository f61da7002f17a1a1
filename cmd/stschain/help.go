package main

import (
	"context"
	"fmt"
	"io"
	"strings"
)

func helpCommand() *command {
	return &command{
		name:    "help",
		aliases: []string{"-h", "-help", "--help"},
		args:    "[COMMAND]",
		maxArgs: 1,
		short:   "show the help of a command or topic",
		long: `Prints the help of COMMAND, or of a help topic; without one, the overview
of the commands.
`,
		run: runHelp,
	}
}

func runHelp(_ context.Context, inv *invocation, _ *chainFlags, args []string) int {
	switch {
	case len(args) == 0:
		printOverview(inv.stdout)
		return exitOK
	case len(args) == 1 && lookup(args[0]) != nil:
		lookup(args[0]).printHelp(inv.stdout)
		return exitOK
	default:
		return fail(inv.stderr, usagef("help", "unknown subcommand or topic %s: want %s, or the topic %s",
			quote(strings.Join(args, " ")), names(true), names(false)))
	}
}

// printOverview writes the overview of the commands and topics to w.
func printOverview(w io.Writer) {
	fmt.Fprint(w, "stschain - chained, MFA-aware, cached AWS STS credentials for any program\n\n"+
		"Usage: stschain COMMAND [flags] [ARG...]\n\nCommands:\n")
	width := 0
	for _, c := range commands() {
		if !c.hidden {
			width = max(width, len(c.name))
		}
	}
	for _, c := range commands() {
		if c.run != nil && !c.hidden {
			fmt.Fprintf(w, "  %-*s  %s\n", width, c.name, c.short)
		}
	}
	fmt.Fprint(w, "\nHelp topics:\n")
	for _, c := range commands() {
		if c.run == nil {
			fmt.Fprintf(w, "  %-*s  %s\n", width, c.name, c.short)
		}
	}
	fmt.Fprint(w, overviewText)
}

// overviewText ends the overview.
const overviewText = `
The chain, from the bottom up:
  the chain of PROFILE (or --profile, else AWS_PROFILE, else default)
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
  credential_process = stschain credential-process admin --session-duration 12h

Example (shell):
  stschain exec admin -- terraform plan
  stschain exec admin --server --session-duration 12h -- terraform apply
  eval "$(stschain export admin --format env)"

Run "stschain help COMMAND" for its usage and flags, "stschain help TOPIC"
for a topic; the README says more.
`

// chainTopic explains how the flags build the chain, for every command
// that has them.
func chainTopic() *command {
	return &command{
		name:  "chain",
		short: "how the profile and the flags build the chain",
		long: `The chain, from the bottom up, each link signed with the credentials of
the link below it:
  1. the chain of the profile (the first argument or --profile, else
     AWS_PROFILE, else default), read as the AWS CLI reads it:
     source_profile to any depth, credential_source, web identity,
     credential_process and SSO roots, role_arn with external_id,
     role_session_name, duration_seconds and mfa_serial (and aws-vault's
     mfa_process, source_identity, session_tags, transitive_session_tags);
     the profile's region and endpoint are the chain's; with no profile,
     the SDK's default chain (keys in the environment, IMDS ...)
  2. with --session-duration: GetSessionToken for that long, with the MFA
     of the profile's mfa_serial (or of --mfa-serial, on the profile's own
     keys); the MFA session lets the roles above it that require MFA be
     assumed without asking again (ask once a day, not once an hour)
  3. each --role-arn in the order given; without --session-duration the
     first one carries the MFA of --mfa-serial

MFA codes are asked for on the terminal (again after a mistyped code or
one STS refused, up to three times; --prompt asks elsewhere), or come
from --totp-secret-env, --mfa-process or --mfa-token, for every link
with a device.

Session tags (--tag, --transitive-tag-key) and --source-identity are sent
with the first --role-arn and pass up the chain: AWS carries transitive
tags and the source identity through role chaining. Session policies
(--policy-arn, --policy-file) and --external-id are sent with the last
role, whose session they scope.

Without any role, long-term keys get one GetSessionToken link (an MFA
session with --mfa-serial); temporary credentials (SSO, aws login, web
identity, a credential_process session, a container or instance role) are
used as they are and renewed from the profile.

Sessions are cached in --cache-dir (default ~/.aws/cli/cache, the AWS
CLI's), so repeated runs, and many processes at once, call STS and ask for
MFA once per session.

Exit status: 0 on success; 2 for a bad flag, usage or config; 1 when the
credentials cannot be had (one line naming the failing link).
`,
	}
}
