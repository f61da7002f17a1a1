//go:build unix

// Dir's checks of owners, modes and file types are Unix's; so are these
// tests' FIFOs, devices and processes of another user.

package clicache

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/stschain/stschain/internal/usertest"
)

func otherUser(t *testing.T) (uid, gid int) { return usertest.Other(t) }

// TestUnixHelperProcess is the child process of the tests that need one as
// another user: CLICACHE_TEST_HELPER says what it does, in the directory
// CLICACHE_TEST_DIR. It does nothing in a normal run.
func TestUnixHelperProcess(t *testing.T) {
	role, dir := os.Getenv("CLICACHE_TEST_HELPER"), os.Getenv("CLICACHE_TEST_DIR")
	if role == "" {
		t.Skip("helper process only")
	}
	var err error
	switch role {
	case "plant":
		err = plantFiles(dir, os.Getenv("CLICACHE_TEST_TARGET"))
	case "read-only":
		var out []byte
		if out, err = json.Marshal(readOnlyScenario(dir)); err == nil {
			fmt.Println(string(out))
		}
	default:
		err = fmt.Errorf("unknown helper %q", role)
	}
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(2)
	}
	os.Exit(0)
}

// asOtherUser runs this test binary's TestUnixHelperProcess as uid and
// gid, with env added to the environment, and returns what it printed. A
// helper that fails or has not ended after a minute fails t.
func asOtherUser(t *testing.T, uid, gid int, env ...string) string {
	t.Helper()
	// Copy the binary where the other user can run it.
	self, err := os.Executable()
	require.NoError(t, err)
	exe := filepath.Join(usertest.PublicTempDir(t), "clicache.test")
	data, err := os.ReadFile(self)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(exe, data, 0o755))

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "-test.run=^TestUnixHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "helper as uid %d: %s", uid, out)
	return string(out)
}

// promptly runs fn and fails t if it has not returned within a generous
// bound: what it guards against is blocking for ever, on a FIFO say, not
// slowness.
func promptly(t *testing.T, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s blocked", what)
	}
}

// plantFiles is what another user does to a cache directory they can
// write: a session of their own, a link to it, a FIFO, and lock files that
// are a link to target and a FIFO.
func plantFiles(dir, target string) error {
	for _, step := range []func() error{
		func() error { return os.WriteFile(filepath.Join(dir, "session.json"), entryJSON(nil), 0o644) },
		func() error { return os.Symlink("session.json", filepath.Join(dir, "link.json")) },
		func() error { return unix.Mkfifo(filepath.Join(dir, "fifo.json"), 0o666) },
		func() error { return os.Symlink(target, filepath.Join(dir, "link.lock")) },
		func() error { return unix.Mkfifo(filepath.Join(dir, "fifo.lock"), 0o666) },
	} {
		if err := step(); err != nil {
			return err
		}
	}
	fmt.Println("planted")
	return nil
}

func TestOpenDirPermissions(t *testing.T) {
	t.Run("created", func(t *testing.T) {
		dir := filepath.Join(privateDir(t), "a", "cache")
		d, err := OpenDir(dir)
		require.NoError(t, err)
		fi, err := os.Stat(dir)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm())

		require.NoError(t, d.WriteEntry(context.Background(), "k", entryJSON(nil)))
		fi, err = os.Stat(filepath.Join(dir, "k.json"))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

		unlock, err := d.Lock(context.Background(), "k")
		require.NoError(t, err)
		unlock()
		fi, err = os.Stat(filepath.Join(dir, "k.lock"))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	})
	t.Run("existing dir used as is", func(t *testing.T) {
		dir := privateDir(t)
		require.NoError(t, os.Chmod(dir, 0o750))
		_, err := OpenDir(dir)
		require.NoError(t, err)
		fi, err := os.Stat(dir)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o750), fi.Mode().Perm())
	})
}

