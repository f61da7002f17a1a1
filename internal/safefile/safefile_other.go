//go:build !unix

package safefile

import (
	"io/fs"
	"os"
)

// openFlags and noFollowFlag add nothing where the system has no such
// flags: Open checks what it opened instead.
const (
	openFlags    = 0
	noFollowFlag = 0
)

// OwnedByEffectiveUser is true: ownership is left to the system's access
// control lists.
func OwnedByEffectiveUser(fs.FileInfo) bool { return true }

// CheckOwner accepts every file: ownership is left to the system's access
// control lists.
func CheckOwner(string, fs.FileInfo) error { return nil }

// CheckDir finds only a dir that is not a directory: owners and
// permissions are left to the system's access control lists.
func CheckDir(dir string) ([]DirIssue, error) {
	fi, err := os.Lstat(dir)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return []DirIssue{{Path: dir, Problem: NotDirectory, UID: -1, Perm: fi.Mode().Perm()}}, nil
	}
	return nil, nil
}
