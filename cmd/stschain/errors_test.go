package main

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// prefixRe matches the prefix of a message of the command, or of package
// stschain: "stschain: ", "stschain exec: " ...
var prefixRe = regexp.MustCompile(`stschain( [a-z-]+)?: `)

// failureLine returns the one line r wrote on standard error, checking
// that it starts with a prefix of prefixRe and holds no second one.
func failureLine(t *testing.T, r result) string {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	require.Len(t, lines, 1, "want one line on stderr, got %q", r.stderr)
	prefixes := prefixRe.FindAllStringIndex(lines[0], -1)
	require.NotEmpty(t, prefixes, "no stschain prefix: %q", lines[0])
	assert.Zero(t, prefixes[0][0], "the prefix is not in front: %q", lines[0])
	assert.Len(t, prefixes, 1, "the prefix is said more than once: %q", lines[0])
	return lines[0]
}

// TestFail: the command reports an error on one line with its prefix
// once, whoever built it, and exits 2 for a usage error, else 1.
func TestFail(t *testing.T) {
	lib := errors.New("stschain: arn:aws:iam::123456789012:role/A: AssumeRole: AccessDenied")
	for _, tc := range []struct {
		name string
		err  error
		want string
		code int
	}{
		{"the command's own", usagef("exec", "--region %q is not a region", "x"), `stschain exec: --region "x" is not a region`, exitUsage},
		{"stschain itself", usagef("", "unknown subcommand %q", "x"), `stschain: unknown subcommand "x"`, exitUsage},
		{"another package's", &cmdError{cmd: "exec", err: errors.New("credserver: listen: address in use")}, "stschain exec: credserver: listen: address in use", exitError},
		{"package stschain's, as it is", lib, lib.Error(), exitError},
		{"package stschain's, a usage error", &usageError{lib}, lib.Error(), exitUsage},
		{"on several lines", &cmdError{cmd: "export", err: errors.New("a\nb\n  c")}, "stschain export: a; b; c", exitError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr strings.Builder
			code := fail(&stderr, tc.err)
			assert.Equal(t, tc.code, code)
			assert.Equal(t, tc.want, failureLine(t, result{code: code, stderr: stderr.String()}))
		})
	}
	// The cause stays reachable.
	err := &usageError{&cmdError{cmd: "exec", err: fmt.Errorf("waiting: %w", context.Canceled)}}
	assert.ErrorIs(t, err, context.Canceled)
}
