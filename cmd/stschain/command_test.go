package main

import (
	"flag"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The flags of the command: the chain's, on each subcommand that builds
// one, and the few of one subcommand; and the one-letter forms.
var (
	chainFlagsWanted = []string{
		"cache-dir", "duration", "endpoint-url", "external-id", "mfa-process", "mfa-serial", "mfa-token",
		"no-cache", "policy-arn", "policy-file", "profile", "prompt", "region", "role-arn", "session-duration",
		"session-name", "source-identity", "tag", "totp-secret-env", "transitive-tag-key", "verbose", "backend",
	}
	chainShortFlags = []string{"p", "r", "d", "t"}
	// chainCommands build a chain: they have its flags.
	chainCommands = []string{"credential-process", "exec", "export", "login"}
	wantFlags     = map[string][]string{
		"credential-process": nil,
		"exec":               {"server", "s", "server-addr", "server-token-file"},
		"export":             {"format"},
		"login":              {"stdout", "s", "federation-url", "console-duration"},
		"add":                {"backend"},
		"remove":             {"backend", "force", "f"},
		"list":               {"backend", "cache-dir", "json"},
		"completion":         nil,
		"version":            nil,
		"help":               nil,
		completeCommand:      nil,
	}
)

// TestCommandTable: the table has the subcommands with their flags, each
// name and alias once.
func TestCommandTable(t *testing.T) {
	seen := map[string]bool{}
	got := map[string][]string{}
	for _, c := range commands() {
		for _, w := range append([]string{c.name}, c.aliases...) {
			assert.False(t, seen[w], "%q selects two commands", w)
			seen[w] = true
		}
		if c.run == nil {
			assert.Nil(t, c.flags, "topic %s has flags", c.name)
			continue
		}
		var names []string
		c.flagSet(new(chainFlags)).VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
		got[c.name] = names
	}
	for name, flags := range wantFlags {
		want := slices.Clone(flags)
		if slices.Contains(chainCommands, name) {
			want = append(append(want, chainFlagsWanted...), chainShortFlags...)
		}
		assert.ElementsMatch(t, want, got[name], "flags of %s", name)
	}
	assert.Len(t, got, len(wantFlags), "subcommands")
	assert.Equal(t, "credential-process, exec, export, login, add, remove, list, completion, version or help", names(true))
	assert.Equal(t, "chain, flags or keyring", names(false))
}

// TestHelp: "stschain help NAME" prints the help of every command and
// topic, and "stschain NAME -h" (or --help, -help, after flags too) the
// same; each fits one screen of 40 lines of 80 columns, and lists every
// flag of its own with its one-letter form; "stschain help flags" lists
// the chain's.
func TestHelp(t *testing.T) {
	flagLine := func(name string) string {
		if s := shortOf(name); s != "" {
			return `(?m)^  -` + s + `, --` + name + `\b`
		}
		return `(?m)^  --` + name + `\b`
	}
	for _, c := range commands() {
		if c.hidden {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			r := runInProcess(t, "help", c.name)
			require.Equal(t, exitOK, r.code, r.stderr)
			assert.Empty(t, r.stderr)
			lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
			assert.LessOrEqual(t, len(lines), 40, "one screen:\n%s", r.stdout)
			for _, l := range lines {
				if !strings.Contains(l, " = ") { // a config file line cannot be wrapped
					assert.LessOrEqual(t, utf8.RuneCountInString(l), 80, "%q is wider than a screen", l)
				}
			}
			if c.name == "flags" {
				for _, f := range chainFlagsWanted {
					assert.Regexp(t, flagLine(f), r.stdout)
				}
			}
			if c.run == nil {
				return
			}
			assert.True(t, strings.HasPrefix(r.stdout, "Usage: "+c.usageLine()+"\n"), r.stdout)
			for _, f := range wantFlags[c.name] {
				if !isShort(f) {
					assert.Regexp(t, flagLine(f), r.stdout)
				}
			}
			if c.flags != nil {
				assert.Contains(t, r.stdout, "\n  -h, --help ")
			}
			if slices.Contains(chainCommands, c.name) {
				assert.Contains(t, r.stdout, "stschain help flags\n")
			}
			for _, args := range [][]string{{c.name, "-h"}, {c.name, "--help"}, {c.name, "-help"}} {
				h := runInProcess(t, args...)
				assert.Equal(t, exitOK, h.code, "%v: %s", args, h.stderr)
				assert.Equal(t, r.stdout, h.stdout, "%v", args)
			}
		})
	}
	r := runInProcess(t, "credential-process", "--role-arn", roleA, "-help")
	assert.Equal(t, exitOK, r.code, r.stderr)
	assert.True(t, strings.HasPrefix(r.stdout, "Usage: stschain credential-process [flags] [PROFILE]\n"), r.stdout)
}

// TestOverview: "stschain help" (--help, -h) lists every command and
// topic from the table on standard output; stschain alone prints it on
// standard error, with status 2.
func TestOverview(t *testing.T) {
	check := func(t *testing.T, overview string) {
		t.Helper()
		for _, c := range commands() {
			if c.hidden {
				assert.NotContains(t, overview, c.name)
				continue
			}
			assert.Regexp(t, `(?m)^  `+regexp.QuoteMeta(c.name)+` +`+regexp.QuoteMeta(c.short)+`$`, overview)
		}
		assert.Contains(t, overview, "credential_process = stschain credential-process")
	}
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}, {"-help"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			r := runInProcess(t, args...)
			assert.Equal(t, exitOK, r.code)
			assert.Empty(t, r.stderr)
			check(t, r.stdout)
		})
	}
	r := runInProcess(t)
	assert.Equal(t, exitUsage, r.code)
	assert.Empty(t, r.stdout)
	check(t, r.stderr)
}

// TestDispatch: every word of the table runs its command.
func TestDispatch(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}, {"-version"}} {
		r := runInProcess(t, args...)
		assert.Equal(t, exitOK, r.code, r.stderr)
		assert.True(t, strings.HasPrefix(r.stdout, "stschain "), r.stdout)
	}
	r := runInProcess(t, "assume", "--role-arn", roleA)
	assert.Equal(t, exitUsage, r.code)
	assert.Equal(t, `stschain: unknown subcommand assume: want credential-process, exec, export, login, add, remove, list, completion, version or help`,
		failureLine(t, r))
}

func TestNestingGuard(t *testing.T) {
	env := func(k string) string {
		if k == depthVar {
			return "6"
		}
		return ""
	}
	var stdout, stderr strings.Builder
	code := run(t.Context(), []string{"credential-process"}, strings.NewReader(""), &stdout, &stderr, env)
	assert.Equal(t, exitError, code)
	assert.Empty(t, stdout.String())
	assert.Contains(t, failureLine(t, result{code, stdout.String(), stderr.String()}), "stschain: nested 6 levels deep")
}
