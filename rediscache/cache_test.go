package rediscache

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/stschain/stschain"
)

// testKey is a fixed sealing key; tests that need another use otherKey.
var (
	testKey  = bytes.Repeat([]byte{0x42}, KeySize)
	otherKey = bytes.Repeat([]byte{0x17}, KeySize)
)

const (
	cacheKey = "0123456789abcdef0123456789abcdef01234567"
	otherCK  = "fedcba9876543210fedcba9876543210fedcba98"
	secret   = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	token    = "IQoJb3JpZ2luX2VjEXAMPLETOKEN0123456789+/="
)

func newMiniredis(t *testing.T) (*miniredis.Miniredis, *redis.Client) {
	t.Helper()
	m := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	return m, rdb
}

func newTestCache(t *testing.T, rdb redis.UniversalClient, optFns ...func(*Options)) *Cache {
	t.Helper()
	c, err := New(rdb, testKey, optFns...)
	require.NoError(t, err)
	return c
}

func testEntry(expires time.Time) stschain.CacheEntry {
	return stschain.CacheEntry{
		Credentials: aws.Credentials{
			AccessKeyID:     "ASIAEXAMPLE000000001",
			SecretAccessKey: secret,
			SessionToken:    token,
			CanExpire:       true,
			Expires:         expires,
			AccountID:       "123456789012",
		},
		AssumedRoleUser: &types.AssumedRoleUser{
			Arn:           aws.String("arn:aws:sts::123456789012:assumed-role/deploy/s"),
			AssumedRoleId: aws.String("AROAEXAMPLE:s"),
		},
	}
}

// assertNoSecret checks that err says nothing of the test credentials.
func assertNoSecret(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range []string{secret, token, secret[:8], token[:12]} {
		assert.NotContains(t, err.Error(), s)
	}
}

