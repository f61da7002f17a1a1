//go:build !linux

package redistest

import "syscall"

// sysProcAttr: only Linux can tie the server's life to this process's;
// elsewhere Close (or t.Cleanup) stops it.
func sysProcAttr() *syscall.SysProcAttr { return nil }
