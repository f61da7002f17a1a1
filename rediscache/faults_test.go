package rediscache_test

// A fleet of hosts against real Redis servers under the faults production
// Redis has: a Cluster master killed mid-round, a Sentinel failover, 200 ms
// and 500 ms of added latency, dropped connections, and an ACL that denies
// DEL. In each: no caller error (the fake STS always works, so unexpired
// credentials always exist), no lock trusted or held past its bound, and
// the STS calls per round, reported.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/stschain/stschain"
	"github.com/stschain/stschain/internal/fleettest"
	"github.com/stschain/stschain/internal/redistest"
	"github.com/stschain/stschain/rediscache"
)

// The fleet of a fault test: 4 hosts × 8 roles; its sessions live 6 s,
// refreshed 2 s before they expire (a round every 4 to 5 s), unless the
// fault needs longer windows (faultEnv.prefetch); callers wait from 500 ms
// before expiry; its lock lives 2 s unless renewed: one refresh, at this
// scale, with 500 ms of latency.
const (
	faultHosts    = 4
	faultRoles    = 8
	faultPrefetch = 2 * time.Second
	faultExpiry   = 500 * time.Millisecond
	faultLockTTL  = 2 * time.Second
	lockSample    = 50 * time.Millisecond
)

// faultLifetime is how long the sessions of a fleet with the prefetch
// window live: three windows, the least life that keeps them whole.
func faultLifetime(prefetch time.Duration) time.Duration { return 3 * prefetch }

// Phases of a fault test.
const (
	phaseCold  = iota // every provider's first Retrieve
	phaseFault        // the fault, and two rounds with it
	numPhases
)

// faultEnv is where a fault happens: the client of each host, what to do
// when the fault phase starts, and what to do once it is a third of a
// round in, so that it hits a round under way (each nil for nothing).
type faultEnv struct {
	client     func() redis.UniversalClient
	start, mid func(logf func(string, ...any))
	// watch is the client of the lock watch, which sees Redis from outside
	// the fault (a proxy's latency or dropped connections would blind
	// it). Nil means client.
	watch func() redis.UniversalClient
	// locksLive: the fault keeps locks held long enough (a round trip of
	// latency, a lock that lives out its TTL) for the lock watch, which
	// samples every 50 ms, to see them; the check asserts that it did.
	locksLive bool
	// prefetch is the providers' PrefetchWindow, which must hold a refresh
	// under the lock and a waiter's look at its result, as real windows
	// (minutes) do. Zero means faultPrefetch.
	prefetch time.Duration
	// maxPerRound bounds the STS calls per round: a fault that leaves
	// Redis up costs a few; one that takes it down for seconds costs up
	// to every host's own calls for the keys it held meanwhile. Zero
	// means the roles' number, and half as many again.
	//
	// Why half again holds with Redis up: the first refresh of a role is
	// spread from a tenth of its first session on, the same moment on
	// every host (a hash of its cache key) counted from each host's own
	// fetch. The host that fetched the session from STS counts it by the
	// session's 6 s; the others, which took it from Redis, by the hour
	// they ask for, so they do not spread theirs and start it at their
	// jittered prefetch point. A role spread early (0.6 s in) stores a
	// session less than a second newer in whole seconds, which those
	// hosts may find already inside its own prefetch window, and call
	// STS: at most W - 1 = 3 more calls for such a role, in the first
	// round only (later rounds start from one shared session). About a
	// third of the roles are spread that early, and the jitter saves
	// most of their hosts, so the two rounds carry a few calls more than
	// one per role and round, not the 8 more the bound allows. Sessions
	// as long as their windows need (bench/fleet's configuration check)
	// cost none; real sessions last the hour the hosts ask for.
	maxPerRound float64
}

// faultReport is what a fleet saw.
type faultReport struct {
	cold, fault      fleettest.Stats
	coldCalls, calls int // customer AssumeRole calls
	rounds           float64
	locks            fleettest.LockReport
	maxPerRound      float64 // faultEnv.maxPerRound
	locksLive        bool    // faultEnv.locksLive
	logs             []string
	err              error // the run could not be made
	logMu            sync.Mutex
}

func (r *faultReport) logf(format string, args ...any) {
	r.logMu.Lock()
	defer r.logMu.Unlock()
	r.logs = append(r.logs, fmt.Sprintf(format, args...))
}

