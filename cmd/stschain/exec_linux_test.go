package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// openPTY opens a new pseudo-terminal and returns its master and the path
// of its slave; it skips the test where the system has none.
func openPTY(t *testing.T) (master *os.File, slave string) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("skipping: no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	ioctl := func(req uintptr, arg unsafe.Pointer) {
		_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, master.Fd(), req, uintptr(arg))
		require.Zero(t, errno, "ioctl %#x", req)
	}
	var unlock, n int32
	ioctl(syscall.TIOCSPTLCK, unsafe.Pointer(&unlock))
	ioctl(syscall.TIOCGPTN, unsafe.Pointer(&n))
	return master, "/dev/pts/" + strconv.Itoa(int(n))
}

// TestExecKeyboardSignalsReachCommandOnce types Ctrl-C and Ctrl-\ on the
// terminal of the binary: the terminal sends SIGINT or SIGQUIT to
// stschain and its command, and stschain must not pass on a second one
// (terraform, for one, takes a second SIGINT as "stop at once, whatever
// the state").
func TestExecKeyboardSignalsReachCommandOnce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		key  byte // with the terminal's default VINTR and VQUIT
		sig  syscall.Signal
	}{
		{"Ctrl-C", 0x03, syscall.SIGINT},
		{`Ctrl-\`, 0x1c, syscall.SIGQUIT},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			master, slavePath := openPTY(t)
			slave, err := os.OpenFile(slavePath, os.O_RDWR|syscall.O_NOCTTY, 0)
			require.NoError(t, err)
			defer slave.Close()
			cmd, sc, _ := startExec(t, &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}, func(cmd *exec.Cmd) io.Reader {
				cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
				return master
			})
			slave.Close() // the child has its copies; the master reads EOF once they close

			_, err = master.Write([]byte{tc.key})
			require.NoError(t, err)
			_, ok := scanFor(sc, "got ")
			require.True(t, ok, "the command saw no signal")
			// A signal stschain passed on would reach the child before
			// this.
			require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
			line, ok := scanFor(sc, "got TERM")
			require.True(t, ok)
			assert.Equal(t, termLine(tc.sig, 1), line, "the command saw the signal once")
			assert.Equal(t, 42, exitCode(t, cmd))
		})
	}
}

// killedBound bounds how long the command may outlive a killed stschain:
// generous for a busy machine, and far shorter than the grandchild's
// sleeperLife.
const killedBound = 10 * time.Second

// TestExecKilledParentTerminatesCommand kills the binary with SIGKILL,
// which it cannot catch: the kernel sends its command SIGTERM
// (Pdeathsig), which ends the command's own child and then the command,
// so that nothing of it is left running, well before the grandchild would
// end by itself.
func TestExecKilledParentTerminatesCommand(t *testing.T) {
	t.Parallel()
	var stderr strings.Builder
	cmd, sc, pids := startExec(t, &syscall.SysProcAttr{Setsid: true}, toPipe(t, &stderr))

	require.NoError(t, cmd.Process.Kill())
	// The child and the grandchild hold the output pipe: it reaches EOF
	// when both have exited.
	lines := make(chan []string, 1)
	go func() {
		var out []string
		for sc.Scan() {
			out = append(out, sc.Text())
		}
		lines <- out
	}()
	select {
	case out := <-lines:
		assert.Equal(t, []string{termLine(nil, 0)}, out, "the command got SIGTERM; stderr: %s", stderr.String())
	case <-time.After(killedBound):
		t.Fatalf("the command still runs %v after stschain was killed; stderr: %s", killedBound, stderr.String())
	}
	for _, pid := range pids {
		assert.Eventually(t, func() bool { return !running(pid) }, killedBound, 10*time.Millisecond, "pid %d still runs", pid)
	}
}

// running reports whether pid is a live process: it exists and is not a
// zombie waiting for its new parent to reap it.
func running(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}
