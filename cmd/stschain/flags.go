package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/stschain/stschain/internal/stslimits"
)

// chainFlags are the flags of credential-process, exec and export: what
// the chain is and where its source credentials come from, and the few
// that one subcommand has.
type chainFlags struct {
	roleARNs        stringList
	mfaSerial       string
	totpSecretEnv   string
	mfaProcess      string
	mfaToken        string
	sessionDuration durationFlag
	duration        durationFlag
	sessionName     string
	externalID      string
	tags            tagList
	transitiveTags  stringList
	sourceIdentity  string
	policyARNs      stringList
	policyFile      string
	profile         string
	region          string
	endpointURL     string
	cacheDir        string
	noCache         bool
	verbose         bool

	server bool   // exec only
	format string // export only
}

// stringList is a flag that may be repeated; each use appends.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(s string) error {
	if s == "" {
		return errors.New("empty value")
	}
	*l = append(*l, s)
	return nil
}

// tagList is --tag: KEY=VALUE, repeatable, each key once.
type tagList struct {
	keys []string          // in the order given
	m    map[string]string // by key
}

func (l *tagList) String() string { return strings.Join(l.keys, ",") }

func (l *tagList) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return errors.New("want KEY=VALUE, such as team=platform")
	}
	if _, dup := l.m[k]; dup {
		return fmt.Errorf("tag %q is given twice", k)
	}
	if l.m == nil {
		l.m = map[string]string{}
	}
	l.keys = append(l.keys, k)
	l.m[k] = v
	return nil
}

// durationFlag is a positive Go duration ("1h", "90m") or whole seconds
// ("3600", as the AWS CLI's duration_seconds). Zero means the flag was not
// given: Set refuses "0", which would otherwise silently mean STS's default
// (or, for --session-duration, no GetSessionToken link at all).
type durationFlag time.Duration

func (d *durationFlag) String() string {
	if *d == 0 {
		return ""
	}
	return time.Duration(*d).String()
}

func (d *durationFlag) Set(s string) error {
	v, err := time.ParseDuration(s)
	if n, nerr := strconv.ParseInt(s, 10, 32); nerr == nil {
		v, err = time.Duration(n)*time.Second, nil
	}
	if err != nil || v <= 0 {
		return errors.New("want a positive duration such as 1h or 90m, or whole seconds such as 3600")
	}
	*d = durationFlag(v)
	return nil
}

// subcommand describes one subcommand for parsing and help.
type subcommand struct {
	name     string
	synopsis string
	about    string
	example  string
}

var subcommands = map[string]subcommand{
	"credential-process": {
		name:     "credential-process",
		synopsis: "stschain credential-process [flags]",
		about: `Prints the credentials of the last link of the chain as the JSON that
credential_process in an AWS config profile expects, and nothing else, on
standard output:
  {"Version":1,"AccessKeyId":"...","SecretAccessKey":"...","SessionToken":"...","Expiration":"2030-01-02T15:04:05Z"}
Sessions are cached in --cache-dir (the AWS CLI's cache by default), so
repeated runs, and many processes at once, call STS (and ask for MFA) once
per session.`,
		example: `  # ~/.aws/config
  [profile admin]
  region = eu-west-1
  role_arn = arn:aws:iam::111111111111:role/admin
  source_profile = alice
  mfa_serial = arn:aws:iam::111111111111:mfa/alice
  [profile admin-daily]
  region = eu-west-1
  credential_process = stschain credential-process --profile admin --session-duration 12h

  aws s3 ls --profile admin-daily`,
	},
	"export": {
		name:     "export",
		synopsis: "stschain export [flags] [--format FORMAT]",
		about:    exportAbout(),
		example: `  eval "$(stschain export --profile admin --format env)"
  stschain export --profile admin --format powershell | Invoke-Expression`,
	},
	"exec": {
		name:     "exec",
		synopsis: "stschain exec [flags] [--] [COMMAND [ARG...]]",
		about:    execAbout(),
		example: `  stschain exec --profile admin -- terraform plan
  stschain exec --server --profile admin --session-duration 12h -- terraform apply
  stschain exec --profile admin   # a shell`,
	},
}

// exportAbout is the description of export, with its formats.
func exportAbout() string {
	var b strings.Builder
	b.WriteString(`Prints the credentials of the last link of the chain on standard output,
as the AWS CLI v2's "aws configure export-credentials --format FORMAT"
does, byte for byte, so that what reads its output reads stschain's.
The formats:
`)
	for _, f := range exportFormats {
		fmt.Fprintf(&b, "  %-13s %s\n", f.name, f.about)
	}
	b.WriteString(`Sessions are cached in --cache-dir (the AWS CLI's cache by default), as
for credential-process. The credentials are not renewed: for a command
that runs longer than a session, use "stschain exec --server".`)
	return b.String()
}

