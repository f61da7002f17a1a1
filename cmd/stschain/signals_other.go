//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package main

import (
	"os"
	"syscall"
)

// forwardedSignals end the credential phase, and are passed on to exec's
// command while it runs.
var forwardedSignals = []os.Signal{os.Interrupt, syscall.SIGTERM}

// keyboardSignals are those a terminal sends to its whole foreground
// process group; see reachedCommand.
var keyboardSignals = []os.Signal{os.Interrupt}
