// Package safefile opens, reads and checks the files in which the module
// keeps or finds what it trusts: cache entries and their locks, keyring
// items, token files.
//
// [Open] opens a file only as a regular file: a FIFO in its place returns
// at once instead of waiting for a writer, a device, directory or socket
// is refused (and, seen before opening, not opened), a terminal never
// becomes the controlling one, and a symbolic link is refused unless the
// caller follows links. [ReadAll] bounds what is read. On Unix,
// [CheckOwner] and [CheckDir] tell whether a file or a directory is one
// that no other user could have made or changed; elsewhere owners and
// permissions are left to the system's access control lists, and only
// the kinds of files are checked.
//
// Errors name the path and what was found there; callers that need to say
// more (what the file is for, what to do) find the parts in
// [NotRegularError], [ErrTooLarge] and [DirIssue].
package safefile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// Kind names what a file of mode m is: "" for a regular file, else "a
// symbolic link", "a directory", "a named pipe (FIFO)", "a socket", "a
// character device", "a block device" or "an irregular file".
func Kind(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return ""
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	}
	return "an irregular file"
}

// NotRegularError is the error of [Open] for a path that holds something
// other than a regular file.
type NotRegularError struct {
	Path string // the path given to Open
	Kind string // what is there, as [Kind] names it
}

func (e *NotRegularError) Error() string { return e.Path + " is " + e.Kind + ", not a regular file" }

// Open opens the regular file at path for reading, without blocking on a
// FIFO and without making a terminal the controlling one. Unless follow is
// set, a symbolic link at path is refused: on Unix by the open itself, so
// that no link put there in between is followed. It looks before it opens,
// so that a device is refused without being opened, then checks what it
// opened, which is what counts; it returns the file and its FileInfo. A
// path that holds anything but a regular file gives a *[NotRegularError];
// a missing one an error matching [fs.ErrNotExist].
func Open(path string, follow bool) (*os.File, fs.FileInfo, error) {
	return OpenFile(path, os.O_RDONLY, 0, follow)
}

// OpenFile is [Open] with the flags and permissions of [os.OpenFile]: with
// os.O_CREATE, a missing file is created with perm (a symbolic link in its
// place is not followed unless follow is set).
func OpenFile(path string, flag int, perm fs.FileMode, follow bool) (*os.File, fs.FileInfo, error) {
	stat, flag := os.Lstat, flag|openFlags
	if follow {
		stat = os.Stat
	} else {
		flag |= noFollowFlag
	}
	before, err := stat(path)
	switch {
	case err == nil:
		if k := Kind(before.Mode()); k != "" {
			return nil, nil, &NotRegularError{Path: path, Kind: k}
		}
	case !errors.Is(err, fs.ErrNotExist) || flag&os.O_CREATE == 0:
		return nil, nil, err
	}
	f, err := os.OpenFile(path, flag, perm)
	if err != nil {
		// A symbolic link put there since it looked makes O_NOFOLLOW
		// fail with ELOOP, which says less.
		if fi, lerr := os.Lstat(path); !follow && lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return nil, nil, &NotRegularError{Path: path, Kind: Kind(fi.Mode())}
		}
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err == nil {
		if k := Kind(fi.Mode()); k != "" {
			err = &NotRegularError{Path: path, Kind: k}
		}
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

// ErrTooLarge is wrapped by the error of [ReadAll] and [ReadFile] for
// more than the bytes allowed.
var ErrTooLarge = errors.New("more than the bytes allowed")

// ReadAll reads r to its end, at most max bytes: an error wrapping
// [ErrTooLarge] says there is more.
func ReadAll(r io.Reader, max int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%w: over %d bytes", ErrTooLarge, max)
	}
	return data, nil
}

// ReadFile opens path as [Open] does and reads it as [ReadAll] does, at
// most max bytes.
func ReadFile(path string, follow bool, max int64) ([]byte, error) {
	f, _, err := Open(path, follow)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadAll(f, max)
}

// Problem is what makes a directory one that another user could put files
// in, or put a directory of theirs in the place of.
type Problem int

// The problems [CheckDir] finds.
const (
	// NotDirectory: a file of another kind is where a directory should
	// be.
	NotDirectory Problem = iota + 1
	// ForeignOwner: the directory checked belongs to another user than
	// the effective one; a directory above it, to neither that user nor
	// root.
	ForeignOwner
	// WritableByOthers: group or others may write the directory (one
	// above the directory checked only when it is not sticky, as /tmp
	// is).
	WritableByOthers
)

// DirIssue is one problem [CheckDir] found.
type DirIssue struct {
	Path    string      // the directory checked, or one above it
	Above   bool        // Path is above the directory checked
	Problem Problem     // what is wrong with Path
	UID     int         // Path's owner
	Perm    fs.FileMode // Path's permission bits
}
