package sharedcache_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/stschain/stschain/internal/metricstest"
	"github.com/stschain/stschain/sharedcache"
)

const key = "0123456789abcdef0123456789abcdef01234567"

var errDown = errors.New("store down")

// logBuffer is a bytes.Buffer safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer // guarded by mu
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// fixture is a Locker over a memStore, with its logs and metrics.
type fixture struct {
	store   *memStore
	locker  *sharedcache.Locker
	logs    *logBuffer
	metrics *metricstest.Provider
}

func newFixture(t *testing.T, store *memStore, optFns ...func(*sharedcache.LockOptions)) fixture {
	t.Helper()
	f := fixture{store: store, logs: &logBuffer{}, metrics: &metricstest.Provider{}}
	m, err := sharedcache.NewMetrics(f.metrics, "test", "testcache")
	require.NoError(t, err)
	o := sharedcache.LockOptions{Name: "testcache", Logger: slog.New(slog.NewTextHandler(f.logs, nil)), Metrics: m}
	for _, fn := range optFns {
		fn(&o)
	}
	f.locker, err = sharedcache.NewLocker(store, o)
	require.NoError(t, err)
	return f
}

// lockAsync runs Lock on its own goroutine.
func lockAsync(ctx context.Context, l *sharedcache.Locker) <-chan lockResult {
	out := make(chan lockResult, 1)
	go func() {
		unlock, err := l.Lock(ctx, key)
		out <- lockResult{unlock, err}
	}()
	return out
}

type lockResult struct {
	unlock func()
	err    error
}

// returned reports whether a Lock started with lockAsync has returned, once
// every goroutine of the bubble is blocked.
func returned(ch <-chan lockResult) (lockResult, bool) {
	synctest.Wait()
	select {
	case r := <-ch:
		return r, true
	default:
		return lockResult{}, false
	}
}

func TestNewLockerValidates(t *testing.T) {
	_, err := sharedcache.NewLocker(nil, sharedcache.LockOptions{TTL: time.Microsecond, Timeout: -1, Retry: -1})
	require.Error(t, err)
	for _, want := range []string{"the LockStore is nil", "option TTL 1µs is out of range; want 0 (default 10s) or at least 1ms", "option Timeout -1ns is negative", "option Retry -1ns is negative"} {
		assert.Contains(t, err.Error(), want)
	}
	l, err := sharedcache.NewLocker(newMemStore(), sharedcache.LockOptions{})
	require.NoError(t, err)
	assert.Equal(t, sharedcache.DefaultLockTTL, l.TTL())
}

func TestLockExcludesAndHandsOver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore()
		a, b := newFixture(t, store), newFixture(t, store)
		unlockA, err := a.locker.Lock(t.Context(), key)
		require.NoError(t, err)
		tokenA, held := store.Locked(key)
		require.True(t, held)

		waiting := lockAsync(t.Context(), b.locker)
		time.Sleep(5 * time.Second)
		_, done := returned(waiting)
		require.False(t, done, "A holds the lock")

		unlockA()
		_, held = store.Locked(key)
		assert.False(t, held, "released")
		time.Sleep(2 * time.Second) // B's next poll
		r, done := returned(waiting)
		require.True(t, done)
		require.NoError(t, r.err)
		tokenB, held := store.Locked(key)
		assert.True(t, held, "B took the free lock")
		assert.NotEqual(t, tokenA, tokenB, "each holder has its own token")
		r.unlock()
		r.unlock() // again: nothing happens
		_, held = store.Locked(key)
		assert.False(t, held)
		unlockA()
		assert.Equal(t, 2, store.Calls("release"), "one release per holder")
		assert.Equal(t, 1, a.metrics.Count("testcache.lock.wait", "result=acquired"))
		assert.Equal(t, 1, b.metrics.Count("testcache.lock.wait", "result=acquired"))
		assert.Zero(t, a.metrics.Count("testcache.lock.stranded")+b.metrics.Count("testcache.lock.stranded"))
	})
}

