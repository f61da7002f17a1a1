package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/stschain/stschain/internal/pyjson"
)

// exportFormat is one output format of export.
type exportFormat struct {
	name string
	// line is one variable in a shell's words: NAME and VALUE, which
	// line quotes where the shell would interpret it; an error for a
	// value the shell cannot be given safely. Nil for the JSON and INI
	// formats.
	line func(name, value string) (string, error)
	// document renders the whole output of a format without lines.
	document func(v exportValues) (string, error)
	// forceLF: the AWS CLI writes "\n" even on Windows, where its other
	// formats get "\r\n" from Python's text-mode standard output.
	forceLF bool
	about   string
}

// exportFormats are the formats of the AWS CLI v2's
// "aws configure export-credentials --format", with their names and their
// output byte for byte, in the order of its SUPPORTED_FORMATS: see
// awscli/customizations/configure/exportcreds.py in aws/aws-cli (branch
// v2); then stschain's json and ini. The CLI's process format is
// json.dumps(output, indent=2, separators=(',', ': ')) plus a newline, with
// the keys Version, AccessKeyId, SecretAccessKey, SessionToken and
// Expiration in that order (no AccountId); the others print
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and
// AWS_CREDENTIAL_EXPIRATION, one a line. SessionToken and Expiration are
// left out when the credentials have none. Expiration is Python's
// datetime.isoformat() of a UTC time: 2030-01-02T03:04:05+00:00.
//
// The shell formats, json and ini add the region when the chain has one:
// AWS_REGION and AWS_DEFAULT_REGION after the credentials' lines, Region,
// region. Every value a shell would interpret is quoted (the values STS
// and the AWS config hand out never are, so the credentials' lines stay
// the AWS CLI's); what cmd.exe or an INI file cannot hold safely is
// refused.
var exportFormats = []exportFormat{
	{name: "process", document: renderProcess, about: "the credential_process JSON, indented (the default)"},
	{name: "env", line: shLine("export "), forceLF: true, about: "export AWS_ACCESS_KEY_ID=..."},
	{name: "env-no-export", line: shLine(""), forceLF: true, about: "AWS_ACCESS_KEY_ID=..."},
	{name: "powershell", line: powershellLine, about: `$Env:AWS_ACCESS_KEY_ID="..."`},
	{name: "windows-cmd", line: cmdLine, about: "set AWS_ACCESS_KEY_ID=..."},
	{name: "fish", line: fishLine, forceLF: true, about: `set -gx AWS_ACCESS_KEY_ID "..."`},
	{name: "json", document: renderJSON, about: "process, with AccountId and Region"},
	{name: "ini", document: renderINI, about: "a section of ~/.aws/credentials"},
}

// exportValues is what export prints.
type exportValues struct {
	creds   aws.Credentials
	region  string // "" for none
	profile string // the section of ini
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
"aws configure export-credentials --format FORMAT" does, byte for byte,
and the region when the chain has one:
`)
	for _, f := range exportFormats {
		fmt.Fprintf(&long, "  %-13s %s\n", f.name, f.about)
	}
	long.WriteString(`A value a shell would interpret is quoted. They are cached as for
credential-process, and not renewed ("stschain exec --server" renews
them). Run "stschain help chain" for the chain.
`)
	return &command{
		name:       "export",
		args:       "[flags] [PROFILE] [--format FORMAT]",
		profileArg: true,
		short:      "print the credentials for a shell (env, powershell ...)",
		long:       long.String(),
		example: `  eval "$(stschain export admin --format env)"
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
		return fail(inv.stderr, usagef(inv.cmd.name, "--format %s is not a format: want one of %s", quote(f.format), strings.Join(formatNames(), ", ")))
	}
	ctx, stop := withSignals(ctx)
	defer stop()
	creds, c, code := retrieve(ctx, inv, f)
	if code != exitOK {
		return code
	}
	out, err := format.render(exportValues{creds: creds, region: c.region, profile: c.profile}, runtime.GOOS == "windows")
	if err == nil {
		_, err = io.WriteString(inv.stdout, out)
	}
	if err != nil {
		return fail(inv.stderr, &cmdError{cmd: inv.cmd.name, err: err})
	}
	return exitOK
}

// variable is one value export prints: its environment variable, its JSON
// key, its credentials file key, and what it is, for errors.
type variable struct{ env, json, ini, what, value string }

// variables lists the values of v in the order the AWS CLI prints them,
// then the region.
func (v exportValues) variables() []variable {
	c := v.creds
	vars := []variable{
		{"AWS_ACCESS_KEY_ID", "AccessKeyId", "aws_access_key_id", "the access key ID", c.AccessKeyID},
		{"AWS_SECRET_ACCESS_KEY", "SecretAccessKey", "aws_secret_access_key", "the secret access key", c.SecretAccessKey},
	}
	if c.SessionToken != "" {
		vars = append(vars, variable{"AWS_SESSION_TOKEN", "SessionToken", "aws_session_token", "the session token", c.SessionToken})
	}
	if c.CanExpire {
		vars = append(vars, variable{"AWS_CREDENTIAL_EXPIRATION", "Expiration", "", "the expiration", pyISOFormat(c.Expires)})
	}
	return vars
}

// regionVariables are the region's lines of the shell formats.
func (v exportValues) regionVariables() []variable {
	if v.region == "" {
		return nil
	}
	return []variable{
		{env: "AWS_REGION", what: "the region", value: v.region},
		{env: "AWS_DEFAULT_REGION", what: "the region", value: v.region},
	}
}

