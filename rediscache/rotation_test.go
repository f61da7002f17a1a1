package rediscache_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/stschain/stschain"
	"github.com/stschain/stschain/internal/fleettest"
	"github.com/stschain/stschain/internal/redistest"
	"github.com/stschain/stschain/rediscache"
)

// The fleet of the rotation test: 4 hosts × 8 roles, sessions of 16 s
// refreshed 2 s before they expire. A host whose first refresh is spread
// earliest (a tenth of the session in, 1.6 s) stores a session newer by
// at least 0.6 s (expiries are whole seconds), and the others, whose
// refresh starts up to (2 s - 1 s) / 2 past their prefetch point, find it
// still fresh: every round is one STS call per role when the hosts can
// read each other's values (see bench/fleet's config check).
const (
	rotationHosts    = 4
	rotationRoles    = 8
	rotationLifetime = 16 * time.Second
	rotationPrefetch = 2 * time.Second
	rotationExpiry   = time.Second
	rotationRounds   = 2 // after the first fetches
)

// rotationFleet runs a fleet whose host i seals with the key keys(i)
// returns and reads the previous keys it returns too, against its own
// redis-server, through its first fetches and rotationRounds refresh
// rounds, and returns its rounds, its stats and ststest's count of
// customer AssumeRole calls.
func rotationFleet(ctx context.Context, t *testing.T, keys func(i int) (key []byte, previous [][]byte)) (fleettest.Rounds, fleettest.Stats, int, error) {
	rs := redistest.New(t, redistest.Options{})
	var (
		mu       sync.Mutex
		clients  []*redis.Client
		cacheErr error
	)
	defer func() {
		for _, c := range clients {
			_ = c.Close()
		}
	}()
	f, err := fleettest.Start(ctx, fleettest.Config{
		Hosts: rotationHosts, Roles: rotationRoles, Lifetime: rotationLifetime, Prefetch: rotationPrefetch, Expiry: rotationExpiry,
		Callers: 1, Pause: 5 * time.Millisecond, Phases: 1,
		Cache: func(i int) stschain.Cache {
			rdb := redis.NewClient(faultOptions(rs.Addr))
			key, previous := keys(i)
			c, err := rediscache.New(rdb, key, func(o *rediscache.Options) { o.PreviousKeys = previous })
			mu.Lock()
			defer mu.Unlock()
			clients = append(clients, rdb)
			cacheErr = errors.Join(cacheErr, err)
			return c
		},
	})
	if err = errors.Join(err, cacheErr); err != nil {
		return fleettest.Rounds{}, fleettest.Stats{}, 0, err
	}
	defer f.Close()
	err = f.WaitRefreshed(ctx, rotationRounds)
	// Close stops the callers and the fake STS, which waits for the calls
	// under way, whose refreshes are reported, and counted, before it
	// returns.
	f.Close()
	return f.RoundsByEvent(), f.Stats(0), f.AssumeRoleCalls(), err
}

// TestKeyRotationAcrossAFleet: a rolling key change (Options.PreviousKeys)
// costs no STS call. Half the fleet runs the first step (seal with the
// old key, read the new one too) and half the second (seal with the new
// key, read the old one too), as while the second step rolls out: every
// round is one AssumeRole per role, ststest saw no other, and every host
// opened every value. The control fleet, whose halves have one key each
// and no previous key, makes at least a call per half, role and round
// (in all: at least twice the rolling fleet's).
func TestKeyRotationAcrossAFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping fleets against a real Redis in -short mode; they take about 30 s")
	}
	redistest.Require(t)
	t.Parallel() // it waits on time, beside TestFaults
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	oldKey, newKey := newKey(t), newKey(t)
	type run struct {
		rounds fleettest.Rounds
		stats  fleettest.Stats
		calls  int
		err    error
	}
	var rolling, control run
	var wg sync.WaitGroup
	// The two fleets wait on time, not on the processor: run them at once.
	wg.Go(func() {
		rolling.rounds, rolling.stats, rolling.calls, rolling.err = rotationFleet(ctx, t, func(i int) ([]byte, [][]byte) {
			if i%2 == 0 {
				return oldKey, [][]byte{newKey} // step 1
			}
			return newKey, [][]byte{oldKey} // step 2
		})
	})
	wg.Go(func() {
		control.rounds, control.stats, control.calls, control.err = rotationFleet(ctx, t, func(i int) ([]byte, [][]byte) {
			if i%2 == 0 {
				return oldKey, nil
			}
			return newKey, nil
		})
	})
	wg.Wait()
	require.NoError(t, rolling.err)
	require.NoError(t, control.err)

	for _, c := range fleettest.Customers(rotationRoles) {
		sts := rolling.rounds.STS[c.RoleARN]
		require.GreaterOrEqual(t, len(sts), rotationRounds+1, "rounds of %s", c.RoleARN)
		require.GreaterOrEqual(t, len(control.rounds.STS[c.RoleARN]), rotationRounds+1, "control: rounds of %s", c.RoleARN)
		for k := range rotationRounds + 1 {
			assert.Equal(t, 1, sts[k], "rolling: round %d of %s: AssumeRole calls", k, c.RoleARN)
		}
	}
	// Which round a control call falls in depends on which half stored
	// last; that each half calls STS for itself shows in the sum.
	assert.GreaterOrEqual(t, control.calls, 2*rotationRoles*(rotationRounds+1), "control: AssumeRole calls, at least one per half, role and round")
	assert.Zero(t, rolling.rounds.Unplaced, "rolling: refreshes that took a session no host fetched")
	assert.Equal(t, int(rolling.stats.RefreshSTS), rolling.calls, "rolling: ststest answered the calls the refreshes report, and no other")
	assert.Zero(t, rolling.stats.CacheWarnings, "rolling: warnings (a value that did not open); the first: %s", rolling.stats.FirstCacheWarning)
	assert.Zero(t, rolling.stats.Errors, "rolling: caller errors; the first: %s", rolling.stats.FirstError)
	assert.Zero(t, control.stats.Errors, "control: caller errors; the first: %s", control.stats.FirstError)
	assert.Contains(t, control.stats.FirstCacheWarning, "a key this process does not have", "control: the halves cannot open each other's values")
	t.Logf("rolling: %d AssumeRole calls, %d refreshes from Redis; control: %d calls, %d from Redis, %d warnings",
		rolling.calls, rolling.stats.RefreshCache, control.calls, control.stats.RefreshCache, control.stats.CacheWarnings)
}
