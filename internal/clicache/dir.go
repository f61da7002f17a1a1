package clicache

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/stschain/stschain/internal/safefile"
)

// Tuning of Dir.
const (
	// LockRetry is how often Lock tries again a lock another process or
	// goroutine holds.
	LockRetry = 20 * time.Millisecond
	// LockStale bounds how long Lock waits for a lock whose holder shows
	// no sign of life. A holder touches its lock file every quarter of
	// LockStale for as long as it holds the lock (an MFA prompt may take
	// minutes), up to LockMaxHold; a lock file untouched for LockStale
	// belongs to a holder that hangs, or to a program that does not
	// touch it. Lock then returns an error wrapping [ErrLockStale], and
	// the caller goes on without the lock.
	LockStale = 10 * time.Second
	// LockMaxHold is how long a holder touches its lock file at most: as
	// long as the longest refresh (an MFA prompt and an STS call).
	LockMaxHold = 5 * time.Minute
	// StaleTempAge is the age from which a temporary file that WriteEntry
	// left behind (its process was killed between writing and renaming it)
	// is removed. Writing an entry takes milliseconds.
	StaleTempAge = time.Minute
)

// isKey reports whether key is what a key may be, ^[0-9A-Za-z_-]{1,200}$,
// so that it never names a file outside the directory. (A regular
// expression would cost every importer 190 KB at init.)
func isKey(key string) bool {
	if len(key) == 0 || len(key) > 200 {
		return false
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// isTempFile reports whether name is a temporary file of WriteEntry,
// ^\.KEY\.json\.[0-9]+\.tmp$: os.CreateTemp puts a decimal number where
// the pattern has "*".
func isTempFile(name string) bool {
	rest, ok := strings.CutPrefix(name, ".")
	if !ok {
		return false
	}
	if rest, ok = strings.CutSuffix(rest, ".tmp"); !ok {
		return false
	}
	key, n, ok := strings.Cut(rest, ".json.") // a key has no '.'
	return ok && isKey(key) && n != "" && strings.Trim(n, "0123456789") == ""
}

// Dir is a cache directory that only its owner can write: it holds
// <key>.json entries and <key>.lock lock files. Create one with [OpenDir].
//
// On Unix, Dir trusts only what the effective user could have made: it
// reads and locks only regular files owned by the effective user, not
// writable by group or others, with no other hard link; it opens them
// without following symbolic links and without blocking, so that a FIFO or
// device in their place cannot hang or trouble it; anything else is refused
// with an error saying what it found. On other systems it refuses what is
// not a regular file, and leaves owners and permissions to the system's
// access control lists.
//
// A Dir is safe for concurrent use by goroutines and processes.
type Dir struct {
	path string // absolute, without symbolic links; immutable after OpenDir
	// lockStale, when not zero, replaces LockStale. Set only by tests.
	lockStale time.Duration
	// beforeRename, when not nil, runs in WriteEntry after the temporary
	// file is written and before it is renamed. Set only by tests.
	beforeRename func()
}

// OpenDir returns the Dir at path, which it creates with mode 0700 (and any
// missing parents) when it does not exist. It resolves symbolic links in
// path once, here: the Dir works in the directory they led to, whatever
// they point to later. On Unix that directory must belong to the effective
// user and be writable by nobody else, and every directory above it must
// belong to the effective user or root and be writable by nobody else unless
// it is sticky (as /tmp is), for otherwise another user could plant entries
// or put a directory of theirs in its place. OpenDir changes no permission:
// its error says what to fix, for every directory at once. It removes stale temporary files (see
// [StaleTempAge]).
func OpenDir(path string) (*Dir, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("creating the cache directory: %w", err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("resolving the cache directory: %w", err)
	}
	if err := checkDir(real); err != nil {
		return nil, err
	}
	d := &Dir{path: real}
	d.sweep()
	return d, nil
}

// Path returns the directory's absolute path, symbolic links resolved.
func (d *Dir) Path() string { return d.path }

// file returns the file of key with ext, or an error when key could name a
// file outside the directory.
func (d *Dir) file(key, ext string) (string, error) {
	if !isKey(key) {
		return "", fmt.Errorf("invalid cache key %q: want 1 to 200 characters of letters, digits, '_' and '-'", truncate(key, 64))
	}
	return filepath.Join(d.path, key+ext), nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// ReadEntry returns the content of <key>.json, at most [MaxFileSize] bytes.
// A missing file is an error that wraps [fs.ErrNotExist]; a file Dir does
// not trust (see [Dir]) is an error saying what it is. It checks ctx before
// it starts; reading a local file does not block.
func (d *Dir) ReadEntry(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	path, err := d.file(key, ".json")
	if err != nil {
		return nil, err
	}
	f, err := openChecked(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := safefile.ReadAll(f, MaxFileSize)
	if errors.Is(err, safefile.ErrTooLarge) {
		return nil, fmt.Errorf("%s is larger than %d bytes: not a cache entry", path, MaxFileSize)
	}
	return data, err
}

// openChecked opens the file at path for reading if Dir trusts it. It
// looks before opening, so that a device is refused without being opened,
// then checks what it opened, which is what counts. A WriteEntry that
// replaces the file in between makes it look again.
func openChecked(path string) (*os.File, error) {
	for range 3 {
		before, err := os.Lstat(path)
		if err != nil {
			return nil, err
		}
		if err := checkFile(path, before); err != nil {
			return nil, err
		}
		f, fi, err := safefile.Open(path, false)
		if err != nil {
			return nil, notUsing(err)
		}
		if err := safefile.CheckOwner(path, fi); err != nil {
			f.Close()
			return nil, err
		}
		if os.SameFile(before, fi) {
			return f, nil
		}
		f.Close()
	}
	return nil, fmt.Errorf("%s kept changing while being opened: not using it", path)
}

// WriteEntry writes data to <key>.json, replacing any earlier entry
// atomically: the data is written to a new temporary file (mode 0600) in the
// directory, synced and renamed, so a reader sees the old entry or the new
// one, never part of one. It checks ctx before it starts and before the
// rename; a failure removes the temporary file. It then removes stale
// temporary files.
func (d *Dir) WriteEntry(ctx context.Context, key string, data []byte) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	path, err := d.file(key, ".json")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(d.path, "."+key+".json.*.tmp")
	if err != nil {
		return withReadOnlyHint(err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	// CreateTemp makes the file 0600 already; Chmod says so explicitly and
	// holds on systems where it does not.
	if err := tmp.Chmod(0o600); err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if d.beforeRename != nil {
		d.beforeRename()
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d.sweep()
	return nil
}

// sweep removes the temporary files of WriteEntry older than StaleTempAge
// that belong to the effective user: what a process killed between writing
// and renaming one left behind, a whole session each. It is best effort: a
// file it cannot remove stays for the next sweep.
func (d *Dir) sweep() {
	entries, err := os.ReadDir(d.path)
	if err != nil {
		return
	}
	now := time.Now()
	for _, e := range entries {
		if !e.Type().IsRegular() || !isTempFile(e.Name()) {
			continue
		}
		fi, err := e.Info()
		if err != nil || !safefile.OwnedByEffectiveUser(fi) || now.Sub(fi.ModTime()) < StaleTempAge {
			continue
		}
		_ = os.Remove(filepath.Join(d.path, e.Name()))
	}
}

// checkFile returns an error saying what fi, the file at path, is when Dir
// does not trust it.
func checkFile(path string, fi fs.FileInfo) error {
	if k := safefile.Kind(fi.Mode()); k != "" {
		return notUsing(&safefile.NotRegularError{Path: path, Kind: k})
	}
	return safefile.CheckOwner(path, fi)
}

// notUsing adds to an error of a file that is not a regular one what Dir
// does about it.
func notUsing(err error) error {
	if errors.As(err, new(*safefile.NotRegularError)) {
		return fmt.Errorf("%w: not using it (remove it)", err)
	}
	return err
}

// checkDir refuses the cache directory dir (absolute, without symbolic
// links) when another user could put entries in it, or put a directory of
// theirs in its place (see [safefile.CheckDir]). Its error names every
// directory to fix, so that one command fixes them all: the AWS CLI makes
// ~/.aws, ~/.aws/cli and ~/.aws/cli/cache writable by the group under a
// umask of 002.
func checkDir(dir string) error {
	issues, err := safefile.CheckDir(dir)
	if err != nil {
		return err
	}
	euid := os.Geteuid()
	var loose []string // "PATH (mode M)" of each directory others can write
	var fix []string   // their paths
	for _, is := range issues {
		switch {
		case is.Problem == safefile.NotDirectory:
			return fmt.Errorf("%s is not a directory", is.Path)
		case is.Problem == safefile.ForeignOwner && !is.Above:
			return fmt.Errorf("the cache directory %s belongs to uid %d, not to uid %d who runs this program: its owner could plant credentials in it; use a directory of your own, or make this one yours (chown %d %s)",
				dir, is.UID, euid, euid, dir)
		case is.Problem == safefile.ForeignOwner:
			return fmt.Errorf("%s, above the cache directory %s, belongs to uid %d, neither to uid %d who runs this program nor to root: its owner could put a directory of theirs in the cache directory's place; use a cache directory elsewhere",
				is.Path, dir, is.UID, euid)
		case !is.Above:
			loose = append(loose, fmt.Sprintf("it (mode %#o)", is.Perm))
			fix = append(fix, is.Path)
		default:
			loose = append(loose, fmt.Sprintf("%s (mode %#o)", is.Path, is.Perm))
			fix = append(fix, is.Path)
		}
	}
	if len(loose) == 0 {
		return nil
	}
	list, verb := loose[0], "is"
	if n := len(loose); n > 1 {
		list, verb = strings.Join(loose[:n-1], ", ")+" and "+loose[n-1], "are"
	}
	return fmt.Errorf("the cache directory %s is not safe: %s %s writable by group or others, who could plant credentials in it or put a directory of theirs in its place; take their write permission away (chmod go-w %s)",
		dir, list, verb, strings.Join(fix, " "))
}

// withReadOnlyHint adds to an error of creating a file what it most likely
// means.
func withReadOnlyHint(err error) error {
	if errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS) {
		return fmt.Errorf("%w (the cache directory is read-only for this user)", err)
	}
	return err
}

// lockPath returns the lock file of key, after checking ctx and, when the
// file exists, that Dir trusts it (see [Dir]).
func (d *Dir) lockPath(ctx context.Context, key string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	path, err := d.file(key, ".lock")
	if err != nil {
		return "", err
	}
	if fi, err := os.Lstat(path); err == nil {
		if err := checkFile(path, fi); err != nil {
			return "", err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	return path, nil
}

// ErrLockStale is wrapped by the error of a Lock that stopped waiting for
// a holder that showed no sign of life for [LockStale].
var ErrLockStale = errors.New("the holder of the lock shows no sign of life")

// staleAfter is LockStale, or what a test set.
func (d *Dir) staleAfter() time.Duration {
	if d.lockStale != 0 {
		return d.lockStale
	}
	return LockStale
}

// waitLock calls try every LockRetry until it takes the lock, ctx ends, or
// the lock file at path has not been touched for LockStale while this call
// has waited as long.
func (d *Dir) waitLock(ctx context.Context, path string, try func() (bool, error)) error {
	start := time.Now()
	stale := d.staleAfter()
	retry := time.NewTimer(0)
	defer retry.Stop()
	for {
		ok, err := try()
		if err != nil || ok {
			return err
		}
		if waited := time.Since(start); waited >= stale {
			if fi, err := os.Lstat(path); err == nil && time.Since(fi.ModTime()) >= stale {
				return fmt.Errorf("locking %s: waited %v for another process, and the lock file was last touched %v ago: %w",
					path, waited.Round(time.Millisecond), time.Since(fi.ModTime()).Round(time.Millisecond), ErrLockStale)
			}
		}
		retry.Reset(LockRetry)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-retry.C:
		}
	}
}

// holdLock touches the lock file now and every quarter of LockStale, for at
// most LockMaxHold, until the returned function runs; that function stops
// the touching, then runs release. touch may fail: a waiter then gives up
// sooner.
func (d *Dir) holdLock(touch func() error, release func()) (unlock func()) {
	_ = touch()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() { _ = recover() }() // a failed touch costs a waiter's patience, nothing more
		tick := time.NewTicker(d.staleAfter() / 4)
		defer tick.Stop()
		limit := time.NewTimer(LockMaxHold)
		defer limit.Stop()
		for {
			select {
			case <-stop:
				return
			case <-limit.C:
				return
			case <-tick.C:
				_ = touch()
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(stop)
			<-done
			release()
		})
	}
}
