package clicache

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func openTestDir(t *testing.T) *Dir {
	t.Helper()
	d, err := OpenDir(privateDir(t))
	require.NoError(t, err)
	return d
}

func TestLockExclusion(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		d := openTestDir(t)
		var holders, maxHolders, total atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 5 {
					unlock, err := d.Lock(ctx, "k")
					if !assert.NoError(t, err) {
						return
					}
					n := holders.Add(1)
					for {
						m := maxHolders.Load()
						if n <= m || maxHolders.CompareAndSwap(m, n) {
							break
						}
					}
					time.Sleep(5 * time.Millisecond) // hold it while others try
					total.Add(1)
					holders.Add(-1)
					unlock()
				}
			})
		}
		wg.Wait()
		assert.EqualValues(t, 1, maxHolders.Load(), "two goroutines held the lock at once")
		assert.EqualValues(t, 40, total.Load())
	})

	t.Run("keys are independent", func(t *testing.T) {
		d := openTestDir(t)
		u1, err := d.Lock(context.Background(), "a")
		require.NoError(t, err)
		defer u1()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		u2, err := d.Lock(ctx, "b")
		require.NoError(t, err)
		u2()
	})

	t.Run("two Dirs on one directory exclude each other", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			dir := privateDir(t)
			d1, err := OpenDir(dir)
			require.NoError(t, err)
			d2, err := OpenDir(dir)
			require.NoError(t, err)
			unlock, err := d1.Lock(context.Background(), "k")
			require.NoError(t, err)
			var released atomic.Bool
			done := make(chan struct{})
			go func() {
				defer close(done)
				u, err := d2.Lock(context.Background(), "k")
				if assert.NoError(t, err) {
					assert.True(t, released.Load(), "second Lock returned while the first was held")
					u()
				}
			}()
			time.Sleep(time.Second)
			released.Store(true)
			unlock()
			unlock() // a second call does nothing
			<-done
		})
	})
}

func TestLockContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := openTestDir(t)
		unlock, err := d.Lock(context.Background(), "k")
		require.NoError(t, err)
		defer unlock()

		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() {
			_, err := d.Lock(ctx, "k")
			errc <- err
		}()
		time.Sleep(time.Second)
		synctest.Wait()
		select {
		case err := <-errc:
			t.Fatalf("Lock returned while the lock was held: %v", err)
		default:
		}
		start := time.Now()
		cancel()
		err = <-errc
		assert.ErrorIs(t, err, context.Canceled)
		assert.Less(t, time.Since(start), 2*LockRetry)

		ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err = d.Lock(ctx, "k")
		assert.ErrorIs(t, err, context.DeadlineExceeded)
	})
}

// TestLockHelperProcess is the child of TestLockDeadProcess: it takes the
// lock of key "k" in CLICACHE_TEST_LOCK_DIR, says so and waits to be
// killed. It does nothing in a normal run.
func TestLockHelperProcess(t *testing.T) {
	dir := os.Getenv("CLICACHE_TEST_LOCK_DIR")
	if dir == "" {
		t.Skip("helper process only")
	}
	d, err := OpenDir(dir)
	if err == nil {
		_, err = d.Lock(context.Background(), "k")
	}
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(2)
	}
	fmt.Println("locked")
	time.Sleep(time.Hour)
	os.Exit(2)
}

// The system releases the lock of a process that dies holding it.
func TestLockDeadProcess(t *testing.T) {
	dir := privateDir(t)
	d, err := OpenDir(dir)
	require.NoError(t, err)

	kill := startHelper(t, "TestLockHelperProcess", "locked", "CLICACHE_TEST_LOCK_DIR="+dir)

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = d.Lock(ctx, "k")
	require.ErrorIs(t, err, context.DeadlineExceeded, "the child holds the lock")

	kill()

	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	unlock, err := d.Lock(ctx, "k")
	require.NoError(t, err, "the dead child's lock is released")
	unlock()
}
