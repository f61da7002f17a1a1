package main

import (
	"io"
	"os"
	"strings"
)

// maxEnviron bounds what is read of a process's environment: the kernel
// takes at most a quarter of the stack limit for arguments and
// environment together, 2 MiB by default.
const maxEnviron = 8 << 20

// holdersLeft reports whether a process may still use the server at url:
// one whose environment names it (the command's descendants, wherever
// they went: background jobs, daemons in sessions of their own, children
// of processes that closed their descriptors). Processes whose
// environment this user cannot read (another user's, setuid programs)
// are not seen; the process group of exec's command is not needed here.
func holdersLeft(url string, _ int) bool {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return true // cannot tell: keep the port
	}
	for _, e := range entries {
		if strings.Trim(e.Name(), "0123456789") != "" {
			continue
		}
		f, err := os.Open("/proc/" + e.Name() + "/environ")
		if err != nil {
			continue // gone, or not this user's
		}
		environ, err := io.ReadAll(io.LimitReader(f, maxEnviron))
		f.Close()
		if err == nil && holdsURI(environ, url) {
			return true
		}
	}
	return false
}
