//go:build !unix && !windows

package main

import (
	"errors"
	"os"
)

// openTerminal fails: this system has no terminal stschain knows how to
// open.
func openTerminal() (in, out *os.File, err error) {
	return nil, nil, errors.New("this system has no terminal stschain can open")
}
