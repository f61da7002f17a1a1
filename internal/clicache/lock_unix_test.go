//go:build unix

package clicache

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestLockRefusesUntrustedFiles(t *testing.T) {
	tests := []struct {
		name    string
		plant   func(t *testing.T, path, outside string)
		wantErr string
	}{
		{"symbolic link to a file it would create", func(t *testing.T, path, outside string) {
			require.NoError(t, os.Symlink(outside, path))
		}, "is a symbolic link, not a regular file"},
		{"symbolic link to an existing file", func(t *testing.T, path, outside string) {
			require.NoError(t, os.WriteFile(outside, nil, 0o600))
			require.NoError(t, os.Symlink(outside, path))
		}, "is a symbolic link"},
		{"FIFO", func(t *testing.T, path, _ string) {
			require.NoError(t, unix.Mkfifo(path, 0o600))
		}, "is a named pipe (FIFO)"},
		{"directory", func(t *testing.T, path, _ string) {
			require.NoError(t, os.Mkdir(path, 0o700))
		}, "is a directory"},
		{"writable by others", func(t *testing.T, path, _ string) {
			require.NoError(t, os.WriteFile(path, nil, 0o600))
			require.NoError(t, os.Chmod(path, 0o666))
		}, "is writable by group or others (mode 0666)"},
		{"another user's", func(t *testing.T, path, _ string) {
			uid, gid := otherUser(t)
			require.NoError(t, os.WriteFile(path, nil, 0o600))
			require.NoError(t, os.Chown(path, uid, gid))
		}, "belongs to uid 61"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := openTestDir(t)
			path := filepath.Join(d.Path(), "k.lock")
			outsideDir := privateDir(t)
			outside := filepath.Join(outsideDir, "target")
			tt.plant(t, path, outside)
			before, err := os.ReadDir(outsideDir)
			require.NoError(t, err)
			var unlock func()
			promptly(t, "Lock", func() { unlock, err = d.Lock(context.Background(), "k") })
			require.Error(t, err)
			assert.Nil(t, unlock)
			assert.Contains(t, err.Error(), path+" ")
			assert.Contains(t, err.Error(), tt.wantErr)
			after, err := os.ReadDir(outsideDir)
			require.NoError(t, err)
			assert.Equal(t, before, after, "nothing created or changed outside the cache directory")
		})
	}
}
