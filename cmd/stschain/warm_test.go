package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain/ststest"
)

// warmRun runs warmCredentials in this process for args, which are
// credential-process's.
func warmRun(t *testing.T, args ...string) (string, bool) {
	t.Helper()
	c := lookup("credential-process")
	inv := &invocation{cmd: c, stdin: strings.NewReader(""), stdout: os.Stdout, stderr: os.Stderr, env: os.Getenv}
	f := new(chainFlags)
	rest, err := c.parseArgs(inv, c.flagSet(f), f, args)
	require.NoError(t, err)
	require.Empty(t, rest)
	creds, ok := warmCredentials(context.Background(), inv, f)
	return creds.AccessKeyID, ok
}

// The warm path serves a fresh session of the chain's top link from the
// cache, for a profile's role and for the last --role-arn, as the chain
// would; and leaves every other run to the chain.
func TestWarmCredentials(t *testing.T) {
	srv, serial := profileServer(t)
	h := profileHome(t, srv, serial)
	cache := []string{"--cache-dir", h.cache}

	_, ok := warmRun(t, append([]string{"admin"}, cache...)...)
	assert.False(t, ok, "nothing cached yet")
	r := runInProcess(t, append([]string{"credential-process", "admin", "--totp-secret-env", totpEnv}, cache...)...)
	require.Equal(t, exitOK, r.code, r.stderr)
	pc := decodeOutput(t, r.stdout)

	key, ok := warmRun(t, append([]string{"admin"}, cache...)...)
	assert.True(t, ok, "the profile's role, from the cache")
	assert.Equal(t, pc.AccessKeyID, key)
	r = runInProcess(t, append([]string{"credential-process", "admin"}, cache...)...)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Equal(t, pc, decodeOutput(t, r.stdout), "the same output as the chain's")

	onTop := append([]string{"admin", "--role-arn", roleOnTop, "--session-name", "top"}, cache...)
	_, ok = warmRun(t, onTop...)
	assert.False(t, ok)
	r = runInProcess(t, append([]string{"credential-process"}, onTop...)...)
	require.Equal(t, exitOK, r.code, r.stderr)
	top := decodeOutput(t, r.stdout)
	key, ok = warmRun(t, onTop...)
	assert.True(t, ok, "the last --role-arn, from the cache")
	assert.Equal(t, top.AccessKeyID, key)

	calls := len(srv.Calls())
	for _, extra := range [][]string{
		{"--no-cache"},
		{"--verbose"},
		{"--session-duration", "1h"},
		{"--mfa-token", "123456", "--mfa-serial", serial},
		{"--prompt", "nosuch"},
		{"--duration", "13h", "--role-arn", roleOnTop},
	} {
		_, ok := warmRun(t, append(append([]string{"admin"}, cache...), extra...)...)
		assert.False(t, ok, "%v is the chain's to check", extra)
	}
	_, ok = warmRun(t, append([]string{"source"}, cache...)...)
	assert.False(t, ok, "no role on top")
	assert.Equal(t, calls, len(srv.Calls()), "the warm path calls no STS")
}

// A cached session inside the prefetch window is not fresh: the warm path
// leaves it to the chain, which renews it.
func TestWarmCredentialsStaleEntry(t *testing.T) {
	srv, _ := newServer(t, func(c *ststest.Config) {
		for i := range c.Roles {
			if c.Roles[i].ARN == roleA {
				c.Roles[i].Lifetime = prefetchWindow - time.Minute
			}
		}
	})
	h := isolateEnv(t)
	args := []string{"source", "--role-arn", roleA, "--session-name", "stale", "--endpoint-url", srv.URL, "--cache-dir", h.cache}
	for range 2 {
		r := runInProcess(t, append([]string{"credential-process"}, args...)...)
		require.Equal(t, exitOK, r.code, r.stderr)
		_, ok := warmRun(t, args...)
		assert.False(t, ok)
	}
	assert.Len(t, srv.Calls(ststest.Call{Action: "AssumeRole"}), 2, "each run renewed the session")
}
