package stschain

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// The refresh engine decides when credentials are refreshed, shares one
// refresh among all who need it and publishes the result. It knows nothing
// of STS: what it refreshes comes from its fetcher.

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
	// firstFetched, when not nil, is told of a provider's first
	// credentials (s, fetched at fetchedAt and living life in all), whose
	// refresh it may bring forward with moveRefresh: a Pool spreads the
	// first refreshes of providers made together from the end of their
	// cold start. Without it, the engine spreads a first refresh from
	// the provider's own fetch.
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
	// mu orders writes of state, flight and timer. It is held only for
	// those writes, never during a fetch or a callback.
	mu sync.Mutex
	// flight is the refresh under way, which every caller that needs one
	// joins; nil when none is. Guarded by mu. Each attempt has a deadline
	// (attemptTimeout), so a hung one ends and the next can start.
	// It is not a singleflight.Group because whether a flight is under
	// way must be read under the same lock as state and timer: Invalidate
	// and the prefetch timer decide on both at once.
	flight *flight
	// timer starts the background refresh at the prefetch point of
	// credentials that were handed out, so that a provider whose callers
	// are behind another cache (aws.CredentialsCache, which asks only at
	// expiry) still refreshes ahead. Guarded by mu; nil until first armed.
	timer *time.Timer

	// background is true while a background refresh is queued or runs.
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
	// fetchedOnce is set by the first refresh that succeeds, whose refresh
	// point is spread.
	fetchedOnce atomic.Bool
}

// flight is one refresh attempt and its outcome.
type flight struct {
	done chan struct{} // closed when the attempt has ended
	out  outcome       // written before done is closed
	err  error         // likewise
}

// outcome is what a refresh flight hands its callers: the credentials to
// use, and the failure of the attempt when it kept the current ones.
type outcome struct {
	creds  aws.Credentials
	failed error
}

