package stschain

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"golang.org/x/sync/singleflight"
)

// The refresh engine decides when credentials are refreshed, shares one
// refresh among all who need it and publishes the result. It knows nothing
// of STS: what it refreshes comes from its fetch function.

// Refresh tuning that is not worth an option.
const (
	// refreshTimeout bounds one refresh (MFA prompt and STS call), so that a
	// hung connection cannot stall a provider forever.
	refreshTimeout = 5 * time.Minute
	// minBackoff and maxBackoff bound the pause between attempts while
	// fetching fails and the current credentials are still valid.
	minBackoff = 100 * time.Millisecond
	maxBackoff = time.Minute
)

// backoff is the pause after the nth consecutive failure, when the current
// credentials stay valid for remaining.
func backoff(n int, remaining time.Duration) time.Duration {
	d := maxBackoff
	if n < 20 {
		d = min(minBackoff<<n, maxBackoff)
	}
	d = min(d, remaining/4)
	return max(d/2+randDuration(d/2), time.Millisecond)
}

// engineConfig is what an engine needs besides its fetcher. The providers
// of a Pool share one.
type engineConfig struct {
	windows windows
	logger  *slog.Logger       // never nil
	notify  func(RefreshEvent) // Options.OnRefresh; may be nil
	meters  *meters            // of Options.MeterProvider or PoolOptions.MeterProvider; nil: none
	// background runs background refreshes: a Pool's bounded workers; nil
	// runs each in a goroutine of its own.
	background interface{ run(func()) }
	// firstFetched, when not nil, is told of the credentials published
	// where there were none (s, fetched at fetchedAt and living life in
	// all), whose refresh it may bring forward with moveRefresh: a Pool
	// spreads the first refreshes of providers made together.
	firstFetched func(r *refresher, s *snapshot, fetchedAt time.Time, life time.Duration)
}

// Bits of refresher.use.
const (
	// handedOut: Retrieve handed out the current credentials since they
	// were published; the timer refreshes ahead only then, so that a
	// provider nobody uses stops calling STS.
	handedOut uint32 = 1 << iota
	// asked: Retrieve was called since a Pool last looked, to tell idle
	// providers.
	asked
	// unfetched: a Pool counts the provider in its cold start until it
	// has fetched credentials (see coldStart).
	unfetched
)

// refresher is the refresh engine of one provider.
type refresher struct {
	// Set when the provider is made, read-only afterwards.
	name    string // the link, for events
	fetcher fetcher
	cfg     *engineConfig

	// state is the current snapshot; nil when there is none. Read
	// lock-free; written under mu.
	state atomic.Pointer[snapshot]
	// mu orders writes of state, epoch and timer. It is held only for
	// those writes, never during a fetch or a callback.
	mu sync.Mutex
	// epoch counts Invalidate calls; written under mu. A flight belongs to
	// the epoch it started in and publishes nothing once that has passed,
	// so no flight can bring back invalidated credentials, and callers
	// after an Invalidate never join a flight from before it.
	epoch atomic.Uint64
	// timer starts the background refresh at the prefetch point of
	// credentials that were handed out, so that a provider whose callers
	// are behind another cache (aws.CredentialsCache, which asks only at
	// expiry) still refreshes ahead. Guarded by mu; nil until first armed.
	timer *time.Timer

	// flights makes the refreshes of one epoch share one fetch.
	flights singleflight.Group
	// background is true while a background refresh goroutine exists.
	background atomic.Bool
	// waiting counts callers waiting for a flight, so that a refresh can
	// tell whether anyone waited for it.
	waiting atomic.Int32
	// use holds the handedOut and asked bits, set by Retrieve.
	use atomic.Uint32
	// skipCache holds from Invalidate, whose caller has seen the current
	// credentials rejected, until a refresh succeeds: the shared cache
	// could hand the rejected ones back.
	skipCache atomic.Bool
}

