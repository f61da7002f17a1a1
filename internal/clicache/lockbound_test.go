package clicache

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lockDirs returns two Dirs on one directory, as two processes have, that
// wait at most stale for a holder that shows no sign of life.
func lockDirs(t *testing.T, stale time.Duration) (*Dir, *Dir) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cache")
	a, err := OpenDir(path)
	require.NoError(t, err)
	b, err := OpenDir(path)
	require.NoError(t, err)
	a.lockStale, b.lockStale = stale, stale
	return a, b
}

// A lock whose holder hangs, or that a program holds without touching its
// file, costs a waiter LockStale, not the caller's whole context (a
// refresh's five minutes): the error lets the caller go on without it.
func TestLockOfAHolderWithNoSignOfLife(t *testing.T) {
	const stale = 300 * time.Millisecond
	a, b := lockDirs(t, stale)
	a.lockStale = time.Hour // a holder that touches its file once, then no more
	unlock, err := a.Lock(t.Context(), "k")
	require.NoError(t, err)
	defer unlock()

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	start := time.Now()
	_, err = b.Lock(ctx, "k")
	waited := time.Since(start)
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrLockStale)
	assert.NotErrorIs(t, err, context.DeadlineExceeded, "it did not wait for its context")
	assert.Regexp(t, `^locking .*k\.lock: waited \d+ms for another process, and the lock file was last touched \d+ms ago: the holder of the lock shows no sign of life$`, err.Error())
	assert.GreaterOrEqual(t, waited, stale)
	t.Logf("gave up after %v: %v", waited, err)
}

// A holder that is alive keeps its lock however long it holds it (an MFA
// prompt): the waiter waits for it, or for its own context.
func TestLockOfALiveHolderIsWaitedFor(t *testing.T) {
	const stale = time.Second
	a, b := lockDirs(t, stale)
	unlock, err := a.Lock(t.Context(), "k")
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(t.Context(), 3*stale)
	defer cancel()
	_, err = b.Lock(ctx, "k")
	require.ErrorIs(t, err, context.DeadlineExceeded, "three times LockStale, and the holder still shows life")
	assert.NotErrorIs(t, err, ErrLockStale)

	got := make(chan error, 1)
	go func() {
		unlockB, err := b.Lock(t.Context(), "k")
		if err == nil {
			unlockB()
		}
		got <- err
	}()
	unlock()
	assert.NoError(t, <-got, "taken once released")
	unlock() // again: nothing happens
}

// The holder touches its lock file: by its descriptor, right when it takes
// the lock and while it holds it.
func TestLockHolderTouchesItsFile(t *testing.T) {
	a, _ := lockDirs(t, 200*time.Millisecond)
	path := filepath.Join(a.Path(), "k.lock")
	require.NoError(t, os.WriteFile(path, nil, 0o600))
	old := time.Now().Add(-time.Hour)
	require.NoError(t, os.Chtimes(path, old, old))

	unlock, err := a.Lock(t.Context(), "k")
	require.NoError(t, err)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	first := fi.ModTime()
	assert.WithinDuration(t, time.Now(), first, time.Minute, "touched when taken")
	assert.Eventually(t, func() bool {
		fi, err := os.Stat(path)
		return err == nil && fi.ModTime().After(first)
	}, 10*time.Second, 10*time.Millisecond, "and again while held")
	unlock()

	fi, err = os.Stat(path)
	require.NoError(t, err)
	released := fi.ModTime()
	time.Sleep(200 * time.Millisecond) // a tick of a touch that should have stopped
	fi, err = os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, released, fi.ModTime(), "not after the release")
}
