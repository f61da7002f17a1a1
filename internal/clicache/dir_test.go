package clicache

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDirHelperProcess is the child of TestWriteEntryKilled: it writes an
// entry, says so once the temporary file is written, and waits to be killed
// before renaming it. It does nothing in a normal run.
func TestDirHelperProcess(t *testing.T) {
	dir := os.Getenv("CLICACHE_TEST_WRITE_DIR")
	if dir == "" {
		t.Skip("helper process only")
	}
	d, err := OpenDir(dir)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(2)
	}
	d.beforeRename = func() {
		fmt.Println("written")
		time.Sleep(time.Hour)
	}
	err = d.WriteEntry(context.Background(), "k", entryJSON(nil))
	fmt.Println("error: WriteEntry returned:", err)
	os.Exit(2)
}

// A process killed in the middle of writing an entry leaves a hidden
// temporary file holding the whole session; the next OpenDir or WriteEntry
// removes it once it is stale, and leaves it while it could still belong to
// a writer at work.
func TestWriteEntryKilled(t *testing.T) {
	dir := privateDir(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestDirHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "CLICACHE_TEST_WRITE_DIR="+dir)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	killed := false
	t.Cleanup(func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "written\n", line)
	require.NoError(t, cmd.Process.Kill()) // SIGKILL: no deferred cleanup runs
	_ = cmd.Wait()
	killed = true

	temps := func() []string {
		t.Helper()
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		return names
	}
	left := temps()
	require.Len(t, left, 1, "the killed writer left its temporary file and nothing else")
	require.Regexp(t, tempRe, left[0])
	tmp := filepath.Join(dir, left[0])
	data, err := os.ReadFile(tmp)
	require.NoError(t, err)
	assert.Equal(t, entryJSON(nil), data, "the temporary file holds the whole session")

	_, err = OpenDir(dir)
	require.NoError(t, err)
	assert.Equal(t, left, temps(), "a fresh temporary file may be a writer's at work: kept")

	old := time.Now().Add(-StaleTempAge - time.Second)
	require.NoError(t, os.Chtimes(tmp, old, old))
	_, err = OpenDir(dir)
	require.NoError(t, err)
	assert.Empty(t, temps(), "the stale temporary file is removed")
}

func TestWriteEntrySweeps(t *testing.T) {
	d, err := OpenDir(privateDir(t))
	require.NoError(t, err)
	old := time.Now().Add(-StaleTempAge - time.Second)
	stale := filepath.Join(d.Path(), ".other.json.123.tmp")
	require.NoError(t, os.WriteFile(stale, entryJSON(nil), 0o600))
	require.NoError(t, os.Chtimes(stale, old, old))

	require.NoError(t, d.WriteEntry(context.Background(), "k", entryJSON(nil)))
	_, err = os.Lstat(stale)
	assert.ErrorIs(t, err, os.ErrNotExist)
	_, err = os.Lstat(filepath.Join(d.Path(), "k.json"))
	assert.NoError(t, err)
}

func TestWriteEntryFailureLeavesNothing(t *testing.T) {
	d, err := OpenDir(privateDir(t))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	d.beforeRename = cancel // the caller gives up between write and rename
	err = d.WriteEntry(ctx, "k", entryJSON(nil))
	require.ErrorIs(t, err, context.Canceled)
	entries, err := os.ReadDir(d.Path())
	require.NoError(t, err)
	assert.Empty(t, entries, "neither the entry nor a temporary file")
}

// privateDir is t.TempDir made 0700: t.TempDir follows the umask, and a
// umask of 002 makes it writable by the group, which OpenDir refuses.
func privateDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o700))
	return dir
}
