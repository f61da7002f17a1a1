package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// completionEnv is an environment whose config files hold the profiles
// admin, admin-prod and source.
func completionEnv(t *testing.T) func(string) string {
	t.Helper()
	dir := t.TempDir()
	config := filepath.Join(dir, "config")
	creds := filepath.Join(dir, "credentials")
	require.NoError(t, os.WriteFile(config, []byte("[profile admin]\n[profile admin-prod]\n"), 0o600))
	require.NoError(t, os.WriteFile(creds, []byte("[source]\n"), 0o600))
	vars := map[string]string{"AWS_CONFIG_FILE": config, "AWS_SHARED_CREDENTIALS_FILE": creds, "HOME": dir}
	return func(k string) string { return vars[k] }
}

// TestCompletions: what completes the last word of a command line, from
// the table of commands, their flags and the config files.
func TestCompletions(t *testing.T) {
	env := completionEnv(t)
	for line, want := range map[string][]string{
		"":                                  {"credential-process", "exec", "export", "login", "add", "remove", "list", "completion", "version", "help"},
		"ex":                                {"exec", "export"},
		"--ver":                             {"--version"},
		"-":                                 {"--version", "--help"},
		"exec ":                             {"admin", "admin-prod", "source"},
		"exec adm":                          {"admin", "admin-prod"},
		"exec --pro":                        {"--profile", "--prompt"},
		"exec --profile ":                   {"admin", "admin-prod", "source"},
		"exec -p s":                         {"source"},
		"exec --profile=ad":                 {"--profile=admin", "--profile=admin-prod"},
		"exec --profile = ad":               {"admin", "admin-prod"},
		"exec admin --se":                   {"--server", "--server-addr", "--server-token-file", "--session-duration", "--session-name"},
		"exec admin -- ":                    nil,
		"exec admin ls ":                    nil,
		"exec -- ":                          nil,
		"exec --cache-dir ":                 nil,
		"exec --session-name -p ":           {"admin", "admin-prod", "source"},
		"exec --no-cache ":                  {"admin", "admin-prod", "source"},
		"export admin --format ":            {"process", "env", "env-no-export", "powershell", "windows-cmd", "fish", "json", "ini"},
		"export --format=e":                 {"--format=env", "--format=env-no-export"},
		"credential-process --prompt ":      promptNames(),
		"credential-process admin ":         nil,
		"help ":                             {"credential-process", "exec", "export", "login", "add", "remove", "list", "completion", "version", "help", "chain", "flags", "keyring"},
		"help exec ":                        nil,
		"completion ":                       {"bash", "fish", "zsh"},
		"version ":                          nil,
		"add ":                              {"admin", "admin-prod", "source"},
		"remove -f adm":                     {"admin", "admin-prod"},
		"list ":                             nil,
		"version -":                         {"--help"},
		"nosuch ":                           nil,
		completeCommand + " ":               nil,
		"exec -s -r ":                       nil,
		"credential-process -t - --profile": {"--profile"},
	} {
		words := strings.Split(line, " ")
		assert.Equal(t, want, completions(words, env), "%q", line)
	}
	for _, w := range completions([]string{""}, env) {
		assert.NotEqual(t, completeCommand, w, "the hidden command is not offered")
	}
	// Its words are not its flags.
	r := runInProcess(t, completeCommand, "--ver")
	assert.Equal(t, result{code: exitOK, stdout: "--version\n"}, r)
	r = runInProcess(t, completeCommand, "export", "--h")
	assert.Equal(t, result{code: exitOK, stdout: "--help\n"}, r)
}
