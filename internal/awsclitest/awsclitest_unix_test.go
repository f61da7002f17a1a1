//go:build unix

package awsclitest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// unshim asks pyenv for the program behind a shim, and keeps the path it
// was given when that is no shim or pyenv cannot answer.
func TestUnshim(t *testing.T) {
	root := t.TempDir()
	shim := filepath.Join(root, "shims", "aws")
	real := filepath.Join(root, "versions", "3.11.7", "bin", "aws")
	pyenv := filepath.Join(root, "bin", "pyenv")
	for _, f := range []string{shim, real, pyenv} {
		require.NoError(t, os.MkdirAll(filepath.Dir(f), 0o755))
		require.NoError(t, os.WriteFile(f, []byte("#!/bin/sh\nexit 1\n"), 0o755))
	}
	t.Setenv("PATH", filepath.Dir(pyenv))
	t.Setenv("PYENV_ROOT", "") // unset: the shims' parent

	require.NoError(t, os.WriteFile(pyenv, []byte("#!/bin/sh\n"+
		`[ "$1 $2" = "which aws" ] && [ "$PYENV_ROOT" = '`+root+`' ] && echo '`+real+`'`+"\n"), 0o755))
	assert.Equal(t, real, unshim(shim))
	assert.Equal(t, real, unshim(real), "no shim")

	require.NoError(t, os.WriteFile(pyenv, []byte("#!/bin/sh\necho '"+root+"/versions/none/bin/aws'\n"), 0o755))
	assert.Equal(t, shim, unshim(shim), "pyenv names no program")
	require.NoError(t, os.WriteFile(pyenv, []byte("#!/bin/sh\nexit 127\n"), 0o755))
	assert.Equal(t, shim, unshim(shim), "pyenv fails")
}
