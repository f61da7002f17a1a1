package rediscache

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/stschain/stschain/internal/metricstest"
)

// TestMetrics reads every instrument of the package through a
// MeterProvider, with every value of its attribute.
func TestMetrics(t *testing.T) {
	m, rdb := newMiniredis(t)
	var mp metricstest.Provider
	opts := func(o *Options) {
		o.MeterProvider = &mp
		o.LockRetry = time.Millisecond
		o.Timeout = 100 * time.Millisecond
	}
	c := newTestCache(t, rdb, opts)
	peerRDB := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { _ = peerRDB.Close() })
	var polls countHook
	peerRDB.AddHook(&polls)
	peer := newTestCache(t, peerRDB, opts)
	ctx := t.Context()

	// Lookups: a miss, a hit, an error.
	_, _, err := c.Load(ctx, cacheKey)
	require.NoError(t, err)
	require.NoError(t, c.Store(ctx, cacheKey, testEntry(time.Now().Add(time.Hour))))
	_, _, err = c.Load(ctx, cacheKey)
	require.NoError(t, err)
	require.NoError(t, m.Set(sessionName, "garbage"))
	_, _, err = c.Load(ctx, cacheKey)
	require.Error(t, err)

	// Lock waits: acquired; stored (a waiter sees the holder's result);
	// abandoned (its context ends); failed (Redis fails).
	unlock, err := c.Lock(ctx, cacheKey)
	require.NoError(t, err)
	waited := make(chan error, 1)
	go func() {
		unlock, err := peer.Lock(ctx, cacheKey)
		if err == nil {
			unlock()
		}
		waited <- err
	}()
	// Once the peer has seen the lock held, the holder stores.
	require.Eventually(t, func() bool { return polls.pipelines.Load() > 0 }, 10*time.Second, time.Millisecond)
	require.NoError(t, c.Store(ctx, cacheKey, testEntry(time.Now().Add(2*time.Hour))))
	require.NoError(t, <-waited)
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	_, err = peer.Lock(short, cacheKey)
	require.ErrorIs(t, err, context.DeadlineExceeded)

	// Stranded: a release that fails (Redis fails from now on).
	m.SetError("ERR injected")
	unlock()
	_, err = c.Lock(ctx, otherCK)
	require.Error(t, err)

	assert.ElementsMatch(t, []metricstest.Instrument{
		{Scope: meterScope, Name: "rediscache.lookups", Kind: "Int64Counter", Unit: "{lookup}", Description: "Cache loads, by result"},
		{Scope: meterScope, Name: "rediscache.lock.wait", Kind: "Float64Histogram", Unit: "s", Description: "Time taken to take a lock or to see the holder's result"},
		{Scope: meterScope, Name: "rediscache.lock.stranded", Kind: "Int64Counter", Unit: "{lock}", Description: "Locks left behind: releases that failed, waits given up"},
	}, mp.Instruments()[:3])
	for _, result := range []string{"hit", "miss", "error"} {
		assert.Equal(t, 1.0, mp.Sum("rediscache.lookups", "result="+result), result)
	}
	for _, result := range []string{"acquired", "stored", "abandoned", "failed"} {
		assert.Equal(t, 1, mp.Count("rediscache.lock.wait", "result="+result), result)
	}
	for _, m := range mp.Measurements("rediscache.lock.wait") {
		assert.GreaterOrEqual(t, m.Value, 0.0)
		assert.Less(t, m.Value, 10.0, "seconds")
	}
	assert.Equal(t, 1.0, mp.Sum("rediscache.lock.stranded", "reason=wait"))
	assert.Equal(t, 1.0, mp.Sum("rediscache.lock.stranded", "reason=release"))
	assert.Len(t, mp.Measurements(""), 3+4+2, "nothing else")
}