// retrieve is Retrieve: current credentials at once while they are fresh
// or stale (starting a background refresh when one is due), a shared
// refresh otherwise.
func (r *refresher) retrieve(ctx context.Context) (aws.Credentials, error) {
	s := r.state.Load()
	now := time.Now()
	switch s.state(now) {
	case fresh:
		r.markHandedOut()
		return s.creds, nil
	case stale:
		if s.retryDue(now) && !r.background.Load() {
			r.refreshInBackground()
		}
		r.markHandedOut()
		return s.creds, nil
	}
	creds, err := r.wait(ctx, false)
	if err == nil {
		r.markHandedOut()
	}
	return creds, err
}

// markHandedOut records that the current credentials were handed out:
// one atomic load once the bits are set.
func (r *refresher) markHandedOut() {
	if r.use.Load()&(handedOut|asked) != handedOut|asked {
		r.use.Or(handedOut | asked)
	}
}

// invalidate drops the current credentials and starts a new epoch.
func (r *refresher) invalidate() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.epoch.Add(1)
	r.skipCache.Store(true)
	r.state.Store(nil)
	if r.timer != nil {
		r.timer.Stop()
	}
}

// stop stops the timer: the provider refreshes only when asked from now on.
func (r *refresher) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.timer != nil {
		r.timer.Stop()
	}
}

// outcome is what a refresh flight hands its callers: the credentials to
// use, and the failure of the attempt when it kept the current ones.
type outcome struct {
	creds  aws.Credentials
	failed error
}

func flightKey(epoch uint64) string { return strconv.FormatUint(epoch, 10) }

// wait joins (or starts) the refresh flight of the current epoch and waits
// for it or ctx. force makes a flight it starts skip the freshness check and
// the cache lookup, and returns the flight's failure even when it kept the
// current credentials.
func (r *refresher) wait(ctx context.Context, force bool) (aws.Credentials, error) {
	r.waiting.Add(1)
	defer r.waiting.Add(-1)
	epoch := r.epoch.Load()
	ch := r.flights.DoChan(flightKey(epoch), func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), refreshTimeout)
		defer cancel()
		return r.refresh(fctx, epoch, force)
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return aws.Credentials{}, res.Err
		}
		out := res.Val.(outcome)
		if force && out.failed != nil {
			return aws.Credentials{}, out.failed
		}
		return out.creds, nil
	case <-ctx.Done():
		return aws.Credentials{}, newError(r.name, OpWait, ctx.Err())
	}
}

// refreshInBackground starts a refresh that no caller waits for, unless one
// is already running.
func (r *refresher) refreshInBackground() {
	if !r.background.CompareAndSwap(false, true) {
		return
	}
	epoch := r.epoch.Load()
	run := func() {
		defer r.background.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), refreshTimeout)
		defer cancel()
		_, _, _ = r.flights.Do(flightKey(epoch), func() (any, error) {
			return r.refresh(ctx, epoch, false)
		})
	}
	if b := r.cfg.background; b != nil {
		b.run(run)
		return
	}
	go run()
}

// onTimer is the timer's refresh ahead: a background refresh if the
// current credentials were handed out and a refresh is due.
func (r *refresher) onTimer() {
	s := r.state.Load()
	now := time.Now()
	switch s.state(now) {
	case stale, expiring:
		if r.use.Load()&handedOut != 0 && s.retryDue(now) {
			r.refreshInBackground()
		}
	}
}

