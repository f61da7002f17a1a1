package sharedcache

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"sync"
	"time"
)

// Defaults of [LockOptions].
const (
	// DefaultLockTTL is how long a lock outlives a holder that stopped
	// keeping it alive (it crashed, or lost the store): about one refresh,
	// an STS call with its retries. A live holder keeps its lock alive for
	// as long as its refresh takes, up to MaxHold.
	DefaultLockTTL = 10 * time.Second
	// DefaultTimeout bounds each store call.
	DefaultTimeout = time.Second
	// DefaultLockRetry is the first pause between two polls of a waiter;
	// each pause doubles, up to a second.
	DefaultLockRetry = 50 * time.Millisecond
	// MaxHold is the longest a holder keeps its lock alive: as long as the
	// longest refresh of a [stschain.ChainableProvider] (an MFA prompt and
	// an STS call). A lock whose holder never releases it then expires
	// after its TTL.
	MaxHold = 5 * time.Minute
)

// Tuning of the wait.
const (
	// maxPause bounds the pause between two polls.
	maxPause = time.Second
	// maxPollFailures is how many polls in a row may fail before a waiter
	// stops waiting: the store is failing, and the holder cannot store
	// its result there either.
	maxPollFailures = 2
	// firstReleasePause is the pause before the first retry of a release.
	firstReleasePause = 10 * time.Millisecond
)

// LockStore is what a shared store provides for a [Locker]: three atomic
// operations on the lock of a key, each run with a context that ends after
// the Locker's timeout. A lock holds a token; only the holder knows it.
type LockStore interface {
	// Poll makes one attempt to take the lock of key: if no lock is held,
	// it takes it for token, to expire after ttl, and reports acquired; if
	// token holds it already (a client retried the attempt), it reports
	// acquired too.
	// If a lock is held with no expiry, or with one further than ttl from
	// now, Poll makes it expire after ttl, so that a lock planted without
	// a time to live, or by a process with a longer one, is trusted for
	// no longer. Poll also returns the [Stamp] of the value stored under
	// key, read from the store's primary copy (not from a replica that may
	// lag), or "" when there is none.
	Poll(ctx context.Context, key, token string, ttl time.Duration) (acquired bool, stamp string, err error)
	// Extend makes the lock of key expire after ttl from now, if token
	// holds it, and reports whether it did.
	Extend(ctx context.Context, key, token string, ttl time.Duration) (held bool, err error)
	// Release deletes the lock of key if token holds it, and reports
	// whether it did.
	Release(ctx context.Context, key, token string) (held bool, err error)
}

// LockOptions configures a [Locker]. The zero value of every field is valid
// and means the default its comment gives.
type LockOptions struct {
	// TTL is how long a lock lives unless its holder keeps it alive, so
	// that a crashed holder blocks the others for at most this long.
	// Optional: zero means DefaultLockTTL. At least a millisecond
	// otherwise; a holder renews its lock every third of it.
	TTL time.Duration
	// Timeout bounds each store call. Optional: zero means
	// DefaultTimeout.
	Timeout time.Duration
	// Retry is the first pause between two polls of a waiter. Optional:
	// zero means DefaultLockRetry.
	Retry time.Duration
	// Name starts every message the Locker logs, such as "rediscache".
	// Optional: empty means "sharedcache".
	Name string
	// Logger receives a warning when a release fails or finds the lock
	// gone, and when a keep-alive stops before the release. It never sees
	// a secret. Optional: nil means silent.
	Logger *slog.Logger
	// Metrics records each Lock's wait and each stranded lock. Optional:
	// nil means none.
	Metrics *Metrics
	// Permanent reports whether a store error would come again if the
	// call were retried (a permission denied, say), so that a release is
	// not retried in vain. Optional: nil means every error may pass.
	Permanent func(error) bool
}

// Locker runs a lock protocol over a [LockStore] that cannot strand a
// fleet: of many processes due to refresh the same key, one takes the
// lock, refreshes and stores its result, and the others wait for that
// result without ever waiting longer than the lock is trusted.
//
//   - Taking: one Poll; a lock planted without a time to live gets one.
//   - Waiting is on the value, not on the lock: each Poll reads the stamp
//     of the value stored under the key, and Lock returns without the lock
//     once it differs from the one the caller last read, since the
//     holder's result is there to read. Polls back off from LockOptions.Retry to a second,
//     and each waits for the previous one's answer, so a waiter has one
//     store call in flight at most. A Poll that finds the lock free takes
//     it.
//   - Bounds: a waiter stops waiting when its context ends (give it one
//     that ends when its own credentials reach their expiry window), or
//     when polls fail twice in a row: it then gets an error and goes on
//     without the lock. A lock lives LockOptions.TTL unless its holder,
//     alive, keeps it alive.
//   - Holding: the holder renews its lock every third of the TTL until it
//     releases it, for at most [MaxHold], so that a refresh with an MFA
//     prompt keeps its lock while a crashed holder's lock expires.
//   - Releasing is token-checked (a holder whose lock expired and was taken
//     by another releases nothing), and retried for up to
//     LockOptions.Timeout unless the error is permanent; a release that
//     still fails is logged and counted as stranded, and the lock then
//     expires after its TTL.
//
// A Locker is safe for concurrent use. Create one with [NewLocker].
type Locker struct {
	// All fields are set by NewLocker and read-only afterwards.
	store     LockStore
	ttl       time.Duration
	timeout   time.Duration
	retry     time.Duration
	maxPause  time.Duration
	name      string
	logger    *slog.Logger // never nil
	metrics   *Metrics
	permanent func(error) bool // never nil

	mu sync.Mutex
	// seen holds, per key, the stamp of the value the last read of the
	// key returned ("" for none), until a Lock of the key takes it.
	// Guarded by mu.
	seen map[string]string
}

