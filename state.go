package stschain

import (
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// The state of cached credentials: the windows that schedule their
// refresh, what the moment makes of them, how long an attempt to replace
// them may take and when to try again after one failed. The refresh
// engine and a link judging a cache entry both switch on it.
//
// Every moment here is on the wall clock (see wallNow): credentials expire
// at a wall-clock time, and the monotonic clock stops while a machine
// sleeps, so a moment kept with a monotonic reading would be compared on
// the wrong clock after a suspend.

// wallNow is the time now on the wall clock alone: time.Now without its
// monotonic reading.
func wallNow() time.Time { return time.Now().Round(0) }

// The advisory windows of the 2026 cross-SDK refresh rules, used when
// Options.PrefetchWindow is zero: chosen from the lifetime of each new
// set of credentials.
const (
	// advisoryShort is the window of credentials that live up to
	// advisoryShortLife.
	advisoryShort     = 5 * time.Minute
	advisoryShortLife = 20 * time.Minute
	// advisoryMedium is the window of credentials that live less than
	// advisoryLongLife.
	advisoryMedium   = 15 * time.Minute
	advisoryLongLife = 90 * time.Minute
	// advisoryLong is the window of credentials that live longer.
	advisoryLong = 60 * time.Minute
)

// advisoryWindow is the advisory window of credentials that live for
// life in all.
func advisoryWindow(life time.Duration) time.Duration {
	switch {
	case life <= advisoryShortLife:
		return advisoryShort
	case life < advisoryLongLife:
		return advisoryMedium
	}
	return advisoryLong
}

// shortLifetimeFactor: a credential living less than this many times the
// largest window gets its windows shrunk in proportion.
const shortLifetimeFactor = 3

// Attempts and retries: tuning that is not worth an option.
const (
	// An attempt to refresh valid credentials may take a quarter of the
	// time they have left, but no less than minAttemptTimeout (an STS call
	// and the SDK's retries) and no more than maxAttemptTimeout, so that a
	// hung connection costs a small part of the window it runs in and the
	// next attempt comes in time. An attempt with no valid credentials
	// left may take maxAttemptTimeout.
	minAttemptTimeout = 10 * time.Second
	maxAttemptTimeout = time.Minute
	// promptAttemptTimeout bounds an attempt that may ask a person for an
	// MFA code, the one long case: half the time the credentials have
	// left, at least maxAttemptTimeout.
	promptAttemptTimeout = 5 * time.Minute

	// After a failed refresh inside the advisory window, the next attempt
	// waits between failedRetryMin and failedRetryMax (the 2026 rules),
	// and never past the mandatory (expiry) window.
	failedRetryMin = 5 * time.Minute
	failedRetryMax = 10 * time.Minute

	// minBackoff and maxBackoff bound the pause between attempts inside
	// the expiry window, and once no valid credentials are left.
	minBackoff = 100 * time.Millisecond
	maxBackoff = time.Minute
)

// tokenState classifies cached credentials at a moment. Every decision of
// the engine (and the cache check of a link) switches on it.
type tokenState int

const (
	// invalid: there are no credentials, or they have expired. Callers wait
	// for a refresh, and its failure is theirs.
	invalid tokenState = iota
	// fresh: before the prefetch point. Callers take them as they are.
	fresh
	// stale: inside the prefetch window, or after a failed refresh while
	// they are still valid. Callers take them, and a background refresh
	// starts when one is due.
	stale
	// expiring: inside the expiry window. Callers wait for a refresh, but
	// keep these if it fails.
	expiring
)

// snapshot is an immutable set of credentials and their schedule, or the
// failure of a refresh that left none.
type snapshot struct {
	creds      aws.Credentials // no access key ID: none
	prefetchAt time.Time       // from here: stale
	waitAt     time.Time       // from here: expiring
	failures   int             // consecutive failed refreshes since creds were fetched
	retryAt    time.Time       // after a failure, no new attempt before this
	// failed is what callers get until retryAt when a failure left no
	// valid credentials: the failure, wrapped to say so; nil otherwise.
	failed error
}

// state classifies s at now; a nil s is invalid.
func (s *snapshot) state(now time.Time) tokenState {
	switch {
	case s == nil || s.creds.AccessKeyID == "" || (s.creds.CanExpire && !now.Before(s.creds.Expires)):
		return invalid
	case now.Before(s.prefetchAt):
		return fresh
	case now.Before(s.waitAt) || s.failures > 0:
		return stale
	}
	return expiring
}

// retryDue reports whether a refresh may start at now: always, unless a
// failure set a later retry time.
func (s *snapshot) retryDue(now time.Time) bool { return !now.Before(s.retryAt) }

// paused returns the error of s when a failure left no valid credentials
// and the next attempt is not due at now; nil otherwise.
func (s *snapshot) paused(now time.Time) error {
	if s == nil || s.failed == nil || s.retryDue(now) {
		return nil
	}
	return s.failed
}

// nextAsk is when a cache in front of the provider should ask it again
// for the credentials of s: at the prefetch point, then at the expiry
// window (by when the background refresh has its successor ready), then
// at the retry time after a failure; zero when there is no such moment
// ahead.
func (s *snapshot) nextAsk(now time.Time) time.Time {
	switch st := s.state(now); {
	case st == fresh:
		return s.prefetchAt
	case st == stale && s.failures == 0:
		return s.waitAt
	case st == stale && !s.retryDue(now):
		return s.retryAt
	}
	return time.Time{}
}

// attemptTimeout bounds a refresh attempt that starts at now while s is
// current; interactive: the attempt may wait for a person to type an MFA
// code.
func (s *snapshot) attemptTimeout(now time.Time, interactive bool) time.Duration {
	if s.state(now) == invalid || !s.creds.CanExpire {
		if interactive {
			return promptAttemptTimeout
		}
		return maxAttemptTimeout
	}
	left := s.creds.Expires.Sub(now)
	if interactive {
		return min(max(left/2, maxAttemptTimeout), promptAttemptTimeout)
	}
	return min(max(left/4, minAttemptTimeout), maxAttemptTimeout)
}

// failedAt returns the state after a refresh attempt failed with err at
// now while s was current (nil: none). Valid credentials are kept: inside
// the advisory window the next attempt waits 5 to 10 minutes, but never
// past the expiry window; inside the expiry window it backs off
// exponentially within the time left. With no valid credentials left,
// the second attempt may come at once, and later ones back off
// exponentially up to maxBackoff; callers in between get the failure at
// once.
func (s *snapshot) failedAt(now time.Time, err error) *snapshot {
	n := 1
	if s != nil {
		n = s.failures + 1
	}
	if s.state(now) == invalid {
		// The first failure may have been a moment's: the next caller
		// tries again at once, and later ones back off.
		next := &snapshot{failures: n, retryAt: now}
		if n > 1 {
			next.retryAt = now.Add(backoff(n-1, 0))
		}
		next.failed = wrapError(err, "no valid credentials, and no new refresh before %s after the last failed",
			next.retryAt.UTC().Format("15:04:05.000Z07:00"))
		return next
	}
	next := *s
	next.failures = n
	if now.Before(s.waitAt) {
		next.retryAt = now.Add(failedRetryMin + randDuration(failedRetryMax-failedRetryMin))
		if next.retryAt.After(s.waitAt) {
			next.retryAt = s.waitAt
		}
	} else {
		next.retryAt = now.Add(backoff(n, s.creds.Expires.Sub(now)))
	}
	return &next
}

// backoff is the pause after the nth consecutive failure, jittered over
// its upper half. remaining, when positive, is how long the current
// credentials stay valid: the pause is at most half of it, so that an
// attempt comes before they expire, and at least a second, so that the
// attempts do not crowd in as expiry nears.
func backoff(n int, remaining time.Duration) time.Duration {
	d := maxBackoff
	if n < 20 {
		d = min(minBackoff<<n, maxBackoff)
	}
	if remaining > 0 {
		d = min(d, remaining/2)
	}
	d = d/2 + randDuration(d/2)
	if remaining > 0 {
		return max(d, time.Second)
	}
	return max(d, time.Millisecond)
}

// windows are a provider's refresh windows, resolved from its Options.
type windows struct {
	expiry time.Duration
	// prefetch is the advisory window: zero chooses it from the lifetime
	// of each set of credentials (advisoryWindow); negative turns
	// background refresh off.
	prefetch time.Duration
	jitter   bool
}

// farFuture stands for "never" in a schedule.
var farFuture = time.Unix(1<<62, 0)

// schedule returns the snapshot of creds, which live for life in all;
// random spreads the prefetch point when the windows have jitter.
func (w windows) schedule(creds aws.Credentials, life time.Duration, random bool) *snapshot {
	if !creds.CanExpire {
		return &snapshot{creds: creds, prefetchAt: farFuture, waitAt: farFuture}
	}
	expiry, prefetch, largest := w.expiry, w.prefetch, max(w.expiry, w.prefetch)
	switch {
	case prefetch == 0:
		// Real sessions live 15 minutes or more, and keep these windows
		// whole; only test sessions (seconds) shrink them.
		prefetch, largest = advisoryWindow(life), max(expiry, advisoryShort)
	case prefetch < 0:
		prefetch = 0
	}
	// Short sessions: shrink the windows in proportion, so the credentials
	// are still reused for most of their life.
	if life < shortLifetimeFactor*largest {
		scale := float64(max(life, 0)) / float64(shortLifetimeFactor*largest)
		expiry = time.Duration(float64(expiry) * scale)
		prefetch = time.Duration(float64(prefetch) * scale)
	}
	creds.Expires = creds.Expires.Round(0)
	s := &snapshot{creds: creds, waitAt: creds.Expires.Add(-expiry)}
	random = random && w.jitter
	if prefetch > expiry {
		s.prefetchAt = creds.Expires.Add(-prefetch)
		if random {
			s.prefetchAt = s.prefetchAt.Add(randDuration((prefetch - expiry) / 2))
		}
	} else {
		if random {
			s.waitAt = s.waitAt.Add(-randDuration(expiry / 2))
		}
		s.prefetchAt = s.waitAt
	}
	return s
}

// firstShare is the least part of a first session of life that a
// provider uses before its first refresh, counted from its own fetch: a
// tenth. Providers started together spread their first refreshes between
// there and their prefetch points, so that they never refresh together.
func firstShare(life time.Duration) time.Duration { return life / 10 }

// spreadPoint is the moment a fraction phase (in [0, 1)) of the way from
// from to to.
func spreadPoint(from, to time.Time, phase float64) time.Time {
	return from.Add(time.Duration(phase * float64(to.Sub(from))))
}

func randDuration(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return rand.N(d)
}