// render returns v in format f, with the line ends the AWS CLI writes on
// Windows when windows is true.
func (f exportFormat) render(v exportValues, windows bool) (string, error) {
	var out string
	if f.document != nil {
		doc, err := f.document(v)
		if err != nil {
			return "", err
		}
		out = doc
	} else {
		var b strings.Builder
		for _, vr := range append(v.variables(), v.regionVariables()...) {
			line, err := f.line(vr.env, vr.value)
			if err != nil {
				return "", fmt.Errorf("%s: %w", vr.what, err)
			}
			b.WriteString(line + "\n")
		}
		out = b.String()
	}
	if windows && !f.forceLF {
		return strings.ReplaceAll(out, "\n", "\r\n"), nil
	}
	return out, nil
}

// renderProcess is the AWS CLI's process format.
func renderProcess(v exportValues) (string, error) {
	return jsonDocument(v.variables(), nil), nil
}

// renderJSON is the process format with the account and the region:
// the credential_process JSON of "stschain credential-process", indented,
// and Region.
func renderJSON(v exportValues) (string, error) {
	var more []variable
	if v.creds.AccountID != "" {
		more = append(more, variable{json: "AccountId", value: v.creds.AccountID})
	}
	if v.region != "" {
		more = append(more, variable{json: "Region", value: v.region})
	}
	return jsonDocument(v.variables(), more), nil
}

// jsonDocument is vars and more as Python's json.dumps(indent=2) writes
// them after "Version": 1.
func jsonDocument(vars, more []variable) string {
	var b strings.Builder
	b.WriteString("{\n  \"Version\": 1")
	for _, v := range append(vars, more...) {
		b.WriteString(",\n  " + pyjson.Quote(v.json) + ": " + pyjson.Quote(v.value))
	}
	b.WriteString("\n}\n")
	return b.String()
}

// renderINI is a section of the shared credentials file: the profile's
// name, its keys, its account and region, and when the keys expire as a
// comment. An INI file has no quoting: a value or name that would break
// out of its line or section is refused.
func renderINI(v exportValues) (string, error) {
	section := cmp.Or(v.profile, "default")
	if strings.ContainsAny(section, "[]#;") || strings.IndexFunc(section, unicode.IsControl) >= 0 {
		return "", fmt.Errorf("the profile name %s cannot be an INI section name", quote(section))
	}
	var b strings.Builder
	b.WriteString("[" + section + "]\n")
	vars := v.variables()
	if v.creds.AccountID != "" {
		vars = append(vars, variable{ini: "aws_account_id", what: "the account ID", value: v.creds.AccountID})
	}
	if v.region != "" {
		vars = append(vars, variable{ini: "region", what: "the region", value: v.region})
	}
	for _, vr := range vars {
		if !plainValue(vr.value) {
			return "", fmt.Errorf("%s holds characters an INI file cannot hold safely", vr.what)
		}
		if vr.ini != "" {
			b.WriteString(vr.ini + " = " + vr.value + "\n")
		}
	}
	if v.creds.CanExpire {
		b.WriteString("# expires " + v.creds.Expires.UTC().Format(time.RFC3339) + "\n")
	}
	return b.String(), nil
}

// plainValue reports whether no shell interprets any character of s:
// letters, digits and "+/=._:-", which make up every access key ID,
// base64 secret and token, RFC 3339 time and region name. The AWS CLI
// prints such values unquoted (env) or in double quotes (powershell,
// fish), and so does export.
func plainValue(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("+/=._:-", r))
	}) < 0
}

// shLine returns the line format of a POSIX shell: prefix NAME=VALUE, the
// value in single quotes unless it is plain: inside them nothing is
// special but the quote itself, which is written as a closing quote, a
// backslash-escaped quote and an opening quote.
func shLine(prefix string) func(name, value string) (string, error) {
	return func(name, value string) (string, error) {
		if !plainValue(value) {
			value = "'" + strings.ReplaceAll(value, "'", `'\''`) + "'"
		}
		return prefix + name + "=" + value, nil
	}
}

// fishLine is set -gx NAME "VALUE", the AWS CLI's, for a plain value;
// otherwise the value is in single quotes, where fish knows only \\ and
// \' (in double quotes it would expand $ and, since fish 3.4, $(...)).
func fishLine(name, value string) (string, error) {
	if plainValue(value) {
		return `set -gx ` + name + ` "` + value + `"`, nil
	}
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	return `set -gx ` + name + ` '` + r.Replace(value) + `'`, nil
}

// powershellLine is $Env:NAME="VALUE", the AWS CLI's, for a plain value;
// otherwise the value is a single-quoted string, where nothing expands
// ($, $(...), backticks) and a quote is written twice: PowerShell takes
// the typographic single quotes for quotes too.
func powershellLine(name, value string) (string, error) {
	if plainValue(value) {
		return `$Env:` + name + `="` + value + `"`, nil
	}
	var b strings.Builder
	for _, r := range value {
		b.WriteRune(r)
		if strings.ContainsRune("'\u2018\u2019\u201a\u201b", r) {
			b.WriteRune(r)
		}
	}
	return `$Env:` + name + `='` + b.String() + `'`, nil
}

// cmdLine is set NAME=VALUE, the AWS CLI's. cmd.exe has no quoting that
// stops % expansion, and a line cannot hold a newline: a value that is not
// plain is refused.
func cmdLine(name, value string) (string, error) {
	if !plainValue(value) {
		return "", errors.New("holds characters cmd.exe would interpret: use another format")
	}
	return "set " + name + "=" + value, nil
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