func TestNewValidates(t *testing.T) {
	_, rdb := newMiniredis(t)
	for _, tt := range []struct {
		name string
		rdb  redis.UniversalClient
		key  []byte
		opts func(*Options)
		want []string
	}{
		{"nil client", nil, testKey, nil, []string{"the Redis client is nil"}},
		{"short key", rdb, testKey[:16], nil, []string{"the key is 16 bytes; AES-256-GCM needs exactly 32"}},
		{"long key", rdb, append(testKey, 1), nil, []string{"the key is 33 bytes"}},
		{"nil key", rdb, nil, nil, []string{"the key is 0 bytes"}},
		{"zero key", rdb, make([]byte, KeySize), nil, []string{"the key is all zero bytes"}},
		{"space in prefix", rdb, testKey, func(o *Options) { o.Prefix = "my app:" }, []string{`Prefix "my app:" has a space`}},
		{"control in prefix", rdb, testKey, func(o *Options) { o.Prefix = "a\nb" }, []string{"control or non-ASCII"}},
		{"non-ASCII prefix", rdb, testKey, func(o *Options) { o.Prefix = "café:" }, []string{"control or non-ASCII"}},
		{"long prefix", rdb, testKey, func(o *Options) { o.Prefix = strings.Repeat("p", 129) }, []string{"Prefix has 129 characters; want at most 128"}},
		{"negative timeout", rdb, testKey, func(o *Options) { o.Timeout = -time.Second }, []string{"Timeout -1s is negative"}},
		{"negative lock TTL", rdb, testKey, func(o *Options) { o.LockTTL = -1 }, []string{"LockTTL -1ns is out of range"}},
		{"sub-millisecond lock TTL", rdb, testKey, func(o *Options) { o.LockTTL = time.Microsecond }, []string{"LockTTL 1µs is out of range; want 0 (default 10s) or at least 1ms"}},
		{"short previous key", rdb, testKey, func(o *Options) { o.PreviousKeys = [][]byte{otherKey, otherKey[:8]} }, []string{"previous key 1 is 8 bytes"}},
		{"previous key is the key", rdb, testKey, func(o *Options) { o.PreviousKeys = [][]byte{testKey} }, []string{"previous key 0 is the key itself"}},
		{"negative lock retry", rdb, testKey, func(o *Options) { o.LockRetry = -time.Millisecond }, []string{"LockRetry -1ms is negative"}},
		{"several at once", nil, nil, func(o *Options) { o.Timeout = -1 }, []string{"client is nil", "key is 0 bytes", "Timeout -1ns"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.rdb, tt.key, tt.opts)
			require.Error(t, err)
			assert.Nil(t, c)
			assert.True(t, strings.HasPrefix(err.Error(), "rediscache: New: "), err.Error())
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	_, rdb := newMiniredis(t)
	c := newTestCache(t, rdb, nil) // a nil option function is skipped
	assert.Equal(t, DefaultPrefix, c.prefix)
	assert.Equal(t, DefaultTimeout, c.timeout)
	assert.Equal(t, DefaultLockTTL, c.locker.TTL())
	assert.Equal(t, 10*time.Second, DefaultLockTTL, "one refresh, not minutes")
	assert.Nil(t, c.metrics, "no MeterProvider, no metrics")

	o := Options{Prefix: "app-1:", Timeout: 2 * time.Second, LockTTL: time.Minute, LockRetry: time.Millisecond}
	c = newTestCache(t, rdb, func(opts *Options) { *opts = o })
	assert.Equal(t, "app-1:", c.prefix)
	assert.Equal(t, 2*time.Second, c.timeout)
	assert.Equal(t, time.Minute, c.locker.TTL())
}

func TestNewKeepsNoCopyOfTheKey(t *testing.T) {
	_, rdb := newMiniredis(t)
	key := bytes.Clone(testKey)
	c := newTestCache(t, rdb)
	c2, err := New(rdb, key)
	require.NoError(t, err)
	clear(key) // the caller wipes its copy
	ctx := t.Context()
	require.NoError(t, c2.Store(ctx, cacheKey, testEntry(time.Now().Add(time.Hour))))
	_, ok, err := c.Load(ctx, cacheKey)
	require.NoError(t, err)
	assert.True(t, ok, "sealed with the key as it was when New ran")
}

func TestStoreAndLoad(t *testing.T) {
	m, rdb := newMiniredis(t)
	c := newTestCache(t, rdb)
	ctx := t.Context()
	expires := time.Now().Add(time.Hour).Round(0)
	for _, tt := range []struct {
		name  string
		entry stschain.CacheEntry
	}{
		{"AssumeRole", testEntry(expires)},
		{"GetSessionToken", stschain.CacheEntry{Credentials: aws.Credentials{
			AccessKeyID: "ASIAEXAMPLE000000002", SecretAccessKey: secret, SessionToken: token,
			CanExpire: true, Expires: expires,
		}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			require.NoError(t, c.Store(ctx, cacheKey, tt.entry))
			assert.True(t, m.Exists("stschain:session:"+cacheKey))
			got, ok, err := c.Load(ctx, cacheKey)
			require.NoError(t, err)
			require.True(t, ok)
			assert.Equal(t, tt.entry.Credentials.AccessKeyID, got.Credentials.AccessKeyID)
			assert.Equal(t, tt.entry.Credentials.SecretAccessKey, got.Credentials.SecretAccessKey)
			assert.Equal(t, tt.entry.Credentials.SessionToken, got.Credentials.SessionToken)
			assert.Equal(t, tt.entry.Credentials.AccountID, got.Credentials.AccountID)
			assert.True(t, got.Credentials.CanExpire)
			assert.True(t, expires.Equal(got.Credentials.Expires), "Expires to the nanosecond: %v, want %v", got.Credentials.Expires, expires)
			assert.Equal(t, tt.entry.AssumedRoleUser, got.AssumedRoleUser)
		})
	}

	_, ok, err := c.Load(ctx, otherCK)
	assert.NoError(t, err, "a missing key is a plain miss")
	assert.False(t, ok)
}

func TestStoreSetsTheRemainingLifetimeAsTTL(t *testing.T) {
	m, rdb := newMiniredis(t)
	c := newTestCache(t, rdb)
	before := time.Now()
	require.NoError(t, c.Store(t.Context(), cacheKey, testEntry(before.Add(90*time.Second))))
	ttl := m.TTL("stschain:session:" + cacheKey)
	assert.LessOrEqual(t, ttl, 90*time.Second)
	assert.Greater(t, ttl, 89*time.Second)
	m.FastForward(ttl)
	assert.False(t, m.Exists("stschain:session:"+cacheKey), "Redis drops the entry when the credentials expire")
}

func TestStoreRefuses(t *testing.T) {
	m, rdb := newMiniredis(t)
	c := newTestCache(t, rdb)
	ctx := t.Context()
	ok := testEntry(time.Now().Add(time.Hour))
	for _, tt := range []struct {
		name  string
		key   string
		entry func(e *stschain.CacheEntry)
		want  string
	}{
		{"no secret", cacheKey, func(e *stschain.CacheEntry) { e.Credentials.SecretAccessKey = "" }, "cannot cache credentials without SecretAccessKey"},
		{"nothing", cacheKey, func(e *stschain.CacheEntry) { e.Credentials = aws.Credentials{} }, "without AccessKeyID, SecretAccessKey, SessionToken, Expires"},
		{"expired", cacheKey, func(e *stschain.CacheEntry) { e.Credentials.Expires = time.Now().Add(-time.Second) }, "not caching credentials ASIAEXAMPLE000000001 that expire at"},
		{"bad key", "../x", func(*stschain.CacheEntry) {}, `invalid cache key "../x"`},
		{"key with colon", "lock:x", func(*stschain.CacheEntry) {}, `invalid cache key "lock:x"`},
		{"empty key", "", func(*stschain.CacheEntry) {}, `invalid cache key ""`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := ok
			tt.entry(&e)
			err := c.Store(ctx, tt.key, e)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.True(t, strings.HasPrefix(err.Error(), "rediscache: "))
			assertNoSecret(t, err)
			assert.Empty(t, m.Keys())
		})
	}
	_, _, err := c.Load(ctx, "a b")
	assert.ErrorContains(t, err, `rediscache: invalid cache key "a b"`)
	_, err = c.Lock(ctx, "a/b")
	assert.ErrorContains(t, err, `rediscache: invalid cache key "a/b"`)
}

func TestPrefix(t *testing.T) {
	m, rdb := newMiniredis(t)
	a := newTestCache(t, rdb, func(o *Options) { o.Prefix = "app-a:" })
	b := newTestCache(t, rdb, func(o *Options) { o.Prefix = "app-b:" })
	ctx := t.Context()
	require.NoError(t, a.Store(ctx, cacheKey, testEntry(time.Now().Add(time.Hour))))
	assert.Equal(t, []string{"app-a:session:" + cacheKey}, m.Keys())
	_, ok, err := b.Load(ctx, cacheKey)
	assert.NoError(t, err)
	assert.False(t, ok, "another prefix is another cache")
	unlock, err := a.Lock(ctx, cacheKey)
	require.NoError(t, err)
	assert.True(t, m.Exists("app-a:lock:"+cacheKey))
	unlock()
}

// TestUnusableValuesAreMisses: what Redis holds under a session name is a
// miss with an error unless it opens (sharedcache's tests cover each way a
// value can fail to); these are the ways Redis adds.
func TestUnusableValuesAreMisses(t *testing.T) {
	m, rdb := newMiniredis(t)
	c := newTestCache(t, rdb)
	ctx := t.Context()
	name := "stschain:session:" + cacheKey
	good := func(t *testing.T) string {
		require.NoError(t, c.Store(ctx, cacheKey, testEntry(time.Now().Add(time.Hour))))
		v, err := m.Get(name)
		require.NoError(t, err)
		return v
	}
	other := newTestCache(t, rdb, func(o *Options) { o.Prefix = "other:" })
	for _, tt := range []struct {
		name string
		set  func(t *testing.T)
		want string
	}{
		{"changed", func(t *testing.T) {
			v := []byte(good(t))
			v[40] ^= 1
			require.NoError(t, m.Set(name, string(v)))
		}, "the value does not open"},
		{"sealed with another key", func(t *testing.T) {
			c2, err := New(rdb, otherKey)
			require.NoError(t, err)
			require.NoError(t, c2.Store(ctx, cacheKey, testEntry(time.Now().Add(time.Hour))))
		}, "the value was sealed with a key this process does not have"},
		{"copied from another prefix", func(t *testing.T) {
			require.NoError(t, other.Store(ctx, cacheKey, testEntry(time.Now().Add(time.Hour))))
			v, err := m.Get("other:session:" + cacheKey)
			require.NoError(t, err)
			require.NoError(t, m.Set(name, v))
		}, "the value does not open"},
		{"plaintext", func(t *testing.T) { require.NoError(t, m.Set(name, `{"AccessKeyId":"x"}`)) }, "does not start with format version"},
		{"larger than an entry can be", func(t *testing.T) {
			require.NoError(t, m.Set(name, good(t)+strings.Repeat("x", 100<<10)))
		}, "the value is over 65536 bytes, more than an entry can be"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m.FlushAll()
			tt.set(t)
			e, ok, err := c.Load(ctx, cacheKey)
			assert.False(t, ok)
			assert.Zero(t, e)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.True(t, strings.HasPrefix(err.Error(), "rediscache: entry "+name+" is unusable: "), err.Error())
			assertNoSecret(t, err)
		})
	}
	t.Run("not a string", func(t *testing.T) {
		m.FlushAll()
		m.HSet(name, "f", "v")
		_, ok, err := c.Load(ctx, cacheKey)
		assert.False(t, ok)
		assert.ErrorContains(t, err, "rediscache: reading "+name+": WRONGTYPE")
	})
	m.FlushAll()
	good(t)
	_, ok, err := c.Load(ctx, cacheKey)
	require.NoError(t, err)
	assert.True(t, ok, "control: an untouched value opens")
}

