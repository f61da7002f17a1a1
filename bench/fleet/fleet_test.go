package main

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/stschain/stschain/internal/fleettest"
	"github.com/stschain/stschain/internal/redistest"
)

// TestMain lets the test binary serve as the workers, as the program does.
func TestMain(m *testing.M) {
	if os.Getenv(workerEnv) != "" {
		os.Exit(workerMain(os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestSmoke runs the whole program small, with one redis-server: 2
// workers × 5 roles, sessions of 16 s, a round with Redis, then
// redis-server killed. It asserts counts, which do not depend on the
// machine's speed: one STS call per role at the cold start and in the
// round with Redis, the other worker taking the session from Redis, and
// ststest answering exactly the calls the refreshes report; no secret
// readable in Redis; no caller error, with Redis or without; and every
// worker calling STS itself once Redis is gone.
func TestSmoke(t *testing.T) {
	redistest.Require(t)
	cfg := config{
		Workers:      2,
		Roles:        5,
		Lifetime:     16 * time.Second,
		Prefetch:     2 * time.Second,
		Expiry:       time.Second,
		Rounds:       1,
		OutageRounds: 1,
		Callers:      1,
		Pause:        time.Millisecond,
		Stores:       []string{storeSingle},
		// A Redis call that times out is a miss, and a miss an STS call:
		// the counts hold only if Redis answers in time, which on a
		// machine busy with other test runs takes more than the default.
		RedisTimeout: 5 * time.Second,
	}
	require.NoError(t, cfg.validate())
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var logs bytes.Buffer
	res, err := run(ctx, cfg, storeSingle, &logs)
	require.NoError(t, err, logs.String())
	require.Len(t, res.workers, cfg.Workers)
	var out bytes.Buffer
	res.write(&out)
	t.Logf("\n%s\n%s", logs.String(), out.String())

	t.Run("cold start", func(t *testing.T) {
		assert.Equal(t, cfg.Roles, res.roundCalls(0), "one AssumeRole per role")
		assert.Equal(t, cfg.Roles, res.exactRounds(0, 1), "each role's first fetch called STS once")
		s := res.sum(phaseWarmup)
		assert.Positive(t, s.Retrieves)
		assert.Zero(t, s.Errors, "caller errors: %s", s.FirstError)
	})
	t.Run("with Redis", func(t *testing.T) {
		for k := 1; k <= cfg.Rounds; k++ {
			assert.Equal(t, cfg.Roles, res.roundCalls(k), "round %d: one STS refresh per role", k)
		}
		assert.Equal(t, cfg.Roles*cfg.Rounds, res.exactRounds(1, cfg.Rounds+1), "in every round of every role, one worker called STS and the others took its session")
		assert.True(t, res.callsMatch(), "ststest answered %d AssumeRole calls and refused %d; the refreshes that called STS were %d",
			res.stsCalls, res.refused, res.refreshCalls())
		// The hub's session outlasts the run: one AssumeRole, which the
		// report requires. Here at most one per worker: on a loaded
		// machine both workers' cold starts have been seen to assume it
		// (about one run in twenty), which costs a call and no error.
		assert.GreaterOrEqual(t, res.hubCalls, 1, "AssumeRole calls for the hub")
		assert.LessOrEqual(t, res.hubCalls, cfg.Workers, "AssumeRole calls for the hub, whose session outlasts the run")
		s := res.sum(phaseRedis)
		assert.Positive(t, res.rate.Mean)
		assert.GreaterOrEqual(t, res.rate.Peak, res.rate.Mean)
		assert.Positive(t, s.Retrieves)
		assert.Zero(t, s.Errors, "caller errors: %s", s.FirstError)
	})
	t.Run("plaintext", func(t *testing.T) {
		pc := res.plain
		require.NotNil(t, pc)
		require.NoError(t, pc.err)
		assert.Equal(t, cfg.Roles+1, pc.sessions, "the customer sessions and the hub's")
		assert.Equal(t, 3*(cfg.Roles+1), pc.secretsChecked)
		assert.Empty(t, pc.leaks)
		assert.True(t, pc.controlFound, "the search finds a plaintext value")
		assert.Empty(t, pc.others)
	})
	t.Run("Redis killed", func(t *testing.T) {
		s := res.sum(phaseOutage)
		require.NotEmpty(t, res.outage)
		assert.Positive(t, s.Retrieves)
		assert.Zero(t, s.Errors, "caller errors: %s", s.FirstError)
		assert.Zero(t, s.RefreshCache, "nothing comes from a dead Redis")
		assert.Positive(t, s.CacheWarnings, "the providers logged the cache errors")
		assert.GreaterOrEqual(t, s.RefreshSTS, int64(cfg.Workers*cfg.Roles), "every worker refreshed every role from STS")
		assert.Contains(t, out.String(), "| caller errors, after the kill | 0 | 0 PASS |")
	})
	assert.Equal(t, res.pass(), !bytes.Contains(out.Bytes(), []byte("**FAIL**")))
}

func TestConfigValidate(t *testing.T) {
	assert.NoError(t, defaultConfig().validate())
	for name, mod := range map[string]func(*config){
		"no workers":         func(c *config) { c.Workers = 0 },
		"no roles":           func(c *config) { c.Roles = 0 },
		"no rounds":          func(c *config) { c.Rounds = 0 },
		"prefetch ≤ expiry":  func(c *config) { c.Prefetch = c.Expiry },
		"lifetime too short": func(c *config) { c.Lifetime = 2 * c.Prefetch },
		"lifetime fraction":  func(c *config) { c.Lifetime += time.Millisecond },
		"first share short":  func(c *config) { c.Lifetime, c.Prefetch, c.Expiry = 30*time.Second, 10*time.Second, time.Second },
		"negative pause":     func(c *config) { c.Pause = -1 },
		"no store":           func(c *config) { c.Stores = nil },
		"unknown store":      func(c *config) { c.Stores = []string{"memcached"} },
	} {
		c := defaultConfig()
		mod(&c)
		assert.Error(t, c.validate(), name)
	}
}

// refreshes builds a worker's fleettest.Host.Refreshes: each of roles
// roles had the refreshes of how ('S' called STS, 'C' took the session
// from the store), which brought the sessions expiring at expires; those
// from 5000 on came after the kill.
func refreshes(roles int, how string, expires ...int64) map[string][]fleettest.Refresh {
	var seq []fleettest.Refresh
	var last int64
	for i, e := range expires {
		ph := phaseRedis
		switch {
		case i == 0:
			ph = phaseWarmup
		case e >= 5000:
			ph = phaseOutage
		}
		seq = append(seq, fleettest.Refresh{Phase: ph, STS: how[i] == 'S', Expires: e, Replaced: last})
		last = e
	}
	m := make(map[string][]fleettest.Refresh, roles)
	for _, c := range fleettest.Customers(roles) {
		m[c.RoleARN] = seq
	}
	return m
}

func TestReportVerdicts(t *testing.T) {
	cfg := defaultConfig()
	cfg.Workers, cfg.Roles = 4, 10
	res := &result{cfg: cfg, store: storeSingle, outage: "redis-server 127.0.0.1:1"}
	res.hubCalls = 1
	res.plain = &plainCheck{sessions: 11, secretsChecked: 33, controlFound: true}
	res.rate = fleettest.Rate{Mean: 0.5, Peak: 1}
	// The cold start and three rounds with Redis: worker 0 made the 40 STS
	// calls, the three others read 40 sessions each. Two rounds without:
	// 20 calls each.
	shared := func(i int) map[string][]fleettest.Refresh {
		how := "CCCCSS"
		if i == 0 {
			how = "SSSSSS"
		}
		return refreshes(10, how, 1000, 2000, 3000, 4000, int64(5000+i), int64(6000+i))
	}
	res.workers = make([]workerReport, 4)
	for i := range res.workers {
		w := &res.workers[i]
		w.Refreshes = shared(i)
		w.Phases[phaseWarmup].RefreshCache = 10
		w.Phases[phaseRedis].RefreshCache = 30
		w.Phases[phaseOutage].RefreshSTS = 20
	}
	res.workers[0].Phases[phaseWarmup] = fleettest.Stats{RefreshSTS: 10}
	res.workers[0].Phases[phaseRedis] = fleettest.Stats{RefreshSTS: 30}
	res.workers[0].Phases[phaseOutage] = fleettest.Stats{RefreshSTS: 20}
	res.stsCalls = 10 + 30 + 80
	assert.Equal(t, 10, res.roundCalls(0))
	assert.Equal(t, 40, res.roundCalls(4), "after the kill, every worker called STS")
	assert.Equal(t, 30, res.exactRounds(1, 4))
	assert.InDelta(t, 10.0, res.callsPerRound(), 1e-9)
	assert.True(t, res.callsMatch())
	assert.InDelta(t, 2.0, res.rounds(phaseOutage), 1e-9)
	assert.True(t, res.pass())

	var out bytes.Buffer
	res.write(&out)
	assert.Contains(t, out.String(), "| AssumeRole calls per round, customer roles | 10 (one per role, not 40) | 10.00 (30 of 30 roles × rounds exact) PASS |")
	assert.Contains(t, out.String(), "| STS call rate, customer roles: peak (1 s) / mean | peak ≤ 3 × mean | 1 / 0.5 per s (peak = 2.0 × mean) PASS |")
	assert.Contains(t, out.String(), "| AssumeRole calls per round, customer roles, after the kill | rises to 40: every worker calls STS | 40.00 (80 calls): ×4.0 the rounds before |")

	t.Run("a worker starting a round late", func(t *testing.T) {
		// Worker 3's first fetch took the session of round 1.
		res.workers[3].Refreshes = refreshes(10, "CCCSS", 2000, 3000, 4000, 5003, 6003)
		defer func() { res.workers[3].Refreshes = shared(3) }()
		assert.Equal(t, 10, res.roundCalls(0))
		assert.Equal(t, 30, res.exactRounds(1, 4))
		assert.True(t, res.pass())
	})
	t.Run("two calls in a round", func(t *testing.T) {
		// Round 2: worker 1 replaced the session of round 1 with STS too.
		res.workers[1].Refreshes = refreshes(10, "CCSCSS", 1000, 2000, 3001, 4000, 5001, 6001)
		defer func() { res.workers[1].Refreshes = shared(1) }()
		assert.Equal(t, 20, res.roundCalls(2))
		assert.Equal(t, 20, res.exactRounds(1, 4))
		assert.False(t, res.pass())
	})
	t.Run("a worker a round short", func(t *testing.T) {
		res.workers[2].Refreshes = refreshes(10, "CCC", 1000, 2000, 3000)
		defer func() { res.workers[2].Refreshes = shared(2) }()
		assert.Equal(t, 30, res.exactRounds(1, 4), "the others' calls were exact")
		assert.Equal(t, 10, res.roundCalls(3))
	})
	t.Run("a session nobody fetched", func(t *testing.T) {
		res.workers[2].Refreshes = refreshes(10, "CCCCSS", 1000, 2000, 3000, 4500, 5002, 6002)
		defer func() { res.workers[2].Refreshes = shared(2) }()
		assert.Zero(t, res.exactRounds(1, 4))
		assert.False(t, res.pass())
	})
	t.Run("ststest saw a call no refresh reported", func(t *testing.T) {
		res.stsCalls++
		defer func() { res.stsCalls-- }()
		assert.False(t, res.callsMatch())
		assert.False(t, res.pass())
	})
	t.Run("a burst", func(t *testing.T) {
		res.rate.Peak = 1.6 // 3.2 × the mean
		defer func() { res.rate.Peak = 1 }()
		assert.False(t, res.pass())
	})
	t.Run("a refused call", func(t *testing.T) {
		res.refused = 1
		defer func() { res.refused = 0 }()
		assert.False(t, res.pass())
	})
	t.Run("a caller error", func(t *testing.T) {
		res.workers[1].Phases[phaseOutage].Errors = 1
		defer func() { res.workers[1].Phases[phaseOutage].Errors = 0 }()
		assert.False(t, res.pass())
	})
	t.Run("a plaintext check that cannot see plaintext", func(t *testing.T) {
		res.plain.controlFound = false
		defer func() { res.plain.controlFound = true }()
		assert.False(t, res.pass())
	})
	assert.True(t, res.pass())

	unshared := &result{cfg: cfg, store: storeNone, hubCalls: 4, stsCalls: 160}
	unshared.workers = make([]workerReport, 4)
	for i := range unshared.workers {
		w := &unshared.workers[i]
		// The workers' sessions may expire at the same moment; they are
		// still each worker's own.
		w.Refreshes = refreshes(10, "SSSS", 1000, 2000, int64(3000+i%2), 4000)
		w.Phases[phaseWarmup].RefreshSTS = 10
		w.Phases[phaseRedis].RefreshSTS = 30
	}
	assert.Equal(t, 40, unshared.exactRounds(0, 4), "10 roles × 4 rounds of 4 calls")
	assert.True(t, unshared.pass(), "every worker calls STS in every round")
	out.Reset()
	writeComparison(&out, []*result{unshared, res})
	assert.Contains(t, out.String(), "| 4 workers × 10 roles | no shared cache | one redis-server |")
	assert.Contains(t, out.String(), "| AssumeRole calls per round | 40.00 | 10.00 |")
	assert.Contains(t, out.String(), "| AssumeRole calls per round after a server is killed | – | 40.00 |")
}
