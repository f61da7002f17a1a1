package main

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"strings"

	"github.com/stschain/stschain/keyring"
)

// completeCommand is the name of the hidden command the completion
// scripts call: the rules of what completes a word live here, in the
// binary, and the scripts only hand over the words.
const completeCommand = "__complete"

// completionScripts are the scripts of "stschain completion SHELL". Each
// runs the stschain the user typed with __complete and the words of the
// command line up to the cursor, and offers what it prints, one word a
// line, as it is: no word is expanded or globbed by the shell (a profile
// named $(...) stays a name), and with none the shell completes file
// names.
var completionScripts = map[string]string{
	"bash": `# bash completion for stschain. Load it with
#   source <(stschain completion bash)
# in ~/.bashrc, or save it as /etc/bash_completion.d/stschain.
_stschain() {
	local line
	COMPREPLY=()
	while IFS= read -r line; do
		COMPREPLY+=("$line")
	done < <("${COMP_WORDS[0]}" ` + completeCommand + ` "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null)
	if [ "${#COMPREPLY[@]}" -eq 0 ]; then
		compopt -o default 2>/dev/null
	fi
}
complete -F _stschain stschain
`,
	"zsh": `#compdef stschain
# zsh completion for stschain. Load it with
#   source <(stschain completion zsh)
# in ~/.zshrc after compinit, or save it as _stschain in a directory of
# $fpath.
_stschain() {
	local -a candidates
	local line
	while IFS= read -r line; do
		candidates+=("$line")
	done < <("${words[1]}" ` + completeCommand + ` "${(@)words[2,CURRENT]}" 2>/dev/null)
	if (( ${#candidates} )); then
		compadd -- "${candidates[@]}"
	else
		_files
	fi
}
if [[ "$funcstack[1]" = "_stschain" ]]; then
	_stschain "$@"
elif (( $+functions[compdef] )); then
	compdef _stschain stschain
fi
`,
	"fish": `# fish completion for stschain. Load it with
#   stschain completion fish | source
# in ~/.config/fish/config.fish, or save it as
# ~/.config/fish/completions/stschain.fish.
function __stschain_complete
	set -l tokens (commandline -opc) (commandline -ct)
	$tokens[1] ` + completeCommand + ` $tokens[2..-1] 2>/dev/null
end
function __stschain_files
	test -z "$(__stschain_complete)"
end
complete -c stschain -f -a '(__stschain_complete)'
complete -c stschain -n __stschain_files -F
`,
}

