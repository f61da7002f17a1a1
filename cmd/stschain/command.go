package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
)

// A command is a subcommand of stschain, or a help topic: everything that
// the dispatch, "stschain help", the overview and their errors say of it,
// in one value, as cmd/go's base.Command holds a go command.
type command struct {
	// name is what selects it: "stschain NAME", "stschain help NAME".
	name string
	// aliases are other words that select it, such as --version.
	aliases []string
	// args is the usage line after "stschain NAME", such as
	// "[flags] [--] [COMMAND [ARG...]]".
	args string
	// short is its line in the overview.
	short string
	// long is what its help says after the usage line: the whole help of
	// a topic.
	long string
	// example is a command line or two its help ends with.
	example string
	// maxArgs is how many arguments it takes after its flags (and after
	// the profile of profileArg); -1 for any number.
	maxArgs int
	// profileArg: the profile may be named by the first argument, as in
	// "stschain exec PROFILE -- COMMAND" (see parseArgs).
	profileArg bool
	// hidden leaves it out of the overview and of the names the errors
	// and the completion offer: the completion's own call into stschain.
	hidden bool
	// rawArgs: its arguments are not parsed for flags (nor -h): the
	// words of a command line to complete.
	rawArgs bool
	// flags defines its flags on fs, bound to f; nil for none.
	flags func(fs *flag.FlagSet, f *chainFlags)
	// run runs it with its flags and the arguments after them, and
	// returns the exit status; nil for a help topic.
	run func(ctx context.Context, inv *invocation, f *chainFlags, args []string) int
}

// invocation is what one run of a command works with: the command, its
// standard streams and its environment (os.Getenv in main).
type invocation struct {
	cmd            *command
	stdin          io.Reader
	stdout, stderr io.Writer
	env            func(string) string
}

// commands lists the subcommands and help topics, in the order of the
// overview: the one place that names them.
func commands() []*command {
	return []*command{
		credentialProcessCommand(),
		execCommand(),
		exportCommand(),
		loginCommand(),
		addCommand(),
		removeCommand(),
		listCommand(),
		completionCommand(),
		versionCommand(),
		helpCommand(),
		completeCommandEntry(),
		chainTopic(),
		flagsTopic(),
		keyringTopic(),
	}
}

// lookup returns the command or topic that word selects, nil when none
// does.
func lookup(word string) *command {
	for _, c := range commands() {
		if c.name == word || slices.Contains(c.aliases, word) {
			return c
		}
	}
	return nil
}

// names lists the names of the commands (runnable) or the topics (not),
// as "a, b or c".
func names(runnable bool) string {
	var out []string
	for _, c := range commands() {
		if (c.run != nil) == runnable && !c.hidden {
			out = append(out, c.name)
		}
	}
	if len(out) < 2 {
		return strings.Join(out, "")
	}
	return strings.Join(out[:len(out)-1], ", ") + " or " + out[len(out)-1]
}

// usageLine is c's usage: "stschain NAME ARGS".
func (c *command) usageLine() string {
	return strings.TrimSpace("stschain " + c.name + " " + c.args)
}

// flagSet returns c's flags, bound to f.
func (c *command) flagSet(f *chainFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("stschain "+c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported by the caller, on one line
	if c.flags != nil {
		c.flags(fs, f)
		addShortFlags(fs)
	}
	return fs
}

// dispatch parses c's flags in args and runs c with them; -h or --help
// prints its help instead.
func (c *command) dispatch(ctx context.Context, inv *invocation, args []string) int {
	inv.cmd = c
	f := new(chainFlags)
	if c.rawArgs {
		return c.run(ctx, inv, f, args)
	}
	args, err := c.parseArgs(inv, c.flagSet(f), f, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		c.printHelp(inv.stdout)
		return exitOK
	case err != nil:
		var nf *notFoundError
		if errors.As(err, &nf) {
			fail(inv.stderr, err)
			return exitNotFound
		}
		return fail(inv.stderr, err)
	case c.maxArgs >= 0 && len(args) > c.maxArgs:
		return fail(inv.stderr, c.tooManyArgs(args[c.maxArgs]))
	}
	f.fromEnv(inv)
	return c.run(withForeground(ctx), inv, f, args)
}

// parseArgs parses c's flags in args, and the profile a first argument
// names when c has profileArg, into f; it returns the arguments left. A
// first argument names the profile when a "--" follows it (after more
// flags maybe: "exec PROFILE --server -- COMMAND"), when it is the name of
// a profile of the config files, or always, for a command that takes no
// other argument ("export PROFILE"). Otherwise it is the first word of the
// command, as before profiles could be named so: "exec --profile P
// COMMAND" and "exec COMMAND" run COMMAND. A word that is neither a
// profile nor a command on PATH is reported before any STS call, with the
// profiles it may have meant. The profile named both so and with --profile
// is a usage error, unless they are the same.
func (c *command) parseArgs(inv *invocation, fs *flag.FlagSet, f *chainFlags, args []string) ([]string, error) {
	rest, dashed, err := parseFlags(fs, args)
	if err != nil {
		return nil, c.flagError(err)
	}
	if !c.profileArg || dashed || len(rest) == 0 {
		return rest, nil
	}
	word := rest[0]
	if c.maxArgs != 0 {
		// A command follows the flags, maybe after the profile.
		_, dashedAfter := flagsEnd(fs, rest[1:])
		isProfile := slices.Contains(profileNames(inv.env), word)
		switch {
		case isProfile, dashedAfter && f.profile == "":
		case f.profile != "":
			return rest, nil // exec --profile P COMMAND
		default:
			if _, err := exec.LookPath(word); err == nil {
				return rest, nil // exec COMMAND
			}
			return nil, &notFoundError{cmd: c.name, word: word, near: nearestProfiles(word, profileNames(inv.env))}
		}
	}
	if f.profile != "" && f.profile != word {
		return nil, usagef(c.name, "the profile is named twice, %s and --profile %s: name it once", quote(word), quote(f.profile))
	}
	profileGiven := f.profile
	rest, _, err = parseFlags(fs, rest[1:])
	if err != nil {
		return nil, c.flagError(err)
	}
	if profileGiven == "" && f.profile != "" && f.profile != word {
		return nil, usagef(c.name, "the profile is named twice, %s and --profile %s: name it once", quote(word), quote(f.profile))
	}
	f.profile = word
	return rest, nil
}

// flagError is the usage error of a flag fs.Parse refused; flag.ErrHelp
// as it is.
func (c *command) flagError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	return usagef(c.name, "%v (see stschain help %s)", err, c.name)
}

