package stschain

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain/ststest"
)

// MaxConcurrentRefreshes bounds the STS calls of the whole pool, and the
// background refreshes run on as many workers.
func TestPoolBoundsConcurrentCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeSTS("C", time.Hour)
		f.latency = time.Second
		p := newTestPool(t, f, func(po *PoolOptions) { po.MaxConcurrentRefreshes = 3 })
		providers := make([]*ChainableProvider, 30)
		var wg sync.WaitGroup
		for i := range providers {
			providers[i] = get(t, p, withRole(customerRole(i)))
			wg.Go(func() {
				_, err := providers[i].Retrieve(context.Background())
				assert.NoError(t, err)
			})
		}
		wg.Wait()
		assert.Equal(t, 3, f.maxInFlight(), "cold start: three calls at a time")
		assert.Equal(t, 30, f.count())

		// Every first prefetch point passes (the spread ends at 45 min, the
		// one-hour sessions' advisory window), and no second one (51 min on).
		time.Sleep(50 * time.Minute)
		for _, c := range providers {
			_, err := c.Retrieve(context.Background())
			require.NoError(t, err)
		}
		assert.Equal(t, 60, f.count(), "each provider refreshed once, in the background")
		assert.Equal(t, 3, f.maxInFlight())
		pl := p.impl.Load()
		pl.workers.mu.Lock()
		assert.Zero(t, pl.workers.running, "no worker outlives the queue")
		pl.workers.mu.Unlock()
	})
}

func TestPoolMaxCallsPerSecond(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeSTS("C", time.Hour)
		p := newTestPool(t, f, func(po *PoolOptions) { po.MaxCallsPerSecond = 10 })
		start := time.Now()
		var wg sync.WaitGroup
		for i := range 50 {
			c := get(t, p, withRole(customerRole(i)))
			wg.Go(func() {
				_, err := c.Retrieve(context.Background())
				assert.NoError(t, err)
			})
		}
		wg.Wait()
		assert.InDelta(t, 4.9, time.Since(start).Seconds(), 0.2, "50 calls at 10 a second")
	})
}

// A throttling answer pauses the refreshes of the whole pool; callers keep
// their valid credentials meanwhile.
func TestPoolThrottlingPausesEveryRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeSTS("C", time.Hour)
		p := newTestPool(t, f, func(po *PoolOptions) { po.MaxConcurrentRefreshes = 1 })
		providers := make([]*ChainableProvider, 10)
		for i := range providers {
			providers[i] = get(t, p, withRole(customerRole(i)), func(o *Options) { o.PrefetchWindow = -1 }) // refresh at the expiry window
			_, err := providers[i].Retrieve(context.Background())
			require.NoError(t, err)
		}
		time.Sleep(time.Hour - 30*time.Second) // all inside the expiry window
		f.failNext(apiError("Throttling", "Rate exceeded"))
		before := f.count()
		var wg sync.WaitGroup
		for _, c := range providers {
			wg.Go(func() {
				creds, err := c.Retrieve(context.Background())
				assert.NoError(t, err, "valid credentials hide the throttling")
				assert.True(t, time.Now().Before(creds.Expires))
			})
		}
		wg.Wait()
		assert.Equal(t, before+1, f.count(), "one throttled call, then the pool paused")

		time.Sleep(maxThrottlePause)
		for _, c := range providers {
			_, err := c.Retrieve(context.Background())
			require.NoError(t, err)
		}
		synctest.Wait()
		assert.Equal(t, before+1+len(providers), f.count(), "after the pause each provider refreshed")
	})
}

func TestPoolSaysWhenItsRateIsTooLow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs strings.Builder
		var mu sync.Mutex
		logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, nil))
		f := newFakeSTS("C", 20*time.Second)
		p := newTestPool(t, f, func(po *PoolOptions) {
			po.MaxCallsPerSecond = 2
			po.Options = append(po.Options, func(o *Options) { o.Logger = logger })
		})
		for i := range 100 {
			get(t, p, withRole(customerRole(i)))
		}
		c := get(t, p, withRole(roleA))
		_, err := c.Retrieve(context.Background())
		require.NoError(t, err)
		mu.Lock()
		defer mu.Unlock()
		assert.Contains(t, logs.String(), "MaxCallsPerSecond is too low")
	})
}

type lockedWriter struct {
	w  *strings.Builder
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Pooled calls sign with the master's credentials of the moment they leave
// the pool's queue, not of the moment they joined it: a cold start at the
// rate budget that outlasts the hub's sessions makes no call with an
// expired hub session, and re-assumes the hub only on its own schedule.
func TestPoolSignsWithTheMasterAfterTheWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			n       = 100
			rate    = 2 // calls a second: a 50 s cold start
			hubLife = 30 * time.Second
		)
		const hubRole = "arn:aws:iam::123456789012:role/hub"
		roles := []ststest.Role{{ARN: hubRole, Lifetime: hubLife}}
		for i := range n {
			roles = append(roles, ststest.Role{ARN: customerRole(i), Trust: []string{hubRole}})
		}
		srv := memSTS(t, roles...)
		hub, err := New(srv.AWSConfig("alice"), withRole(hubRole), func(o *Options) { o.DisableJitter = true })
		require.NoError(t, err)
		p, err := NewPool(srv.AWSConfig("alice"), func(po *PoolOptions) {
			po.MaxCallsPerSecond = rate
			po.Options = []func(*Options){func(o *Options) { o.MasterCredentials = hub }}
		})
		require.NoError(t, err)
		start := time.Now()
		var wg sync.WaitGroup
		for i := range n {
			c := get(t, p, withRole(customerRole(i)))
			wg.Go(func() {
				_, err := c.Retrieve(context.Background())
				assert.NoError(t, err)
			})
		}
		wg.Wait()
		coldStart := time.Since(start)
		assert.Zero(t, len(srv.Calls(ststest.Call{ErrorCode: "ExpiredToken"})), "calls signed with an expired hub session")
		assert.Equal(t, n+len(srv.Calls(ststest.Call{RoleARN: hubRole})), len(srv.Calls(ststest.Call{Action: "AssumeRole", Status: 200})), "no call failed")
		// The hub's sessions are replaced a third of their life before
		// they expire: one every 20 s.
		hubCalls := len(srv.Calls(ststest.Call{Action: "AssumeRole", RoleARN: hubRole}))
		assert.LessOrEqual(t, hubCalls, 2+int(coldStart/(hubLife*2/3)), "hub sessions in a cold start of %v", coldStart)
	})
}
