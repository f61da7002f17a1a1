package stschain

import (
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestJitterSpreadsRefreshOverHalfThePrefetchWindow(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	creds := aws.Credentials{AccessKeyID: "k", CanExpire: true, Expires: now.Add(time.Hour)}
	for _, tc := range []struct {
		name               string
		prefetch           time.Duration
		earliest, latest   time.Duration // before Expires
		waitAtBeforeExpiry time.Duration
	}{
		{"lifetime-based prefetch", 0, advisoryMedium, advisoryMedium - (advisoryMedium-DefaultExpiryWindow)/2, DefaultExpiryWindow},
		{"explicit prefetch", 5 * time.Minute, 5 * time.Minute, 5*time.Minute - (5*time.Minute-DefaultExpiryWindow)/2, DefaultExpiryWindow},
		{"no prefetch", -1, DefaultExpiryWindow * 3 / 2, DefaultExpiryWindow, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := New(aws.Config{}, func(o *Options) {
				o.Client, o.MasterCredentials, o.PrefetchWindow = newFakeSTS("A", 0), staticMaster("a"), tc.prefetch
			})
			require.NoError(t, err)
			seen := map[time.Time]bool{}
			for range 500 {
				s := p.impl.Load().refresh.cfg.windows.schedule(creds, creds.Expires.Sub(now), true)
				assert.False(t, s.prefetchAt.Before(creds.Expires.Add(-tc.earliest)))
				assert.False(t, s.prefetchAt.After(creds.Expires.Add(-tc.latest)))
				if tc.waitAtBeforeExpiry > 0 {
					assert.Equal(t, creds.Expires.Add(-tc.waitAtBeforeExpiry), s.waitAt)
				}
				seen[s.prefetchAt.Truncate(100*time.Millisecond)] = true
			}
			assert.Greater(t, len(seen), 50, "refresh points are spread out")
		})
	}
}

func TestWindowsShrinkForShortSessions(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := newFake(t, newFakeSTS("A", 0), staticMaster("a"), func(o *Options) { o.PrefetchWindow = 0 })
	for _, life := range []time.Duration{10 * time.Second, 15 * time.Minute, time.Hour} {
		creds := aws.Credentials{AccessKeyID: "k", CanExpire: true, Expires: now.Add(life)}
		s := p.impl.Load().refresh.cfg.windows.schedule(creds, creds.Expires.Sub(now), false)
		reused := s.prefetchAt.Sub(now)
		assert.GreaterOrEqual(t, reused, life*2/3, "life %v: reused for %v", life, reused)
		assert.True(t, s.waitAt.After(s.prefetchAt), "life %v: waiting starts after prefetch", life)
		assert.True(t, s.waitAt.Before(creds.Expires), "life %v", life)
	}
}

func TestSnapshotState(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return now.Add(d) }
	creds := aws.Credentials{AccessKeyID: "K", CanExpire: true, Expires: at(10 * time.Minute)}
	s := &snapshot{creds: creds, prefetchAt: at(5 * time.Minute), waitAt: at(9 * time.Minute)}
	failed := *s
	failed.failures, failed.retryAt = 1, at(9*time.Minute+30*time.Second)
	forever := &snapshot{creds: aws.Credentials{AccessKeyID: "K"}, prefetchAt: farFuture, waitAt: farFuture}
	for _, tc := range []struct {
		name string
		s    *snapshot
		at   time.Duration
		want tokenState
	}{
		{"none", nil, 0, invalid},
		{"before prefetch", s, 4 * time.Minute, fresh},
		{"at prefetch", s, 5 * time.Minute, stale},
		{"in the expiry window", s, 9 * time.Minute, expiring},
		{"at expiry", s, 10 * time.Minute, invalid},
		{"failed, in the expiry window", &failed, 9 * time.Minute, stale},
		{"failed, expired", &failed, 10 * time.Minute, invalid},
		{"never expires", forever, 1000 * time.Hour, fresh},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.s.state(at(tc.at)))
		})
	}
	assert.False(t, failed.retryDue(at(9*time.Minute)))
	assert.True(t, failed.retryDue(at(10*time.Minute)))
	assert.Equal(t, s.prefetchAt, s.nextAsk(now))
	assert.Equal(t, s.waitAt, s.nextAsk(at(6*time.Minute)))
	assert.Equal(t, failed.retryAt, failed.nextAsk(at(9*time.Minute)))
	assert.True(t, s.nextAsk(at(9*time.Minute)).IsZero())
}

// The 2026 refresh rules: a zero PrefetchWindow takes the advisory window
// from the lifetime of each set (5 minutes up to 20 minutes of life, 15
// below 90 minutes, 60 from 90 minutes), beside a 1-minute mandatory
// window; an explicit window wins; sessions shorter than three times the
// windows (seconds, in tests) shrink them in proportion.
func TestAdvisoryWindowFromLifetime(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	lifetimeBased := windows{expiry: DefaultExpiryWindow}
	for _, tc := range []struct {
		w                windows
		life             time.Duration
		advisory, expiry time.Duration
	}{
		{lifetimeBased, 15 * time.Minute, 5 * time.Minute, time.Minute},
		{lifetimeBased, 20 * time.Minute, 5 * time.Minute, time.Minute},
		{lifetimeBased, 20*time.Minute + time.Second, 15 * time.Minute, time.Minute},
		{lifetimeBased, time.Hour, 15 * time.Minute, time.Minute},
		{lifetimeBased, 90*time.Minute - time.Second, 15 * time.Minute, time.Minute},
		{lifetimeBased, 90 * time.Minute, 60 * time.Minute, time.Minute},
		{lifetimeBased, 12 * time.Hour, 60 * time.Minute, time.Minute},
		{lifetimeBased, 36 * time.Hour, 60 * time.Minute, time.Minute},
		{lifetimeBased, 9 * time.Second, 3 * time.Second, 600 * time.Millisecond}, // scaled by 9 s / 15 min
		{windows{expiry: time.Minute, prefetch: 10 * time.Minute}, 12 * time.Hour, 10 * time.Minute, time.Minute},
		{windows{expiry: time.Minute, prefetch: 10 * time.Minute}, time.Hour, 10 * time.Minute, time.Minute},
		{windows{expiry: time.Minute, prefetch: -1}, time.Hour, time.Minute, time.Minute}, // prefetch off: no advisory window
	} {
		creds := aws.Credentials{AccessKeyID: "k", CanExpire: true, Expires: now.Add(tc.life)}
		s := tc.w.schedule(creds, tc.life, false)
		assert.Equal(t, tc.advisory, creds.Expires.Sub(s.prefetchAt), "life %v, %+v: advisory window", tc.life, tc.w)
		assert.Equal(t, tc.expiry, creds.Expires.Sub(s.waitAt), "life %v, %+v: mandatory window", tc.life, tc.w)
	}
	assert.Equal(t, advisoryShort, DefaultPrefetchWindow, "DefaultPrefetchWindow is the shortest advisory window")
}

