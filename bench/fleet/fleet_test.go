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
// workers × 5 roles, sessions of 3 s, a round with Redis, then
// redis-server killed. It asserts what does not depend on the machine's
// speed: one STS call per role at the cold start and in the round with
// Redis, the others served from Redis; no secret readable in Redis; no
// caller error, with Redis or without; and every worker calling STS itself
// once Redis is gone.
func TestSmoke(t *testing.T) {
	redistest.Require(t)
	cfg := config{
		Workers:      2,
		Roles:        5,
		Lifetime:     3 * time.Second,
		Prefetch:     time.Second,
		Expiry:       300 * time.Millisecond,
		Rounds:       1,
		OutageRounds: 1,
		Callers:      1,
		Pause:        time.Millisecond,
		Stores:       []string{storeSingle},
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
		assert.Equal(t, cfg.Roles, res.calls[phaseWarmup], "one AssumeRole per role")
		assert.Equal(t, 1, res.hubCalls[phaseWarmup], "one AssumeRole for the hub")
		s := res.sum(phaseWarmup)
		assert.Positive(t, s.Retrieves)
		assert.Zero(t, s.Errors, "caller errors: %s", s.FirstError)
	})
	t.Run("with Redis", func(t *testing.T) {
		s := res.sum(phaseRedis)
		assert.Equal(t, float64(cfg.Rounds), res.rounds(phaseRedis), "refresh rounds")
		assert.Equal(t, int64(cfg.Rounds*cfg.Roles), s.RefreshSTS, "one STS refresh per role and round")
		assert.Equal(t, int64(cfg.Rounds*cfg.Roles*(cfg.Workers-1)), s.RefreshCache, "the other workers' refreshes came from Redis")
		assert.Equal(t, cfg.Rounds*cfg.Roles, res.calls[phaseRedis], "ststest saw the same calls")
		assert.Zero(t, res.refused[phaseWarmup]+res.refused[phaseRedis], "no AssumeRole was refused")
		assert.True(t, res.sharedExactly(phaseRedis))
		assert.Len(t, s.STSTimes, cfg.Rounds*cfg.Roles, "each STS refresh's time")
		assert.InDelta(t, float64(cfg.Rounds*cfg.Roles)/res.durations[phaseRedis].Seconds(), res.rate.Mean, 1e-9, "the mean rate is calls / wall time")
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
		assert.Equal(t, int(s.RefreshSTS), res.calls[phaseOutage])
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
		"negative pause":     func(c *config) { c.Pause = -1 },
		"no store":           func(c *config) { c.Stores = nil },
		"unknown store":      func(c *config) { c.Stores = []string{"memcached"} },
	} {
		c := defaultConfig()
		mod(&c)
		assert.Error(t, c.validate(), name)
	}
}

func TestReportVerdicts(t *testing.T) {
	cfg := defaultConfig()
	cfg.Workers, cfg.Roles = 4, 10
	res := &result{cfg: cfg, store: storeSingle, outage: "redis-server 127.0.0.1:1"}
	res.calls = [numPhases]int{10, 30, 80}
	res.hubCalls[phaseWarmup] = 1
	res.plain = &plainCheck{sessions: 11, secretsChecked: 33, controlFound: true}
	res.rate = fleettest.Rate{Mean: 0.5, Peak: 10}
	// Three rounds with Redis: worker 0 made the 30 STS calls, the three
	// others read 30 sessions each. Two rounds without: 20 calls each.
	res.workers = make([]workerReport, 4)
	for i := range res.workers {
		p := &res.workers[i].Phases
		p[phaseRedis].RefreshCache = 30
		p[phaseOutage].RefreshSTS = 20
	}
	res.workers[0].Phases[phaseRedis] = fleettest.Stats{RefreshSTS: 30}
	assert.True(t, res.sharedExactly(phaseRedis))
	assert.InDelta(t, 3.0, res.rounds(phaseRedis), 1e-9)
	assert.InDelta(t, 2.0, res.rounds(phaseOutage), 1e-9)
	assert.True(t, res.pass())

	var out bytes.Buffer
	res.write(&out)
	assert.Contains(t, out.String(), "| AssumeRole calls per round, customer roles | 10, not 40 | 10.00 (30 calls) PASS |")
	assert.Contains(t, out.String(), "| STS call rate, customer roles: peak (1 s) / mean |  | 10 / 0.5 per s (peak = 20.0 × mean) |")
	assert.Contains(t, out.String(), "| AssumeRole calls per round, customer roles, after the kill | rises to 40: every worker calls STS | 40.00 (80 calls): ×4.0 the rounds before |")

	res.calls[phaseRedis] = 31 // one call no provider reported
	assert.False(t, res.sharedExactly(phaseRedis))
	assert.False(t, res.pass())
	res.calls[phaseRedis] = 30
	res.workers[1].Phases[phaseOutage].Errors = 1
	assert.False(t, res.pass(), "a caller error fails")
	res.workers[1].Phases[phaseOutage].Errors = 0
	res.plain.controlFound = false
	assert.False(t, res.pass(), "a plaintext check that cannot see plaintext fails")
	res.plain.controlFound = true

	unshared := &result{cfg: cfg, store: storeNone, calls: [numPhases]int{40, 120}}
	unshared.workers = make([]workerReport, 4)
	for i := range unshared.workers {
		unshared.workers[i].Phases[phaseRedis].RefreshSTS = 30
	}
	assert.True(t, unshared.pass(), "no sharing target without a store")
	out.Reset()
	writeComparison(&out, []*result{unshared, res})
	assert.Contains(t, out.String(), "| 4 workers × 10 roles | no shared cache | one redis-server |")
	assert.Contains(t, out.String(), "| AssumeRole calls per round | 40.00 | 10.00 |")
	assert.Contains(t, out.String(), "| AssumeRole calls per round after a server is killed | – | 40.00 |")
}