// parseFlags parses the flags of fs at the start of args and returns the
// arguments after them, and whether a "--" ended them.
func parseFlags(fs *flag.FlagSet, args []string) (rest []string, dashed bool, err error) {
	if err := fs.Parse(args); err != nil {
		return nil, false, err
	}
	_, dashed = flagsEnd(fs, args)
	return fs.Args(), dashed, nil
}

// flagsEnd returns how many of args are flags of fs and their values, as
// fs.Parse reads them, and whether a "--" (counted) ended them.
func flagsEnd(fs *flag.FlagSet, args []string) (n int, dashed bool) {
	for i := 0; i < len(args); i++ {
		s := args[i]
		switch {
		case s == "--":
			return i + 1, true
		case len(s) < 2 || s[0] != '-':
			return i, false
		}
		name := strings.TrimPrefix(s[1:], "-")
		if strings.Contains(name, "=") {
			continue
		}
		fl := fs.Lookup(name)
		if fl == nil {
			return i, false
		}
		if b, ok := fl.Value.(interface{ IsBoolFlag() bool }); !ok || !b.IsBoolFlag() {
			i++ // its value
		}
	}
	return len(args), false
}

// tooManyArgs is the usage error for arg, one more than c takes.
func (c *command) tooManyArgs(arg string) error {
	switch {
	case c.maxArgs > 0 || c.profileArg:
		return usagef(c.name, "unexpected argument %s: want %s", quote(arg), c.usageLine())
	case c.flags == nil:
		return usagef(c.name, "unexpected argument %s: it takes none", quote(arg))
	default:
		return usagef(c.name, "unexpected argument %s: it takes flags only", quote(arg))
	}
}

// printHelp writes c's help to w: the usage, the description, its flags
// one a line (the chain's flags are the topic "flags"), the example.
func (c *command) printHelp(w io.Writer) {
	if c.run == nil {
		fmt.Fprint(w, c.long)
		return
	}
	fmt.Fprintf(w, "Usage: %s\n", c.usageLine())
	for _, a := range c.aliases {
		if strings.HasPrefix(a, "--") {
			fmt.Fprintf(w, "       stschain %s\n", a)
		}
	}
	fmt.Fprintf(w, "\n%s", c.long)
	if c.flags != nil {
		fs := c.flagSet(new(chainFlags))
		chain, hasChain := chainFlagNames(), fs.Lookup("role-arn") != nil
		fmt.Fprintf(w, "\nFlags:\n")
		printFlags(w, fs, func(name string) bool { return !hasChain || !chain[name] }, true)
		if hasChain {
			fmt.Fprintf(w, "  and the chain's flags (-p PROFILE, --role-arn ARN ...): stschain help flags\n")
		}
	}
	if c.example != "" {
		fmt.Fprintf(w, "\nExample:\n%s", c.example)
	}
}

// chainFlagNames are the names of the chain's flags, short forms
// included.
func chainFlagNames() map[string]bool {
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	chainFlagSet(fs, new(chainFlags))
	addShortFlags(fs)
	names := map[string]bool{}
	fs.VisitAll(func(fl *flag.Flag) { names[fl.Name] = true })
	return names
}

// printFlags writes the flags of fs that show selects one a line, each
// with its short form, and -h when help is set: the flag and its
// argument, then its usage in a column.
func printFlags(w io.Writer, fs *flag.FlagSet, show func(name string) bool, help bool) {
	type line struct{ flag, usage string }
	var lines []line
	fs.VisitAll(func(fl *flag.Flag) {
		if isShort(fl.Name) || !show(fl.Name) {
			return
		}
		arg, usage := flag.UnquoteUsage(fl)
		name := "--" + fl.Name
		if s := shortOf(fl.Name); s != "" {
			name = "-" + s + ", " + name
		}
		lines = append(lines, line{strings.TrimSpace(name + " " + arg), usage})
	})
	if help {
		lines = append(lines, line{"-h, --help", "show this help"})
	}
	width := 0
	for _, l := range lines {
		width = max(width, len(l.flag))
	}
	for _, l := range lines {
		fmt.Fprintf(w, "  %-*s  %s\n", width, l.flag, l.usage)
	}
}

// flagsTopic lists the chain's flags, which every command that builds a
// chain has.
func flagsTopic() *command {
	var long strings.Builder
	long.WriteString(`The flags of every command that builds a chain (credential-process,
exec, export, login); "stschain help chain" tells how they build it.

`)
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	chainFlagSet(fs, new(chainFlags))
	addShortFlags(fs)
	printFlags(&long, fs, func(string) bool { return true }, false)
	long.WriteString("\n" + argvSecretNote)
	fmt.Fprintf(&long, "\n--prompt (else %s): %s.\n", promptEnv, strings.Join(promptNames(), ", "))
	return &command{name: "flags", short: "the flags of the chain", long: long.String()}
}
