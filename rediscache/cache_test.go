package rediscache

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
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
		{"zero key", rdb, make([]byte, KeySize), nil, []string{"all zero bytes"}},
		{"space in prefix", rdb, testKey, func(o *Options) { o.Prefix = "my app:" }, []string{`Prefix "my app:" has a space`}},
		{"control in prefix", rdb, testKey, func(o *Options) { o.Prefix = "a\nb" }, []string{"control or non-ASCII"}},
		{"non-ASCII prefix", rdb, testKey, func(o *Options) { o.Prefix = "café:" }, []string{"control or non-ASCII"}},
		{"long prefix", rdb, testKey, func(o *Options) { o.Prefix = strings.Repeat("p", 129) }, []string{"Prefix has 129 characters; want at most 128"}},
		{"negative timeout", rdb, testKey, func(o *Options) { o.Timeout = -time.Second }, []string{"Timeout -1s is negative"}},
		{"negative lock TTL", rdb, testKey, func(o *Options) { o.LockTTL = -1 }, []string{"LockTTL -1ns is out of range"}},
		{"sub-millisecond lock TTL", rdb, testKey, func(o *Options) { o.LockTTL = time.Microsecond }, []string{"LockTTL 1µs is out of range; want 0 (default 5m0s) or at least 1ms"}},
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
	assert.Equal(t, DefaultLockTTL, c.lockTTL)
	assert.Equal(t, DefaultLockRetry, c.lockRetry)
	assert.NotNil(t, c.logger)

	o := Options{Prefix: "app-1:", Timeout: 2 * time.Second, LockTTL: time.Minute, LockRetry: time.Millisecond}
	c = newTestCache(t, rdb, func(opts *Options) { *opts = o })
	assert.Equal(t, "app-1:", c.prefix)
	assert.Equal(t, 2*time.Second, c.timeout)
	assert.Equal(t, time.Minute, c.lockTTL)
	assert.Equal(t, time.Millisecond, c.lockRetry)
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

// sealRaw seals plain as a value of name, the way seal does, so that tests
// can build values whose plaintext seal would never write.
func sealRaw(c *Cache, name string, plain []byte) []byte {
	return c.aead.Seal([]byte{formatV1}, nil, plain, additionalData(formatV1, name))
}

func TestUnusableValuesAreMisses(t *testing.T) {
	m, rdb := newMiniredis(t)
	c := newTestCache(t, rdb)
	ctx := t.Context()
	name := "stschain:session:" + cacheKey
	otherName := "stschain:session:" + otherCK

	good := func() []byte {
		v, err := c.seal(name, testEntry(time.Now().Add(time.Hour)))
		require.NoError(t, err)
		return v
	}
	flip := func(i int) func() []byte {
		return func() []byte {
			v := good()
			if i < 0 {
				i += len(v)
			}
			v[i] ^= 0x01
			return v
		}
	}
	wrongKey, err := New(rdb, otherKey)
	require.NoError(t, err)
	plainJSON, err := json.Marshal(map[string]any{"Credentials": map[string]string{
		"AccessKeyId": "ASIAEXAMPLE000000001", "SecretAccessKey": secret, "SessionToken": token,
		"Expiration": "2099-01-01T00:00:00Z",
	}})
	require.NoError(t, err)

	const doesNotOpen = "the value does not open: it was sealed with another key, changed, truncated, or copied from another key name"
	for _, tt := range []struct {
		name  string
		value func() []byte
		want  string
	}{
		{"flipped ciphertext byte", flip(20), doesNotOpen},
		{"flipped nonce byte", flip(1), doesNotOpen},
		{"flipped tag byte", flip(-1), doesNotOpen},
		{"version byte changed", func() []byte { v := good(); v[0] = 2; return v }, "does not start with format version 1 (its first byte is 0x02)"},
		{"truncated", func() []byte { v := good(); return v[:len(v)-1] }, doesNotOpen},
		{"truncated to the header", func() []byte { return good()[:20] }, "the value is 20 bytes, shorter than any sealed entry (29): truncated"},
		{"empty", func() []byte { return nil }, "the value is empty"},
		{"too large", func() []byte { return append([]byte{formatV1}, make([]byte, maxEntrySize)...) }, "more than an entry can be"},
		{"copied from another key", func() []byte {
			v, err := c.seal(otherName, testEntry(time.Now().Add(time.Hour)))
			require.NoError(t, err)
			return v
		}, doesNotOpen},
		{"sealed with another key", func() []byte {
			v, err := wrongKey.seal(name, testEntry(time.Now().Add(time.Hour)))
			require.NoError(t, err)
			return v
		}, doesNotOpen},
		{"plaintext AWS CLI JSON", func() []byte { return plainJSON }, "does not start with format version 1 (its first byte is 0x7b)"},
		{"sealed non-JSON", func() []byte { return sealRaw(c, name, []byte(`{"SecretAccessKey":"`+secret+`"`)) }, "the sealed entry is not valid JSON (error at byte"},
		{"sealed JSON of the wrong type", func() []byte { return sealRaw(c, name, []byte(`{"SecretAccessKey":7}`)) }, "the sealed entry is malformed: SecretAccessKey is a JSON number"},
		{"sealed JSON with missing fields", func() []byte { return sealRaw(c, name, []byte(`{"SecretAccessKey":"`+secret+`"}`)) }, "the sealed entry has no AccessKeyId, SessionToken, Expiration"},
		{"sealed bad time", func() []byte { return sealRaw(c, name, []byte(`{"Expiration":"tomorrow"}`)) }, "the sealed entry is malformed"},
		{"expired", func() []byte {
			v, err := c.seal(name, testEntry(time.Now().Add(-time.Minute)))
			require.NoError(t, err)
			return v
		}, "its credentials expired at"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			require.NoError(t, m.Set(name, string(tt.value())))
			e, ok, err := c.Load(ctx, cacheKey)
			assert.False(t, ok)
			assert.Zero(t, e)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.True(t, strings.HasPrefix(err.Error(), "rediscache: entry "+name+" is unusable: "), err.Error())
			assertNoSecret(t, err)
		})
	}

	// Control: an untouched value opens.
	require.NoError(t, m.Set(name, string(good())))
	_, ok, err := c.Load(ctx, cacheKey)
	require.NoError(t, err)
	assert.True(t, ok)
}

