package redistest

import "syscall"

// sysProcAttr makes the kernel kill redis-server when the process that
// started it dies, so that a test binary killed by its timeout leaves no
// server behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