// After a failed refresh the credentials are kept; the next attempt waits
// 5 to 10 minutes, but never past the mandatory window; inside it, the
// attempts back off within the time left, at least a second apart; with
// no valid credentials the second comes at once and later ones back off
// up to maxBackoff.
func TestRetryAfterAFailure(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	creds := aws.Credentials{AccessKeyID: "k", CanExpire: true, Expires: now.Add(time.Hour)}
	s := windows{expiry: DefaultExpiryWindow}.schedule(creds, time.Hour, false)
	failure := errors.New("down")
	for range 200 {
		early := s.failedAt(s.prefetchAt, failure) // at T-15 min
		assert.Equal(t, 1, early.failures)
		assert.Equal(t, s.creds, early.creds, "kept")
		assert.Equal(t, s.prefetchAt, early.prefetchAt, "the windows of the set stay")
		assert.Equal(t, s.waitAt, early.waitAt)
		wait := early.retryAt.Sub(s.prefetchAt)
		assert.True(t, wait >= failedRetryMin && wait < failedRetryMax, "waits %v", wait)

		late := early.failedAt(s.waitAt.Add(-2*time.Minute), failure) // at T-3 min
		assert.Equal(t, s.waitAt, late.retryAt, "never past the mandatory window")

		inside := late.failedAt(s.waitAt, failure) // at T-1 min
		wait = inside.retryAt.Sub(s.waitAt)
		assert.True(t, wait >= time.Second && wait <= 30*time.Second, "inside the mandatory window: %v", wait)
		assert.Equal(t, stale, inside.state(s.waitAt), "callers keep the credentials during the pause")
		assert.Nil(t, inside.paused(s.waitAt))

		expired := inside.failedAt(creds.Expires, failure)
		assert.Equal(t, invalid, expired.state(creds.Expires))
		assert.Equal(t, 4, expired.failures)
		second := (*snapshot)(nil).failedAt(now, failure)
		assert.Equal(t, now, second.retryAt, "after a first failure with none, the next caller tries at once")
		third := second.failedAt(now, failure)
		wait = third.retryAt.Sub(now)
		assert.True(t, wait >= minBackoff && wait <= maxBackoff, "%v", wait)
		err := third.paused(now)
		require.Error(t, err)
		assert.ErrorIs(t, err, failure)
		assert.Nil(t, third.paused(third.retryAt))
	}
}

// Every moment a schedule keeps is on the wall clock, whatever the clock
// readings it was made from: the monotonic clock stops while the machine
// sleeps, and a moment kept with a monotonic reading is compared on it.
func TestScheduleKeepsWallClockMoments(t *testing.T) {
	now := time.Now() // with a monotonic reading
	require.NotEqual(t, now, now.Round(0))
	creds := aws.Credentials{AccessKeyID: "k", CanExpire: true, Expires: now.Add(time.Hour)}
	s := windows{expiry: DefaultExpiryWindow, jitter: true}.schedule(creds, time.Hour, true)
	failed := s.failedAt(s.prefetchAt, errors.New("down"))
	for name, at := range map[string]time.Time{
		"expires": s.creds.Expires, "prefetch": s.prefetchAt, "wait": s.waitAt, "retry": failed.retryAt,
		"spread": spreadPoint(wallNow(), s.prefetchAt, 0.5),
	} {
		assert.Equal(t, at.Round(0), at, "%s has a monotonic reading", name)
	}
}

// An attempt may take a quarter of the time its credentials have left,
// 10 s to a minute; a minute with none left; an attempt that may prompt
// for an MFA code, half the time left, a minute to five.
func TestAttemptTimeout(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	with := func(left time.Duration) *snapshot {
		return &snapshot{creds: aws.Credentials{AccessKeyID: "k", CanExpire: true, Expires: now.Add(left)}}
	}
	for _, tc := range []struct {
		s           *snapshot
		interactive bool
		want        time.Duration
	}{
		{with(time.Hour), false, time.Minute},
		{with(2 * time.Minute), false, 30 * time.Second},
		{with(20 * time.Second), false, 10 * time.Second},
		{nil, false, time.Minute},
		{with(-time.Second), false, time.Minute},
		{with(time.Hour), true, 5 * time.Minute},
		{with(4 * time.Minute), true, 2 * time.Minute},
		{with(30 * time.Second), true, time.Minute},
		{nil, true, 5 * time.Minute},
	} {
		assert.Equal(t, tc.want, tc.s.attemptTimeout(now, tc.interactive), "%+v, interactive %t", tc.s, tc.interactive)
	}
}
