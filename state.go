package stschain

import (
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// The state of cached credentials: the windows that schedule their
// refresh, and what the moment makes of them. The refresh engine and a
// link judging a cache entry both switch on it.

// shortLifetimeFactor: a credential living less than this many times the
// largest window gets its windows shrunk in proportion.
const shortLifetimeFactor = 3

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

// snapshot is an immutable set of credentials and their schedule.
type snapshot struct {
	creds      aws.Credentials
	prefetchAt time.Time // from here: stale
	waitAt     time.Time // from here: expiring
	failures   int       // consecutive failed refreshes since creds were fetched
	retryAt    time.Time // after a failure, no new attempt before this
}

// state classifies s at now; a nil s is invalid.
func (s *snapshot) state(now time.Time) tokenState {
	switch {
	case s == nil || (s.creds.CanExpire && !now.Before(s.creds.Expires)):
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

// windows are a provider's refresh windows, resolved from its Options.
type windows struct {
	expiry   time.Duration
	prefetch time.Duration // 0: off
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
	expiry, prefetch := w.expiry, w.prefetch
	// Short sessions: shrink the windows in proportion, so the credentials
	// are still reused for most of their life.
	if m := max(expiry, prefetch); life < shortLifetimeFactor*m {
		scale := float64(max(life, 0)) / float64(shortLifetimeFactor*m)
		expiry = time.Duration(float64(expiry) * scale)
		prefetch = time.Duration(float64(prefetch) * scale)
	}
	s := &snapshot{creds: creds, waitAt: creds.Expires.Add(-expiry)}
	random = random && w.jitter
	if prefetch > 0 {
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

func randDuration(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return rand.N(d)
}
