package rediscache

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	lockName    = "stschain:lock:" + cacheKey
	sessionName = "stschain:session:" + cacheKey
)

// fastLocks makes a waiter poll every few milliseconds.
func fastLocks(o *Options) { o.LockRetry = 2 * time.Millisecond; o.LockTTL = 80 * time.Millisecond }

// excluded asserts that c cannot take the lock of cacheKey.
func excluded(t *testing.T, c *Cache, msg string) {
	t.Helper()
	short, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := c.Lock(short, cacheKey)
	require.Error(t, err, msg)
	assert.ErrorIs(t, err, context.DeadlineExceeded, msg)
	assert.EqualError(t, err, "rediscache: locking "+lockName+": held by another; stopped waiting: context deadline exceeded", msg)
}

func TestLockExcludesAnotherHolder(t *testing.T) {
	m, rdb := newMiniredis(t)
	a := newTestCache(t, rdb)
	b := newTestCache(t, rdb, fastLocks) // another process
	ctx := t.Context()

	unlock, err := a.Lock(ctx, cacheKey)
	require.NoError(t, err)
	assert.Equal(t, DefaultLockTTL, m.TTL(lockName), "the lock has DefaultLockTTL")

	excluded(t, b, "A holds the lock")

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
	a := newTestCache(t, rdb, func(o *Options) { o.LockTTL = time.Hour; o.Logger = logger })
	b := newTestCache(t, rdb, fastLocks)
	ctx := t.Context()

	unlockA, err := a.Lock(ctx, cacheKey)
	require.NoError(t, err)
	tokenA, err := m.Get(lockName)
	require.NoError(t, err)

	m.FastForward(time.Hour) // A's lock expires: its keep-alive failed, or Redis evicted it
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
	assert.Contains(t, logs.String(), "rediscache: a lock was gone before its holder released it")
	assert.Contains(t, logs.String(), "key="+cacheKey)
	assert.NotContains(t, logs.String(), "LockTTL", "an evicted lock is no reason to raise LockTTL")

	unlockB()
	assert.False(t, m.Exists(lockName))
}

func TestLockHonoursContext(t *testing.T) {
	_, rdb := newMiniredis(t)
	c := newTestCache(t, rdb, func(o *Options) { o.LockRetry = time.Hour })
	unlock, err := c.Lock(t.Context(), cacheKey)
	require.NoError(t, err)
	defer unlock()

	// Cancelled while waiting: Lock returns though its next poll is an
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

// A waiter returns without the lock once the holder stored its result
// (a value other than the one its Load saw, whether the holder stored it
// before or after the waiter's first poll), and reads it from the
// primary.
func TestLockWaiterReturnsWhenTheResultIsStored(t *testing.T) {
	m, rdb := newMiniredis(t)
	a := newTestCache(t, rdb)
	b := newTestCache(t, rdb, func(o *Options) { o.LockRetry = time.Millisecond })
	ctx := t.Context()
	unlockA, err := a.Lock(ctx, cacheKey)
	require.NoError(t, err)
	defer unlockA()
	assert.True(t, a.readsPrimary(sessionName), "the holder's Load reads the primary")

	// B looks first, as a provider does, and finds nothing.
	_, ok, err := b.Load(ctx, cacheKey)
	require.NoError(t, err)
	require.False(t, ok)
	got := make(chan func(), 1)
	go func() {
		unlock, err := b.Lock(ctx, cacheKey)
		assert.NoError(t, err)
		got <- unlock
	}()
	require.NoError(t, a.Store(ctx, cacheKey, testEntry(time.Now().Add(time.Hour))))
	unlockB := <-got
	assert.True(t, m.Exists(lockName), "A still holds the lock")
	assert.True(t, b.readsPrimary(sessionName), "B's Load reads the primary, where the result is")
	_, ok, err = b.Load(ctx, cacheKey)
	require.NoError(t, err)
	assert.True(t, ok)
	unlockB()
	assert.False(t, b.readsPrimary(sessionName))
	assert.True(t, m.Exists(lockName), "B's unlock released nothing")
}

// Waiting costs a few commands, not a SET NX every few milliseconds: each
// poll is one pipeline of two scripts, and the pauses double.
func TestLockWaitCommands(t *testing.T) {
	m, rdb := newMiniredis(t)
	a := newTestCache(t, rdb)
	unlockA, err := a.Lock(t.Context(), cacheKey)
	require.NoError(t, err)
	defer unlockA()
	counted := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { _ = counted.Close() })
	var n countHook
	counted.AddHook(&n)
	b := newTestCache(t, counted, func(o *Options) { o.LockRetry = 10 * time.Millisecond })
	ctx, cancel := context.WithTimeout(t.Context(), 1500*time.Millisecond)
	defer cancel()
	_, err = b.Lock(ctx, cacheKey)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	t.Logf("%d pipelines of %d commands in 1.5 s of waiting", n.pipelines.Load(), n.commands.Load())
	// Pauses of 10, 20, 40 ... 640 ms, then 1 s (±50 %): about 8 polls;
	// a retry every 10 ms would be 150.
	assert.LessOrEqual(t, n.pipelines.Load(), int64(14))
	assert.GreaterOrEqual(t, n.pipelines.Load(), int64(4))
	assert.Equal(t, 2*n.pipelines.Load(), n.commands.Load(), "two scripts a poll, nothing else")
}

