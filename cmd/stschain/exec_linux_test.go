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
	for _, tc := range []struct {
		name string
		key  byte // with the terminal's default VINTR and VQUIT
		want string
	}{
		{"Ctrl-C", 0x03, "got TERM hup=0 int=1 quit=0 usr1=0 usr2=0 alrm=0"},
		{`Ctrl-\`, 0x1c, "got TERM hup=0 int=0 quit=1 usr1=0 usr2=0 alrm=0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			master, slavePath := openPTY(t)
			slave, err := os.OpenFile(slavePath, os.O_RDWR|syscall.O_NOCTTY, 0)
			require.NoError(t, err)
			defer slave.Close()
			cmd, sc, _ := startExec(t, &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}, func(cmd *exec.Cmd) io.Reader {
				cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
				return master
			}, "")
			slave.Close() // the child has its copies; the master reads EOF once they close

			_, err = master.Write([]byte{tc.key})
			require.NoError(t, err)
			_, ok := scanFor(sc, "got ")
			require.True(t, ok, "the command saw no signal")
			// A signal stschain passed on would reach the script before
			// this.
			require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
			line, ok := scanFor(sc, "got TERM")
			require.True(t, ok)
			assert.Equal(t, tc.want, line, "the command saw the signal once")
			assert.Equal(t, 42, exitCode(t, cmd))
		})
	}
}

// TestExecKilledParentTerminatesCommand kills the binary with SIGKILL,
// which it cannot catch: the kernel sends its command SIGTERM
// (Pdeathsig), and nothing of the command is left running.
func TestExecKilledParentTerminatesCommand(t *testing.T) {
	const script = `trap 'echo "got TERM"; kill $!; exit 0' TERM
sleep 60 & echo "ready $$ $!"; while :; do wait; done`
	var stderr strings.Builder
	cmd, sc, ready := startExec(t, &syscall.SysProcAttr{Setsid: true}, func(cmd *exec.Cmd) io.Reader {
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		require.NoError(t, err)
		return out
	}, script)
	var watch []int // the script and its sleep
	for _, f := range strings.Fields(ready)[1:] {
		pid, err := strconv.Atoi(f)
		require.NoError(t, err, ready)
		watch = append(watch, pid)
	}
	require.Len(t, watch, 2, ready)

	require.NoError(t, cmd.Process.Kill())
	// A bound, in case the command never hears of it: the reads below
	// would block for as long as it lives.
	timer := time.AfterFunc(testTime, func() {
		for _, pid := range watch {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	defer timer.Stop()
	line, ok := scanFor(sc, "got TERM")
	require.True(t, ok, "the command did not get SIGTERM; stderr: %s", stderr.String())
	assert.Equal(t, "got TERM", line)
	for sc.Scan() { // to EOF: every holder of the pipe has exited
	}
	for _, pid := range watch {
		assert.Eventually(t, func() bool { return !running(pid) }, 10*time.Second, 10*time.Millisecond, "pid %d still runs", pid)
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