// execAbout is the description of exec, with the list of removedEnv.
func execAbout() string {
	return `Runs COMMAND with the credentials of the last link of the chain; without
COMMAND, starts $SHELL (else /bin/sh).

COMMAND gets the credentials in AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_SESSION_TOKEN, AWS_CREDENTIAL_EXPIRATION (RFC 3339) and, for a role,
AWS_ACCOUNT_ID; they are not renewed while it runs. With --server it gets
AWS_CONTAINER_CREDENTIALS_FULL_URI and AWS_CONTAINER_AUTHORIZATION_TOKEN
instead, no keys: its SDK fetches fresh credentials from stschain, which
listens on 127.0.0.1 while COMMAND runs, whenever it needs them, and the
chain refreshes in the background, so COMMAND can outlive any session.
Either way COMMAND gets AWS_REGION and AWS_DEFAULT_REGION (--region, else
the profile's region), and ` + profileMarker + ` (the profile of the chain,
else "default") and, with a role, ` + roleMarker + ` (the top role), which
tell scripts and prompts that they run inside stschain, and as what.

These never reach COMMAND from stschain's environment, nor does the
variable --totp-secret-env names:
` + wrapList(removedEnv, "  ", 76) + `

Standard input, output and error are COMMAND's, and so is the process
group. SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2 and SIGALRM are
passed on to COMMAND, once each; Ctrl-C and Ctrl-\ on the terminal reach it
directly, and stschain does not pass them on again. Ctrl-Z, fg and bg stop
and continue both. On Linux COMMAND gets SIGTERM when stschain dies. The
exit status is COMMAND's (128+N when signal N killed it).`
}

// wrapList joins words with spaces into lines of at most width bytes,
// each starting with indent.
func wrapList(words []string, indent string, width int) string {
	var b strings.Builder
	line := indent
	for _, w := range words {
		if len(line) > len(indent) && len(line)+1+len(w) > width {
			b.WriteString(line + "\n")
			line = indent
		}
		if len(line) > len(indent) {
			line += " "
		}
		line += w
	}
	b.WriteString(line)
	return b.String()
}

const commonHelp = `The chain, from the bottom up, each link signed with the credentials of
the link below it:
  1. the chain of the profile (--profile, else AWS_PROFILE, else default),
     read from the AWS config files as the AWS CLI reads them:
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
one STS refused, up to three times), or come from --totp-secret-env,
--mfa-process or --mfa-token, for every link with a device.
Session tags (--tag, --transitive-tag-key) and --source-identity are sent
with the first --role-arn and pass up the chain: AWS carries transitive
tags and the source identity through role chaining. Session policies
(--policy-arn, --policy-file) and --external-id are sent with the last
role, whose session they scope.
With neither a role in the profile nor --role-arn the chain is a single
GetSessionToken link (with --mfa-serial: an MFA session of the user, like
"aws sts get-session-token"), which needs an IAM user's long-term keys.

Exit status: 0 on success; 2 for a bad flag, usage or config; 1 when the
credentials cannot be had (the message names the failing link)`

