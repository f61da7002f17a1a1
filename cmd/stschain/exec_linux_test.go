package main

import (
	"io"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
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

// TestExecCtrlCReachesCommandOnce types Ctrl-C on the terminal of the
// binary: the terminal sends SIGINT to stschain and its command, and
// stschain must not pass on a second one (terraform, for one, takes a
// second SIGINT as "stop at once, whatever the state").
func TestExecCtrlCReachesCommandOnce(t *testing.T) {
	master, slavePath := openPTY(t)
	slave, err := os.OpenFile(slavePath, os.O_RDWR|syscall.O_NOCTTY, 0)
	require.NoError(t, err)
	defer slave.Close()
	cmd, sc := startExec(t, &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}, func(cmd *exec.Cmd) io.Reader {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
		return master
	})
	slave.Close() // the child has its copies; the master reads EOF once they close

	_, err = master.Write([]byte{0x03}) // Ctrl-C, with the terminal's default VINTR
	require.NoError(t, err)
	_, ok := scanFor(sc, "got-int")
	require.True(t, ok, "the command saw no SIGINT")
	// A SIGINT stschain passed on would reach the script before this.
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	line, ok := scanFor(sc, "got-term")
	require.True(t, ok)
	assert.Equal(t, "got-term 1", line, "the command saw one SIGINT")
	assert.Equal(t, 42, exitCode(t, cmd))
}