// shells lists the shells of completionScripts, sorted.
func shells() []string {
	var out []string
	for s := range completionScripts {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

func completionCommand() *command {
	return &command{
		name:    "completion",
		args:    strings.Join(shells(), "|"),
		maxArgs: 1,
		short:   "print a shell's completion script",
		long: `Prints the completion script of the shell: it completes the commands,
their flags, profile names and the values of --format and --prompt, by
asking stschain itself. Load it in bash with
  source <(stschain completion bash)
in zsh (after compinit) with
  source <(stschain completion zsh)
and in fish with
  stschain completion fish | source
`,
		run: runCompletion,
	}
}

func runCompletion(_ context.Context, inv *invocation, _ *chainFlags, args []string) int {
	if len(args) != 1 || completionScripts[args[0]] == "" {
		got := "none"
		if len(args) == 1 {
			got = quote(args[0])
		}
		return fail(inv.stderr, usagef(inv.cmd.name, "want a shell, one of %s: got %s", strings.Join(shells(), ", "), got))
	}
	fmt.Fprint(inv.stdout, completionScripts[args[0]])
	return exitOK
}

func completeCommandEntry() *command {
	return &command{
		name:    completeCommand,
		args:    "[WORD...]",
		maxArgs: -1,
		hidden:  true,
		rawArgs: true,
		short:   "the completions of the last word of a command line",
		long: `Prints the words that complete the last of WORD..., the words of a
command line after "stschain", one a line. The completion scripts call
it.
`,
		run: runComplete,
	}
}

func runComplete(_ context.Context, inv *invocation, _ *chainFlags, args []string) int {
	for _, w := range completions(args, inv.env) {
		fmt.Fprintln(inv.stdout, w)
	}
	return exitOK
}

// completions returns what completes the last of words, the words of a
// command line after "stschain" up to the cursor: the subcommands first,
// then a command's flags, the values of its flags that take a name (a
// profile, a format, a prompt), the profile of its first argument, and
// the topics of help. Flags taking a file or a free value, and the
// command of exec after "--", get none, so that the shell completes file
// names. A word "--flag=" split off by the shell (bash splits at "=")
// gets the values alone.
func completions(words []string, env func(string) string) []string {
	if len(words) == 0 {
		words = []string{""}
	}
	cur, prev := words[len(words)-1], words[:len(words)-1]
	if len(prev) == 0 {
		if strings.HasPrefix(cur, "-") {
			return withPrefix(cur, longAliases())
		}
		return withPrefix(cur, commandWords())
	}
	c := lookup(prev[0])
	if c == nil || c.run == nil || c.hidden {
		return nil
	}
	switch c.name {
	case "help":
		if len(prev) == 1 {
			return withPrefix(cur, append(commandWords(), topicWords()...))
		}
		return nil
	case "completion":
		if len(prev) == 1 {
			return withPrefix(cur, shells())
		}
		return nil
	}
	fs := c.flagSet(new(chainFlags))
	// A value split off at "=": --profile = ad.
	if n := len(prev); n >= 2 && prev[n-1] == "=" && strings.HasPrefix(prev[n-2], "-") {
		return withPrefix(cur, flagValues(strings.TrimLeft(prev[n-2], "-"), env))
	}
	if name, value, ok := strings.Cut(cur, "="); ok && strings.HasPrefix(name, "-") {
		var out []string
		for _, v := range withPrefix(value, flagValues(strings.TrimLeft(name, "-"), env)) {
			out = append(out, name+"="+v)
		}
		return out
	}
	valueOf, positionals, inCommand := completionState(c, fs, prev[1:])
	switch {
	case valueOf != "":
		return withPrefix(cur, flagValues(valueOf, env))
	case inCommand:
		return nil // exec's command and its arguments
	case strings.HasPrefix(cur, "-"):
		return withPrefix(cur, flagWords(fs))
	case positionals == 0 && (c.profileArg || strings.HasSuffix(c.args, "PROFILE")):
		return withPrefix(cur, profileNames(env))
	}
	return nil
}

// completionState reads args, the words of command c before the one being
// completed, as c's flags are parsed: whether that word is the value of
// the flag valueOf, how many arguments come before it, and whether it is
// past them, in the command exec runs (after "--", or after the profile
// and the first word of the command).
func completionState(c *command, fs *flag.FlagSet, args []string) (valueOf string, positionals int, inCommand bool) {
	for i := 0; i < len(args) && !inCommand; i++ {
		a := args[i]
		switch {
		case a == "--":
			inCommand = true
		case len(a) > 1 && a[0] == '-' && (positionals == 0 || c.profileArg && positionals == 1):
			if name := valueFlag(fs, a); name != "" {
				if i == len(args)-1 {
					return name, positionals, false
				}
				i++ // its value
			}
		default:
			positionals++
			inCommand = positionals > 1 || !c.profileArg
		}
	}
	return "", positionals, inCommand
}

// valueFlag returns the name of the flag word names when the flag takes
// its value as the next word; "" otherwise.
func valueFlag(fs *flag.FlagSet, word string) string {
	if strings.Contains(word, "=") {
		return ""
	}
	fl := fs.Lookup(strings.TrimPrefix(strings.TrimPrefix(word, "-"), "-"))
	if fl == nil {
		return ""
	}
	if b, ok := fl.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		return ""
	}
	return fl.Name
}

// flagValues lists the values of the flag called name that can be
// offered: the profiles, the formats, the prompts, the keyrings.
func flagValues(name string, env func(string) string) []string {
	switch name {
	case "profile", shortOf("profile"):
		return profileNames(env)
	case "format":
		return formatNames()
	case "prompt":
		return promptNames()
	case "backend":
		var out []string
		for _, b := range keyring.Backends() {
			out = append(out, string(b))
		}
		return out
	}
	return nil
}

// commandWords lists the subcommands a user may type.
func commandWords() []string {
	var out []string
	for _, c := range commands() {
		if c.run != nil && !c.hidden {
			out = append(out, c.name)
		}
	}
	return out
}

// longAliases lists the aliases of the commands that are long flags:
// --version, --help.
func longAliases() []string {
	var out []string
	for _, c := range commands() {
		for _, a := range c.aliases {
			if strings.HasPrefix(a, "--") {
				out = append(out, a)
			}
		}
	}
	return out
}

// topicWords lists the help topics.
func topicWords() []string {
	var out []string
	for _, c := range commands() {
		if c.run == nil {
			out = append(out, c.name)
		}
	}
	return out
}

// flagWords lists the flags of fs as a user types them: --name, and -x
// for the one-letter forms.
func flagWords(fs *flag.FlagSet) []string {
	var out []string
	fs.VisitAll(func(fl *flag.Flag) {
		if isShort(fl.Name) {
			out = append(out, "-"+fl.Name)
		} else {
			out = append(out, "--"+fl.Name)
		}
	})
	return append(out, "--help")
}

// withPrefix keeps the words that start with prefix.
func withPrefix(prefix string, words []string) []string {
	var out []string
	for _, w := range words {
		if strings.HasPrefix(w, prefix) {
			out = append(out, w)
		}
	}
	return out
}
