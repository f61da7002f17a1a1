package main

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/stschain/stschain/internal/mfacode"
	"github.com/stschain/stschain/internal/stslimits"
)

// chainFlags are the values of the flags of every subcommand: what the
// chain is and where its source credentials come from (chainFlagSet), and
// the few that one subcommand has.
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

	prompt string // where MFA codes are asked: a name of promptDrivers

	server          bool       // exec only
	serverAddr      string     // exec only: --server-addr
	serverTokenFile string     // exec only: --server-token-file
	format          string     // export only
	login           loginFlags // login only

	backend backendFlag // every command that reads keys from a keyring
	force   bool        // remove only
	json    bool        // list only
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
		return fmt.Errorf("tag %s is given twice", quote(k))
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

// chainFlagSet defines on fs the flags of every subcommand that builds a
// chain, bound to f. Their usage is one line each, for the help; the
// README's section on the command says more.
func chainFlagSet(fs *flag.FlagSet, f *chainFlags) {
	fs.StringVar(&f.profile, "profile", "", "the `PROFILE` whose chain the flags' links go on")
	fs.Var(&f.roleARNs, "role-arn", "a role to assume on top, by `ARN`; repeat for a chain")
	fs.Var(&f.sessionDuration, "session-duration", "an MFA session of `DUR` (15m-36h) under the roles")
	fs.StringVar(&f.mfaSerial, "mfa-serial", "", "MFA device `ARN` of the first link the flags add")
	fs.StringVar(&f.totpSecretEnv, "totp-secret-env", "", "MFA codes from the base32 TOTP secret in $`NAME`")
	fs.StringVar(&f.mfaProcess, "mfa-process", "", "MFA codes from the output of `CMD` (run by sh -c)")
	fs.StringVar(&f.mfaToken, "mfa-token", "", "the MFA `CODE` of one request; - reads stdin (*)")
	fs.Var(&f.duration, "duration", "session length `DUR` of each --role-arn (15m-12h)")
	fs.StringVar(&f.sessionName, "session-name", "", "session `NAME` of each --role-arn")
	fs.StringVar(&f.externalID, "external-id", "", "external `ID` of the last --role-arn (*)")
	fs.Var(&f.tags, "tag", "session tag `K=V` of the first --role-arn; repeatable")
	fs.Var(&f.transitiveTags, "transitive-tag-key", "make --tag `K` transitive; repeatable")
	fs.StringVar(&f.sourceIdentity, "source-identity", "", "source identity `ID` of the first --role-arn")
	fs.Var(&f.policyARNs, "policy-arn", "session policy `ARN` of the last role; repeatable")
	fs.StringVar(&f.policyFile, "policy-file", "", "session policy `FILE` (JSON) of the last role")
	fs.StringVar(&f.region, "region", "", "`REGION` of STS and the command (default the profile's)")
	fs.StringVar(&f.endpointURL, "endpoint-url", "", "STS endpoint `URL` of every link")
	fs.StringVar(&f.cacheDir, "cache-dir", "", "session cache `DIR` (default ~/.aws/cli/cache)")
	fs.BoolVar(&f.noCache, "no-cache", false, "neither read nor write the session cache")
	fs.BoolVar(&f.verbose, "verbose", false, "log each link's refresh on stderr (no secret)")
	fs.StringVar(&f.prompt, "prompt", "", "where MFA codes are asked: `NAME` (default terminal)")
	keyringFlag(fs, f)
}

// shortFlags are the one-letter forms of flags that users of aws-vault
// type: -p as granted's and the AWS CLI's --profile, -r, and aws-vault's
// -d (duration), -t (MFA token), -s (exec's server, login's stdout) and
// -f (remove's force).
// flagSet defines each one whose long form the command has, on the same
// value; no command has two flags of one letter.
var shortFlags = []struct{ short, long string }{
	{"p", "profile"},
	{"r", "region"},
	{"d", "duration"},
	{"t", "mfa-token"},
	{"s", "server"},
	{"s", "stdout"}, // aws-vault login's
	{"f", "force"},  // remove's, as aws-vault's
}

// shortOf returns the one-letter form of the flag long, "" when it has
// none.
func shortOf(long string) string {
	for _, s := range shortFlags {
		if s.long == long {
			return s.short
		}
	}
	return ""
}

// isShort reports whether name is the one-letter form of a flag.
func isShort(name string) bool {
	for _, s := range shortFlags {
		if s.short == name {
			return true
		}
	}
	return false
}

