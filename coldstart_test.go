package stschain

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/stschain/stschain/ststest"
)

// Providers made together do not refresh together: their first refresh
// points spread over the middle of their first session.
func TestPoolSpreadsTheFirstRefreshes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeSTS("C", time.Hour)
		p := newTestPool(t, f)
		start := time.Now()
		var first, last time.Time
		for i := range 200 {
			c := get(t, p, withRole(customerRole(i)))
			_, err := c.Retrieve(context.Background())
			require.NoError(t, err)
			at := c.impl.Load().refresh.state.Load().prefetchAt
			if first.IsZero() || at.Before(first) {
				first = at
			}
			if at.After(last) {
				last = at
			}
		}
		// Between a tenth of the hour and its advisory window.
		assert.Less(t, first.Sub(start), 20*time.Minute)
		assert.Greater(t, last.Sub(start), 35*time.Minute)
		assert.LessOrEqual(t, last.Sub(start), time.Hour-advisoryWindow(time.Hour))
	})
}

// A cold start at the pool's rate budget that lasts longer than a tenth of
// the sessions: one AssumeRole per role and one for the hub, in the time
// the budget allows; no first refresh before the cold start ends, or
// before a tenth of a provider's session has passed since its own fetch;
// then the first refreshes spread over the first sessions.
func TestPoolColdStartAtTheBudgetWastesNoSession(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			n    = 200
			rate = 10              // calls a second: a 20 s cold start
			life = 2 * time.Minute // a tenth of it is 12 s
		)
		const hubRole = "arn:aws:iam::123456789012:role/hub"
		cfg := ststest.Config{
			AccountID: "123456789012",
			Users:     []ststest.User{{Name: "saas", AccessKeyID: "AKIASAAS000000000001", SecretAccessKey: "saas-secret"}},
			Roles:     []ststest.Role{{ARN: hubRole, Trust: []string{"arn:aws:iam::123456789012:user/saas"}}},
		}
		for i := range n {
			cfg.Roles = append(cfg.Roles, ststest.Role{ARN: customerRole(i), Trust: []string{hubRole}, Lifetime: life})
		}
		srv := ststest.NewInMemoryServer(cfg)
		defer srv.Close()
		hub, err := New(srv.AWSConfig("saas"), withRole(hubRole))
		require.NoError(t, err)

		type fetch struct{ at, expires time.Time }
		var mu sync.Mutex
		fetches := map[string][]fetch{} // by role
		p, err := NewPool(srv.AWSConfig("saas"), func(po *PoolOptions) {
			po.MaxCallsPerSecond = rate
			po.Options = []func(*Options){func(o *Options) {
				o.MasterCredentials = hub
				o.OnRefresh = func(ev RefreshEvent) {
					mu.Lock()
					defer mu.Unlock()
					fetches[ev.Link] = append(fetches[ev.Link], fetch{at: time.Now(), expires: ev.Expires})
				}
			}}
		})
		require.NoError(t, err)
		providers := make([]*ChainableProvider, n)
		for i := range providers {
			providers[i] = get(t, p, withRole(customerRole(i)))
		}

		start := time.Now()
		var wg sync.WaitGroup
		const callers = 8
		for c := range callers {
			wg.Go(func() {
				for i := c; i < n; i += callers {
					_, err := providers[i].Retrieve(context.Background())
					assert.NoError(t, err)
				}
			})
		}
		wg.Wait()
		coldEnd := time.Now()
		assert.Equal(t, n+1, len(srv.Calls(ststest.Call{Action: "AssumeRole", Status: 200})), "one call per role and one for the hub")
		assert.Equal(t, 1, len(srv.Calls(ststest.Call{Action: "AssumeRole", RoleARN: hubRole})), "the hub is fetched once")
		assert.LessOrEqual(t, coldEnd.Sub(start), time.Duration(1.1*n/rate*float64(time.Second)), "the cold start takes what the budget allows")

		time.Sleep(life) // every first session reaches its prefetch point
		mu.Lock()
		defer mu.Unlock()
		var earliest, latest time.Duration // of the first refreshes, since coldEnd
		for i := range n {
			f := fetches[customerRole(i)]
			require.Len(t, f, 2, "role %d: its first fetch and one refresh", i)
			fetched, refreshed := f[0].at, f[1].at
			assert.False(t, refreshed.Before(coldEnd), "role %d refreshed during the cold start", i)
			// Expires is whole seconds: a session lives up to a second less than life.
			session := f[0].expires.Sub(fetched)
			assert.GreaterOrEqual(t, refreshed.Sub(fetched), session/10, "role %d refreshed before a tenth of its session", i)
			if since := refreshed.Sub(coldEnd); i == 0 || since < earliest {
				earliest = since
			}
			latest = max(latest, refreshed.Sub(coldEnd))
		}
		assert.Less(t, earliest, 15*time.Second, "the first refreshes start soon after the cold start")
		assert.Greater(t, latest, 60*time.Second, "and spread over the first sessions")
	})
}

