//go:build unix

package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// completionHome is a scratch HOME whose config has the profiles admin,
// admin-prod, source, and one whose name is shell code; it returns the
// environment with the built stschain first on PATH, and the directory
// a command of that name would make its marker in.
func completionHome(t *testing.T) (testHome, []string) {
	t.Helper()
	h := newTestHome(t)
	require.NoError(t, os.WriteFile(h.config, []byte("[profile admin]\n[profile admin-prod]\n[profile \"$(touch "+hostileMarker+")\"]\n"), 0o600))
	env := h.environ()
	for i, kv := range env {
		if p, ok := strings.CutPrefix(kv, "PATH="); ok {
			env[i] = "PATH=" + filepath.Dir(binary(t)) + string(os.PathListSeparator) + p
		}
	}
	return h, env
}

// completionScript writes the script of shell, as the built binary prints
// it, to a file in dir.
func completionScript(t *testing.T, env []string, shell, dir string) string {
	t.Helper()
	r := runBinary(t, env, "", "completion", shell)
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Equal(t, completionScripts[shell], r.stdout)
	file := filepath.Join(dir, "stschain."+shell)
	require.NoError(t, os.WriteFile(file, []byte(r.stdout), 0o600))
	return file
}

// runShell runs shell with args in dir, and returns its standard output.
func runShell(t *testing.T, env []string, dir, shell string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTime)
	defer cancel()
	cmd := exec.CommandContext(ctx, shellPath(t, shell), args...)
	cmd.Dir, cmd.Env = dir, env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "%s: %s", shell, stderr.String())
	return string(out)
}

// TestCompletionScriptsParse: each script is accepted by its shell.
func TestCompletionScriptsParse(t *testing.T) {
	t.Parallel()
	h, env := completionHome(t)
	for shell, check := range map[string][]string{"bash": {"-n"}, "zsh": {"-n"}, "fish": {"--no-execute"}} {
		t.Run(shell, func(t *testing.T) {
			file := completionScript(t, env, shell, h.dir)
			runShell(t, env, h.dir, shell, append(check, file)...)
		})
	}
	r := runBinary(t, env, "", "completion", "tcsh")
	assert.Equal(t, exitUsage, r.code)
	assert.Equal(t, "stschain completion: want a shell, one of bash, fish, zsh: got tcsh", failureLine(t, r))
}

// TestBashCompletion drives the bash script as bash's programmable
// completion does: COMP_WORDS and COMP_CWORD set, the function complete
// -p names called, COMPREPLY read. A profile named as shell code is
// offered as it is, and runs nothing.
func TestBashCompletion(t *testing.T) {
	t.Parallel()
	h, env := completionHome(t)
	file := completionScript(t, env, "bash", h.dir)
	for line, want := range map[string][]string{
		"stschain ex":                      {"exec", "export"},
		"stschain exec adm":                {"admin", "admin-prod"},
		"stschain exec $":                  {"$(touch " + hostileMarker + ")"},
		"stschain exec --prof":             {"--profile"},
		"stschain export admin --format j": {"json"},
		"stschain completion ":             {"bash", "fish", "zsh"},
	} {
		t.Run(line, func(t *testing.T) {
			script := `source "$1"
complete -p stschain
read -r -a COMP_WORDS <<< "$2"
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
case "$2" in *" ") COMP_WORDS+=(""); COMP_CWORD=$(( COMP_CWORD + 1 ));; esac
COMP_LINE=$2 COMP_POINT=${#2}
_stschain
printf '%s\n' "${COMPREPLY[@]}"`
			out := runShell(t, env, h.dir, "bash", "--norc", "--noprofile", "-c", script, "bash", file, line)
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			assert.Equal(t, "complete -F _stschain stschain", lines[0])
			assert.Equal(t, want, lines[1:])
		})
	}
	assert.NoFileExists(t, filepath.Join(h.dir, hostileMarker))
}

// TestFishAndZshCompletion asks fish what it completes with the fish script
// loaded; and zsh, with compinit, registers the zsh script's function.
func TestFishAndZshCompletion(t *testing.T) {
	t.Parallel()
	h, env := completionHome(t)
	// Each run waits for a shell to start: they run side by side, and the
	// check that no value ran a command follows them all.
	t.Run("shells", func(t *testing.T) {
		t.Run("fish", func(t *testing.T) {
			t.Parallel()
			file := completionScript(t, env, "fish", h.dir)
			for line, want := range map[string]string{
				"stschain exec adm":      "admin\nadmin-prod\n",
				"stschain export --form": "--format\n",
				"stschain exec ":         "$(touch " + hostileMarker + ")\nadmin\nadmin-prod\nsource\n",
			} {
				t.Run(line, func(t *testing.T) {
					t.Parallel()
					out := runShell(t, env, h.dir, "fish", "--no-config", "-c", "source $argv[1]; complete -C $argv[2]", file, line)
					assert.Equal(t, want, out)
				})
			}
		})
		t.Run("zsh", func(t *testing.T) {
			t.Parallel()
			file := completionScript(t, env, "zsh", h.dir)
			out := runShell(t, append(env, "ZDOTDIR="+h.dir), h.dir, "zsh", "-f", "-c",
				`autoload -U compinit && compinit -u -D && source "$1" && print -r -- $_comps[stschain]`, "zsh", file)
			assert.Equal(t, "_stschain\n", out)
		})
	})
	assert.NoFileExists(t, filepath.Join(h.dir, hostileMarker))
}