// A waiter returns, without the lock, as soon as it sees the value change:
// the holder's result is there to read, before the holder releases.
func TestLockWaiterSeesTheResult(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore()
		store.Set(sessionName(key), []byte("an old value"))
		a, b := newFixture(t, store), newFixture(t, store)
		unlockA, err := a.locker.Lock(t.Context(), key)
		require.NoError(t, err)
		waiting := lockAsync(t.Context(), b.locker)
		time.Sleep(3 * time.Second)
		_, done := returned(waiting)
		require.False(t, done)

		store.Set(sessionName(key), []byte("the holder's result"))
		stored := time.Now()
		r := <-waiting
		require.NoError(t, r.err)
		assert.LessOrEqual(t, time.Since(stored), 1500*time.Millisecond, "within a poll (a second, jittered)")
		tokenA, held := store.Locked(key)
		assert.True(t, held, "A still holds its lock")
		r.unlock() // does nothing
		tokenNow, held := store.Locked(key)
		assert.True(t, held)
		assert.Equal(t, tokenA, tokenNow)
		unlockA()
		assert.Equal(t, 1, b.metrics.Count("testcache.lock.wait", "result=stored"))
	})
}

// A Lock right after a read that found nothing returns at once, without
// the lock, when the holder stored its result in between; after a read of
// the holder's result itself, it waits for the next.
func TestLockAfterARead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore()
		a, b := newFixture(t, store), newFixture(t, store)
		unlockA, err := a.locker.Lock(t.Context(), key)
		require.NoError(t, err)
		defer unlockA()

		b.locker.Saw(key, "") // b's Load: a miss
		store.Set(sessionName(key), []byte("the holder's result"))
		polls := store.Calls("poll")
		start := time.Now()
		unlock, err := b.locker.Lock(t.Context(), key)
		require.NoError(t, err)
		unlock()
		assert.Zero(t, time.Since(start), "at once")
		assert.Equal(t, polls+1, store.Calls("poll"), "one poll")
		assert.Equal(t, 1, b.metrics.Count("testcache.lock.wait", "result=stored"))

		b.locker.Saw(key, sharedcache.Stamp(store.Get(sessionName(key))))
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		_, err = b.locker.Lock(ctx, key)
		assert.ErrorIs(t, err, context.DeadlineExceeded, "it has read that one: it waits for another")
	})
}

// Waiting is not a storm of attempts: each poll waits for the previous
// one's answer, and the pauses double up to a second.
func TestLockWaitBacksOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore()
		a, b := newFixture(t, store), newFixture(t, store)
		unlockA, err := a.locker.Lock(t.Context(), key)
		require.NoError(t, err)
		defer unlockA()
		polls := store.Calls("poll")
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()
		_, err = b.locker.Lock(ctx, key)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		polls = store.Calls("poll") - polls
		t.Logf("%d polls in 60 s of waiting", polls)
		// 50, 100, 200, 400, 800 ms, then a second, each ±50 %: about 60.
		assert.GreaterOrEqual(t, polls, 35)
		assert.LessOrEqual(t, polls, 120, "a SET NX every 50 ms would be 1,200")
	})
}

func TestLockWaiterGivesUpWhenItsContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore()
		a, b := newFixture(t, store), newFixture(t, store)
		unlockA, err := a.locker.Lock(t.Context(), key)
		require.NoError(t, err)
		defer unlockA()
		ctx, cancel := context.WithTimeout(t.Context(), 7*time.Second)
		defer cancel()
		start := time.Now()
		unlock, err := b.locker.Lock(ctx, key)
		assert.Nil(t, unlock)
		assert.EqualError(t, err, "held by another; stopped waiting: context deadline exceeded")
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, 7*time.Second, time.Since(start), "at once")
		assert.Equal(t, 1, b.metrics.Count("testcache.lock.stranded", "reason=wait"))
		m := b.metrics.Measurements("testcache.lock.wait")
		require.Len(t, m, 1)
		assert.Equal(t, 7.0, m[0].Value)
		assert.True(t, m[0].Has("result=abandoned"))

		cancelled, cancelNow := context.WithCancel(t.Context())
		cancelNow()
		polls := store.Calls("poll")
		_, err = b.locker.Lock(cancelled, key)
		assert.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, polls, store.Calls("poll"), "no attempt with an ended context")
	})
}

// A lock planted without a TTL, or with a longer one, is trusted for one
// TTL from the first poll that sees it.
func TestLockPlantedIsTrustedForOneTTL(t *testing.T) {
	for name, ttl := range map[string]time.Duration{"no TTL": 0, "an hour": time.Hour} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				store := newMemStore()
				store.Plant(key, ttl)
				f := newFixture(t, store)
				start := time.Now()
				unlock, err := f.locker.Lock(t.Context(), key)
				require.NoError(t, err)
				defer unlock()
				waited := time.Since(start)
				assert.GreaterOrEqual(t, waited, sharedcache.DefaultLockTTL)
				assert.LessOrEqual(t, waited, sharedcache.DefaultLockTTL+1500*time.Millisecond, "one TTL and a poll")
			})
		})
	}
}