func TestOpenDirChecks(t *testing.T) {
	mkdir := func(t *testing.T, path string, mode os.FileMode) string {
		t.Helper()
		require.NoError(t, os.Mkdir(path, 0o700))
		require.NoError(t, os.Chmod(path, mode)) // beyond the umask
		return path
	}
	chown := func(t *testing.T, path string) int {
		t.Helper()
		uid, gid := otherUser(t)
		require.NoError(t, os.Lchown(path, uid, gid))
		return uid
	}
	euid := strconv.Itoa(os.Geteuid())

	tests := []struct {
		name string
		// setup returns the dir to pass and the words the error must hold
		// (none when OpenDir must succeed).
		setup func(t *testing.T, tmp string) (dir string, wantErr []string)
	}{
		{"own, 0700", func(t *testing.T, tmp string) (string, []string) {
			return mkdir(t, filepath.Join(tmp, "c"), 0o700), nil
		}},
		{"own, readable by others", func(t *testing.T, tmp string) (string, []string) {
			return mkdir(t, filepath.Join(tmp, "c"), 0o755), nil
		}},
		{"writable by group", func(t *testing.T, tmp string) (string, []string) {
			d := mkdir(t, filepath.Join(tmp, "c"), 0o770)
			return d, []string{"the cache directory " + d + " is not safe: it (mode 0770) is writable by group or others", "(chmod go-w " + d + ")"}
		}},
		{"writable by others, as the AWS CLI makes it under umask 000", func(t *testing.T, tmp string) (string, []string) {
			d := mkdir(t, filepath.Join(tmp, "c"), 0o777)
			return d, []string{"it (mode 0777) is writable by group or others", "could plant credentials", "(chmod go-w " + d + ")"}
		}},
		{"another user's", func(t *testing.T, tmp string) (string, []string) {
			d := mkdir(t, filepath.Join(tmp, "c"), 0o700)
			uid := chown(t, d)
			return d, []string{"the cache directory " + d + " belongs to uid " + strconv.Itoa(uid) + ", not to uid " + euid, "chown " + euid + " " + d}
		}},
		{"below a directory others can write", func(t *testing.T, tmp string) (string, []string) {
			p := mkdir(t, filepath.Join(tmp, "p"), 0o777)
			d := mkdir(t, filepath.Join(p, "c"), 0o700)
			return d, []string{"the cache directory " + d + " is not safe: " + p + " (mode 0777) is writable by group or others", "put a directory of theirs in its place", "(chmod go-w " + p + ")"}
		}},
		{"all three writable by the group, as the AWS CLI leaves them under umask 002", func(t *testing.T, tmp string) (string, []string) {
			aws := mkdir(t, filepath.Join(tmp, ".aws"), 0o775)
			cli := mkdir(t, filepath.Join(aws, "cli"), 0o775)
			d := mkdir(t, filepath.Join(cli, "cache"), 0o775)
			return d, []string{"it (mode 0775), " + cli + " (mode 0775) and " + aws + " (mode 0775) are writable by group or others", "(chmod go-w " + d + " " + cli + " " + aws + ")"}
		}},
		{"missing, to be made below a directory others can write", func(t *testing.T, tmp string) (string, []string) {
			p := mkdir(t, filepath.Join(tmp, "p"), 0o777)
			return filepath.Join(p, "a", "c"), []string{p + " (mode 0777) is writable by group or others"}
		}},
		{"below a sticky directory others can write, as /tmp", func(t *testing.T, tmp string) (string, []string) {
			p := mkdir(t, filepath.Join(tmp, "p"), 0o777|os.ModeSticky)
			return mkdir(t, filepath.Join(p, "c"), 0o700), nil
		}},
		{"below another user's directory", func(t *testing.T, tmp string) (string, []string) {
			p := mkdir(t, filepath.Join(tmp, "p"), 0o755)
			d := mkdir(t, filepath.Join(p, "c"), 0o700)
			uid := chown(t, p)
			return d, []string{p + ", above the cache directory " + d + ", belongs to uid " + strconv.Itoa(uid) + ", neither to uid " + euid + " who runs this program nor to root"}
		}},
		{"symbolic link to another user's directory", func(t *testing.T, tmp string) (string, []string) {
			d := mkdir(t, filepath.Join(tmp, "c"), 0o700)
			uid := chown(t, d)
			link := filepath.Join(tmp, "link")
			require.NoError(t, os.Symlink(d, link))
			return link, []string{"the cache directory " + d + " belongs to uid " + strconv.Itoa(uid)}
		}},
		{"symbolic link to a directory others can write", func(t *testing.T, tmp string) (string, []string) {
			d := mkdir(t, filepath.Join(tmp, "c"), 0o777)
			link := filepath.Join(tmp, "link")
			require.NoError(t, os.Symlink(d, link))
			return link, []string{"the cache directory " + d + " is not safe: it (mode 0777)"}
		}},
		{"symbolic link to a directory of one's own", func(t *testing.T, tmp string) (string, []string) {
			d := mkdir(t, filepath.Join(tmp, "c"), 0o700)
			link := filepath.Join(tmp, "link")
			require.NoError(t, os.Symlink(d, link))
			return link, nil
		}},
		{"a file", func(t *testing.T, tmp string) (string, []string) {
			f := filepath.Join(tmp, "f")
			require.NoError(t, os.WriteFile(f, nil, 0o600))
			return f, []string{"not a directory"}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmp, err := filepath.EvalSymlinks(privateDir(t))
			require.NoError(t, err)
			dir, wantErr := tt.setup(t, tmp)
			before, _ := os.Lstat(dir)
			d, err := OpenDir(dir)
			if wantErr == nil {
				require.NoError(t, err)
				real, err := filepath.EvalSymlinks(dir)
				require.NoError(t, err)
				assert.Equal(t, real, d.Path())
				return
			}
			require.Error(t, err)
			assert.Nil(t, d)
			for _, w := range wantErr {
				assert.Contains(t, err.Error(), w)
			}
			if after, _ := os.Lstat(dir); before != nil {
				assert.Equal(t, before.Mode(), after.Mode(), "no permission was changed")
			}
		})
	}

	t.Run("a link changed later does not move the directory", func(t *testing.T) {
		tmp := privateDir(t)
		first, second := filepath.Join(tmp, "first"), filepath.Join(tmp, "second")
		require.NoError(t, os.Mkdir(first, 0o700))
		require.NoError(t, os.Mkdir(second, 0o700))
		link := filepath.Join(tmp, "link")
		require.NoError(t, os.Symlink(first, link))
		d, err := OpenDir(link)
		require.NoError(t, err)

		require.NoError(t, os.Remove(link))
		require.NoError(t, os.Symlink(second, link))
		require.NoError(t, d.WriteEntry(context.Background(), "k", entryJSON(nil)))
		_, err = os.Stat(filepath.Join(first, "k.json"))
		assert.NoError(t, err, "written where the link led when the Dir was opened")
		_, err = os.Stat(filepath.Join(second, "k.json"))
		assert.ErrorIs(t, err, os.ErrNotExist)
	})
}

