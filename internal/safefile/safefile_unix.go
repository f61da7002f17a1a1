//go:build unix

package safefile

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// openFlags make an open return at once for a FIFO and never take a
// terminal as the controlling one; noFollowFlag makes it refuse a
// symbolic link.
const (
	openFlags    = unix.O_NONBLOCK | unix.O_NOCTTY
	noFollowFlag = unix.O_NOFOLLOW
)

// owner returns the uid that owns fi, and its number of hard links.
func owner(fi fs.FileInfo) (uid int, nlink uint64) {
	st := fi.Sys().(*syscall.Stat_t)
	return int(st.Uid), uint64(st.Nlink)
}

// OwnedByEffectiveUser reports whether the effective user owns fi.
func OwnedByEffectiveUser(fi fs.FileInfo) bool {
	uid, _ := owner(fi)
	return uid == os.Geteuid()
}

// CheckOwner refuses the file at path, whose FileInfo is fi, unless the
// effective user made it alone: it is owned by someone else, writable by
// group or others, or has another name (a hard link, through which its
// maker could change it). The error says which, and that the file is not
// trusted.
func CheckOwner(path string, fi fs.FileInfo) error {
	uid, nlink := owner(fi)
	switch euid := os.Geteuid(); {
	case uid != euid:
		return fmt.Errorf("%s belongs to uid %d, not to uid %d who runs this program: not trusting it (remove it)", path, uid, euid)
	case fi.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("%s is writable by group or others (mode %#o): not trusting it (remove it)", path, fi.Mode().Perm())
	case nlink > 1: // 0 once the file was replaced under an open descriptor
		return fmt.Errorf("%s has %d hard links: not trusting it, as it can be changed through another name (remove it)", path, nlink)
	}
	return nil
}

// CheckDir returns the problems of dir (absolute, symbolic links
// resolved) and of every directory above it, from dir up and each
// directory's owner before its permissions, so that the first is the one
// a walk up meets first. dir must belong to the effective user and be
// writable by nobody else; each directory above it must belong to that
// user or root and be writable by nobody else unless it is sticky.
// Anything else lets another user put files in dir, or a directory of
// theirs in its place. An error says a directory could not be looked at.
func CheckDir(dir string) ([]DirIssue, error) {
	euid := os.Geteuid()
	var issues []DirIssue
	for p := dir; ; p = filepath.Dir(p) {
		fi, err := os.Lstat(p)
		if err != nil {
			return nil, err
		}
		uid, _ := owner(fi)
		issue := DirIssue{Path: p, Above: p != dir, UID: uid, Perm: fi.Mode().Perm()}
		if !fi.IsDir() {
			issue.Problem = NotDirectory
			return append(issues, issue), nil
		}
		if uid != euid && (p == dir || uid != 0) {
			issue.Problem = ForeignOwner
			issues = append(issues, issue)
		}
		if issue.Perm&0o022 != 0 && (p == dir || fi.Mode()&fs.ModeSticky == 0) {
			issue.Problem = WritableByOthers
			issues = append(issues, issue)
		}
		if p == filepath.Dir(p) {
			return issues, nil
		}
	}
}
