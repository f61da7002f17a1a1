package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// exportFormat is one output format of export.
type exportFormat struct {
	name string
	// line is the format of one variable, with %[1]s the name and %[2]s
	// the value; empty for the JSON of process.
	line string
	// forceLF: the AWS CLI writes "\n" even on Windows, where its other
	// formats get "\r\n" from Python's text-mode standard output.
	forceLF bool
	about   string
}

// exportFormats are the formats of the AWS CLI v2's
// "aws configure export-credentials --format", with their names and their
// output byte for byte, in the order of its SUPPORTED_FORMATS: see
// awscli/customizations/configure/exportcreds.py in aws/aws-cli (branch
// v2). Its process format is json.dumps(output, indent=2,
// separators=(',', ': ')) plus a newline, with the keys Version,
// AccessKeyId, SecretAccessKey, SessionToken and Expiration in that order
// (no AccountId); the others print AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and AWS_CREDENTIAL_EXPIRATION,
// one a line. SessionToken and Expiration are left out when the
// credentials have none. Expiration is Python's datetime.isoformat() of a
// UTC time: 2030-01-02T03:04:05+00:00.
var exportFormats = []exportFormat{
	{name: "process", about: "the credential_process JSON, indented (the default)"},
	{name: "env", line: "export %[1]s=%[2]s", forceLF: true, about: "export AWS_ACCESS_KEY_ID=..."},
	{name: "env-no-export", line: "%[1]s=%[2]s", forceLF: true, about: "AWS_ACCESS_KEY_ID=..."},
	{name: "powershell", line: `$Env:%[1]s="%[2]s"`, about: `$Env:AWS_ACCESS_KEY_ID="..."`},
	{name: "windows-cmd", line: "set %[1]s=%[2]s", about: "set AWS_ACCESS_KEY_ID=..."},
	{name: "fish", line: `set -gx %[1]s "%[2]s"`, forceLF: true, about: `set -gx AWS_ACCESS_KEY_ID "..."`},
}

// formatNames lists the names of exportFormats.
func formatNames() []string {
	var names []string
	for _, f := range exportFormats {
		names = append(names, f.name)
	}
	return names
}

// lookupFormat returns the format called name.
func lookupFormat(name string) (exportFormat, bool) {
	i := slices.IndexFunc(exportFormats, func(f exportFormat) bool { return f.name == name })
	if i < 0 {
		return exportFormat{}, false
	}
	return exportFormats[i], true
}

func exportCommand() *command {
	var long strings.Builder
	long.WriteString(`Prints the credentials of the chain's last link as the AWS CLI v2's
"aws configure export-credentials --format FORMAT" does, byte for byte:
`)
	for _, f := range exportFormats {
		fmt.Fprintf(&long, "  %-13s %s\n", f.name, f.about)
	}
	long.WriteString(`They are cached as for credential-process, and not renewed ("stschain
exec --server" renews them). Run "stschain help chain" for the chain.
`)
	return &command{
		name:       "export",
		args:       "[flags] [PROFILE] [--format FORMAT]",
		profileArg: true,
		short:      "print the credentials for a shell (env, powershell ...)",
		long:       long.String(),
		example: `  eval "$(stschain export --profile admin --format env)"
`,
		flags: func(fs *flag.FlagSet, f *chainFlags) {
			chainFlagSet(fs, f)
			fs.StringVar(&f.format, "format", "process", "output `FORMAT`, one of those above")
		},
		run: runExport,
	}
}

func runExport(ctx context.Context, inv *invocation, f *chainFlags, _ []string) int {
	format, ok := lookupFormat(f.format)
	if !ok {
		return fail(inv.stderr, usagef(inv.cmd.name, "--format %q is not a format: want one of %s", f.format, strings.Join(formatNames(), ", ")))
	}
	ctx, stop := withSignals(ctx)
	defer stop()
	creds, _, code := retrieve(ctx, inv, f)
	if code != exitOK {
		return code
	}
	if _, err := io.WriteString(inv.stdout, format.render(creds, runtime.GOOS == "windows")); err != nil {
		return fail(inv.stderr, &cmdError{cmd: inv.cmd.name, err: err})
	}
	return exitOK
}

// render returns creds in format f, with the line ends the AWS CLI writes
// on Windows when windows is true.
func (f exportFormat) render(creds aws.Credentials, windows bool) string {
	type variable struct{ name, key, value string }
	vars := []variable{
		{"AWS_ACCESS_KEY_ID", "AccessKeyId", creds.AccessKeyID},
		{"AWS_SECRET_ACCESS_KEY", "SecretAccessKey", creds.SecretAccessKey},
	}
	if creds.SessionToken != "" {
		vars = append(vars, variable{"AWS_SESSION_TOKEN", "SessionToken", creds.SessionToken})
	}
	if creds.CanExpire {
		vars = append(vars, variable{"AWS_CREDENTIAL_EXPIRATION", "Expiration", pyISOFormat(creds.Expires)})
	}

	var b strings.Builder
	if f.line == "" {
		b.WriteString("{\n  \"Version\": 1")
		for _, v := range vars {
			b.WriteString(",\n  " + pyJSONString(v.key) + ": " + pyJSONString(v.value))
		}
		b.WriteString("\n}\n")
	} else {
		for _, v := range vars {
			fmt.Fprintf(&b, f.line+"\n", v.name, v.value)
		}
	}
	if windows && !f.forceLF {
		return strings.ReplaceAll(b.String(), "\n", "\r\n")
	}
	return b.String()
}

// pyISOFormat is Python's datetime.isoformat() of t in UTC, as the AWS CLI
// prints botocore's expiry time: microseconds only when there are some.
func pyISOFormat(t time.Time) string {
	t = t.UTC()
	s := t.Format("2006-01-02T15:04:05")
	if us := t.Nanosecond() / 1000; us != 0 {
		s += fmt.Sprintf(".%06d", us)
	}
	return s + "+00:00"
}

// pyJSONString is s as Python's json.dumps writes a string with its
// default ensure_ascii: '"' and '\' escaped, \b \f \n \r \t by name, every
// other character outside ' ' to '~' as \uXXXX (lower-case hex, UTF-16
// surrogate pairs beyond U+FFFF).
func pyJSONString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			switch {
			case r >= ' ' && r <= '~':
				b.WriteRune(r)
			case r > 0xffff:
				hi, lo := utf16.EncodeRune(r)
				fmt.Fprintf(&b, `\u%04x\u%04x`, hi, lo)
			default:
				fmt.Fprintf(&b, `\u%04x`, r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}