func TestReadEntryRefusesUntrustedFiles(t *testing.T) {
	valid := entryJSON(nil)
	writeValid := func(t *testing.T, path string, mode os.FileMode) {
		t.Helper()
		require.NoError(t, os.WriteFile(path, valid, 0o600))
		require.NoError(t, os.Chmod(path, mode))
	}
	tests := []struct {
		name    string
		plant   func(t *testing.T, path, outside string)
		wantErr string
	}{
		{"symbolic link to a valid entry", func(t *testing.T, path, outside string) {
			writeValid(t, outside, 0o600)
			require.NoError(t, os.Symlink(outside, path))
		}, "is a symbolic link, not a regular file"},
		{"dangling symbolic link", func(t *testing.T, path, outside string) {
			require.NoError(t, os.Symlink(outside, path))
		}, "is a symbolic link"},
		{"FIFO", func(t *testing.T, path, _ string) {
			require.NoError(t, unix.Mkfifo(path, 0o600))
		}, "is a named pipe (FIFO), not a regular file"},
		{"directory", func(t *testing.T, path, _ string) {
			require.NoError(t, os.Mkdir(path, 0o700))
		}, "is a directory"},
		{"socket", func(t *testing.T, path, _ string) {
			l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
			require.NoError(t, err)
			l.SetUnlinkOnClose(false)
			require.NoError(t, l.Close())
		}, "is a socket"},
		{"character device", func(t *testing.T, path, _ string) {
			// /dev/null's numbers on Linux; elsewhere whatever they name.
			if out, err := exec.Command("mknod", "-m", "600", path, "c", "1", "3").CombinedOutput(); err != nil {
				t.Skipf("skipping: cannot make a device node here: %v: %s", err, out)
			}
		}, "is a character device"},
		{"writable by group", func(t *testing.T, path, _ string) { writeValid(t, path, 0o620) }, "is writable by group or others (mode 0620)"},
		{"writable by others", func(t *testing.T, path, _ string) { writeValid(t, path, 0o602) }, "is writable by group or others (mode 0602)"},
		{"a second hard link", func(t *testing.T, path, outside string) {
			writeValid(t, outside, 0o600)
			require.NoError(t, os.Link(outside, path))
		}, "has 2 hard links"},
		{"another user's", func(t *testing.T, path, _ string) {
			uid, gid := otherUser(t)
			writeValid(t, path, 0o600)
			require.NoError(t, os.Chown(path, uid, gid))
		}, "belongs to uid 61"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := openTestDir(t)
			path := filepath.Join(d.Path(), "k.json")
			tt.plant(t, path, filepath.Join(privateDir(t), "outside.json"))
			var (
				data []byte
				err  error
			)
			promptly(t, "ReadEntry", func() { data, err = d.ReadEntry(context.Background(), "k") })
			require.Error(t, err)
			assert.Nil(t, data)
			assert.Contains(t, err.Error(), path+" ")
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.NotContains(t, err.Error(), testSecret)
		})
	}

	t.Run("the same file, trusted", func(t *testing.T) {
		d := openTestDir(t)
		writeValid(t, filepath.Join(d.Path(), "k.json"), 0o644)
		data, err := d.ReadEntry(context.Background(), "k")
		require.NoError(t, err)
		assert.Equal(t, valid, data)
	})
}