// A provider made and never asked for holds the cold start open: the first
// refreshes of the others keep their own prefetch points until it is
// dropped as idle, and are spread from then.
func TestPoolColdStartEndsWhenTheUnaskedProviderIsDropped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var refreshed atomic.Pointer[time.Time] // the first refresh after the first fetch
		var events atomic.Int32
		p := newTestPool(t, newFakeSTS("C", time.Hour), func(po *PoolOptions) {
			po.IdleTimeout = 10 * time.Minute
			po.Options = append(po.Options, func(o *Options) {
				o.OnRefresh = func(RefreshEvent) {
					if events.Add(1) == 2 {
						now := time.Now()
						refreshed.Store(&now)
					}
				}
			})
		})
		asked := get(t, p, withRole(roleA))
		get(t, p, withRole(roleB)) // never asked
		_, err := asked.Retrieve(context.Background())
		require.NoError(t, err)
		own := asked.impl.Load().refresh.state.Load().prefetchAt
		assert.Equal(t, time.Now().Add(time.Hour-advisoryWindow(time.Hour)), own, "no jitter: its own prefetch point")

		var dropped time.Time
		for time.Now().Before(own) {
			_, err := asked.Retrieve(context.Background()) // keeps it from being idle
			require.NoError(t, err)
			if dropped.IsZero() && p.Len() == 1 {
				dropped = time.Now()
			}
			time.Sleep(time.Minute)
		}
		require.False(t, dropped.IsZero(), "the provider nobody asked for was dropped")
		at := refreshed.Load()
		require.NotNil(t, at)
		assert.True(t, at.Before(own), "the first refresh was spread: it came before the provider's own prefetch point")
		assert.False(t, at.Before(dropped.Add(-time.Minute)), "but not before the cold start was over, at %v", dropped)
	})
}

// After a suspend, the first refreshes a Pool spread must come at their
// wall-clock moments: the monotonic clock stops while the machine sleeps,
// so a prefetch point kept with a monotonic reading would come late, and
// credentials would be handed out to their expiry with no refresh ahead.
// Outside a bubble, time.Now has a monotonic reading: every moment the
// providers keep must have none.
func TestPoolKeepsWallClockMoments(t *testing.T) {
	f := newFakeSTS("C", time.Hour) // whose Expiration has a monotonic reading, too
	p := newTestPool(t, f)
	providers := make([]*ChainableProvider, 20)
	for i := range providers {
		providers[i] = get(t, p, withRole(customerRole(i)))
		_, err := providers[i].Retrieve(context.Background())
		require.NoError(t, err)
	}
	for i, c := range providers {
		s := c.impl.Load().refresh.state.Load()
		require.Less(t, s.prefetchAt, s.creds.Expires.Add(-advisoryMedium), "provider %d: its first refresh was spread", i)
		for name, at := range map[string]time.Time{"expires": s.creds.Expires, "prefetch": s.prefetchAt, "wait": s.waitAt} {
			assert.Equal(t, at.Round(0), at, "provider %d: %s has a monotonic reading", i, name)
		}
	}
}
