//go:build unix && !linux

package main

import (
	"errors"
	"syscall"
)

// holdersLeft reports whether a process may still use the server at url:
// where the environment of other processes cannot be read as on Linux, a
// member of the process group of exec's command (its descendants that
// kept the group: background jobs of a script, the rest of a pipeline).
func holdersLeft(_ string, pgid int) bool { return groupAlive(pgid) }

// groupAlive reports whether process group pgid has a member.
func groupAlive(pgid int) bool {
	if pgid <= 0 {
		return false
	}
	err := syscall.Kill(-pgid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
