package keyring

import (
	"fmt"
	"io/fs"
	"os"

	"github.com/stschain/stschain/internal/safefile"
)

// checkDir refuses the file backend's directory dir (absolute, symbolic
// links resolved) when another user could plant or replace items in it,
// or put a directory of theirs in its place (see [safefile.CheckDir]):
// dir must belong to the user running the program and be writable by
// nobody else, and each directory above it must belong to that user or
// root and be writable by nobody else unless it is sticky (as /tmp is).
// Its error names the first problem met from dir up.
func checkDir(dir string) error {
	issues, err := safefile.CheckDir(dir)
	if err != nil || len(issues) == 0 {
		return err
	}
	is, euid := issues[0], os.Geteuid()
	switch {
	case is.Problem == safefile.NotDirectory:
		return fmt.Errorf("%s is not a directory", is.Path)
	case is.Problem == safefile.ForeignOwner && !is.Above:
		return fmt.Errorf("the keyring directory %s belongs to uid %d, not to uid %d who runs this program, and its owner could plant keys in it: use a directory of your own", dir, is.UID, euid)
	case is.Problem == safefile.ForeignOwner:
		return fmt.Errorf("%s, above the keyring directory %s, belongs to uid %d, neither to uid %d who runs this program nor to root, and its owner could put a directory of theirs in its place: use a keyring directory elsewhere", is.Path, dir, is.UID, euid)
	case !is.Above:
		return fmt.Errorf("the keyring directory %s is writable by group or others (mode %#o), who could plant or replace keys in it: take their write permission away (chmod go-w %s)", dir, is.Perm, dir)
	default:
		return fmt.Errorf("%s, above the keyring directory %s, is writable by group or others (mode %#o), who could put a directory of theirs in its place: take their write permission away (chmod go-w %s)", is.Path, dir, is.Perm, is.Path)
	}
}

// checkFile refuses the item file at path, whose FileInfo (not following
// a symbolic link) is fi, unless it is a regular file that the user
// running the program made alone (see [safefile.CheckOwner]).
func checkFile(path string, fi fs.FileInfo) error {
	if k := safefile.Kind(fi.Mode()); k != "" {
		return fmt.Errorf("%w: not using it (remove it)", &safefile.NotRegularError{Path: path, Kind: k})
	}
	return safefile.CheckOwner(path, fi)
}
