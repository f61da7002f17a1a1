//go:build !(aix || darwin || dragonfly || freebsd || linux || netbsd || openbsd || solaris || zos || windows)

package main

import (
	"errors"
	"os"
)

// echoOff fails: stschain cannot stop this system's terminal from showing
// what is typed, so it asks no secret there.
func echoOff(*os.File) (restore func(), err error) {
	return nil, errors.New("cannot keep the terminal from showing a secret on this system")
}