func TestSealedValuesDiffer(t *testing.T) {
	_, rdb := newMiniredis(t)
	c := newTestCache(t, rdb)
	e := testEntry(time.Now().Add(time.Hour))
	v1, err := c.seal("n", e)
	require.NoError(t, err)
	v2, err := c.seal("n", e)
	require.NoError(t, err)
	assert.NotEqual(t, v1, v2, "a random nonce per value")
	assert.Equal(t, formatV1, v1[0])
	for _, s := range []string{secret, token, e.Credentials.AccessKeyID, "assumed-role", "123456789012"} {
		assert.False(t, bytes.Contains(v1, []byte(s)), "the value shows %q", s)
	}
}

func TestFormatShowsNoKey(t *testing.T) {
	_, rdb := newMiniredis(t)
	var logs bytes.Buffer
	o := Options{Prefix: "app:", Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	c := newTestCache(t, rdb, func(opts *Options) { *opts = o })
	const want = `rediscache.Cache{prefix "app:", timeout 1s, lock TTL 5m0s}`
	forms := map[string]string{}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x", "%q"} {
		forms["*Cache "+verb] = fmt.Sprintf(verb, c)
		assert.Equal(t, want, forms["*Cache "+verb], verb)
		// A Cache copied by value has none of *Cache's methods: its
		// fields show, but the cipher only as a pointer.
		forms["Cache "+verb] = fmt.Sprintf(verb, *c)
		forms["Options "+verb] = fmt.Sprintf(verb, o)
	}
	forms["slog"] = func() string {
		slog.New(slog.NewTextHandler(&logs, nil)).Info("x", "cache", c)
		return logs.String()
	}()
	assert.Contains(t, forms["slog"], `cache="rediscache.Cache{prefix \"app:\"`)
	for name, s := range forms {
		for _, k := range []string{string(testKey), hex.EncodeToString(testKey), base64.StdEncoding.EncodeToString(testKey),
			fmt.Sprint(testKey), fmt.Sprintf("%d", testKey), fmt.Sprintf("%x", testKey)} {
			assert.NotContains(t, s, k, name)
		}
	}
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
		if h.honourContext {
			select {
			case <-h.release:
			case <-ctx.Done():
				return ctx.Err()
			}
		} else {
			<-h.release
		}
		return next(ctx, cmd)
	}
}

func (stallHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
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
				assert.Contains(t, err.Error(), "no answer from Redis within 50ms", name)
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

func TestCall(t *testing.T) {
	errBoom := errors.New("boom")
	t.Run("result", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			v, err := call(t.Context(), time.Second, func(context.Context) (int, error) { return 7, nil }, nil)
			assert.NoError(t, err)
			assert.Equal(t, 7, v)
			_, err = call(t.Context(), time.Second, func(context.Context) (int, error) { return 0, errBoom }, nil)
			assert.ErrorIs(t, err, errBoom)
			_, err = call(t.Context(), time.Second, func(context.Context) (int, error) { return 0, redis.Nil }, nil)
			assert.ErrorIs(t, err, redis.Nil)
		})
	})
	t.Run("timeout, abandoned result handed on", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			release := make(chan struct{})
			abandoned := make(chan int, 1)
			start := time.Now()
			_, err := call(t.Context(), time.Second, func(context.Context) (int, error) {
				<-release // a client that ignores the context
				return 7, nil
			}, func(v int, err error) { abandoned <- v })
			assert.Equal(t, time.Second, time.Since(start))
			assert.ErrorIs(t, err, context.DeadlineExceeded)
			assert.EqualError(t, err, "no answer from Redis within 1s: context deadline exceeded")
			close(release)
			assert.Equal(t, 7, <-abandoned)
		})
	})
	t.Run("client that honours the context", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			start := time.Now()
			_, err := call(t.Context(), time.Second, func(ctx context.Context) (int, error) {
				<-ctx.Done()
				return 0, fmt.Errorf("i/o: %w", ctx.Err())
			}, nil)
			assert.Equal(t, time.Second, time.Since(start))
			assert.EqualError(t, err, "no answer from Redis within 1s: context deadline exceeded",
				"whether the client's answer or the deadline came first")
		})
	})
	t.Run("caller's context", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
			defer cancel()
			release := make(chan struct{})
			defer close(release)
			_, err := call(ctx, time.Second, func(context.Context) (int, error) { <-release; return 0, nil }, nil)
			assert.Equal(t, context.DeadlineExceeded, err, "the caller's deadline, not Options.Timeout")
		})
	})
}