func TestWriteEntryReplacesPlantedFiles(t *testing.T) {
	tests := []struct {
		name  string
		plant func(t *testing.T, path, outside string)
	}{
		{"symbolic link", func(t *testing.T, path, outside string) { require.NoError(t, os.Symlink(outside, path)) }},
		{"FIFO", func(t *testing.T, path, _ string) { require.NoError(t, unix.Mkfifo(path, 0o600)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			d := openTestDir(t)
			outside := filepath.Join(privateDir(t), "victim")
			require.NoError(t, os.WriteFile(outside, []byte("original"), 0o600))
			tt.plant(t, filepath.Join(d.Path(), "k.json"), outside)
			promptly(t, "WriteEntry", func() { require.NoError(t, d.WriteEntry(ctx, "k", entryJSON(nil))) })
			data, err := os.ReadFile(outside)
			require.NoError(t, err)
			assert.Equal(t, "original", string(data), "nothing written through the link")
			data, err = d.ReadEntry(ctx, "k")
			require.NoError(t, err)
			assert.Equal(t, entryJSON(nil), data)
		})
	}
}

func TestOpenDirSweepsStaleTempFiles(t *testing.T) {
	dir := privateDir(t)
	old := time.Now().Add(-2 * time.Minute)
	plant := func(name string, stale bool) string {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, entryJSON(nil), 0o600))
		if stale {
			require.NoError(t, os.Chtimes(path, old, old))
		}
		return path
	}
	staleTemp := plant(".k.json.123.tmp", true)
	freshTemp := plant(".k.json.456.tmp", false)
	kept := []string{
		freshTemp,
		plant(".k.json.tmp", true),     // not a name WriteEntry makes
		plant("k.json.789.tmp", true),  // not hidden: not WriteEntry's
		plant(".k.lock.789.tmp", true), // WriteEntry makes no temporary lock files
		plant("k.json", true),          // an entry, however old
	}
	link := filepath.Join(dir, ".l.json.1.tmp")
	require.NoError(t, os.Symlink(staleTemp, link))
	kept = append(kept, link)
	if os.Geteuid() == 0 {
		uid, gid := otherUser(t)
		foreign := plant(".f.json.1.tmp", true)
		require.NoError(t, os.Chown(foreign, uid, gid))
		kept = append(kept, foreign) // not this user's
	}

	d, err := OpenDir(dir)
	require.NoError(t, err)
	_, err = os.Lstat(staleTemp)
	assert.ErrorIs(t, err, os.ErrNotExist, "OpenDir removes a stale temporary file")
	for _, p := range kept {
		_, err := os.Lstat(p)
		assert.NoError(t, err, "%s is kept", filepath.Base(p))
	}

	// The fresh one may be a WriteEntry's at work; once stale, WriteEntry
	// sweeps it.
	require.NoError(t, os.Chtimes(freshTemp, old, old))
	require.NoError(t, d.WriteEntry(context.Background(), "other", entryJSON(nil)))
	_, err = os.Lstat(freshTemp)
	assert.ErrorIs(t, err, os.ErrNotExist, "WriteEntry removes a stale temporary file")
	for _, p := range kept[1:] {
		_, err := os.Lstat(p)
		assert.NoError(t, err, "%s is kept", filepath.Base(p))
	}
}

