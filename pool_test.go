package stschain

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/stschain/stschain/ststest"
)

func customerRole(i int) string { return fmt.Sprintf("arn:aws:iam::123456789012:role/customer-%d", i) }

func newTestPool(t *testing.T, f *fakeSTS, fns ...func(*PoolOptions)) *Pool {
	t.Helper()
	p, err := NewPool(aws.Config{Credentials: staticMaster("hub")}, append([]func(*PoolOptions){func(po *PoolOptions) {
		po.Options = []func(*Options){func(o *Options) { o.Client = f; o.DisableJitter = true }}
	}}, fns...)...)
	require.NoError(t, err)
	return p
}

func get(t *testing.T, p *Pool, fns ...func(*Options)) *ChainableProvider {
	t.Helper()
	c, err := p.Get(fns...)
	require.NoError(t, err)
	return c
}

func TestPoolGetReturnsOneProviderPerSessionAndMaster(t *testing.T) {
	f := newFakeSTS("C", 0)
	p := newTestPool(t, f)
	ext := func(id string) func(*Options) { return func(o *Options) { o.ExternalID = id } }
	a := get(t, p, withRole(roleA), ext("customer-a"))
	assert.Same(t, a, get(t, p, withRole(roleA), ext("customer-a")), "the same parameters, the same provider")
	assert.NotSame(t, a, get(t, p, withRole(roleA), ext("customer-b")), "another external ID")
	assert.NotSame(t, a, get(t, p, withRole(roleB), ext("customer-a")), "another role")
	hub := newFake(t, newFakeSTS("H", 0), staticMaster("alice"), withRole(roleB))
	viaHub := get(t, p, withRole(roleA), ext("customer-a"), func(o *Options) { o.MasterCredentials = hub })
	assert.NotSame(t, a, viaHub, "another master")
	assert.Same(t, viaHub, get(t, p, withRole(roleA), ext("customer-a"), func(o *Options) { o.MasterCredentials = hub }))
	// StaticCredentialsProvider values cannot be compared with ==.
	static := func(o *Options) { o.MasterCredentials = credentials.NewStaticCredentialsProvider("AKIAX", "s", "") }
	assert.Same(t, get(t, p, withRole(roleA), static), get(t, p, withRole(roleA), static))
	tags := func(o *Options) { o.Tags = map[string]string{"team": "blue", "env": "prod"} }
	assert.Same(t, get(t, p, withRole(roleA), tags), get(t, p, withRole(roleA), tags))
	assert.Equal(t, 6, p.Len())

	assert.Same(t, a.Client(), viaHub.Client(), "one STS client for the pool")
	assert.Same(t, f, a.Client())
}

func TestPoolGetValidatesAsNewDoes(t *testing.T) {
	p := newTestPool(t, newFakeSTS("C", 0))
	_, err := p.Get(withRole("arn:aws:iam::bad"))
	require.ErrorIs(t, err, ErrInvalidOptions)
	assert.ErrorContains(t, err, "is not an IAM role ARN")
	_, err = p.Get(withRole(roleA), func(o *Options) { o.Client = newFakeSTS("X", 0) })
	require.ErrorIs(t, err, ErrInvalidOptions)
	assert.ErrorContains(t, err, "belong to the pool")
	noMaster, err := NewPool(aws.Config{})
	require.NoError(t, err)
	_, err = noMaster.Get(withRole(roleA))
	assert.ErrorIs(t, err, ErrNoMasterCredentials)

	for _, bad := range []func(*PoolOptions){
		func(po *PoolOptions) { po.MaxConcurrentRefreshes = -1 },
		func(po *PoolOptions) { po.MaxCallsPerSecond = -1 },
		func(po *PoolOptions) {
			po.Options = []func(*Options){func(o *Options) { o.ExpiryWindow = -1 }}
		},
	} {
		_, err := NewPool(aws.Config{}, bad)
		assert.ErrorIs(t, err, ErrInvalidOptions)
	}
}

func TestPoolDropsIdleProviders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeSTS("C", time.Hour)
		p := newTestPool(t, f, func(po *PoolOptions) { po.IdleTimeout = time.Hour })
		idle := get(t, p, withRole(roleA))
		busy := get(t, p, withRole(roleB))
		_, err := idle.Retrieve(context.Background())
		require.NoError(t, err)
		for range 3 * 60 {
			_, err := busy.Retrieve(context.Background())
			require.NoError(t, err)
			time.Sleep(time.Minute)
		}
		assert.Equal(t, 1, p.Len(), "the provider nobody asked for is gone")
		assert.Same(t, busy, get(t, p, withRole(roleB)))
		assert.NotSame(t, idle, get(t, p, withRole(roleA)), "a later Get makes a new one")
		calls := f.count()
		_, err = idle.Retrieve(context.Background()) // a dropped provider still works when asked
		require.NoError(t, err)
		assert.Equal(t, calls+1, f.count())
	})
}

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
		assert.Less(t, first.Sub(start), 25*time.Minute)
		assert.Greater(t, last.Sub(start), 50*time.Minute)
		assert.LessOrEqual(t, last.Sub(start), time.Hour-DefaultPrefetchWindow)
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

// The client NewPool builds keeps an idle connection for each call that
// may be in flight, and no more.
func TestPoolKeepsAnIdleConnectionPerConcurrentCall(t *testing.T) {
	for _, tc := range []struct {
		concurrent, want int
		httpClient       aws.HTTPClient
	}{
		{0, DefaultMaxConcurrentRefreshes, nil},
		{4, 4, nil}, // fewer than the SDK's default of 10 per host
		{64, 64, awshttp.NewBuildableClient()},
	} {
		p, err := NewPool(aws.Config{HTTPClient: tc.httpClient}, func(po *PoolOptions) { po.MaxConcurrentRefreshes = tc.concurrent })
		require.NoError(t, err)
		client := p.impl.Load().client.(*sts.Client).Options().HTTPClient.(*awshttp.BuildableClient)
		tr := client.GetTransport()
		assert.Equal(t, tc.want, tr.MaxIdleConnsPerHost, "MaxConcurrentRefreshes %d", tc.concurrent)
		assert.Equal(t, tc.want, tr.MaxIdleConns, "MaxConcurrentRefreshes %d", tc.concurrent)
	}
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
		assert.Equal(t, time.Now().Add(time.Hour-DefaultPrefetchWindow), own, "no jitter: its own prefetch point")

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