// newFlagSet returns the FlagSet of subcommand name, bound to f.
func newFlagSet(name string, f *chainFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("stschain "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported by the caller, on one line
	fs.Var(&f.roleARNs, "role-arn", "`ARN` of a role to assume; repeat for a chain, first assumed first, each with the credentials of the one before")
	fs.StringVar(&f.mfaSerial, "mfa-serial", "", "MFA device `ARN` (or hardware token serial) of the first link the flags add: the GetSessionToken link with --session-duration, else the first --role-arn (the profile's roles have their own mfa_serial); the code is asked for on the terminal unless --totp-secret-env, --mfa-process or --mfa-token gives it")
	fs.StringVar(&f.totpSecretEnv, "totp-secret-env", "", "`NAME` of an environment variable holding the base32 secret of the virtual MFA device (of --mfa-serial, or of the profile's mfa_serial); codes are computed from it instead of asked for, and the variable reaches no process stschain starts")
	fs.StringVar(&f.mfaProcess, "mfa-process", "", "`command` run with sh -c for each MFA code (of --mfa-serial, or of the profile's mfa_serial), printing the 6 digits alone on standard output (aws-vault's mfa_process), e.g. \"ykman oath accounts code --single aws\"; STSCHAIN_MFA_SERIAL names the device")
	fs.StringVar(&f.mfaToken, "mfa-token", "", "the current 6-digit `code` of the MFA device; it serves one request for a code, a second one fails")
	fs.Var(&f.sessionDuration, "session-duration", "put an MFA GetSessionToken link of this `duration` (15m to 36h) under the roles, with the profile's mfa_serial or --mfa-serial: one code per duration; e.g. 12h")
	fs.Var(&f.duration, "duration", "session `duration` of each role (15m to 12h; STS allows at most 1h for a role assumed from a role); default STS's, 1h")
	fs.StringVar(&f.sessionName, "session-name", "", "role session `name` of each role; default a generated stschain-<time> name")
	fs.StringVar(&f.externalID, "external-id", "", "external `ID` sent when assuming the last --role-arn (the target role) only")
	fs.Var(&f.tags, "tag", "session tag `KEY=VALUE` sent when assuming the first --role-arn; repeat for more. A transitive tag passes on to the roles assumed after it")
	fs.Var(&f.transitiveTags, "transitive-tag-key", "`KEY` of a --tag that is transitive: AWS carries it through the role chain to every later role; repeatable")
	fs.StringVar(&f.sourceIdentity, "source-identity", "", "source identity `ID` sent when assuming the first --role-arn; AWS carries it through the role chain")
	fs.Var(&f.policyARNs, "policy-arn", "`ARN` of a managed session policy for the last --role-arn, whose session it scopes; repeatable")
	fs.StringVar(&f.policyFile, "policy-file", "", "`file` of an inline session policy (JSON) for the last --role-arn, whose session it scopes")
	fs.StringVar(&f.profile, "profile", "", "`profile` of the AWS config files whose whole chain the flags' links go on; default AWS_PROFILE, else default")
	fs.StringVar(&f.region, "region", "", "AWS `region` of the STS calls (and of COMMAND, for exec); default the profile's, else us-east-1")
	fs.StringVar(&f.endpointURL, "endpoint-url", "", "STS endpoint `URL` for every link, e.g. https://sts.eu-west-1.amazonaws.com")
	fs.StringVar(&f.cacheDir, "cache-dir", "", "`directory` of the session cache, shared with the AWS CLI; default ~/.aws/cli/cache")
	fs.BoolVar(&f.noCache, "no-cache", false, "neither read nor write the session cache (wins over --cache-dir)")
	fs.BoolVar(&f.verbose, "verbose", false, "log each link's refresh on standard error (never a secret)")
	switch name {
	case "exec":
		fs.BoolVar(&f.server, "server", false, "serve the chain to COMMAND from a local credential server instead of putting keys in its environment: COMMAND gets fresh credentials for as long as it runs")
	case "export":
		fs.StringVar(&f.format, "format", "process", "output `format`, as the AWS CLI v2's \"aws configure export-credentials\": "+strings.Join(formatNames(), ", "))
	}
	return fs
}

// printSubcommandHelp writes the help of subcommand name to w.
func printSubcommandHelp(w io.Writer, name string) {
	sc := subcommands[name]
	fmt.Fprintf(w, "Usage: %s\n\n%s\n\nFlags:\n", sc.synopsis, sc.about)
	fs := newFlagSet(name, new(chainFlags))
	fs.VisitAll(func(fl *flag.Flag) {
		arg, usage := flag.UnquoteUsage(fl)
		fmt.Fprintf(w, "  %s\n", strings.TrimSpace("--"+fl.Name+" "+arg))
		fmt.Fprintf(w, "        %s\n", usage)
	})
	fmt.Fprintf(w, "  -h, --help\n        show this help\n\n%s\n\nExample:\n%s\n", commonHelp, sc.example)
}

// parseFlags parses the flags of subcommand name. help is true when -h or
// --help was given; the caller prints the help then.
func parseFlags(name string, args []string) (f *chainFlags, rest []string, help bool, err error) {
	f = new(chainFlags)
	fs := newFlagSet(name, f)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, nil, true, nil
		}
		return nil, nil, false, usagef("stschain %s: %v (see stschain help %s)", name, err, name)
	}
	return f, fs.Args(), false, nil
}

// flagsOnly parses the flags of subcommand name, which takes no
// arguments. When done is true the subcommand is over (its help was
// printed, or the command line was wrong) and code is its exit status.
func flagsOnly(name string, args []string, stdout, stderr io.Writer) (f *chainFlags, code int, done bool) {
	f, rest, help, err := parseFlags(name, args)
	switch {
	case help:
		printSubcommandHelp(stdout, name)
		return nil, exitOK, true
	case err != nil:
		return nil, fail(stderr, err), true
	case len(rest) > 0:
		return nil, fail(stderr, usagef("stschain %s: unexpected argument %q: it takes flags only", name, rest[0])), true
	}
	return f, exitOK, false
}

