//go:build !windows

package main

import (
	"errors"
	"os"

	"github.com/stschain/stschain"
)

// terminalPrompt asks on the controlling terminal, else on standard error
// and standard input: stschain.PromptTokenCode.
func terminalPrompt() stschain.TokenCodeFunc { return stschain.PromptTokenCode }

// openTerminalOut opens the controlling terminal for writing.
func openTerminalOut() (*os.File, error) { return os.OpenFile("/dev/tty", os.O_WRONLY, 0) }

// wincredPrompt exists on Windows only; promptNames does not offer it
// elsewhere.
func wincredPrompt() (stschain.TokenCodeFunc, error) {
	return nil, errors.New("the wincred prompt exists on Windows only")
}