// A value sealed with a previous key is read, and the next Store seals
// under the current key.
func TestPreviousKeys(t *testing.T) {
	m, rdb := newMiniredis(t)
	ctx := t.Context()
	name := "stschain:session:" + cacheKey
	before := newTestCache(t, rdb)
	require.NoError(t, before.Store(ctx, cacheKey, testEntry(time.Now().Add(time.Hour))))
	oldValue, err := m.Get(name)
	require.NoError(t, err)

	after, err := New(rdb, otherKey, func(o *Options) { o.PreviousKeys = [][]byte{testKey} })
	require.NoError(t, err)
	_, ok, err := after.Load(ctx, cacheKey)
	require.NoError(t, err)
	assert.True(t, ok, "read under the previous key")
	require.NoError(t, after.Store(ctx, cacheKey, testEntry(time.Now().Add(2*time.Hour))))
	newValue, err := m.Get(name)
	require.NoError(t, err)
	assert.Equal(t, before.sealer.KeyID(), fmt.Sprintf("%x", oldValue[1:5]))
	assert.NotEqual(t, oldValue[1:5], newValue[1:5], "re-sealed under the current key")
	assert.Equal(t, after.sealer.KeyID(), fmt.Sprintf("%x", newValue[1:5]))
	_, _, err = before.Load(ctx, cacheKey)
	assert.ErrorContains(t, err, "a key this process does not have", "a process without the new key cannot read it")
}

