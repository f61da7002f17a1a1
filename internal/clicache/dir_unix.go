//go:build unix

package clicache

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// openNoFollow are the flags that make opening a file refuse a symbolic
// link, return at once for a FIFO, and never take a terminal as the
// controlling one.
const openNoFollow = unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_NOCTTY

// statOf returns the owner and link count of fi.
func statOf(fi fs.FileInfo) (uid int, nlink uint64) {
	st := fi.Sys().(*syscall.Stat_t)
	return int(st.Uid), uint64(st.Nlink)
}

func ownedByEffectiveUser(fi fs.FileInfo) bool {
	uid, _ := statOf(fi)
	return uid == os.Geteuid()
}

// checkOwner refuses a file that the effective user did not make alone: one
// owned by someone else, writable by group or others, or with another name
// (a hard link, which its maker could change through that name).
func checkOwner(path string, fi fs.FileInfo) error {
	uid, nlink := statOf(fi)
	switch euid := os.Geteuid(); {
	case uid != euid:
		return fmt.Errorf("%s belongs to uid %d, not to uid %d who runs this program: not trusting it (remove it)", path, uid, euid)
	case fi.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("%s is writable by group or others (mode %#o): not trusting it (remove it)", path, fi.Mode().Perm())
	case nlink > 1: // 0 once a WriteEntry has replaced the open file
		return fmt.Errorf("%s has %d hard links: not trusting it, as it can be changed through another name (remove it)", path, nlink)
	}
	return nil
}

// checkDir refuses the cache directory dir (absolute, without symbolic
// links) when another user could put entries in it, or put a directory of
// theirs in its place. Its error names every directory to fix, so that one
// command fixes them all: the AWS CLI makes ~/.aws, ~/.aws/cli and
// ~/.aws/cli/cache writable by the group under a umask of 002.
func checkDir(dir string) error {
	euid := os.Geteuid()
	var loose []string // "PATH (mode M)" of each directory others can write
	var fix []string   // their paths
	for p := dir; ; p = filepath.Dir(p) {
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a directory", p)
		}
		uid, _ := statOf(fi)
		perm := fi.Mode().Perm()
		switch {
		case p == dir && uid != euid:
			return fmt.Errorf("the cache directory %s belongs to uid %d, not to uid %d who runs this program: its owner could plant credentials in it; use a directory of your own, or make this one yours (chown %d %s)",
				dir, uid, euid, euid, dir)
		case uid != euid && uid != 0:
			return fmt.Errorf("%s, above the cache directory %s, belongs to uid %d, neither to uid %d who runs this program nor to root: its owner could put a directory of theirs in the cache directory's place; use a cache directory elsewhere",
				p, dir, uid, euid)
		case p == dir && perm&0o022 != 0:
			loose = append(loose, fmt.Sprintf("it (mode %#o)", perm))
			fix = append(fix, p)
		case perm&0o022 != 0 && fi.Mode()&fs.ModeSticky == 0:
			loose = append(loose, fmt.Sprintf("%s (mode %#o)", p, perm))
			fix = append(fix, p)
		}
		if p == filepath.Dir(p) {
			break
		}
	}
	if len(loose) == 0 {
		return nil
	}
	list, verb := loose[0], "is"
	if n := len(loose); n > 1 {
		list, verb = strings.Join(loose[:n-1], ", ")+" and "+loose[n-1], "are"
	}
	return fmt.Errorf("the cache directory %s is not safe: %s %s writable by group or others, who could plant credentials in it or put a directory of theirs in its place; take their write permission away (chmod go-w %s)",
		dir, list, verb, strings.Join(fix, " "))
}
