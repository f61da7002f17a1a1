package main

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/stschain/stschain/internal/redistest"
)

// TestMain lets the test binary serve as the workers, as the program does.
func TestMain(m *testing.M) {
	if os.Getenv(workerEnv) != "" {
		os.Exit(workerMain(os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestSmoke runs the whole program small: 2 workers × 5 roles, sessions of
// 9 s, two rounds with Redis, then redis-server killed. It asserts what
// does not depend on the machine's speed: one STS call per role at the
// cold start and in every round with Redis, the others served from Redis;
// no secret readable in Redis; no caller error, with Redis or without; and
// every worker calling STS itself once Redis is gone.
func TestSmoke(t *testing.T) {
	redistest.Require(t)
	cfg := config{
		Workers:      2,
		Roles:        5,
		Lifetime:     9 * time.Second,
		Prefetch:     3 * time.Second,
		Expiry:       time.Second,
		Rounds:       2,
		OutageRounds: 1,
		Callers:      2,
		Pause:        time.Millisecond,
	}
	require.NoError(t, cfg.validate())
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var logs bytes.Buffer
	res, err := run(ctx, cfg, &logs)
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
		assert.Positive(t, s.Retrieves)
		assert.Zero(t, s.Errors, "caller errors: %s", s.FirstError)
	})
	t.Run("plaintext", func(t *testing.T) {
		pc := res.plain
		require.NoError(t, pc.err)
		assert.Equal(t, cfg.Roles+1, pc.sessions, "the customer sessions and the hub's")
		assert.Equal(t, 3*(cfg.Roles+1), pc.secretsChecked)
		assert.Empty(t, pc.leaks)
		assert.True(t, pc.controlFound, "the search finds a plaintext value")
		assert.Empty(t, pc.others)
	})
	t.Run("Redis killed", func(t *testing.T) {
		s := res.sum(phaseOutage)
		require.True(t, res.outage)
		assert.Positive(t, s.Retrieves)
		assert.Zero(t, s.Errors, "caller errors: %s", s.FirstError)
		assert.Zero(t, s.RefreshCache, "nothing comes from a dead Redis")
		assert.Positive(t, s.CacheWarnings, "the providers logged the cache errors")
		assert.GreaterOrEqual(t, s.RefreshSTS, int64(cfg.Workers*cfg.Roles), "every worker refreshed every role from STS")
		assert.Equal(t, int(s.RefreshSTS), res.calls[phaseOutage])
		assert.Contains(t, out.String(), "| caller errors, Redis killed | 0 | 0 PASS |")
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
	} {
		c := defaultConfig()
		mod(&c)
		assert.Error(t, c.validate(), name)
	}
}

func TestReportVerdicts(t *testing.T) {
	cfg := defaultConfig()
	cfg.Workers, cfg.Roles = 4, 10
	res := &result{cfg: cfg, outage: true}
	res.calls = [numPhases]int{10, 30, 80}
	res.hubCalls[phaseWarmup] = 1
	res.plain = plainCheck{sessions: 11, secretsChecked: 33, controlFound: true}
	// Three rounds with Redis: worker 0 made the 30 STS calls, the three
	// others read 30 sessions each. Two rounds without: 20 calls each.
	res.workers = make([]workerReport, 4)
	for i := range res.workers {
		p := &res.workers[i].Phases
		p[phaseRedis].RefreshCache = 30
		p[phaseOutage].RefreshSTS = 20
	}
	res.workers[0].Phases[phaseRedis] = phaseStats{RefreshSTS: 30}
	assert.True(t, res.sharedExactly(phaseRedis))
	assert.InDelta(t, 3.0, res.rounds(phaseRedis), 1e-9)
	assert.InDelta(t, 2.0, res.rounds(phaseOutage), 1e-9)
	assert.True(t, res.pass())

	var out bytes.Buffer
	res.write(&out)
	assert.Contains(t, out.String(), "| AssumeRole calls per round, customer roles, with Redis | 10, not 40 | 10.00 (30 calls) PASS |")
	assert.Contains(t, out.String(), "| AssumeRole calls per round, customer roles, Redis killed | rises to 40: every worker calls STS | 40.00 (80 calls): ×4.0 the rounds with Redis |")

	res.calls[phaseRedis] = 31 // one call no provider reported
	assert.False(t, res.sharedExactly(phaseRedis))
	assert.False(t, res.pass())
	res.calls[phaseRedis] = 30
	res.workers[1].Phases[phaseOutage].Errors = 1
	assert.False(t, res.pass(), "a caller error fails")
	res.workers[1].Phases[phaseOutage].Errors = 0
	res.plain.controlFound = false
	assert.False(t, res.pass(), "a plaintext check that cannot see plaintext fails")
}