// countHook counts the commands a client sends, and its pipelines.
type countHook struct{ commands, pipelines atomic.Int64 }

func (*countHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() != "hello" && cmd.Name() != "client" {
			h.commands.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (h *countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		if len(cmds) > 0 && cmds[0].Name() == "eval" {
			h.pipelines.Add(1)
			h.commands.Add(int64(len(cmds)))
		}
		return err
	}
}

// A lock planted without a TTL (by hand, or by a process that crashed
// between SET and PEXPIRE) gets one at the first poll.
func TestLockPlantedWithoutTTLIsNotTrusted(t *testing.T) {
	m, rdb := newMiniredis(t)
	require.NoError(t, m.Set(lockName, "planted"))
	c := newTestCache(t, rdb, func(o *Options) { o.LockTTL = time.Second })
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := c.Lock(ctx, cacheKey)
	require.Error(t, err)
	assert.Equal(t, time.Second, m.TTL(lockName), "it expires after LockTTL now")
	m.FastForward(time.Second)
	unlock, err := c.Lock(t.Context(), cacheKey)
	require.NoError(t, err)
	unlock()
}

// A client that retries an attempt whose answer it lost (go-redis does on
// a broken connection) finds the lock its own, not another's.
func TestLockAttemptRetried(t *testing.T) {
	m, rdb := newMiniredis(t)
	c := newTestCache(t, rdb)
	store := lockStore{c}
	for i := range 2 {
		acquired, stamp, err := store.Poll(t.Context(), cacheKey, "token-1", time.Second)
		require.NoError(t, err)
		assert.True(t, acquired, "attempt %d", i)
		assert.Empty(t, stamp, "no session")
	}
	acquired, _, err := store.Poll(t.Context(), cacheKey, "token-2", time.Second)
	require.NoError(t, err)
	assert.False(t, acquired, "another token")
	got, err := m.Get(lockName)
	require.NoError(t, err)
	assert.Equal(t, "token-1", got)
}

func TestLockIsRenewed(t *testing.T) {
	m, rdb := newMiniredis(t)
	c := newTestCache(t, rdb, func(o *Options) { o.LockTTL = 150 * time.Millisecond })
	unlock, err := c.Lock(t.Context(), cacheKey)
	require.NoError(t, err)
	defer unlock()
	// miniredis counts TTLs down only when told: count the renewals.
	m.FastForward(100 * time.Millisecond)
	require.Less(t, m.TTL(lockName), 150*time.Millisecond)
	assert.Eventually(t, func() bool { return m.TTL(lockName) == 150*time.Millisecond }, 10*time.Second, time.Millisecond,
		"renewed to LockTTL every third of it")
}

func TestLockTakenAfterGivingUpIsReleased(t *testing.T) {
	m := miniredis.RunT(t)
	// A client that ignores contexts and whose commands reach Redis only
	// after release: the attempt of Lock is applied after Lock gave up.
	rdb, release := blockingClient(t, m.Addr(), false)
	seen := make(chan string, 16)
	rdb.AddHook(recordHook{seen: seen})
	c := newTestCache(t, rdb, func(o *Options) { o.Timeout = 20 * time.Millisecond })
	_, err := c.Lock(t.Context(), cacheKey)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.False(t, m.Exists(lockName), "the attempt has not reached Redis yet")

	close(release)
	assert.Equal(t, []string{"pipeline", "script"}, commands(t, seen, "script"), "the lock Lock gave up on is released")
	assert.False(t, m.Exists(lockName))
}

func TestLockErrorReleasesWhatItMayHaveTaken(t *testing.T) {
	m, _ := newMiniredis(t)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr(), MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	seen := make(chan string, 16)
	rdb.AddHook(recordHook{seen: seen, failPipeline: true})
	c := newTestCache(t, rdb)
	_, err := c.Lock(t.Context(), cacheKey)
	require.EqualError(t, err, "rediscache: locking "+lockName+": answer lost")
	assert.Equal(t, []string{"pipeline", "script"}, commands(t, seen, "script"), "an attempt whose answer was lost may have been applied: released")
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

// recordHook reports the name of each command after Redis ran it,
// "script" for a Lua script and "pipeline" for a pipeline; with failPipeline, a pipeline runs but its
// answer is replaced by an error, as when a connection drops after the
// server applied it.
type recordHook struct {
	seen         chan<- string
	failPipeline bool
}

func (recordHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h recordHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if cmd.Name() == "hello" || cmd.Name() == "client" {
			return err // a new connection's handshake
		}
		name := cmd.Name()
		switch {
		case name == "evalsha" && err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT"):
			return err // go-redis sends the script with EVAL next
		case name == "evalsha", name == "eval":
			name = "script"
		}
		h.seen <- name
		return err
	}
}

func (h recordHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		if len(cmds) == 0 || cmds[0].Name() != "eval" {
			return err // a new connection's handshake
		}
		h.seen <- "pipeline"
		if h.failPipeline {
			for _, cmd := range cmds {
				cmd.SetErr(errAnswerLost)
			}
			return errAnswerLost
		}
		return err
	}
}

var errAnswerLost = errorString("answer lost")

type errorString string

func (e errorString) Error() string { return string(e) }
