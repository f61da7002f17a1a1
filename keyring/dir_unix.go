//go:build unix

package keyring

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// owner returns the uid owning fi, and its number of hard links.
func owner(fi fs.FileInfo) (uid int, nlink uint64) {
	st := fi.Sys().(*syscall.Stat_t)
	return int(st.Uid), uint64(st.Nlink)
}

// checkDir refuses the file backend's directory dir (absolute, symbolic
// links resolved) when another user could plant or replace items in it,
// or put a directory of theirs in its place: dir must belong to the user
// running the program and be writable by nobody else, and each directory
// above it must belong to that user or root and be writable by nobody
// else unless it is sticky (as /tmp is).
func checkDir(dir string) error {
	euid := os.Geteuid()
	for p := dir; ; p = filepath.Dir(p) {
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		uid, _ := owner(fi)
		perm := fi.Mode().Perm()
		switch {
		case !fi.IsDir():
			return fmt.Errorf("%s is not a directory", p)
		case p == dir && uid != euid:
			return fmt.Errorf("the keyring directory %s belongs to uid %d, not to uid %d who runs this program, and its owner could plant keys in it: use a directory of your own", dir, uid, euid)
		case p == dir && perm&0o022 != 0:
			return fmt.Errorf("the keyring directory %s is writable by group or others (mode %#o), who could plant or replace keys in it: take their write permission away (chmod go-w %s)", dir, perm, dir)
		case uid != euid && uid != 0:
			return fmt.Errorf("%s, above the keyring directory %s, belongs to uid %d, neither to uid %d who runs this program nor to root, and its owner could put a directory of theirs in its place: use a keyring directory elsewhere", p, dir, uid, euid)
		case perm&0o022 != 0 && fi.Mode()&fs.ModeSticky == 0:
			return fmt.Errorf("%s, above the keyring directory %s, is writable by group or others (mode %#o), who could put a directory of theirs in its place: take their write permission away (chmod go-w %s)", p, dir, perm, p)
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

// checkFile refuses the item file at path unless it is a regular file that
// the user running the program made alone: owned by them, writable by
// nobody else, with no other name (a hard link).
func checkFile(path string, fi fs.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file (mode %s): not using it (remove it)", path, fi.Mode())
	}
	uid, nlink := owner(fi)
	switch euid := os.Geteuid(); {
	case uid != euid:
		return fmt.Errorf("%s belongs to uid %d, not to uid %d who runs this program: not trusting it (remove it)", path, uid, euid)
	case fi.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("%s is writable by group or others (mode %#o): not trusting it (remove it)", path, fi.Mode().Perm())
	case nlink > 1:
		return fmt.Errorf("%s has %d hard links: not trusting it, as it can be changed through another name (remove it)", path, nlink)
	}
	return nil
}
