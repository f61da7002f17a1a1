//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/stschain/stschain/ststest"
)

// startExec starts the built binary running the test binary as its
// command, the child of childSignals, with the SysProcAttr attr (Setsid
// gives it a session of its own, without a controlling terminal unless
// attr gives one), and waits for the child to print "ready". It returns
// the binary's command, a reader of the child's output lines, and the pids
// of the child and its grandchild, which are killed when t ends.
func startExec(t *testing.T, attr *syscall.SysProcAttr, stdio func(*exec.Cmd) io.Reader) (*exec.Cmd, *bufio.Scanner, []int) {
	t.Helper()
	bin := binary(t)
	srv, _ := newServer(t)
	h := newTestHome(t)
	ctx, cancel := context.WithTimeout(t.Context(), testTime)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, bin, "exec", "--profile", "source", "--role-arn", roleA,
		"--endpoint-url", srv.URL, "--cache-dir", h.cache, "--", os.Args[0])
	cmd.WaitDelay = 5 * time.Second
	cmd.Env = h.environ(testChildEnv + "=" + childSignals)
	cmd.SysProcAttr = attr
	out := stdio(cmd)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sc := bufio.NewScanner(out)
	ready, ok := scanFor(sc, "ready ")
	require.True(t, ok, "the command did not start")
	var pids []int
	for _, f := range strings.Fields(ready)[1:] {
		pid, err := strconv.Atoi(f)
		require.NoError(t, err, ready)
		pids = append(pids, pid)
	}
	require.Len(t, pids, 2, ready)
	t.Cleanup(func() {
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	return cmd, sc, pids
}

// toPipe is the stdio of startExec for a command without a terminal: its
// output through a pipe, its errors into stderr.
func toPipe(t *testing.T, stderr *strings.Builder) func(*exec.Cmd) io.Reader {
	return func(cmd *exec.Cmd) io.Reader {
		cmd.Stderr = stderr
		out, err := cmd.StdoutPipe()
		require.NoError(t, err)
		return out
	}
}

// termLine is the child's last line after counting n of sig (0 for none).
func termLine(sig os.Signal, n int) string {
	line := "got TERM"
	for _, c := range childCounted {
		count := 0
		if c.sig == sig {
			count = n
		}
		line += fmt.Sprintf(" %s=%d", c.name, count)
	}
	return line
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

// TestExecForwardsSignals sends the binary each forwarded signal, as
// kill(1) does, once its command is ready: stschain passes it on exactly
// once, and the command decides the status.
func TestExecForwardsSignals(t *testing.T) {
	t.Parallel()
	for _, sig := range forwardedSignals {
		t.Run(sigName(sig), func(t *testing.T) {
			t.Parallel()
			var stderr strings.Builder
			cmd, sc, _ := startExec(t, &syscall.SysProcAttr{Setsid: true}, toPipe(t, &stderr))
			require.NoError(t, cmd.Process.Signal(sig))
			n := 0
			if sig != syscall.SIGTERM {
				require.True(t, sc.Scan(), "stderr: %s", stderr.String())
				assert.Equal(t, "got "+sigName(sig)+" 1", sc.Text())
				// Signals reach the child in the order stschain passes
				// them on, and pending ones in the order of their
				// numbers, all below SIGTERM's: a second one would be
				// counted before this.
				require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
				n = 1
			}
			require.True(t, sc.Scan(), "stderr: %s", stderr.String())
			assert.Equal(t, termLine(sig, n), sc.Text())
			assert.Equal(t, 42, exitCode(t, cmd), "stderr: %s", stderr.String())
			assert.Empty(t, stderr.String())
		})
	}
}

// TestExecEnvironmentLeaks plants every variable exec must not pass on in
// stschain's environment, with the TOTP seed of --totp-secret-env, and
// reads the command's whole environment: none is there, with or without
// --server.
func TestExecEnvironmentLeaks(t *testing.T) {
	t.Parallel()
	bin := binary(t)
	var plants []string
	for _, k := range removedEnv {
		plants = append(plants, k+"=LEAK-"+k)
	}
	plants = append(plants, "MY_TOTP_SEED="+totpSecret)
	for _, server := range []bool{false, true} {
		t.Run(fmt.Sprintf("server=%v", server), func(t *testing.T) {
			t.Parallel()
			srv, serial := newServer(t)
			h := newTestHome(t)
			args := []string{"exec", "--profile", "source", "--mfa-serial", serial, "--totp-secret-env", "MY_TOTP_SEED",
				"--role-arn", roleMFA, "--endpoint-url", srv.URL, "--cache-dir", h.cache}
			if server {
				args = append(args, "--server")
			}
			ctx, cancel := context.WithTimeout(t.Context(), testTime)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, append(args, "--", "env")...)
			cmd.Env = h.environ(plants...)
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			require.NoError(t, cmd.Run(), "stderr: %s", stderr.String())

			env := map[string]string{}
			for _, kv := range strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n") {
				k, v, _ := strings.Cut(kv, "=")
				env[k] = v
			}
			assert.NotContains(t, stdout.String(), "LEAK")
			assert.NotContains(t, stdout.String(), totpSecret)
			assert.NotContains(t, env, "MY_TOTP_SEED")
			assert.NotContains(t, env, depthVar)
			assert.Equal(t, "source", env[profileMarker])
			assert.Equal(t, roleMFA, env[roleMarker])
			if server {
				assert.NotContains(t, env, "AWS_ACCESS_KEY_ID")
				assert.NotContains(t, env, "AWS_SECRET_ACCESS_KEY")
				assert.NotContains(t, env, "AWS_SESSION_TOKEN")
				assert.Regexp(t, `^http://127\.0\.0\.1:\d+/credentials$`, env["AWS_CONTAINER_CREDENTIALS_FULL_URI"])
				assert.NotEmpty(t, env["AWS_CONTAINER_AUTHORIZATION_TOKEN"])
			} else {
				assert.Equal(t, srv.Calls(ststest.Call{Action: "AssumeRole"})[0].IssuedAccessKeyID, env["AWS_ACCESS_KEY_ID"])
				assert.NotContains(t, env, "AWS_CONTAINER_CREDENTIALS_FULL_URI")
			}
			for _, k := range removedEnv {
				if !slices.Contains([]string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
					"AWS_CREDENTIAL_EXPIRATION", "AWS_ACCOUNT_ID", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
					"AWS_CONTAINER_AUTHORIZATION_TOKEN", profileMarker, roleMarker}, k) {
					assert.NotContains(t, env, k)
				}
			}
		})
	}
}