// maxSeen bounds Locker.seen; beyond it, the stamps are forgotten.
const maxSeen = 4096

// NewLocker returns a Locker over store.
func NewLocker(store LockStore, o LockOptions) (*Locker, error) {
	var errs []error
	if store == nil {
		errs = append(errs, errors.New("the LockStore is nil"))
	}
	if o.TTL < 0 || (o.TTL > 0 && o.TTL < time.Millisecond) {
		errs = append(errs, fmt.Errorf("option TTL %v is out of range; want 0 (default %v) or at least 1ms", o.TTL, DefaultLockTTL))
	}
	if o.Timeout < 0 {
		errs = append(errs, fmt.Errorf("option Timeout %v is negative; want 0 (default %v) or more", o.Timeout, DefaultTimeout))
	}
	if o.Retry < 0 {
		errs = append(errs, fmt.Errorf("option Retry %v is negative; want 0 (default %v) or more", o.Retry, DefaultLockRetry))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	l := &Locker{store: store, ttl: o.TTL, timeout: o.Timeout, retry: o.Retry, name: o.Name, logger: o.Logger, metrics: o.Metrics, permanent: o.Permanent,
		seen: make(map[string]string)}
	if l.permanent == nil {
		l.permanent = func(error) bool { return false }
	}
	if l.ttl == 0 {
		l.ttl = DefaultLockTTL
	}
	if l.timeout == 0 {
		l.timeout = DefaultTimeout
	}
	if l.retry == 0 {
		l.retry = DefaultLockRetry
	}
	l.maxPause = max(min(maxPause, l.ttl/8), l.retry)
	if l.name == "" {
		l.name = "sharedcache"
	}
	if l.logger == nil {
		l.logger = slog.New(slog.DiscardHandler)
	}
	return l, nil
}

// TTL returns the lock's time to live.
func (l *Locker) TTL() time.Duration { return l.ttl }

// Saw records the stamp of the value a read of key returned ("" when it
// found none; see [Stamp]): the next Lock of key waits for another. A
// store's Load calls it, so that a Lock right after a Load that found
// nothing, or an old session, returns at once when another process
// stored a new one in between.
func (l *Locker) Saw(key, stamp string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.seen) >= maxSeen {
		clear(l.seen)
	}
	l.seen[key] = stamp
}

// lastSeen returns and forgets the stamp Saw recorded for key.
func (l *Locker) lastSeen(key string) (stamp string, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	stamp, ok = l.seen[key]
	delete(l.seen, key)
	return stamp, ok
}

// Lock takes the lock of key, or waits until the holder stored its result
// under key (see [Locker]), and returns the function that releases the
// lock: after the wait, a function that does nothing. Call it once the
// result is stored (or the refresh failed); calling it again does nothing.
// "Stored" means a stamp other than the one of the caller's last read of
// key (see [Locker.Saw]), or, without one, other than the first poll's.
//
// Lock returns an error at once when the store fails on the first poll,
// or when ctx has ended; while waiting, when ctx ends or two polls in a
// row fail. The caller then goes on without the lock. An attempt whose
// answer is lost, or comes after Lock stopped waiting for it, has its lock
// released, if it took one, so that nobody waits for a lock no one holds.
func (l *Locker) Lock(ctx context.Context, key string) (unlock func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	start := time.Now()
	token := rand.Text()
	baseline, known := l.lastSeen(key)
	failures := 0
	pause := l.retry
	for polls := 0; ; polls++ {
		acquired, stamp, err := l.poll(ctx, key, token)
		switch {
		case err != nil && polls == 0:
			l.metrics.LockWait(ctx, time.Since(start), LockFailed)
			return nil, err
		case err != nil:
			if failures++; failures >= maxPollFailures || ctx.Err() != nil {
				return nil, l.giveUp(ctx, start, err)
			}
		case acquired:
			l.metrics.LockWait(ctx, time.Since(start), LockAcquired)
			return l.hold(ctx, key, token), nil
		case polls == 0 && !known:
			baseline = stamp
		case stamp != "" && stamp != baseline:
			l.metrics.LockWait(ctx, time.Since(start), LockStored)
			return func() {}, nil
		default:
			failures = 0
		}
		wait := time.NewTimer(pause/2 + randDuration(pause))
		select {
		case <-wait.C:
		case <-ctx.Done():
			wait.Stop()
			return nil, l.giveUp(ctx, start, ctx.Err())
		}
		pause = min(2*pause, l.maxPause)
	}
}

