package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain/internal/usertest"
)

// keeperBound bounds how long the keeper may take to free the port once
// no process may use it: two looks, keeperPoll apart, on a busy machine.
const keeperBound = 30 * time.Second

// leftBehind is a job that exec --server's command left behind: the test
// binary as childLater, its output in a file.
type leftBehind struct {
	out, goFile string
}

// newLeftBehind names the files of a job left behind in dir.
func newLeftBehind(dir string) leftBehind {
	return leftBehind{out: filepath.Join(dir, "job.out"), goFile: filepath.Join(dir, "job.go")}
}

// command is exec's command starting the job in the background, its
// output to j.out, and then running rest (none: it ends at once).
func (j leftBehind) command(rest string) []string {
	return []string{"sh", "-c", `STSCHAIN_TEST_CHILD=` + childLater + ` ` + laterGoEnv + `='` + j.goFile + `' '` + os.Args[0] +
		`' > '` + j.out + `' 2>&1 < /dev/null &` + "\n" + rest}
}

// wait returns the job's output once it holds a line starting with one
// of prefixes.
func (j leftBehind) wait(t *testing.T, prefixes ...string) string {
	t.Helper()
	deadline := time.Now().Add(testTime)
	for {
		data, _ := os.ReadFile(j.out)
		out := string(data)
		for _, p := range prefixes {
			if strings.Contains("\n"+out, "\n"+p) {
				return out
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the job printed no line starting with %q: %q", prefixes, out)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// url returns the server URL the job holds.
func (j leftBehind) url(t *testing.T) *url.URL {
	t.Helper()
	out := j.wait(t, "url ")
	line, _, _ := strings.Cut(out[strings.Index(out, "url ")+4:], "\n")
	u, err := url.Parse(line)
	require.NoError(t, err)
	require.NotEmpty(t, u.Port(), "the job holds %q", line)
	return u
}

// fetch tells the job to fetch its credentials, and returns what it got.
func (j leftBehind) fetch(t *testing.T) string {
	t.Helper()
	require.NoError(t, os.WriteFile(j.goFile, nil, 0o600))
	return j.wait(t, "key ", "error: ")
}

// assertSquatFails tries to bind addr as another listener would, as this
// user and, when the tests run as root, as another user with SO_REUSEADDR
// and SO_REUSEPORT: both fail while the keeper holds the port.
func assertSquatFails(t *testing.T, addr string) {
	t.Helper()
	ln, err := net.Listen("tcp4", addr)
	if err == nil {
		ln.Close()
		t.Fatalf("another listener bound %s", addr)
	}
	assert.ErrorIs(t, err, syscall.EADDRINUSE)

	if os.Geteuid() != 0 {
		return // usertest.Other skips; this user's attempt is the proof
	}
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		return
	}
	uid, gid := usertest.Other(t)
	host, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), testTime)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/usr/bin/python3", "-c", `import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
try:
    s.bind((sys.argv[1], int(sys.argv[2])))
    s.listen()
except OSError as e:
    print("refused", e.errno)
    sys.exit(1)
print("bound")`, host, port)
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}}
	out, err := cmd.CombinedOutput()
	assert.Error(t, err, "another user bound %s: %s", addr, out)
	assert.Equal(t, fmt.Sprintf("refused %d\n", int(syscall.EADDRINUSE)), string(out))
}

// assertPortFreed waits until addr can be bound again: the keeper has
// left once no process may use the URI.
func assertPortFreed(t *testing.T, addr string) {
	t.Helper()
	assert.Eventually(t, func() bool {
		ln, err := net.Listen("tcp4", addr)
		if err == nil {
			ln.Close()
		}
		return err == nil
	}, keeperBound, 10*time.Millisecond, "the port is still held")
}

// TestExecServerJobLeftBehindFailsClosed: a background job that exec
// --server's command leaves behind outlives the command and stschain,
// whose prompt comes back at once. While the job lives, nobody else can
// bind the server's port (this user or another), and its fetch fails
// closed with ServerStopped; once it has exited, the port is freed.
func TestExecServerJobLeftBehindFailsClosed(t *testing.T) {
	t.Parallel()
	bin := binary(t)
	srv, _ := newServer(t)
	h := newTestHome(t)
	job := newLeftBehind(h.dir)
	ctx, cancel := context.WithTimeout(t.Context(), testTime)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"exec", "--server", "--profile", "source", "--role-arn", roleA,
		"--endpoint-url", srv.URL, "--cache-dir", h.cache, "--"}, job.command("")...)...)
	cmd.Env = h.environ()
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "stderr: %s", stderr.String())
	assert.Empty(t, stderr.String())

	u := job.url(t)
	assertSquatFails(t, u.Host)
	out := job.fetch(t)
	assert.Contains(t, out, "ServerStopped", "the job fails closed")
	assert.NotContains(t, out, "\nkey ")
	assertPortFreed(t, u.Host)
}

// TestExecServerKilledKeepsThePort: stschain killed with SIGKILL while its
// command runs cannot clean up; the keeper still holds the port for the
// job left behind, removes the token file, and frees the port once the
// job has exited.
func TestExecServerKilledKeepsThePort(t *testing.T) {
	t.Parallel()
	bin := binary(t)
	srv, _ := newServer(t)
	h := newTestHome(t)
	job := newLeftBehind(h.dir)
	tokenFile := filepath.Join(h.dir, "token")
	ctx, cancel := context.WithTimeout(t.Context(), testTime)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"exec", "--server-token-file", tokenFile, "--profile", "source",
		"--role-arn", roleA, "--endpoint-url", srv.URL, "--cache-dir", h.cache, "--"}, job.command("exec sleep 600")...)...)
	cmd.Env = h.environ()
	cmd.WaitDelay = time.Second
	require.NoError(t, cmd.Start())
	u := job.url(t)
	require.FileExists(t, tokenFile)

	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	assert.Eventually(t, func() bool {
		_, err := os.Lstat(tokenFile)
		return errors.Is(err, os.ErrNotExist)
	}, keeperBound, 10*time.Millisecond, "the token file is removed")
	assertSquatFails(t, u.Host)
	out := job.fetch(t)
	assert.NotContains(t, out, "\nkey ", "the job fails closed")
	assert.Contains(t, out, "error: ")
	assertPortFreed(t, u.Host)
}

// TestExecServerFreesThePort: with nothing left behind, the port is
// freed once exec has returned.
func TestExecServerFreesThePort(t *testing.T) {
	t.Parallel()
	bin := binary(t)
	srv, _ := newServer(t)
	h := newTestHome(t)
	ctx, cancel := context.WithTimeout(t.Context(), testTime)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "exec", "--server", "--profile", "source", "--role-arn", roleA,
		"--endpoint-url", srv.URL, "--cache-dir", h.cache, "--", "sh", "-c", `echo "$AWS_CONTAINER_CREDENTIALS_FULL_URI"`)
	cmd.Env = h.environ()
	out, err := cmd.Output()
	require.NoError(t, err)
	u, err := url.Parse(strings.TrimSpace(string(out)))
	require.NoError(t, err)
	assertPortFreed(t, u.Host)
}