// runFault runs a fleet through its cold start and two rounds with the
// fault.
func runFault(ctx context.Context, key []byte, env faultEnv) *faultReport {
	r := &faultReport{maxPerRound: env.maxPerRound, locksLive: env.locksLive}
	if r.maxPerRound == 0 {
		r.maxPerRound = 1.5 * faultRoles
	}
	prefetch := cmp.Or(env.prefetch, faultPrefetch)
	var clients []redis.UniversalClient
	defer func() {
		for _, c := range clients {
			_ = c.Close()
		}
	}()
	newClient := func() redis.UniversalClient {
		c := env.client()
		clients = append(clients, c)
		return c
	}
	var cacheErr error
	f, err := fleettest.Start(ctx, fleettest.Config{
		Hosts: faultHosts, Roles: faultRoles, Lifetime: faultLifetime(prefetch), Prefetch: prefetch, Expiry: faultExpiry,
		Callers: 1, Pause: 5 * time.Millisecond, Phases: numPhases,
		Cache: func(int) stschain.Cache {
			c, err := rediscache.New(newClient(), key, func(o *rediscache.Options) { o.LockTTL = faultLockTTL })
			if err != nil {
				cacheErr = err
			}
			return c
		},
	})
	if err = errors.Join(err, cacheErr); err != nil {
		r.err = err
		return r
	}
	defer f.Close()
	watchClient := newClient
	if env.watch != nil {
		watchClient = func() redis.UniversalClient {
			c := env.watch()
			clients = append(clients, c)
			return c
		}
	}
	watch := fleettest.WatchLocks(watchClient(), rediscache.DefaultPrefix+"lock:*", lockSample)
	r.coldCalls = f.AssumeRoleCalls()
	f.SetPhase(phaseFault)
	if env.start != nil {
		env.start(r.logf)
	}
	if env.mid != nil {
		if r.err = f.WaitRounds(ctx, phaseFault, 0.3); r.err != nil {
			return r
		}
		env.mid(r.logf)
	}
	r.err = f.WaitRounds(ctx, phaseFault, 2)
	// What the run saw, before closing it fails the refreshes under way.
	r.calls = f.AssumeRoleCalls() - r.coldCalls
	r.cold, r.fault = f.Stats(phaseCold), f.Stats(phaseFault)
	r.rounds = f.Rounds(r.fault)
	f.Close()
	r.locks = watch.Stop()
	return r
}

// check reports r and checks the bounds: no caller error, no lock trusted
// or held past its bound, no more STS calls than every host making its
// own.
func (r *faultReport) check(t *testing.T) {
	for _, l := range r.logs {
		t.Log(l)
	}
	require.NoError(t, r.err)
	t.Logf("cold start: %d AssumeRole calls for %d roles; %d cache warnings (first: %s)", r.coldCalls, faultRoles, r.cold.CacheWarnings, r.cold.FirstCacheWarning)
	t.Logf("with the fault: %.2f rounds, %d AssumeRole calls: %.1f per round (%d roles, %d hosts; unshared: %d); %d refreshes from STS, %d from Redis, %d failed; %d cache warnings (first: %s)",
		r.rounds, r.calls, float64(r.calls)/r.rounds, faultRoles, faultHosts, faultRoles*faultHosts,
		r.fault.RefreshSTS, r.fault.RefreshCache, r.fault.RefreshFailed, r.fault.CacheWarnings, r.fault.FirstCacheWarning)
	t.Logf("locks: %d seen, held at most %v, TTL at most %v; slowest refresh %v, slowest Retrieve %v",
		r.locks.Locks, r.locks.LongestHeld, r.locks.LongestTTL, r.fault.MaxRefresh, r.fault.MaxRetrieve)

	assert.Zero(t, r.cold.Errors+r.fault.Errors, "caller errors; the first: %s %s", r.cold.FirstError, r.fault.FirstError)
	assert.Positive(t, r.fault.Retrieves)
	if r.locksLive {
		assert.Positive(t, r.locks.Locks, "the lock watch saw the fleet's locks")
	}
	assert.LessOrEqual(t, r.locks.LongestTTL, faultLockTTL, "no lock is trusted longer than its TTL")
	assert.LessOrEqual(t, r.locks.LongestHeld, faultLockTTL+max(r.cold.MaxRefresh, r.fault.MaxRefresh)+2*lockSample,
		"no lock is held longer than its holder's refresh and, if the release failed, its TTL")
	assert.LessOrEqual(t, float64(r.calls)/r.rounds, r.maxPerRound, "STS calls per round")
}

// faultOptions are a client's as the package documentation advises: one
// retry of a broken connection, one dial.
func faultOptions(addr string) *redis.Options {
	return &redis.Options{Addr: addr, DialerRetries: 1, MaxRetries: 1}
}