// retrieve is Retrieve: current credentials at once while they are fresh
// or stale (starting a background refresh when one is due), a shared
// refresh otherwise, or at once the last failure while no valid
// credentials are left and the next attempt is not due.
func (r *refresher) retrieve(ctx context.Context) (aws.Credentials, error) {
	s := r.state.Load()
	// The moments of s have no monotonic reading, so that comparing now
	// with them uses the wall clock; now keeps its own, which costs
	// nothing to compare and is never kept.
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
	case invalid:
		if err := s.paused(now); err != nil {
			return aws.Credentials{}, err
		}
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

// invalidate drops the current credentials, so that the next Retrieve
// waits for new ones, unless there are none to drop: then a refresh is
// due or under way, and serves this call too, so that many invalidations
// cost one refresh. rejected, when not empty, is the access key ID of the
// credentials the caller saw refused: current ones with another key were
// fetched since, and are kept.
func (r *refresher) invalidate(rejected string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.state.Load()
	if s == nil || s.creds.AccessKeyID == "" || (rejected != "" && s.creds.AccessKeyID != rejected) {
		return
	}
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

// wait joins (or starts) the refresh flight and waits for it or ctx.
// force makes a flight it starts skip the freshness check, the retry
// pause and the cache lookup, and returns the flight's failure even when
// it kept the current credentials.
func (r *refresher) wait(ctx context.Context, force bool) (aws.Credentials, error) {
	r.waiting.Add(1)
	defer r.waiting.Add(-1)
	f, started := r.takeFlight()
	if started {
		go r.fly(context.WithoutCancel(ctx), f, force)
	}
	select {
	case <-f.done:
		if f.err != nil {
			return aws.Credentials{}, f.err
		}
		if force && f.out.failed != nil {
			return aws.Credentials{}, f.out.failed
		}
		return f.out.creds, nil
	case <-ctx.Done():
		return aws.Credentials{}, newError(r.name, OpWait, ctx.Err())
	}
}

// takeFlight returns the flight under way, or a new one that the caller
// must fly (started).
func (r *refresher) takeFlight() (f *flight, started bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.flight != nil {
		return r.flight, false
	}
	r.flight = &flight{done: make(chan struct{})}
	return r.flight, true
}

// fly runs the refresh of f on ctx and hands its outcome to f's callers.
func (r *refresher) fly(ctx context.Context, f *flight, force bool) {
	out, err := r.refresh(ctx, force)
	f.out, f.err = out, err
	r.mu.Lock()
	r.flight = nil
	r.mu.Unlock()
	close(f.done)
}

// refreshInBackground starts a refresh that no caller waits for, unless one
// is already queued or under way.
func (r *refresher) refreshInBackground() {
	if !r.background.CompareAndSwap(false, true) {
		return
	}
	run := func() {
		defer r.background.Store(false)
		if f, started := r.takeFlight(); started {
			r.fly(context.Background(), f, false)
		}
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
	now := wallNow()
	switch s.state(now) {
	case stale, expiring:
		if r.use.Load()&handedOut != 0 && s.retryDue(now) {
			r.refreshInBackground()
		}
	}
}

// refresh is a flight's attempt: it fetches new credentials, unless
// another flight has just done so or failed, within the attempt's
// deadline, and publishes what it got.
func (r *refresher) refresh(ctx context.Context, force bool) (outcome, error) {
	began := time.Now() // with the monotonic reading, for the latency
	start := began.Round(0)
	cur := r.state.Load()
	if !force {
		// Another flight may have refreshed, or failed, since the caller
		// looked.
		switch st := cur.state(start); {
		case st == fresh:
			return outcome{creds: cur.creds}, nil
		case st != invalid && cur.failures > 0 && !cur.retryDue(start):
			return outcome{creds: cur.creds}, nil
		case st == invalid && cur.paused(start) != nil:
			return outcome{}, cur.failed
		}
	}

	ctx, cancel := context.WithTimeout(ctx, cur.attemptTimeout(start, r.fetcher.interactive()))
	defer cancel()
	req := fetchRequest{skipCache: force || r.skipCache.Load(), waited: r.waiting.Load() > 0}
	if cur != nil {
		req.current, req.windowAt = cur.creds, cur.waitAt
	}
	got, err := r.fetcher.fetch(ctx, req)
	end := wallNow()
	ev := RefreshEvent{Link: r.name, Latency: time.Since(began), Background: r.waiting.Load() == 0}
	if err != nil {
		ev.Err = err
		kept, ok := r.failed(end, err)
		ev.Outcome = RefreshFailed
		if ok {
			ev.Outcome, ev.Expires = RefreshFailedKept, kept.Expires
		}
		r.report(ev)
		if !ok {
			return outcome{}, err
		}
		return outcome{creds: kept, failed: err}, nil
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
	first := got.creds.CanExpire && !r.fetchedOnce.Load()
	if first && r.cfg.firstFetched == nil && r.cfg.windows.jitter && !r.fetcher.interactive() {
		// Providers started together, in one process or across a fleet,
		// would refresh together for ever after: spread the first
		// refresh over the first session. (Not for a link that prompts:
		// a person would be asked early.)
		if from := end.Add(firstShare(got.life)); from.Before(next.prefetchAt) {
			next.prefetchAt = spreadPoint(from, next.prefetchAt, r.phase())
		}
	}
	// Report before publishing, so that whoever sees the new credentials
	// can count on the event having been delivered.
	r.report(ev)
	r.publish(next)
	r.skipCache.Store(false)
	r.fetchedOnce.Store(true)
	if first && r.cfg.firstFetched != nil {
		r.cfg.firstFetched(r, next, end, got.life)
	}
	return outcome{creds: next.creds}, nil
}

// phase places the provider's first refresh in the span it is spread
// over: where every process sharing its sessions places it, or at random.
func (r *refresher) phase() float64 {
	if f, shared := r.fetcher.phase(); shared {
		return f
	}
	return rand.Float64()
}

// failed publishes the state after an attempt failed with err at now,
// and returns the credentials callers keep; ok false: none are valid, and
// the failure is theirs. The failure counts against the current state,
// which only Invalidate (dropping it) and moveRefresh (moving its
// refresh) can have changed since the attempt began: no other flight
// publishes meanwhile.
func (r *refresher) failed(now time.Time, err error) (kept aws.Credentials, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	next := r.state.Load().failedAt(now, err)
	r.state.Store(next)
	r.armTimer(next)
	if next.state(now) == invalid {
		return aws.Credentials{}, false
	}
	return next.creds, true
}

// publish makes next, new credentials, the current state and arms the
// timer for it.
func (r *refresher) publish(next *snapshot) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.state.Store(next)
	r.use.And(^handedOut)
	r.armTimer(next)
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
	next.prefetchAt = at.Round(0)
	r.state.Store(&next)
	r.armTimer(&next)
}

// armTimer sets the timer to the moment a background refresh of s becomes
// due: its prefetch point, or its retry time after a failure. Without
// prefetch there is no timer: callers wait at the expiry window, as asked.
// Called with mu held.
func (r *refresher) armTimer(s *snapshot) {
	if r.cfg.windows.prefetch < 0 || !s.creds.CanExpire {
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
