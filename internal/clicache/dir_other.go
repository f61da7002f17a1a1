//go:build !unix

package clicache

import (
	"fmt"
	"io/fs"
	"os"
)

// openNoFollow adds nothing where the system has no such flags: Dir checks
// the file it opened instead.
const openNoFollow = 0

// ownedByEffectiveUser is true: ownership is left to the system's access
// control lists.
func ownedByEffectiveUser(fs.FileInfo) bool { return true }

// checkOwner accepts every regular file: ownership is left to the system's
// access control lists.
func checkOwner(string, fs.FileInfo) error { return nil }

// checkDir refuses what is not a directory.
func checkDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	return nil
}