// refresh runs inside a flight of epoch: it fetches new credentials unless
// another flight has just done so, and publishes what it got.
func (r *refresher) refresh(ctx context.Context, epoch uint64, force bool) (any, error) {
	start := time.Now()
	cur := r.state.Load()
	if !force {
		// Another flight may have refreshed, or failed, since the caller
		// looked.
		switch st := cur.state(start); {
		case st == fresh:
			return outcome{creds: cur.creds}, nil
		case st != invalid && cur.failures > 0 && !cur.retryDue(start):
			return outcome{creds: cur.creds}, nil
		}
	}

	req := fetchRequest{skipCache: force || r.skipCache.Load(), waited: r.waiting.Load() > 0}
	if cur != nil {
		req.current = cur.creds
	}
	got, err := r.fetcher.fetch(ctx, req)
	end := time.Now()
	ev := RefreshEvent{Link: r.name, Latency: end.Sub(start), Background: r.waiting.Load() == 0}
	if err != nil {
		ev.Err = err
		if cur.state(end) != invalid {
			next := *cur
			next.failures++
			next.retryAt = end.Add(backoff(next.failures, cur.creds.Expires.Sub(end)))
			ev.Outcome, ev.Expires = RefreshFailedKept, cur.creds.Expires
			r.report(ev)
			r.publish(epoch, cur, &next)
			return outcome{creds: cur.creds, failed: err}, nil
		}
		ev.Outcome = RefreshFailed
		r.report(ev)
		return nil, err
	}

	ev.Outcome, ev.Expires = RefreshOK, got.creds.Expires
	if got.fromCache {
		ev.Outcome = RefreshFromCache
	}
	next := r.cfg.windows.schedule(got.creds, got.life, true)
	// Credentials that reach us already due (a clock ahead of STS's) are
	// used for a moment rather than refreshed on every Retrieve.
	if soon := end.Add(minBackoff); next.waitAt.Before(soon) {
		next.prefetchAt, next.waitAt = soon, soon
	}
	// Report before publishing, so that whoever sees the new credentials
	// can count on the event having been delivered.
	r.report(ev)
	if r.publish(epoch, nil, next) {
		r.skipCache.Store(false)
		if cur == nil && r.cfg.firstFetched != nil && got.creds.CanExpire {
			r.cfg.firstFetched(r, next, end, got.life)
		}
	}
	return outcome{creds: got.creds}, nil
}

// publish makes next the current state and arms the timer for it, unless
// epoch has passed or, with expect set, the state is no longer expect. It
// reports whether next was published.
func (r *refresher) publish(epoch uint64, expect, next *snapshot) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.epoch.Load() != epoch || (expect != nil && r.state.Load() != expect) {
		return false
	}
	r.state.Store(next)
	if expect == nil {
		r.use.And(^handedOut)
	}
	r.armTimer(next)
	return true
}

// moveRefresh brings the prefetch point of s forward to at, and the timer
// with it, unless s is no longer the current state or at is not earlier.
func (r *refresher) moveRefresh(s *snapshot, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.state.Load() != s || !at.Before(s.prefetchAt) {
		return
	}
	next := *s
	next.prefetchAt = at
	r.state.Store(&next)
	r.armTimer(&next)
}

// armTimer sets the timer to the moment a background refresh of s becomes
// due: its prefetch point, or its retry time after a failure. Without
// prefetch there is no timer: callers wait at the expiry window, as asked.
// Called with mu held.
func (r *refresher) armTimer(s *snapshot) {
	if r.cfg.windows.prefetch == 0 || !s.creds.CanExpire {
		return
	}
	at := s.prefetchAt
	if s.failures > 0 {
		at = s.retryAt
	}
	d := time.Until(at)
	if r.timer == nil {
		r.timer = time.AfterFunc(d, r.onTimer)
		return
	}
	r.timer.Reset(d)
}

// report logs ev and hands it to Options.OnRefresh.
func (r *refresher) report(ev RefreshEvent) {
	attrs := []any{
		slog.String("link", ev.Link),
		slog.String("outcome", string(ev.Outcome)),
		slog.Duration("latency", ev.Latency),
		slog.Bool("background", ev.Background),
	}
	if !ev.Expires.IsZero() {
		attrs = append(attrs, slog.Time("expires", ev.Expires))
	}
	level, msg := slog.LevelInfo, "stschain: refreshed credentials"
	if ev.Err != nil {
		attrs = append(attrs, slog.String("error", messageOf(ev.Err)))
		level, msg = slog.LevelError, "stschain: refresh failed"
		if ev.Outcome == RefreshFailedKept {
			level, msg = slog.LevelWarn, "stschain: refresh failed, keeping current credentials until they expire"
		}
	}
	r.cfg.logger.Log(context.Background(), level, msg, attrs...)
	r.cfg.meters.record(ev)
	if r.cfg.notify != nil {
		r.cfg.notify(ev)
	}
}
