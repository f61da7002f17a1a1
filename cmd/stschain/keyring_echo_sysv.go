//go:build aix || linux || solaris || zos

package main

import "golang.org/x/sys/unix"

// The requests that read and set a terminal's termios.
const (
	getTermios = unix.TCGETS
	setTermios = unix.TCSETS
)
