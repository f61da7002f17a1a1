package safefile

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	require.NoError(t, os.WriteFile(path, []byte("12345"), 0o600))

	for _, follow := range []bool{false, true} {
		data, err := ReadFile(path, follow, 5)
		require.NoError(t, err)
		assert.Equal(t, "12345", string(data))

		_, err = ReadFile(path, follow, 4)
		assert.ErrorIs(t, err, ErrTooLarge, "one byte more than allowed")

		_, err = ReadFile(filepath.Join(dir, "missing"), follow, 5)
		assert.ErrorIs(t, err, fs.ErrNotExist)

		_, err = ReadFile(dir, follow, 5)
		var nr *NotRegularError
		require.ErrorAs(t, err, &nr)
		assert.Equal(t, &NotRegularError{Path: dir, Kind: "a directory"}, nr)
		assert.EqualError(t, err, dir+" is a directory, not a regular file")
	}
}

func TestReadAll(t *testing.T) {
	data, err := ReadAll(strings.NewReader(""), 0)
	require.NoError(t, err)
	assert.Empty(t, data)
	_, err = ReadAll(strings.NewReader("x"), 0)
	assert.ErrorIs(t, err, ErrTooLarge)
}

func TestOpenFileCreates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	f, fi, err := OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600, false)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	assert.True(t, fi.Mode().IsRegular())

	_, _, err = OpenFile(filepath.Join(t.TempDir(), "missing"), os.O_RDWR, 0, false)
	assert.ErrorIs(t, err, fs.ErrNotExist, "without O_CREATE a missing file stays missing")
}

func TestKind(t *testing.T) {
	for m, want := range map[fs.FileMode]string{
		0o600:                             "",
		fs.ModeSymlink | 0o777:            "a symbolic link",
		fs.ModeDir | 0o700:                "a directory",
		fs.ModeNamedPipe | 0o600:          "a named pipe (FIFO)",
		fs.ModeSocket | 0o600:             "a socket",
		fs.ModeDevice | fs.ModeCharDevice: "a character device",
		fs.ModeDevice:                     "a block device",
		fs.ModeIrregular:                  "an irregular file",
	} {
		assert.Equal(t, want, Kind(m), "%v", m)
	}
}