// faultScenarios set up each fault's servers, stopped by t.Cleanup.
var faultScenarios = []struct {
	name  string
	setup func(t *testing.T) (faultEnv, error)
}{
	{"Cluster master killed mid-round", func(t *testing.T) (faultEnv, error) {
		c, err := redistest.StartCluster(redistest.ClusterOptions{})
		if err != nil {
			return faultEnv{}, err
		}
		t.Cleanup(c.Close)
		masters, err := c.Masters(t.Context())
		if err != nil {
			return faultEnv{}, err
		}
		// The documented ACL, with what a cluster client needs besides.
		acl := append([]string{"ACL", "SETUSER", "stschain", "on", ">acl-password", "+cluster|slots", "+command", "+readonly"}, documentedACL...)
		for _, n := range c.Nodes {
			if _, err := n.CLI(t.Context(), nil, acl...); err != nil {
				return faultEnv{}, err
			}
		}
		return faultEnv{
			client: func() redis.UniversalClient {
				return redis.NewClusterClient(&redis.ClusterOptions{
					Addrs:                      c.Addrs(),
					Username:                   "stschain",
					Password:                   "acl-password",
					ClusterStateReloadInterval: 2 * time.Second,
					RouteRandomly:              true, // reads from replicas too: the Load after Lock must not
					DialerRetries:              1,
					MaxRetries:                 1,
				})
			},
			mid: func(logf func(string, ...any)) {
				masters[0].Kill()
				logf("killed master %s", masters[0].Addr)
			},
			// The keys of the killed master (a third) miss on every
			// host until its replica takes over (a few seconds).
			maxPerRound: 2 * faultRoles,
		}, nil
	}},
	{"Sentinel failover", func(t *testing.T) (faultEnv, error) {
		s, err := redistest.StartSentinel(redistest.SentinelOptions{})
		if err != nil {
			return faultEnv{}, err
		}
		t.Cleanup(s.Close)
		return faultEnv{
			client: func() redis.UniversalClient {
				return redis.NewFailoverClient(&redis.FailoverOptions{
					MasterName: redistest.MasterName, SentinelAddrs: s.Addrs(), DialerRetries: 1, MaxRetries: 1,
				})
			},
			mid: func(logf func(string, ...any)) {
				s.Master.Kill()
				logf("killed master %s", s.Master.Addr)
			},
			// Every key misses on every host until the Sentinel fails
			// the master over (a few seconds: most of a round here).
			maxPerRound: faultHosts * faultRoles,
		}, nil
	}},
	{"200 ms latency", latency(200 * time.Millisecond)},
	{"500 ms latency", latency(500 * time.Millisecond)},
	{"dropped connections", func(t *testing.T) (faultEnv, error) {
		rs, p, err := proxied()
		if err != nil {
			return faultEnv{}, err
		}
		stop := make(chan struct{})
		done := make(chan struct{})
		t.Cleanup(func() {
			select {
			case <-done:
			default:
				close(stop)
				<-done
			}
			p.Close()
			rs.Close()
		})
		return faultEnv{
			client: func() redis.UniversalClient { return redis.NewClient(faultOptions(p.Addr)) },
			watch:  func() redis.UniversalClient { return redis.NewClient(faultOptions(rs.Addr)) },
			start: func(logf func(string, ...any)) {
				go func() { // every connection, every 200 ms
					defer close(done)
					for {
						select {
						case <-stop:
							logf("%d connections dropped", p.Dropped())
							return
						case <-time.After(200 * time.Millisecond):
							p.Drop()
						}
					}
				}()
			},
		}, nil
	}},
	{"ACL denies DEL", func(t *testing.T) (faultEnv, error) {
		rs, err := redistest.Start(redistest.Options{})
		if err != nil {
			return faultEnv{}, err
		}
		t.Cleanup(rs.Close)
		if _, err := rs.CLI(t.Context(), nil, "ACL", "SETUSER", "fleet", "on", ">fleet-password", "~stschain:*", "+@all", "-del"); err != nil {
			return faultEnv{}, err
		}
		return faultEnv{
			client: func() redis.UniversalClient {
				o := faultOptions(rs.Addr)
				o.Username, o.Password = "fleet", "fleet-password"
				return redis.NewClient(o)
			},
			start: func(logf func(string, ...any)) {
				logf("the ACL denies DEL to the fleet's user")
			},
			locksLive: true,
		}, nil
	}},
}

// latency is a scenario: a server behind a proxy that adds d to each round
// trip from the start of the fault phase.
//
// A refresh under the lock takes four round trips (a look, the lock, a
// look on the primary, the store) and a waiter sees its result within two
// more (a poll and the pause before it), so the prefetch window, whose
// jittered half the fleet's refreshes start in, must hold about ten round
// trips for a waiter to see the holder's result before its own
// credentials reach the expiry window and it calls STS itself. Real
// windows (minutes) hold thousands; the fault fleet's 2 s hold four at
// 500 ms, so that fleet gets windows of ten round trips.
func latency(d time.Duration) func(t *testing.T) (faultEnv, error) {
	return func(t *testing.T) (faultEnv, error) {
		rs, p, err := proxied()
		if err != nil {
			return faultEnv{}, err
		}
		t.Cleanup(func() {
			p.Close()
			rs.Close()
		})
		return faultEnv{
			client:    func() redis.UniversalClient { return redis.NewClient(faultOptions(p.Addr)) },
			watch:     func() redis.UniversalClient { return redis.NewClient(faultOptions(rs.Addr)) },
			start:     func(func(string, ...any)) { p.SetLatency(d) },
			locksLive: true,
			prefetch:  max(faultPrefetch, 10*d),
		}, nil
	}
}

