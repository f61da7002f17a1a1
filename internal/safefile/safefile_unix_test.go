//go:build unix

package safefile

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain/internal/usertest"
)

// What is not a regular file is refused, a FIFO at once (no writer ever
// comes), a symbolic link unless it is to be followed.
func TestOpenRefusesWhatIsNotARegularFile(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	require.NoError(t, os.WriteFile(target, []byte("x"), 0o600))
	link := filepath.Join(dir, "link")
	require.NoError(t, os.Symlink(target, link))
	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	linkToFIFO := filepath.Join(dir, "link-to-fifo")
	require.NoError(t, os.Symlink(fifo, linkToFIFO))

	for _, tc := range []struct {
		path   string
		follow bool
		kind   string // "" for a file that opens
	}{
		{link, false, "a symbolic link"},
		{link, true, ""},
		{fifo, false, "a named pipe (FIFO)"},
		{fifo, true, "a named pipe (FIFO)"},
		{linkToFIFO, true, "a named pipe (FIFO)"},
		{"/dev/null", true, "a character device"},
	} {
		done := make(chan struct{})
		go func() {
			defer close(done)
			f, _, err := Open(tc.path, tc.follow)
			if tc.kind == "" {
				if assert.NoError(t, err, tc.path) {
					f.Close()
				}
				return
			}
			var nr *NotRegularError
			if assert.ErrorAs(t, err, &nr, tc.path) {
				assert.Equal(t, tc.kind, nr.Kind, tc.path)
			}
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second): // a blocking open never returns
			t.Fatalf("opening %s blocked", tc.path)
		}
	}
}

// CheckOwner trusts a file the effective user made alone.
func TestCheckOwner(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	require.NoError(t, os.WriteFile(path, nil, 0o600))
	check := func() error {
		fi, err := os.Lstat(path)
		require.NoError(t, err)
		return CheckOwner(path, fi)
	}
	require.NoError(t, check())

	require.NoError(t, os.Chmod(path, 0o620))
	assert.EqualError(t, check(), path+" is writable by group or others (mode 0620): not trusting it (remove it)")
	require.NoError(t, os.Chmod(path, 0o600))

	require.NoError(t, os.Link(path, filepath.Join(dir, "other")))
	assert.EqualError(t, check(), path+" has 2 hard links: not trusting it, as it can be changed through another name (remove it)")
	require.NoError(t, os.Remove(filepath.Join(dir, "other")))

	uid, gid := usertest.Other(t)
	require.NoError(t, os.Chown(path, uid, gid))
	assert.ErrorContains(t, check(), path+" belongs to uid ")
	fi, err := os.Lstat(path)
	require.NoError(t, err)
	assert.False(t, OwnedByEffectiveUser(fi))
}

// CheckDir lists every directory another user could use, from the one
// checked up; a sticky one above it is fine.
func TestCheckDir(t *testing.T) {
	top := t.TempDir()
	mid := filepath.Join(top, "mid")
	dir := filepath.Join(mid, "dir")
	require.NoError(t, os.MkdirAll(dir, 0o700))
	issues, err := CheckDir(dir)
	require.NoError(t, err)
	assert.Empty(t, issues)

	require.NoError(t, os.Chmod(dir, 0o770))
	require.NoError(t, os.Chmod(mid, 0o777))
	t.Cleanup(func() { _ = os.Chmod(mid, 0o700) })
	issues, err = CheckDir(dir)
	require.NoError(t, err)
	euid := os.Geteuid()
	assert.Equal(t, []DirIssue{
		{Path: dir, Problem: WritableByOthers, UID: euid, Perm: 0o770},
		{Path: mid, Above: true, Problem: WritableByOthers, UID: euid, Perm: 0o777},
	}, issues)

	require.NoError(t, os.Chmod(mid, 0o777|os.ModeSticky))
	issues, err = CheckDir(dir)
	require.NoError(t, err)
	assert.Equal(t, []DirIssue{{Path: dir, Problem: WritableByOthers, UID: euid, Perm: 0o770}}, issues, "a sticky directory above is fine")

	file := filepath.Join(top, "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	issues, err = CheckDir(file)
	require.NoError(t, err)
	require.Len(t, issues, 1)
	assert.Equal(t, NotDirectory, issues[0].Problem)

	_, err = CheckDir(filepath.Join(top, "missing"))
	assert.ErrorIs(t, err, os.ErrNotExist)

	uid, gid := usertest.Other(t)
	require.NoError(t, os.Chmod(mid, 0o700))
	require.NoError(t, os.Chmod(dir, 0o700))
	require.NoError(t, os.Chown(mid, uid, gid))
	require.NoError(t, os.Chown(dir, uid, gid))
	issues, err = CheckDir(dir)
	require.NoError(t, err)
	assert.Equal(t, []DirIssue{
		{Path: dir, Problem: ForeignOwner, UID: uid, Perm: 0o700},
		{Path: mid, Above: true, Problem: ForeignOwner, UID: uid, Perm: 0o700},
	}, issues)
}
