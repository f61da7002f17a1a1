//go:build unix

package credserver_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain/credserver"
)

// TestTokenFileMode: the file is 0600 whatever the umask lets through.
func TestTokenFileMode(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "token")
	s, err := credserver.Start(&countingProvider{creds: fixedCreds()}, func(o *credserver.Options) { o.TokenFile = path })
	require.NoError(t, err)
	defer s.Close()
	info, err := os.Lstat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode())
}

// TestTokenFileSymlink: a symbolic link, dangling or not, is refused and
// nothing is written where it points.
func TestTokenFileSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	for _, exists := range []bool{false, true} {
		if exists {
			require.NoError(t, os.WriteFile(target, nil, 0o600))
		}
		link := filepath.Join(dir, "link")
		_ = os.Remove(link)
		require.NoError(t, os.Symlink(target, link))
		_, err := credserver.Start(&countingProvider{creds: fixedCreds()}, func(o *credserver.Options) { o.TokenFile = link })
		require.Error(t, err)
		data, _ := os.ReadFile(target)
		assert.Empty(t, data)
	}
}
