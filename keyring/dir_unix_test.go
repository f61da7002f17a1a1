//go:build unix

package keyring

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain/internal/usertest"
)

// The file backend uses no directory and no item another user could have
// written, and asks for no passphrase for them.
func TestFileBackendRefusesUnsafeFiles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	newDir := func(t *testing.T) string {
		dir := t.TempDir()
		require.NoError(t, openFile(t, ServiceStschain, dir, &passphrases{answer: testPassphrase}).Set(ctx, "alice", NewKeys(testID, testSecret)))
		return dir
	}
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  string
	}{
		{"group-writable directory", func(t *testing.T, dir string) {
			require.NoError(t, os.Chmod(dir, 0o770))
		}, "is writable by group or others (mode 0770), who could plant or replace keys in it: take their write permission away (chmod go-w "},
		{"writable parent", func(t *testing.T, dir string) {
			require.NoError(t, os.Chmod(filepath.Dir(dir), 0o777))
			t.Cleanup(func() { _ = os.Chmod(filepath.Dir(dir), 0o700) })
		}, ", above the keyring directory " + "DIR" + ", is writable by group or others (mode 0777)"},
		{"symbolic link", func(t *testing.T, dir string) {
			require.NoError(t, os.Rename(filepath.Join(dir, "alice"), filepath.Join(dir, "elsewhere")))
			require.NoError(t, os.Symlink(filepath.Join(dir, "elsewhere"), filepath.Join(dir, "alice")))
		}, "alice is a symbolic link, not a regular file: not using it (remove it)"},
		{"FIFO", func(t *testing.T, dir string) {
			require.NoError(t, os.Remove(filepath.Join(dir, "alice")))
			require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "alice"), 0o600))
		}, "alice is a named pipe (FIFO), not a regular file: not using it (remove it)"},
		{"writable item", func(t *testing.T, dir string) {
			require.NoError(t, os.Chmod(filepath.Join(dir, "alice"), 0o622))
		}, "alice is writable by group or others (mode 0622): not trusting it"},
		{"hard link", func(t *testing.T, dir string) {
			require.NoError(t, os.Link(filepath.Join(dir, "alice"), filepath.Join(t.TempDir(), "other")))
		}, "alice has 2 hard links"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := newDir(t)
			tc.setup(t, dir)
			p := &passphrases{answer: testPassphrase}
			k := openFile(t, ServiceStschain, dir, p)
			_, err := k.Get(ctx, "alice")
			require.ErrorIs(t, err, ErrUnsafeFile)
			assert.Contains(t, err.Error(), strings.Replace(tc.want, "DIR", dir, 1))
			assert.ErrorIs(t, k.Set(ctx, "alice", NewKeys(testID, testSecret)), ErrUnsafeFile)
			assert.Zero(t, p.count(), "no passphrase given for an unsafe file")
		})
	}
}

// A directory of another user is refused before anything in it is read.
func TestFileBackendRefusesAnotherUsersDirectory(t *testing.T) {
	t.Parallel()
	uid, gid := usertest.Other(t)
	dir := filepath.Join(usertest.PublicTempDir(t), "keys")
	require.NoError(t, os.Mkdir(dir, 0o700))
	require.NoError(t, os.Chown(dir, uid, gid))
	k := openFile(t, ServiceStschain, dir, &passphrases{answer: testPassphrase})
	_, err := k.Has(context.Background(), "alice")
	require.ErrorIs(t, err, ErrUnsafeFile)
	assert.Contains(t, err.Error(), "the keyring directory "+dir+" belongs to uid ")
}
