//go:build !linux

package main

import "syscall"

// childSysProcAttr is nil: only Linux can signal a command when its parent
// dies.
func childSysProcAttr() *syscall.SysProcAttr { return nil }