// A holder keeps its lock alive while its refresh runs, however long
// (an MFA prompt), up to MaxHold; a crashed holder's lock expires.
func TestLockIsKeptAliveUpToMaxHold(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore()
		a, b := newFixture(t, store), newFixture(t, store)
		unlockA, err := a.locker.Lock(t.Context(), key)
		require.NoError(t, err)

		ctx, cancel := context.WithTimeout(t.Context(), 5*sharedcache.DefaultLockTTL)
		defer cancel()
		_, err = b.locker.Lock(ctx, key)
		require.ErrorIs(t, err, context.DeadlineExceeded, "five TTLs later, A's lock is alive")
		assert.GreaterOrEqual(t, store.Calls("extend"), 14, "renewed every third of the TTL")

		// A never releases it (its caller forgot): kept alive until
		// MaxHold, then it expires.
		start := time.Now()
		unlockB, err := b.locker.Lock(t.Context(), key)
		require.NoError(t, err)
		took := time.Since(start) + 5*sharedcache.DefaultLockTTL
		assert.GreaterOrEqual(t, took, sharedcache.MaxHold)
		assert.LessOrEqual(t, took, sharedcache.MaxHold+sharedcache.DefaultLockTTL+1500*time.Millisecond)
		assert.Contains(t, a.logs.String(), "a lock was held longer than a refresh can take")
		unlockB()

		unlockA() // late: the lock is gone
		assert.Contains(t, a.logs.String(), "a lock was gone before its holder released it")
	})
}

func TestLockReleaseIsRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore()
		f := newFixture(t, store)
		unlock, err := f.locker.Lock(t.Context(), key)
		require.NoError(t, err)
		failures := 2
		store.Fail(func(op string, applied bool) error {
			if op == "release" && !applied && failures > 0 {
				failures--
				return errDown
			}
			return nil
		})
		unlock()
		_, held := store.Locked(key)
		assert.False(t, held, "released at the third try")
		assert.Equal(t, 3, store.Calls("release"))
		assert.Zero(t, f.metrics.Count("testcache.lock.stranded"))
		assert.Empty(t, f.logs.String())
	})
}

func TestLockReleaseThatFailsIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore()
		f := newFixture(t, store)
		unlock, err := f.locker.Lock(t.Context(), key)
		require.NoError(t, err)
		store.Fail(func(op string, applied bool) error {
			if op == "release" {
				return errDown
			}
			return nil
		})
		start := time.Now()
		unlock()
		assert.LessOrEqual(t, time.Since(start), sharedcache.DefaultTimeout, "tried for up to the timeout")
		assert.Greater(t, store.Calls("release"), 3)
		assert.Equal(t, 1, f.metrics.Count("testcache.lock.stranded", "reason=release"))
		assert.Contains(t, f.logs.String(), "testcache: releasing a lock failed; it expires by itself")
		assert.Contains(t, f.logs.String(), "error=\"store down\"")
		time.Sleep(sharedcache.DefaultLockTTL)
		_, held := store.Locked(key)
		assert.False(t, held, "no longer kept alive: expired after its TTL")
	})
}

// A release that fails with an error the store will give again is not
// retried.
func TestLockReleaseDeniedIsNotRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore()
		errDenied := errors.New("NOPERM no DEL for you")
		f := newFixture(t, store, func(o *sharedcache.LockOptions) {
			o.Permanent = func(err error) bool { return errors.Is(err, errDenied) }
		})
		unlock, err := f.locker.Lock(t.Context(), key)
		require.NoError(t, err)
		store.Fail(func(op string, applied bool) error {
			if op == "release" {
				return errDenied
			}
			return nil
		})
		start := time.Now()
		unlock()
		assert.Zero(t, time.Since(start), "at once")
		assert.Equal(t, 1, store.Calls("release"))
		assert.Equal(t, 1, f.metrics.Count("testcache.lock.stranded", "reason=release"))
	})
}

func TestLockFirstPollFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore()
		store.Fail(func(op string, applied bool) error {
			if op == "poll" && !applied {
				return errDown
			}
			return nil
		})
		f := newFixture(t, store)
		unlock, err := f.locker.Lock(t.Context(), key)
		assert.Nil(t, unlock)
		assert.Equal(t, errDown, err, "at once, for the caller to go on without the lock")
		assert.Equal(t, 1, store.Calls("poll"))
		assert.Equal(t, 1, f.metrics.Count("testcache.lock.wait", "result=failed"))
		assert.Zero(t, f.metrics.Count("testcache.lock.stranded"))
	})
}

func TestLockWaiterGivesUpWhenPollsFail(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore()
		a, b := newFixture(t, store), newFixture(t, store)
		unlockA, err := a.locker.Lock(t.Context(), key)
		require.NoError(t, err)
		defer unlockA()
		waiting := lockAsync(t.Context(), b.locker)
		time.Sleep(2 * time.Second)
		var failing atomic.Bool
		failing.Store(true)
		store.Fail(func(op string, applied bool) error {
			if op == "poll" && !applied && failing.Load() {
				return errDown
			}
			return nil
		})
		r := <-waiting
		assert.EqualError(t, r.err, "held by another; stopped waiting: store down")
		assert.Equal(t, 1, b.metrics.Count("testcache.lock.stranded", "reason=wait"))
	})
}

// An attempt whose answer is lost may have taken the lock: it is released.
func TestLockLostAnswerIsReleased(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore()
		store.Fail(func(op string, applied bool) error {
			if op == "poll" && applied {
				return errors.New("answer lost")
			}
			return nil
		})
		f := newFixture(t, store)
		_, err := f.locker.Lock(t.Context(), key)
		assert.EqualError(t, err, "answer lost")
		_, held := store.Locked(key)
		assert.False(t, held, "the lock it took is released")
		assert.Equal(t, 1, store.Calls("release"))
	})
}

// slowStore holds every Poll until release, whatever its context, as a
// stalled network with a client that ignores contexts does.
type slowStore struct {
	*memStore
	release chan struct{}
}

func (s slowStore) Poll(ctx context.Context, key, token string, ttl time.Duration) (bool, string, error) {
	<-s.release
	return s.memStore.Poll(ctx, key, token, ttl)
}

func TestLockTakenAfterGivingUpIsReleased(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := slowStore{newMemStore(), make(chan struct{})}
		l, err := sharedcache.NewLocker(store, sharedcache.LockOptions{Timeout: 20 * time.Millisecond})
		require.NoError(t, err)
		_, err = l.Lock(t.Context(), key)
		assert.EqualError(t, err, "no answer within 20ms: context deadline exceeded")
		close(store.release) // the poll reaches the store now, and takes the lock
		synctest.Wait()
		assert.Equal(t, 1, store.Calls("poll"))
		_, held := store.Locked(key)
		assert.False(t, held, "and it is released")
		assert.Equal(t, 1, store.Calls("release"))
	})
}

// panicStore panics in Poll, as go-redis does on a hostile reply.
type panicStore struct{ *memStore }

func (panicStore) Poll(context.Context, string, string, time.Duration) (bool, string, error) {
	panic("makeslice: len out of range")
}

func TestLockSurvivesAPanickingStore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, err := sharedcache.NewLocker(panicStore{newMemStore()}, sharedcache.LockOptions{})
		require.NoError(t, err)
		_, err = l.Lock(t.Context(), key)
		assert.EqualError(t, err, "the client panicked: makeslice: len out of range")
	})
}

func TestLockMutualExclusion(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore()
		const holders, rounds = 6, 20
		var inside, maxInside, taken atomic.Int32
		var wg sync.WaitGroup
		for range holders {
			f := newFixture(t, store, func(o *sharedcache.LockOptions) { o.Retry = time.Millisecond })
			wg.Go(func() {
				for range rounds {
					unlock, err := f.locker.Lock(t.Context(), key)
					if !assert.NoError(t, err) {
						return
					}
					n := inside.Add(1)
					if n > maxInside.Load() {
						maxInside.Store(n)
					}
					taken.Add(1)
					time.Sleep(time.Millisecond)
					inside.Add(-1)
					unlock()
				}
			})
		}
		wg.Wait()
		assert.Equal(t, int32(1), maxInside.Load(), "never two holders at once")
		assert.Equal(t, int32(holders*rounds), taken.Load(), "no value was stored: every Lock took the lock")
	})
}
