//go:build !unix

package main

import (
	"fmt"
	"os"
)

// testChild: the signal tests, which run the test binary as exec's
// command, are Unix only.
func testChild(mode string) int {
	fmt.Fprintf(os.Stderr, "no test child %q on this platform\n", mode)
	return 2
}