// A peer that can write to Redis but has no key puts an older value back
// (a revoked session, say): a process that has seen the newer one refuses
// it.
func TestRollbackIsAMiss(t *testing.T) {
	m, rdb := newMiniredis(t)
	c := newTestCache(t, rdb)
	ctx := t.Context()
	name := "stschain:session:" + cacheKey
	require.NoError(t, c.Store(ctx, cacheKey, testEntry(time.Now().Add(time.Hour))))
	old, err := m.Get(name)
	require.NoError(t, err)
	newer := testEntry(time.Now().Add(2 * time.Hour))
	newer.Credentials.AccessKeyID = "ASIAEXAMPLE000000002"
	require.NoError(t, c.Store(ctx, cacheKey, newer))

	require.NoError(t, m.Set(name, old))
	_, ok, err := c.Load(ctx, cacheKey)
	assert.False(t, ok)
	assert.ErrorContains(t, err, "rediscache: entry "+name+" is unusable: it holds a session that another has replaced since, as this process has seen: a rollback, refused")
}

func TestRedisErrorsAreReported(t *testing.T) {
	m, rdb := newMiniredis(t)
	c := newTestCache(t, rdb)
	ctx := t.Context()
	require.NoError(t, c.Store(ctx, cacheKey, testEntry(time.Now().Add(time.Hour))))
	m.SetError("LOADING Redis is loading the dataset in memory")

	_, ok, err := c.Load(ctx, cacheKey)
	assert.False(t, ok)
	assert.EqualError(t, err, "rediscache: reading stschain:session:"+cacheKey+": LOADING Redis is loading the dataset in memory")
	err = c.Store(ctx, cacheKey, testEntry(time.Now().Add(time.Hour)))
	assert.EqualError(t, err, "rediscache: writing stschain:session:"+cacheKey+": LOADING Redis is loading the dataset in memory")
	assertNoSecret(t, err)
	unlock, err := c.Lock(ctx, cacheKey)
	assert.Nil(t, unlock)
	assert.EqualError(t, err, "rediscache: locking stschain:lock:"+cacheKey+": LOADING Redis is loading the dataset in memory")
}

