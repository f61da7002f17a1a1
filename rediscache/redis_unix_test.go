//go:build unix

package rediscache_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/stschain/stschain"
	"github.com/stschain/stschain/internal/redistest"
	"github.com/stschain/stschain/rediscache"
)

// A redis-server stopped with SIGSTOP (Server.Pause, Unix only) accepts
// connections and answers nothing.
func TestRedisStalled(t *testing.T) {
	rs := redistest.New(t, redistest.Options{})
	key := newKey(t)
	const timeout = 200 * time.Millisecond
	// The client has go-redis's defaults: ContextTimeoutEnabled off and a
	// 5 s ReadTimeout; the Cache still answers within its Timeout.
	cache, _ := process(t, rs, key, func(o *rediscache.Options) { o.Timeout = timeout })
	ctx := t.Context()
	const ck = "0123456789abcdef0123456789abcdef01234567"
	entry := stschain.CacheEntry{Credentials: aws.Credentials{
		AccessKeyID: "ASIAEXAMPLE", SecretAccessKey: "s", SessionToken: "t", CanExpire: true, Expires: time.Now().Add(time.Hour),
	}}
	// Connect first, so that the stall hits an open connection rather
	// than the dial.
	require.NoError(t, cache.Store(ctx, ck, entry))

	require.NoError(t, rs.Pause())
	for name, op := range map[string]func() error{
		"Load":  func() error { _, _, err := cache.Load(ctx, ck); return err },
		"Store": func() error { return cache.Store(ctx, ck, entry) },
		"Lock":  func() error { _, err := cache.Lock(ctx, ck); return err },
	} {
		start := time.Now()
		err := op()
		elapsed := time.Since(start)
		t.Logf("%s with redis-server stalled: %v, %v", name, elapsed, err)
		require.Error(t, err, name)
		assert.ErrorIs(t, err, context.DeadlineExceeded, name)
		assert.Contains(t, err.Error(), "no answer within 200ms", name)
		assert.GreaterOrEqual(t, elapsed, timeout, name)
		assert.Less(t, elapsed, timeout+time.Second, name)
	}
	require.NoError(t, rs.Resume())

	// The SET of the Lock that gave up is applied now; the lock it took
	// is released, or this Lock would wait DefaultLockTTL (5 minutes).
	other, _ := process(t, rs, key)
	wait, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	unlock, err := other.Lock(wait, ck)
	require.NoError(t, err, "no lock is left behind by the attempt that gave up")
	unlock()
}