// addShortFlags defines on fs the one-letter form of each of its flags
// that has one.
func addShortFlags(fs *flag.FlagSet) {
	for _, s := range shortFlags {
		if fl := fs.Lookup(s.long); fl != nil && fs.Lookup(s.short) == nil {
			fs.Var(fl.Value, s.short, fl.Usage)
		}
	}
}

// argvSecretNote ends the list of the chain's flags: what (*) means.
const argvSecretNote = `(*) Every local user can read a command line (ps, /proc/PID/cmdline):
    give the MFA code as "--mfa-token -" (a line on standard input) or
    in STSCHAIN_MFA_TOKEN, the external ID in STSCHAIN_EXTERNAL_ID or as
    external_id in the profile.
`

// validate checks what the flags say together. Values the library checks
// (ARN shapes, session name characters ...) are left to stschain.New.
func (f *chainFlags) validate(name string) error {
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
		return usagef(name, "%s give MFA codes each: give one", strings.Join(sources, " and "))
	case f.mfaToken != "" && f.mfaToken != mfaTokenStdin && !mfacode.Valid(strings.TrimSpace(f.mfaToken)):
		return usagef(name, "--mfa-token is not a code: want the 6 digits the device shows, or - to read them from standard input")
	case !roles && f.externalID != "":
		return usagef(name, "--external-id needs a --role-arn (it is sent with the last role)")
	case !roles && f.sessionName != "":
		return usagef(name, "--session-name needs a --role-arn")
	case !roles && f.duration != 0:
		return usagef(name, "--duration is the roles' session length and needs a --role-arn; use --session-duration for GetSessionToken")
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
			return usagef(name, "%s needs a --role-arn (it is sent with the %s role)", fl.name, fl.with)
		}
	}
	for _, k := range f.transitiveTags {
		if _, ok := f.tags.m[k]; !ok {
			return usagef(name, "--transitive-tag-key %s is not the key of a --tag: give --tag %s=VALUE too", quote(k), quote(k))
		}
	}
	for i := 1; i < len(f.roleARNs); i++ {
		if f.roleARNs[i] == f.roleARNs[i-1] {
			return usagef(name, "--role-arn %s is given twice in a row: a role assumed from a session of itself is almost always a mistake", quote(f.roleARNs[i]))
		}
	}
	if err := checkDuration("--duration", f.duration, stslimits.MaxAssumeRoleDuration); err != nil {
		return usagef(name, "%w", err)
	}
	if err := checkDuration("--session-duration", f.sessionDuration, stslimits.MaxGetSessionTokenDuration); err != nil {
		return usagef(name, "%w", err)
	}
	if f.region != "" && !isRegion(f.region) {
		return usagef(name, "--region %s is not a region name such as eu-west-1", quote(f.region))
	}
	if f.endpointURL != "" {
		u, err := url.Parse(f.endpointURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return usagef(name, "--endpoint-url %s is not an http or https URL", quote(f.endpointURL))
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

// isRegion reports whether s is what the SDK accepts as a region: a DNS
// label of lower case letters, digits and inner hyphens.
func isRegion(s string) bool {
	for _, part := range strings.Split(s, "-") {
		if part == "" || strings.Trim(part, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
			return false
		}
	}
	return true
}

// checkDuration checks the duration d of flag name, when given, against
// STS's limits: whole seconds from stslimits.MinDuration to maxDur.
func checkDuration(name string, d durationFlag, maxDur time.Duration) error {
	v := time.Duration(d)
	if v != 0 && (v < stslimits.MinDuration || v > maxDur || v%time.Second != 0) {
		return fmt.Errorf("%s %v is out of range: want whole seconds from %v to %v", name, v, stslimits.MinDuration, maxDur)
	}
	return nil
}

// externalIDEnv gives the external ID of the last --role-arn, as
// --external-id does, without putting it on the command line.
const externalIDEnv = "STSCHAIN_EXTERNAL_ID"

// fromEnv fills in what the environment gives in place of a flag: the
// external ID of STSCHAIN_EXTERNAL_ID, for a chain with --role-arn and no
// --external-id. The variable leaves this process's environment once
// read, so that no process stschain starts inherits it.
func (f *chainFlags) fromEnv(inv *invocation) {
	if id := inv.env(externalIDEnv); id != "" && len(f.roleARNs) > 0 && f.externalID == "" {
		f.externalID = id
		_ = os.Unsetenv(externalIDEnv)
	}
}
