package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// terminal reads what the binary writes to its pseudo-terminal.
type terminal struct {
	t      *testing.T
	master *os.File
	chunks chan []byte
	seen   bytes.Buffer // everything read so far
	from   int          // where the next expect starts looking
}

func newTerminal(t *testing.T, master *os.File) *terminal {
	term := &terminal{t: t, master: master, chunks: make(chan []byte, 64)}
	go func() {
		defer close(term.chunks)
		for {
			buf := make([]byte, 4096)
			n, err := master.Read(buf)
			if n > 0 {
				term.chunks <- buf[:n]
			}
			if err != nil {
				return
			}
		}
	}()
	return term
}

// expect waits until the terminal has shown s after the last match.
func (term *terminal) expect(s string) {
	term.t.Helper()
	deadline := time.NewTimer(testTime)
	defer deadline.Stop()
	for {
		if i := bytes.Index(term.seen.Bytes()[term.from:], []byte(s)); i >= 0 {
			term.from += i + len(s)
			return
		}
		select {
		case chunk, ok := <-term.chunks:
			require.True(term.t, ok, "the terminal closed before %q; it showed:\n%s", s, term.seen.String())
			term.seen.Write(chunk)
		case <-deadline.C:
			require.Failf(term.t, "timeout", "no %q on the terminal; it showed:\n%s", s, term.seen.String())
		}
	}
}

// typeLine types line and Enter.
func (term *terminal) typeLine(line string) {
	term.t.Helper()
	_, err := term.master.Write([]byte(line + "\r"))
	require.NoError(term.t, err)
}

// TestPromptAsksAgain drives the prompt through a pseudo-terminal, the
// binary's controlling terminal: a mistyped code is asked for again, and
// so is a code STS refused; the third code gets the session.
func TestPromptAsksAgain(t *testing.T) {
	t.Parallel()
	bin := binary(t)
	srv, serial := newServer(t, withCodes(goodCode))
	h := newTestHome(t)
	master, slavePath := openPTY(t)
	slave, err := os.OpenFile(slavePath, os.O_RDWR|syscall.O_NOCTTY, 0)
	require.NoError(t, err)
	defer slave.Close()

	ctx, cancel := context.WithTimeout(t.Context(), testTime)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "credential-process", "--profile", "source", "--mfa-serial", serial,
		"--role-arn", roleMFA, "--endpoint-url", srv.URL, "--cache-dir", h.cache)
	cmd.Env = h.environ()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	cmd.WaitDelay = 5 * time.Second
	require.NoError(t, cmd.Start())
	slave.Close() // the child has its copies
	term := newTerminal(t, master)

	term.expect("Enter MFA code for " + serial + ": ")
	term.typeLine("12345")
	term.expect("that is not a 6-digit code; try again")
	term.expect("Enter MFA code for " + serial + ": ")
	term.typeLine(badCode)
	term.expect("STS refused the MFA code for " + serial)
	term.expect("Enter MFA code for " + serial + ": ")
	term.typeLine(goodCode)
	term.expect(`{"Version":1,"AccessKeyId":"ASIA`)
	require.NoError(t, cmd.Wait(), "the terminal showed:\n%s", term.seen.String())

	assert.Equal(t, []string{badCode + " refused", goodCode}, codesSent(srv))
	assert.NotContains(t, term.seen.String(), userSecret)
}