// proxied starts a server and a proxy in front of it.
func proxied() (*redistest.Server, *redistest.Proxy, error) {
	rs, err := redistest.Start(redistest.Options{})
	if err != nil {
		return nil, nil, err
	}
	p, err := redistest.StartProxy(rs.Addr)
	if err != nil {
		rs.Close()
		return nil, nil, err
	}
	return rs, p, nil
}

// TestFaults runs a fleet through each fault at once (they wait on the
// network and on time, not on the processor), then checks each.
func TestFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping fleets against real Redis servers in -short mode; they take about 25 s")
	}
	redistest.Require(t)
	t.Parallel() // it waits on time, beside TestKeyRotationAcrossAFleet
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	key := newKey(t)
	reports := make([]*faultReport, len(faultScenarios))
	var wg sync.WaitGroup
	for i, sc := range faultScenarios {
		env, err := sc.setup(t)
		if err != nil {
			reports[i] = &faultReport{err: err}
			continue
		}
		wg.Go(func() { reports[i] = runFault(ctx, key, env) })
	}
	wg.Wait()
	for i, sc := range faultScenarios {
		t.Run(sc.name, reports[i].check)
	}
}

// TestReadsFromThePrimary: after Lock, a host reads the session from the
// primary, however far behind the replica that serves its other reads is.
func TestReadsFromThePrimary(t *testing.T) {
	master := redistest.New(t, redistest.Options{})
	link := redistest.NewProxy(t, master.Addr) // the replication link, to stall
	replica := redistest.New(t, redistest.Options{Args: []string{"--replicaof", "127.0.0.1", strings.Split(link.Addr, ":")[1]}})
	ctx := t.Context()
	require.Eventually(t, func() bool {
		out, err := replica.CLI(ctx, nil, "INFO", "replication")
		return err == nil && strings.Contains(string(out), "master_link_status:up")
	}, 30*time.Second, 20*time.Millisecond)

	// A client that sends reads to the replica, as ReadOnly does on a
	// Cluster and on a Sentinel setup's FailoverClusterClient.
	newClient := func() redis.UniversalClient {
		rdb := redis.NewClusterClient(&redis.ClusterOptions{
			ClusterSlots: func(context.Context) ([]redis.ClusterSlot, error) {
				return []redis.ClusterSlot{{Start: 0, End: 16383, Nodes: []redis.ClusterNode{{Addr: master.Addr}, {Addr: replica.Addr}}}}, nil
			},
			ReadOnly: true,
		})
		t.Cleanup(func() { _ = rdb.Close() })
		return rdb
	}
	key := newKey(t)
	a, err := rediscache.New(newClient(), key)
	require.NoError(t, err)
	b, err := rediscache.New(newClient(), key)
	require.NoError(t, err)
	const ck = "0123456789abcdef0123456789abcdef01234567"
	entry := func(id string, life time.Duration) stschain.CacheEntry {
		return stschain.CacheEntry{Credentials: aws.Credentials{
			AccessKeyID: id, SecretAccessKey: "secret", SessionToken: "token", CanExpire: true, Expires: time.Now().Add(life),
		}}
	}
	require.NoError(t, a.Store(ctx, ck, entry("ASIAFIRSTSESSION0001", time.Hour)))
	require.Eventually(t, func() bool {
		e, ok, err := b.Load(ctx, ck)
		return err == nil && ok && e.Credentials.AccessKeyID == "ASIAFIRSTSESSION0001"
	}, 30*time.Second, 20*time.Millisecond, "replicated")

	link.Pause() // the replica lags from now on
	unlock, err := a.Lock(ctx, ck)
	require.NoError(t, err)
	require.NoError(t, a.Store(ctx, ck, entry("ASIASECONDSESSION001", 2*time.Hour)))
	unlock()

	e, ok, err := b.Load(ctx, ck)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "ASIAFIRSTSESSION0001", e.Credentials.AccessKeyID, "before Lock, b reads the lagging replica")
	unlock, err = b.Lock(ctx, ck)
	require.NoError(t, err)
	e, ok, err = b.Load(ctx, ck)
	unlock()
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "ASIASECONDSESSION001", e.Credentials.AccessKeyID, "after Lock, the primary's session")
	link.Resume()
}
