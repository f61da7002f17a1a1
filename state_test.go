package stschain

import (
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
