package rediscache

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const lockName = "stschain:lock:" + cacheKey

// fastLocks makes Lock poll every few milliseconds.
func fastLocks(o *Options) { o.LockRetry = 2 * time.Millisecond }

// oneTry makes Lock try once and then wait for its context: a Lock that
// gave up leaves no attempt in flight to land after the test moved on.
func oneTry(o *Options) { o.LockRetry = time.Hour }

// excluded asserts that c cannot take the lock of cacheKey.
func excluded(t *testing.T, c *Cache, msg string) {
	t.Helper()
	short, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	_, err := c.Lock(short, cacheKey)
	require.Error(t, err, msg)
	assert.ErrorIs(t, err, context.DeadlineExceeded, msg)
	assert.EqualError(t, err, "rediscache: locking "+lockName+": held by another; stopped waiting: context deadline exceeded", msg)
}

func TestLockExcludesAnotherHolder(t *testing.T) {
	m, rdb := newMiniredis(t)
	a := newTestCache(t, rdb, fastLocks)
	b := newTestCache(t, rdb, fastLocks) // another process
	ctx := t.Context()

	unlock, err := a.Lock(ctx, cacheKey)
	require.NoError(t, err)
	ttl := m.TTL(lockName)
	assert.Greater(t, ttl, DefaultLockTTL-time.Second, "the lock has DefaultLockTTL")
	assert.LessOrEqual(t, ttl, DefaultLockTTL)

	excluded(t, newTestCache(t, rdb, oneTry), "A holds the lock")

	// A waiter gets the lock once it is released.
	got := make(chan error, 1)
	go func() {
		unlockB, err := b.Lock(ctx, cacheKey)
		if err == nil {
			unlockB()
		}
		got <- err
	}()
	unlock()
	require.NoError(t, <-got)
	assert.False(t, m.Exists(lockName), "released")

	unlock() // again: nothing happens
	assert.False(t, m.Exists(lockName))
}

func TestLockIsReleasedOnlyByItsHolder(t *testing.T) {
	m, rdb := newMiniredis(t)
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	a := newTestCache(t, rdb, fastLocks, func(o *Options) { o.LockTTL = time.Second; o.Logger = logger })
	b := newTestCache(t, rdb, fastLocks, func(o *Options) { o.LockTTL = time.Second })
	ctx := t.Context()

	unlockA, err := a.Lock(ctx, cacheKey)
	require.NoError(t, err)
	tokenA, err := m.Get(lockName)
	require.NoError(t, err)

	m.FastForward(time.Second) // A's lock expires: A crashed or hung
	require.False(t, m.Exists(lockName))
	unlockB, err := b.Lock(ctx, cacheKey)
	require.NoError(t, err, "an expired lock is free")
	tokenB, err := m.Get(lockName)
	require.NoError(t, err)
	assert.NotEqual(t, tokenA, tokenB, "each holder has its own token")

	unlockA() // stale: A's lock is gone, and B's must stay
	got, err := m.Get(lockName)
	require.NoError(t, err)
	assert.Equal(t, tokenB, got, "A's late unlock left B's lock alone")
	assert.Contains(t, logs.String(), "a lock expired before its holder released it")
	assert.Contains(t, logs.String(), "lock="+lockName)

	excluded(t, newTestCache(t, rdb, oneTry), "B still holds it")

	unlockB()
	assert.False(t, m.Exists(lockName))
}

func TestLockHonoursContext(t *testing.T) {
	_, rdb := newMiniredis(t)
	c := newTestCache(t, rdb, func(o *Options) { o.LockRetry = time.Hour })
	unlock, err := c.Lock(t.Context(), cacheKey)
	require.NoError(t, err)
	defer unlock()

	// Cancelled while waiting: Lock returns though its next try is an
	// hour away.
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { _, err := c.Lock(ctx, cacheKey); errc <- err }()
	cancel()
	err = <-errc
	assert.ErrorIs(t, err, context.Canceled)

	// Cancelled before: no attempt at all.
	_, err = c.Lock(ctx, otherCK)
	assert.EqualError(t, err, "rediscache: locking stschain:lock:"+otherCK+": context canceled")
}

func TestLockMutualExclusion(t *testing.T) {
	_, rdb := newMiniredis(t)
	const holders, rounds = 6, 20
	caches := make([]*Cache, holders)
	for i := range caches {
		caches[i] = newTestCache(t, rdb, func(o *Options) { o.LockRetry = time.Millisecond })
	}
	var inside, maxInside, taken atomic.Int32
	var wg sync.WaitGroup
	for _, c := range caches {
		wg.Go(func() {
			for range rounds {
				unlock, err := c.Lock(t.Context(), cacheKey)
				if !assert.NoError(t, err) {
					return
				}
				n := inside.Add(1)
				for {
					m := maxInside.Load()
					if n <= m || maxInside.CompareAndSwap(m, n) {
						break
					}
				}
				taken.Add(1)
				time.Sleep(100 * time.Microsecond) // hold it a moment
				inside.Add(-1)
				unlock()
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int32(1), maxInside.Load(), "never two holders at once")
	assert.Equal(t, int32(holders*rounds), taken.Load())
}

func TestLockTakenAfterGivingUpIsReleased(t *testing.T) {
	m := miniredis.RunT(t)
	// A client that ignores contexts and whose commands reach Redis only
	// after release: the SET of Lock is applied after Lock gave up on it.
	rdb, release := blockingClient(t, m.Addr(), false)
	seen := make(chan string, 16)
	rdb.AddHook(recordHook{seen: seen})
	c := newTestCache(t, rdb, func(o *Options) { o.Timeout = 20 * time.Millisecond })
	_, err := c.Lock(t.Context(), cacheKey)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.False(t, m.Exists(lockName), "the SET has not reached Redis yet")

	close(release)
	assert.Equal(t, []string{"set", "evalsha"}, commands(t, seen, "evalsha"), "the lock Lock gave up on is released")
	assert.False(t, m.Exists(lockName))
}

func TestLockErrorReleasesWhatItMayHaveTaken(t *testing.T) {
	m, _ := newMiniredis(t)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr(), MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	seen := make(chan string, 16)
	rdb.AddHook(recordHook{seen: seen, failSet: true})
	c := newTestCache(t, rdb)
	_, err := c.Lock(t.Context(), cacheKey)
	require.EqualError(t, err, "rediscache: locking "+lockName+": answer lost")
	assert.Equal(t, []string{"set", "evalsha"}, commands(t, seen, "evalsha"), "a SET whose answer was lost may have been applied: released")
	assert.False(t, m.Exists(lockName))
}

// commands returns the commands recorded up to and including last.
func commands(t *testing.T, seen <-chan string, last string) []string {
	t.Helper()
	var got []string
	timeout := time.After(10 * time.Second)
	for {
		select {
		case name := <-seen:
			got = append(got, name)
			if name == last {
				return got
			}
		case <-timeout:
			t.Fatalf("no %s after %v", last, got)
		}
	}
}

// recordHook reports the name of each command after Redis ran it; with
// failSet, a SET runs but its answer is replaced by an error, as when a
// connection drops after the server applied it.
type recordHook struct {
	seen    chan<- string
	failSet bool
}

func (recordHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h recordHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if cmd.Name() == "hello" || cmd.Name() == "client" {
			return err // a new connection's handshake
		}
		h.seen <- cmd.Name()
		if h.failSet && cmd.Name() == "set" {
			cmd.SetErr(errAnswerLost)
			return errAnswerLost
		}
		return err
	}
}

func (recordHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

var errAnswerLost = errorString("answer lost")

type errorString string

func (e errorString) Error() string { return string(e) }
