//go:build unix

package stschain

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain/internal/lockwait"
)

// TestHoldLockHelperProcess is the child of the tests of a FileCache lock
// held by another process: it takes the lock of STSCHAIN_TEST_LOCK_KEY in
// the FileCache of STSCHAIN_TEST_LOCK_DIR, says so, and holds it until it
// is killed. It does nothing in a normal run.
func TestHoldLockHelperProcess(t *testing.T) {
	dir := os.Getenv("STSCHAIN_TEST_LOCK_DIR")
	if dir == "" {
		t.Skip("helper process only")
	}
	c, err := NewFileCache(dir)
	if err == nil {
		_, err = c.Lock(context.Background(), os.Getenv("STSCHAIN_TEST_LOCK_KEY"))
	}
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(2)
	}
	fmt.Println("locked")
	time.Sleep(time.Hour)
	os.Exit(2)
}

// holdLock makes another process hold the FileCache lock of key in dir
// until the test ends.
func holdLock(t *testing.T, dir, key string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHoldLockHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "STSCHAIN_TEST_LOCK_DIR="+dir, "STSCHAIN_TEST_LOCK_KEY="+key)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	var once sync.Once
	t.Cleanup(func() {
		once.Do(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "locked\n", line)
}

// A FileCache lock that another process holds (hung, or stopped) costs a
// refresh lockwait.Bound and then one STS call without the lock, where it used
// to cost five minutes and then a failure. Later, the background refresh
// stops waiting when the credentials reach their expiry window, so that
// no caller ever waits for the lock. The times are the bubble's, which
// pass only when every goroutine waits.
func TestFileCacheLockHeldByAnotherProcess(t *testing.T) {
	dir := privateDir(t)
	probe := newFake(t, newFakeSTS("A", time.Hour), staticMaster("alice"), withRole(roleA), withCache(newMemCache()))
	holdLock(t, dir, probe.impl.Load().link.cacheKey)

	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		cache, err := NewFileCache(dir)
		require.NoError(t, err)
		var logs syncBuffer // the background refresh writes while the test reads
		f := newFakeSTS("A", time.Hour)
		p := newFake(t, f, staticMaster("alice"), withRole(roleA), withCache(cache), func(o *Options) {
			o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			o.ExpiryWindow, o.PrefetchWindow = time.Minute, time.Minute+5*time.Second
		})
		start := time.Now()
		first, err := p.Retrieve(ctx)
		require.NoError(t, err)
		assert.Equal(t, lockwait.Bound, time.Since(start))
		assert.Equal(t, 1, f.count())
		assert.Contains(t, logs.String(), "stopped waiting for the cache lock, which another holder kept "+lockwait.ReasonBound)
		stored, ok, err := cache.Load(ctx, p.impl.Load().link.cacheKey)
		require.NoError(t, err)
		require.True(t, ok, "the session was stored without the lock")
		assert.Equal(t, first.AccessKeyID, stored.Credentials.AccessKeyID)

		// The background refresh starts 65 s before expiry and waits 5 s,
		// until the expiry window.
		time.Sleep(time.Until(first.Expires.Add(-time.Minute + time.Second)))
		synctest.Wait()
		assert.Equal(t, 2, f.count())
		assert.Contains(t, logs.String(), "which another holder kept until the current credentials reached their expiry window")
		c, err := p.Retrieve(ctx)
		require.NoError(t, err)
		assert.NotEqual(t, first.AccessKeyID, c.AccessKeyID, "callers got the new credentials without waiting")
	})
}