// blockingClient is a UniversalClient whose commands wait for release (or
// their context) before they reach Redis, as behind a stalled network.
func blockingClient(t *testing.T, addr string, contextTimeout bool) (*redis.Client, chan struct{}) {
	rdb := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: contextTimeout, MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	release := make(chan struct{})
	rdb.AddHook(stallHook{release: release, honourContext: contextTimeout})
	return rdb, release
}

type stallHook struct {
	release       chan struct{}
	honourContext bool
}

func (stallHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h stallHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if err := h.wait(ctx); err != nil {
			return err
		}
		return next(ctx, cmd)
	}
}

func (h stallHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if err := h.wait(ctx); err != nil {
			return err
		}
		return next(ctx, cmds)
	}
}

// wait waits for release, or for ctx too when the client honours it.
func (h stallHook) wait(ctx context.Context) error {
	if h.honourContext {
		select {
		case <-h.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	} else {
		<-h.release
	}
	return nil
}

func TestStalledRedisCostsAtMostTheTimeout(t *testing.T) {
	m := miniredis.RunT(t)
	for _, contextTimeout := range []bool{false, true} {
		t.Run(fmt.Sprintf("ContextTimeoutEnabled=%v", contextTimeout), func(t *testing.T) {
			m.FlushAll()
			rdb, release := blockingClient(t, m.Addr(), contextTimeout)
			defer close(release)
			const timeout = 50 * time.Millisecond
			c := newTestCache(t, rdb, func(o *Options) { o.Timeout = timeout })
			ctx := t.Context()

			for name, op := range map[string]func() error{
				"Load":  func() error { _, _, err := c.Load(ctx, cacheKey); return err },
				"Store": func() error { return c.Store(ctx, cacheKey, testEntry(time.Now().Add(time.Hour))) },
				"Lock":  func() error { _, err := c.Lock(ctx, cacheKey); return err },
			} {
				start := time.Now()
				err := op()
				elapsed := time.Since(start)
				require.Error(t, err, name)
				assert.ErrorIs(t, err, context.DeadlineExceeded, name)
				assert.Contains(t, err.Error(), "no answer within 50ms", name)
				assert.GreaterOrEqual(t, elapsed, timeout, name)
				assert.Less(t, elapsed, 20*timeout, name)
			}
		})
	}
}

func TestCallerContextEndsACall(t *testing.T) {
	m := miniredis.RunT(t)
	rdb, release := blockingClient(t, m.Addr(), false)
	defer close(release)
	c := newTestCache(t, rdb)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, _, err := c.Load(ctx, cacheKey)
	assert.ErrorIs(t, err, context.Canceled)
	assert.NotContains(t, err.Error(), "no answer from Redis", "the caller's context ended, not the timeout")
	err = c.Store(ctx, cacheKey, testEntry(time.Now().Add(time.Hour)))
	assert.ErrorIs(t, err, context.Canceled)
}
