package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"admin":                                 "admin",
		"arn:aws:iam::123456789012:role/A":      "arn:aws:iam::123456789012:role/A",
		"/home/alice/.aws/cli/cache":            "/home/alice/.aws/cli/cache",
		"https://sts.eu-west-1.amazonaws.com/x": "https://sts.eu-west-1.amazonaws.com/x",
		"":                                      `""`,
		"my profile":                            `"my profile"`,
		"a\x1b[31mred":                          `"a\x1b[31mred"`,
		"nul\x00":                               `"nul\x00"`,
		"two\nlines":                            `"two\nlines"`,
		"$(id)":                                 `"$(id)"`,
		"ünïcode":                               `"ünïcode"`,
		"rtl\u202eoverride":                     `"rtl\u202eoverride"`,
		"bad\xffutf8":                           `"bad\xffutf8"`,
	} {
		assert.Equal(t, want, quote(in), "%q", in)
	}
}

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"stschain: plain message, ünïcode kept": "stschain: plain message, ünïcode kept",
		"esc \x1b[2J here":                      `esc \x1b[2J here`,
		"nul \x00 del \x7f":                     `nul \x00 del \x7f`,
		"c1 \u009b csi":                         `c1 \u009b csi`,
		"raw c1 \x9b byte":                      `raw c1 \x9b byte`,
		"bidi \u202e":                           `bidi \u202e`,
		"tab\tcr\r":                             `tab\tcr\r`,
	} {
		assert.Equal(t, want, printable(in), "%q", in)
	}
}

// assertSafeLine fails unless s is one line with no control character,
// no DEL and no byte that is not UTF-8 but its final newline.
func assertSafeLine(t *testing.T, s string) {
	t.Helper()
	require.True(t, strings.HasSuffix(s, "\n"), "%q", s)
	body := strings.TrimSuffix(s, "\n")
	assert.Equal(t, body, printable(body), "nothing left to escape in %q", s)
	for i := range len(body) {
		assert.False(t, body[i] < 0x20 || body[i] == 0x7f, "byte %#x at %d of %q", body[i], i, s)
	}
}

// TestHostileValuesAreEscaped: a role_arn, a source_profile and a profile
// name with ESC, NUL, newlines and a terminal's escape sequences in the
// files, on the command line, or in a credential_process's output, reach
// stderr escaped, on one line.
func TestHostileValuesAreEscaped(t *testing.T) {
	h := isolateEnv(t)
	proc := filepath.Join(h.dir, "proc")
	require.NoError(t, os.WriteFile(proc, []byte("#!/bin/sh\nprintf 'AKIA\\033[2J\\000 secret\\n\\033]0;title\\007'\n"), 0o700))
	config := "[profile source]\nregion = us-east-1\n" +
		"[profile evil-arn]\nrole_arn = arn:aws:iam::123456789012:role/X\x1b[31mRED\x00Z\nsource_profile = source\n" +
		"[profile ev\x1bil]\nrole_arn = arn:aws:iam::123456789012:role/Y\nsource_profile = nope\x1b]0;title\x07\n" +
		"[profile garbage]\ncredential_process = " + proc + "\n"
	require.NoError(t, os.WriteFile(h.config, []byte(config), 0o600))
	for _, args := range [][]string{
		{"--profile", "evil-arn"},
		{"--profile", "ev\x1bil"},
		{"--profile", "no\x1b[2Jsuch\nprofile"},
		{"--profile", "source", "--role-arn", "arn:aws:iam::123456789012:role/a\nb\x1b[2J\x00"},
		{"--profile", "source", "--role-arn", roleA, "--policy-file", filepath.Join(h.dir, "no\x1b[2Jsuch")},
		{"--profile", "garbage"}, // its output is described by its shape, and nothing of it shown
	} {
		r := runInProcess(t, append([]string{"credential-process", "--no-cache", "--endpoint-url", "http://127.0.0.1:1"}, args...)...)
		assert.NotEqual(t, exitOK, r.code)
		assert.Empty(t, r.stdout)
		assertSafeLine(t, r.stderr)
		if args[1] != "garbage" {
			assert.Contains(t, r.stderr, `\x1b`, "the escape is shown for what it is")
		}
		assertNoSecret(t, r.stderr)
	}
}
