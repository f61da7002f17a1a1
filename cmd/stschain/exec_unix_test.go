//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package main

import (
	"bufio"
	"context"
	"io"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// signalScript waits until a signal's trap reports it, with the number of
// SIGINTs seen, and exits 42.
const signalScript = `n=0
trap 'n=$((n+1)); echo "got-int $n"' INT
trap 'echo "got-term $n"; kill $!; exit 42' TERM
sleep 60 & echo ready; while :; do wait; done`

// startExec starts the built binary running signalScript through exec, in
// a session of its own (so without a controlling terminal unless attr
// gives one), and waits for the script to be ready. It returns the
// command and a reader of the script's output lines.
func startExec(t *testing.T, attr *syscall.SysProcAttr, stdio func(*exec.Cmd) io.Reader) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	bin := binary(t)
	srv, _ := newServer(t)
	h := newTestHome(t)
	ctx, cancel := context.WithTimeout(t.Context(), testTime)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, bin, "exec", "--profile", "source", "--role-arn", roleA,
		"--endpoint-url", srv.URL, "--cache-dir", h.cache, "--", "sh", "-c", signalScript)
	cmd.WaitDelay = 5 * time.Second
	cmd.Env = h.environ()
	cmd.SysProcAttr = attr
	out := stdio(cmd)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sc := bufio.NewScanner(out)
	_, ok := scanFor(sc, "ready")
	require.True(t, ok, "the command did not start")
	return cmd, sc
}

// scanFor reads lines until one that holds s (a terminal's echo may come
// before it) and returns that line, without a terminal's carriage return.
func scanFor(sc *bufio.Scanner, s string) (string, bool) {
	for sc.Scan() {
		if line := strings.TrimRight(sc.Text(), "\r"); strings.Contains(line, s) {
			return line[strings.Index(line, s):], true
		}
	}
	return "", false
}

// exitCode waits for cmd and returns its exit status.
func exitCode(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	err := cmd.Wait()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	return ee.ExitCode()
}

// TestExecForwardsSignals sends the binary SIGINT or SIGTERM, as kill(1)
// does, once its command is ready: stschain passes it on exactly once, and
// the command's trap decides the status.
func TestExecForwardsSignals(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			var stderr strings.Builder
			cmd, sc := startExec(t, &syscall.SysProcAttr{Setsid: true}, func(cmd *exec.Cmd) io.Reader {
				cmd.Stderr = &stderr
				out, err := cmd.StdoutPipe()
				require.NoError(t, err)
				return out
			})
			require.NoError(t, cmd.Process.Signal(sig))
			if sig == syscall.SIGINT {
				require.True(t, sc.Scan(), "stderr: %s", stderr.String())
				assert.Equal(t, "got-int 1", sc.Text())
				// Signals reach the script in the order stschain passes
				// them on: a second SIGINT would be counted before this.
				require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
			}
			require.True(t, sc.Scan(), "stderr: %s", stderr.String())
			want := "got-term 0"
			if sig == syscall.SIGINT {
				want = "got-term 1"
			}
			assert.Equal(t, want, sc.Text())
			assert.Equal(t, 42, exitCode(t, cmd), "stderr: %s", stderr.String())
		})
	}
}