// validate checks what the flags say together. Values the library checks
// (ARN shapes, session name characters ...) are left to stschain.New.
func (f *chainFlags) validate(name string) error {
	bad := func(format string, args ...any) error {
		return usagef("stschain "+name+": "+format, args...)
	}
	roles := len(f.roleARNs) > 0
	var sources []string
	for _, src := range []struct{ flag, value string }{
		{"--totp-secret-env", f.totpSecretEnv}, {"--mfa-process", f.mfaProcess}, {"--mfa-token", f.mfaToken},
	} {
		if src.value != "" {
			sources = append(sources, src.flag)
		}
	}
	switch {
	case len(sources) > 1:
		return bad("%s give MFA codes each: give one", strings.Join(sources, " and "))
	case f.mfaToken != "" && !sixDigits(strings.TrimSpace(f.mfaToken)):
		return bad("--mfa-token is not a code: want the 6 digits the device shows")
	case !roles && f.externalID != "":
		return bad("--external-id needs a --role-arn (it is sent with the last role)")
	case !roles && f.sessionName != "":
		return bad("--session-name needs a --role-arn")
	case !roles && f.duration != 0:
		return bad("--duration is the roles' session length and needs a --role-arn; use --session-duration for GetSessionToken")
	}
	for _, fl := range []struct {
		name  string
		given bool
		with  string
	}{
		{"--tag", len(f.tags.keys) > 0, "first"},
		{"--transitive-tag-key", len(f.transitiveTags) > 0, "first"},
		{"--source-identity", f.sourceIdentity != "", "first"},
		{"--policy-arn", len(f.policyARNs) > 0, "last"},
		{"--policy-file", f.policyFile != "", "last"},
	} {
		if fl.given && !roles {
			return bad("%s needs a --role-arn (it is sent with the %s role)", fl.name, fl.with)
		}
	}
	for _, k := range f.transitiveTags {
		if _, ok := f.tags.m[k]; !ok {
			return bad("--transitive-tag-key %s is not the key of a --tag: give --tag %s=VALUE too", k, k)
		}
	}
	for i := 1; i < len(f.roleARNs); i++ {
		if f.roleARNs[i] == f.roleARNs[i-1] {
			return bad("--role-arn %s is given twice in a row: a role assumed from a session of itself is almost always a mistake", f.roleARNs[i])
		}
	}
	if err := checkDuration("--duration", f.duration, stslimits.MaxAssumeRoleDuration); err != nil {
		return bad("%s", err)
	}
	if err := checkDuration("--session-duration", f.sessionDuration, stslimits.MaxGetSessionTokenDuration); err != nil {
		return bad("%s", err)
	}
	if f.region != "" && !regionRe.MatchString(f.region) {
		return bad("--region %q is not a region name such as eu-west-1", f.region)
	}
	if f.endpointURL != "" {
		u, err := url.Parse(f.endpointURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return bad("--endpoint-url %q is not an http or https URL", f.endpointURL)
		}
	}
	return nil
}

// hasCodeSource reports whether a flag gives MFA codes.
func (f *chainFlags) hasCodeSource() bool { return f.codeSourceFlag() != "" }

// codeSourceFlag is the flag that gives MFA codes, "" when none does.
func (f *chainFlags) codeSourceFlag() string {
	switch {
	case f.totpSecretEnv != "":
		return "--totp-secret-env"
	case f.mfaProcess != "":
		return "--mfa-process"
	case f.mfaToken != "":
		return "--mfa-token"
	}
	return ""
}

// sixDigits reports whether s is a 6-digit MFA code.
func sixDigits(s string) bool {
	return len(s) == 6 && strings.Trim(s, "0123456789") == ""
}

// regionRe matches what the SDK accepts as a region: a DNS label of lower
// case letters, digits and inner hyphens.
var regionRe = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// checkDuration checks the duration d of flag name, when given, against
// STS's limits: whole seconds from stslimits.MinDuration to maxDur.
func checkDuration(name string, d durationFlag, maxDur time.Duration) error {
	v := time.Duration(d)
	if v != 0 && (v < stslimits.MinDuration || v > maxDur || v%time.Second != 0) {
		return fmt.Errorf("%s %v is out of range: want whole seconds from %v to %v", name, v, stslimits.MinDuration, maxDur)
	}
	return nil
}
