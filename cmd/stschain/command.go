package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
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
	// maxArgs is how many arguments it takes after its flags; -1 for any
	// number.
	maxArgs int
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
		addCommand(),
		removeCommand(),
		listCommand(),
		versionCommand(),
		helpCommand(),
		chainTopic(),
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
		if (c.run != nil) == runnable {
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
	}
	return fs
}

// dispatch parses c's flags in args and runs c with them; -h or --help
// prints its help instead.
func (c *command) dispatch(ctx context.Context, inv *invocation, args []string) int {
	inv.cmd = c
	f := new(chainFlags)
	fs := c.flagSet(f)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			c.printHelp(inv.stdout)
			return exitOK
		}
		return fail(inv.stderr, usagef(c.name, "%v (see stschain help %s)", err, c.name))
	}
	args = fs.Args()
	if c.maxArgs >= 0 && len(args) > c.maxArgs {
		return fail(inv.stderr, c.tooManyArgs(args[c.maxArgs]))
	}
	return c.run(ctx, inv, f, args)
}

// tooManyArgs is the usage error for arg, one more than c takes.
func (c *command) tooManyArgs(arg string) error {
	switch {
	case c.maxArgs > 0:
		return usagef(c.name, "unexpected argument %q: want %s", arg, c.usageLine())
	case c.flags == nil:
		return usagef(c.name, "unexpected argument %q: it takes none", arg)
	default:
		return usagef(c.name, "unexpected argument %q: it takes flags only", arg)
	}
}

// printHelp writes c's help to w: the usage, the description, the flags
// one a line, the example.
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
		fmt.Fprintf(w, "\nFlags:\n")
		printFlags(w, c.flagSet(new(chainFlags)))
	}
	if c.example != "" {
		fmt.Fprintf(w, "\nExample:\n%s", c.example)
	}
}

// printFlags writes the flags of fs, and -h, one a line: the flag and its
// argument, then its usage in a column.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	type line struct{ flag, usage string }
	var lines []line
	fs.VisitAll(func(fl *flag.Flag) {
		arg, usage := flag.UnquoteUsage(fl)
		lines = append(lines, line{strings.TrimSpace("--" + fl.Name + " " + arg), usage})
	})
	lines = append(lines, line{"-h, --help", "show this help"})
	width := 0
	for _, l := range lines {
		width = max(width, len(l.flag))
	}
	for _, l := range lines {
		fmt.Fprintf(w, "  %-*s  %s\n", width, l.flag, l.usage)
	}
}
