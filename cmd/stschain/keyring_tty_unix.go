//go:build unix

package main

import "os"

// openTerminal opens the controlling terminal, /dev/tty, for both
// directions.
func openTerminal() (in, out *os.File, err error) {
	f, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	return f, f, err
}
