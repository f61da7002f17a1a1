package redistest

import (
	"bytes"
	"context"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestServer(t *testing.T) {
	s := New(t, Options{Persistence: true})
	ctx := t.Context()
	assert.Regexp(t, `^127\.0\.0\.1:\d+$`, s.Addr)

	_, err := s.CLI(ctx, nil, "SET", "k", "plain-value")
	require.NoError(t, err)
	out, err := s.CLI(ctx, nil, "GET", "k")
	require.NoError(t, err)
	assert.Equal(t, "plain-value\n", string(out))
	out, err = s.CLI(ctx, []byte("GET k\nGET missing\n"))
	require.NoError(t, err, "commands on stdin")
	assert.Equal(t, "plain-value\n\n", string(out))

	_, err = s.CLI(ctx, nil, "SAVE")
	require.NoError(t, err)
	dump, err := os.ReadFile(s.DumpFile())
	require.NoError(t, err)
	assert.True(t, bytes.Contains(dump, []byte("plain-value")), "rdbcompression is off: values are in the file as they are")

	s.Kill()
	s.Kill() // again: nothing happens
	_, err = net.DialTimeout("tcp4", s.Addr, time.Second)
	assert.Error(t, err, "a killed server refuses connections")
	s.Close()
	s.Close()
}

func TestServerWithoutPersistenceWritesNothing(t *testing.T) {
	dir := t.TempDir()
	s := New(t, Options{Dir: dir})
	_, err := s.CLI(t.Context(), nil, "SET", "k", "v")
	require.NoError(t, err)
	s.Close()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries, "no save points, no append-only file")
	assert.DirExists(t, dir, "a directory the caller gave is left in place")
}

func TestServerOwnDirIsRemoved(t *testing.T) {
	s := New(t, Options{})
	require.DirExists(t, s.Dir)
	s.Close()
	assert.NoDirExists(t, s.Dir)
}

func TestStartReportsATakenPort(t *testing.T) {
	Require(t)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	_, err = start(t.TempDir(), port, Options{})
	assert.ErrorIs(t, err, errPortTaken, "so that Start tries another port")
}

func TestStartReportsABadDirective(t *testing.T) {
	Require(t)
	_, err := Start(Options{Args: []string{"--no-such-directive", "1"}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "exited before answering")
	assert.Contains(t, err.Error(), "no-such-directive", "the server's log says why")
}

func TestCLIError(t *testing.T) {
	s := New(t, Options{})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	s.Kill()
	_, err := s.CLI(ctx, nil, "-e", "PING") // -e: exit non-zero on a failed command
	require.Error(t, err)
	assert.Contains(t, err.Error(), "redis-cli -e PING")
}