// readOnlyResult is what a Dir did in a directory it cannot write.
type readOnlyResult struct {
	OpenErr         string
	ReadOK          bool
	ReadErr         string
	LockErr         string
	LockExistingErr string
	WriteErr        string
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// readOnlyScenario uses the read-only cache directory dir, which holds the
// entry and the lock file of key "k". It waits for nothing with a deadline:
// whoever runs it bounds it.
func readOnlyScenario(dir string) readOnlyResult {
	ctx := context.Background()
	var r readOnlyResult
	d, err := OpenDir(dir)
	if err != nil {
		r.OpenErr = err.Error()
		return r
	}
	data, err := d.ReadEntry(ctx, "k")
	r.ReadOK, r.ReadErr = bytes.Equal(data, entryJSON(nil)), errString(err)
	unlock, err := d.Lock(ctx, "new")
	r.LockErr = errString(err)
	if unlock != nil {
		unlock()
	}
	unlock, err = d.Lock(ctx, "k")
	r.LockExistingErr = errString(err)
	if unlock != nil {
		unlock()
	}
	r.WriteErr = errString(d.WriteEntry(ctx, "new", entryJSON(nil)))
	return r
}

func TestReadOnlyDir(t *testing.T) {
	prepare := func(t *testing.T, dir string) {
		t.Helper()
		d, err := OpenDir(dir)
		require.NoError(t, err)
		require.NoError(t, d.WriteEntry(context.Background(), "k", entryJSON(nil)))
		unlock, err := d.Lock(context.Background(), "k")
		require.NoError(t, err)
		unlock()
	}
	var r readOnlyResult
	if os.Geteuid() != 0 {
		dir := filepath.Join(privateDir(t), "cache")
		prepare(t, dir)
		require.NoError(t, os.Chmod(dir, 0o500))
		t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
		promptly(t, "the read-only directory", func() { r = readOnlyScenario(dir) })
	} else {
		// Root ignores permissions: the directory's user is another one.
		uid, gid := otherUser(t)
		dir := filepath.Join(usertest.PublicTempDir(t), "cache")
		prepare(t, dir)
		for _, p := range []string{dir, filepath.Join(dir, "k.json"), filepath.Join(dir, "k.lock")} {
			require.NoError(t, os.Chown(p, uid, gid))
		}
		require.NoError(t, os.Chmod(dir, 0o500))
		out := asOtherUser(t, uid, gid, "CLICACHE_TEST_HELPER=read-only", "CLICACHE_TEST_DIR="+dir)
		require.NoError(t, json.Unmarshal([]byte(out), &r), out)
	}
	assert.Empty(t, r.OpenErr)
	assert.True(t, r.ReadOK, "ReadEntry works")
	assert.Empty(t, r.ReadErr)
	assert.Contains(t, r.LockErr, "permission denied (the cache directory is read-only for this user)")
	assert.Empty(t, r.LockExistingErr, "a lock file already there still locks")
	assert.Contains(t, r.WriteErr, "permission denied (the cache directory is read-only for this user)")
}

// Another user plants files in a cache directory that was left writable by
// all: OpenDir refuses the directory until the user fixes it, and then
// the Dir uses none of their files.
func TestAnotherUserPlantsFiles(t *testing.T) {
	uid, gid := otherUser(t)
	base := usertest.PublicTempDir(t)
	dir := filepath.Join(base, "cache")
	require.NoError(t, os.Mkdir(dir, 0o700))
	require.NoError(t, os.Chmod(dir, 0o777))
	mine := filepath.Join(base, "mine")
	require.NoError(t, os.Mkdir(mine, 0o700)) // the other user cannot write here
	target := filepath.Join(mine, "created")
	out := asOtherUser(t, uid, gid, "CLICACHE_TEST_HELPER=plant", "CLICACHE_TEST_DIR="+dir, "CLICACHE_TEST_TARGET="+target)
	require.Equal(t, "planted\n", out)

	_, err := OpenDir(dir)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "writable by group or others")
	assert.Contains(t, err.Error(), "chmod go-w "+dir)
	require.NoError(t, os.Chmod(dir, 0o755)) // as the error says
	d, err := OpenDir(dir)
	require.NoError(t, err)

	ctx := context.Background()
	for key, want := range map[string]string{
		"session": "belongs to uid " + strconv.Itoa(uid),
		"link":    "is a symbolic link",
		"fifo":    "is a named pipe (FIFO)",
	} {
		promptly(t, "ReadEntry "+key, func() { _, err = d.ReadEntry(ctx, key) })
		assert.ErrorContains(t, err, want, key)
	}
	for key, want := range map[string]string{
		"link": "is a symbolic link",
		"fifo": "is a named pipe (FIFO)",
	} {
		var unlock func()
		promptly(t, "Lock "+key, func() { unlock, err = d.Lock(ctx, key) })
		assert.Nil(t, unlock, key)
		assert.ErrorContains(t, err, want, key)
	}
	_, err = os.Lstat(target)
	assert.ErrorIs(t, err, os.ErrNotExist, "the planted lock link made nothing where it points")

	// Writing replaces their file with the user's own.
	require.NoError(t, d.WriteEntry(ctx, "session", entryJSON(nil)))
	data, err := d.ReadEntry(ctx, "session")
	require.NoError(t, err)
	assert.Equal(t, entryJSON(nil), data)
}