// giveUp ends a wait for a held lock.
func (l *Locker) giveUp(ctx context.Context, start time.Time, cause error) error {
	ctx = context.WithoutCancel(ctx)
	l.metrics.LockWait(ctx, time.Since(start), LockAbandoned)
	l.metrics.Stranded(ctx, StrandedWait)
	return fmt.Errorf("held by another; stopped waiting: %w", cause)
}

// poll makes one Poll, bounded by the timeout.
func (l *Locker) poll(ctx context.Context, key, token string) (acquired bool, stamp string, err error) {
	type polled struct {
		acquired bool
		stamp    string
	}
	p, err := Call(ctx, l.timeout, func(ctx context.Context) (polled, error) {
		acquired, stamp, err := l.store.Poll(ctx, key, token, l.ttl)
		if err != nil {
			// The attempt may have taken the lock, its answer lost.
			l.releaseOnce(context.WithoutCancel(ctx), key, token)
		}
		return polled{acquired, stamp}, err
	}, func(p polled, _ error) {
		if p.acquired { // taken after Lock gave up on the attempt
			l.releaseOnce(context.WithoutCancel(ctx), key, token)
		}
	})
	return p.acquired, p.stamp, err
}

// releaseOnce releases a lock Lock may have taken without knowing it.
func (l *Locker) releaseOnce(ctx context.Context, key, token string) {
	_, _ = Call(ctx, l.timeout, func(ctx context.Context) (bool, error) { return l.store.Release(ctx, key, token) }, nil)
}

// hold keeps the lock of key alive until the returned function releases it.
func (l *Locker) hold(ctx context.Context, key, token string) func() {
	kctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go l.keepAlive(kctx, key, token, done)
	var once sync.Once
	return func() {
		once.Do(func() {
			stop()
			<-done
			l.release(context.WithoutCancel(ctx), key, token)
		})
	}
}

// keepAlive renews the lock every third of its TTL until ctx ends (the
// holder releases it), for at most MaxHold.
func (l *Locker) keepAlive(ctx context.Context, key, token string, done chan<- struct{}) {
	defer close(done)
	defer func() {
		if p := recover(); p != nil {
			l.logger.Warn(l.name+": keeping a lock alive failed; it expires by itself", slog.String("key", key), slog.Any("panic", p))
		}
	}()
	tick := time.NewTicker(l.ttl / 3)
	defer tick.Stop()
	limit := time.NewTimer(MaxHold)
	defer limit.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-limit.C:
			l.logger.Warn(l.name+": a lock was held longer than a refresh can take; it is no longer kept alive and expires by itself",
				slog.String("key", key), slog.Duration("held", MaxHold), slog.Duration("ttl", l.ttl))
			return
		case <-tick.C:
		}
		held, err := Call(ctx, l.timeout, func(ctx context.Context) (bool, error) { return l.store.Extend(ctx, key, token, l.ttl) }, nil)
		if ctx.Err() != nil {
			return
		}
		if err == nil && !held {
			l.warnGone(key)
			return
		}
		// A failed renewal is tried again at the next tick: the lock
		// lives a TTL from the last one that succeeded.
	}
}

// release deletes the lock if token still holds it, trying again for up to
// the timeout unless the error is permanent.
func (l *Locker) release(ctx context.Context, key, token string) {
	deadline := time.Now().Add(l.timeout)
	pause := firstReleasePause
	for {
		held, err := Call(ctx, max(time.Until(deadline), time.Millisecond), func(ctx context.Context) (bool, error) {
			return l.store.Release(ctx, key, token)
		}, nil)
		switch {
		case err == nil && !held:
			l.warnGone(key)
			return
		case err == nil:
			return
		case l.permanent(err), time.Until(deadline) <= pause:
			l.logger.Warn(l.name+": releasing a lock failed; it expires by itself", slog.String("key", key),
				slog.Duration("ttl", l.ttl), slog.Any("error", err))
			l.metrics.Stranded(ctx, StrandedRelease)
			return
		}
		time.Sleep(pause)
		pause *= 2
	}
}

// warnGone says that a holder found its lock gone.
func (l *Locker) warnGone(key string) {
	l.logger.Warn(l.name+": a lock was gone before its holder released it (renewals failed for longer than its TTL, or the store evicted it), so another process may have refreshed too",
		slog.String("key", key), slog.Duration("ttl", l.ttl))
}

func randDuration(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return mrand.N(d)
}