// TestSignalBeforeCommand signals the binary while it waits for an MFA
// code: the credential phase ends, the command is not run, and the status
// is 128+N.
func TestSignalBeforeCommand(t *testing.T) {
	t.Parallel()
	bin := binary(t)
	for _, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGTERM, syscall.SIGUSR1} {
		t.Run(sigName(sig), func(t *testing.T) {
			t.Parallel()
			srv, serial := newServer(t)
			h := newTestHome(t)
			marker := h.dir + "/ran"
			ctx, cancel := context.WithTimeout(t.Context(), testTime)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, "exec", "--profile", "source", "--mfa-serial", serial,
				"--mfa-process", "echo waiting $$ >&2; exec sleep 60", "--role-arn", roleMFA,
				"--endpoint-url", srv.URL, "--cache-dir", h.cache, "--", "touch", marker)
			cmd.Env = h.environ()
			cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
			cmd.WaitDelay = 5 * time.Second
			stderr, err := cmd.StderrPipe()
			require.NoError(t, err)
			require.NoError(t, cmd.Start())
			sc := bufio.NewScanner(stderr)
			waiting, ok := scanFor(sc, "waiting")
			require.True(t, ok, "the MFA process did not start")
			// The refresh, shared by every caller, does not end with one
			// caller: stop the MFA process that stschain leaves.
			pid, err := strconv.Atoi(strings.TrimPrefix(waiting, "waiting "))
			require.NoError(t, err, waiting)
			t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })

			require.NoError(t, cmd.Process.Signal(sig))
			require.True(t, sc.Scan())
			assert.Equal(t, "stschain: interrupted by "+sig.String(), sc.Text())
			assert.Equal(t, 128+int(sig), exitCode(t, cmd))
			assert.NoFileExists(t, marker)
			assert.Zero(t, len(srv.Calls()))
		})
	}
}
