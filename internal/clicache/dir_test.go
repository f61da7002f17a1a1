package clicache

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
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

// startHelper runs this test binary's test helper (a helper process) with
// env added to the environment, and fails t unless the first line it
// prints is want. The function it returns kills the child (SIGKILL: no
// deferred cleanup runs) and waits for it; the child is killed when t
// ends too.
func startHelper(t *testing.T, helper, want string, env ...string) (kill func()) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+helper+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	var once sync.Once
	kill = func() {
		once.Do(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
	}
	t.Cleanup(kill)
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, want+"\n", line)
	return kill
}

// A process killed in the middle of writing an entry leaves a hidden
// temporary file holding the whole session; the next OpenDir or WriteEntry
// removes it once it is stale, and leaves it while it could still belong to
// a writer at work.
func TestWriteEntryKilled(t *testing.T) {
	dir := privateDir(t)
	kill := startHelper(t, "TestDirHelperProcess", "written", "CLICACHE_TEST_WRITE_DIR="+dir)
	kill()

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
	require.True(t, isTempFile(left[0]), "%s is a temporary file of WriteEntry", left[0])
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

func TestWriteEntryIsAtomic(t *testing.T) {
	ctx := context.Background()
	d := openTestDir(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 20 {
				id := fmt.Sprintf("ASIAEXAMPLE0%02d%02d", i, j)
				assert.NoError(t, d.WriteEntry(ctx, "k", entryJSON(func(cr, _ map[string]any) { cr["AccessKeyId"] = id })))
				data, err := d.ReadEntry(ctx, "k")
				assert.NoError(t, err)
				creds, _, err := Decode(data)
				assert.NoError(t, err, "a reader never sees part of an entry")
				assert.Equal(t, testSecret, creds.SecretAccessKey)
			}
		})
	}
	wg.Wait()
	entries, err := os.ReadDir(d.Path())
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.Equal(t, []string{"k.json"}, names, "no temporary file left behind")
}

func TestKeyValidation(t *testing.T) {
	ctx := context.Background()
	d := openTestDir(t)
	for _, key := range []string{"", ".", "..", "../x", "a/b", `a\b`, "a.b", "a b", "k\x00", "é", strings.Repeat("a", 201)} {
		t.Run(fmt.Sprintf("%q", key), func(t *testing.T) {
			_, err := d.ReadEntry(ctx, key)
			assert.ErrorContains(t, err, "invalid cache key")
			assert.ErrorContains(t, d.WriteEntry(ctx, key, entryJSON(nil)), "invalid cache key")
			_, err = d.Lock(ctx, key)
			assert.ErrorContains(t, err, "invalid cache key")
		})
	}
	for _, key := range []string{"e47c08d21c659a69bea4c6e27c346fca1fe44bee", "A-b_9", "x"} {
		t.Run(key, func(t *testing.T) {
			require.NoError(t, d.WriteEntry(ctx, key, entryJSON(nil)))
			data, err := d.ReadEntry(ctx, key)
			require.NoError(t, err)
			assert.Equal(t, entryJSON(nil), data)
		})
	}
}

func TestDirHonoursContext(t *testing.T) {
	d := openTestDir(t)
	require.NoError(t, d.WriteEntry(context.Background(), "k", entryJSON(nil)))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	_, err := d.ReadEntry(ctx, "k")
	assert.ErrorIs(t, err, context.Canceled)
	assert.ErrorIs(t, d.WriteEntry(ctx, "new", entryJSON(nil)), context.Canceled)
	unlock, err := d.Lock(ctx, "new")
	assert.ErrorIs(t, err, context.Canceled)
	assert.Nil(t, unlock)

	entries, err := os.ReadDir(d.Path())
	require.NoError(t, err)
	require.Len(t, entries, 1, "neither WriteEntry nor Lock made a file")
	assert.Equal(t, "k.json", entries[0].Name())
}

func TestOpenDir(t *testing.T) {
	t.Run("relative path made absolute", func(t *testing.T) {
		t.Chdir(privateDir(t))
		d, err := OpenDir("rel")
		require.NoError(t, err)
		assert.True(t, filepath.IsAbs(d.Path()))
	})
	t.Run("a file", func(t *testing.T) {
		file := filepath.Join(privateDir(t), "f")
		require.NoError(t, os.WriteFile(file, nil, 0o600))
		_, err := OpenDir(file)
		assert.Error(t, err)
	})
}

// isKey and isTempFile agree with the patterns they stand for.
func TestKeyAndTempFileNames(t *testing.T) {
	keyRe := regexp.MustCompile(`^[0-9A-Za-z_-]{1,200}$`)
	tempRe := regexp.MustCompile(`^\.[0-9A-Za-z_-]{1,200}\.json\.[0-9]+\.tmp$`)
	pieces := []string{".", "json", ".json.", ".tmp", "k", "K9_-", "0", "123", "/", "é", " ", "\x00", strings.Repeat("a", 100)}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		var b strings.Builder
		for range rng.IntN(8) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		s := b.String()
		assert.Equal(t, keyRe.MatchString(s), isKey(s), "isKey(%q)", s)
		assert.Equal(t, tempRe.MatchString(s), isTempFile(s), "isTempFile(%q)", s)
	}
	for _, s := range []string{".k.json.1.tmp", "." + strings.Repeat("a", 200) + ".json.1.tmp", "." + strings.Repeat("a", 201) + ".json.1.tmp", ".k.json..tmp", ".k.json.1a.tmp"} {
		assert.Equal(t, tempRe.MatchString(s), isTempFile(s), "isTempFile(%q)", s)
	}
}

// privateDir is t.TempDir made 0700: t.TempDir follows the umask, and a
// umask of 002 makes it writable by the group, which OpenDir refuses.
func privateDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o700))
	return dir
}
