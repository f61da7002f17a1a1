package stschain

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// memCache is a Cache and CacheLocker in memory, recording what it is asked.
type memCache struct {
	mu       sync.Mutex
	entries  map[string]CacheEntry
	loadErr  error
	storeErr error
	lockErr  error
	loads    []string
	stores   []string
	locks    []string
}

func newMemCache() *memCache { return &memCache{entries: map[string]CacheEntry{}} }

func (m *memCache) Load(_ context.Context, key string) (CacheEntry, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.loads = append(m.loads, key)
	if m.loadErr != nil {
		return CacheEntry{}, false, m.loadErr
	}
	e, ok := m.entries[key]
	return e, ok, nil
}

func (m *memCache) Store(_ context.Context, key string, e CacheEntry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stores = append(m.stores, key)
	if m.storeErr != nil {
		return m.storeErr
	}
	m.entries[key] = e
	return nil
}

func (m *memCache) Lock(_ context.Context, key string) (func(), error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.locks = append(m.locks, key)
	if m.lockErr != nil {
		return nil, m.lockErr
	}
	return func() {}, nil
}

func withCache(c Cache) func(*Options) { return func(o *Options) { o.Cache = c } }

func TestCacheIsSharedBetweenProviders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cache := newMemCache()
		f := newFakeSTS("A", time.Hour)
		first := newFake(t, f, staticMaster("alice"), withRole(roleA), withCache(cache))
		c1, err := first.Retrieve(context.Background())
		require.NoError(t, err)
		require.Len(t, cache.stores, 1)

		// A second provider (a restarted process) finds the session.
		second := newFake(t, f, staticMaster("alice"), withRole(roleA), withCache(cache))
		c2, err := second.Retrieve(context.Background())
		require.NoError(t, err)
		assert.Equal(t, c1.AccessKeyID, c2.AccessKeyID)
		assert.Equal(t, ProviderName, c2.Source)
		assert.Equal(t, "123456789012", c2.AccountID, "from the cached AssumedRoleUser")
		assert.Equal(t, 1, f.count())

		// Inside the window the cached entry is not good enough.
		time.Sleep(time.Hour - 30*time.Second)
		third := newFake(t, f, staticMaster("alice"), withRole(roleA), withCache(cache))
		c3, err := third.Retrieve(context.Background())
		require.NoError(t, err)
		assert.NotEqual(t, c1.AccessKeyID, c3.AccessKeyID)
		assert.Equal(t, 2, f.count())
		assert.Len(t, cache.stores, 2)
	})
}

func TestCacheLockIsTakenAroundTheCall(t *testing.T) {
	cache := newMemCache()
	f := newFakeSTS("A", time.Hour)
	p := newFake(t, f, staticMaster("alice"), withRole(roleA), withCache(cache))
	_, err := p.Retrieve(context.Background())
	require.NoError(t, err)
	require.Len(t, cache.locks, 1)
	// Loaded before the lock, and again under it.
	assert.Equal(t, []string{cache.locks[0], cache.locks[0]}, cache.loads)
}

func TestUnusableCacheEntryIsAMiss(t *testing.T) {
	cache := newMemCache()
	cache.loadErr = errors.New("corrupt file")
	f := newFakeSTS("A", time.Hour)
	p := newFake(t, f, staticMaster("alice"), withRole(roleA), withCache(cache))
	_, err := p.Retrieve(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 1, f.count())
}

// A cache that cannot be written (a read-only ~/.aws in a container, Redis
// down) costs the refresh its lock and store, logged, and nothing else.
func TestCacheFailuresAreLoggedAndTheRefreshGoesOn(t *testing.T) {
	cache := newMemCache()
	cache.lockErr = errors.New("read-only file system")
	cache.storeErr = errors.New("read-only file system")
	var logs strings.Builder
	f := newFakeSTS("A", time.Hour)
	p := newFake(t, f, staticMaster("alice"), withRole(roleA), withCache(cache), func(o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	c, err := p.Retrieve(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "ASIAA1", c.AccessKeyID)
	assert.Len(t, cache.locks, 1)
	assert.Len(t, cache.stores, 1, "the store is still tried")
	assert.Contains(t, logs.String(), "cache lock failed; refreshing without it")
	assert.Contains(t, logs.String(), "storing credentials in cache failed")
}

// After Invalidate the shared cache is skipped until a refresh succeeds: a
// failed one (throttling, a mistyped MFA code) must not use the skip up,
// or the next Retrieve would bring the rejected session back.
func TestInvalidateSkipsTheCacheUntilARefreshSucceeds(t *testing.T) {
	cache := newMemCache()
	f := newFakeSTS("A", time.Hour)
	p := newFake(t, f, staticMaster("alice"), withRole(roleA), withCache(cache))
	rejected, err := p.Retrieve(context.Background())
	require.NoError(t, err)
	p.Invalidate() // STS rejected it
	f.failNext(apiError("Throttling", "Rate exceeded"))
	_, err = p.Retrieve(context.Background())
	require.Error(t, err)
	c, err := p.Retrieve(context.Background())
	require.NoError(t, err)
	assert.NotEqual(t, rejected.AccessKeyID, c.AccessKeyID, "the rejected session is not read back from the cache")
	assert.Equal(t, 3, f.count())
}

// Entries that no STS could have granted this link are refused: another
// account's session planted under the link's key, or one that expires
// later than the longest session.
func TestCacheRefusesEntriesTheLinkCouldNotHaveGot(t *testing.T) {
	for _, tc := range []struct {
		name  string
		entry func(now time.Time) CacheEntry
		why   string
	}{
		{"another account", func(now time.Time) CacheEntry {
			return CacheEntry{
				Credentials:     aws.Credentials{AccessKeyID: "ASIAPLANTED", SecretAccessKey: "s", SessionToken: "t", CanExpire: true, Expires: now.Add(time.Hour)},
				AssumedRoleUser: &types.AssumedRoleUser{Arn: aws.String("arn:aws:sts::999999999999:assumed-role/A/x"), AssumedRoleId: aws.String("AROA:x")},
			}
		}, "a session of account 999999999999, not of the role's account 123456789012"},
		{"another role", func(now time.Time) CacheEntry {
			return CacheEntry{
				Credentials:     aws.Credentials{AccessKeyID: "ASIAPLANTED", SecretAccessKey: "s", SessionToken: "t", CanExpire: true, Expires: now.Add(time.Hour)},
				AssumedRoleUser: &types.AssumedRoleUser{Arn: aws.String("arn:aws:sts::123456789012:assumed-role/Other/x"), AssumedRoleId: aws.String("AROA:x")},
			}
		}, "a session of another role than A"},
		{"no identity", func(now time.Time) CacheEntry {
			return CacheEntry{Credentials: aws.Credentials{AccessKeyID: "ASIAPLANTED", SecretAccessKey: "s", SessionToken: "t", CanExpire: true, Expires: now.Add(time.Hour)}}
		}, "has no AssumedRoleUser"},
		{"expires in 2099", func(now time.Time) CacheEntry {
			return CacheEntry{
				Credentials:     aws.Credentials{AccessKeyID: "ASIAPLANTED", SecretAccessKey: "s", SessionToken: "t", CanExpire: true, Expires: time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)},
				AssumedRoleUser: &types.AssumedRoleUser{Arn: aws.String("arn:aws:sts::123456789012:assumed-role/A/x"), AssumedRoleId: aws.String("AROA:x")},
			}
		}, "later than STS could have granted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cache := newMemCache()
			var logs strings.Builder
			f := newFakeSTS("A", time.Hour)
			p := newFake(t, f, staticMaster("alice"), withRole(roleA), withCache(cache), func(o *Options) {
				o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			})
			cache.entries[p.impl.Load().link.cacheKey] = tc.entry(time.Now())
			c, err := p.Retrieve(context.Background())
			require.NoError(t, err)
			assert.NotEqual(t, "ASIAPLANTED", c.AccessKeyID)
			assert.Equal(t, 1, f.count())
			assert.Contains(t, logs.String(), tc.why)
			assert.NotContains(t, logs.String(), "secret-", "no secret in the log")
		})
	}
}

func TestInvalidateSkipsTheCacheOnce(t *testing.T) {
	cache := newMemCache()
	f := newFakeSTS("A", time.Hour)
	p := newFake(t, f, staticMaster("alice"), withRole(roleA), withCache(cache))
	c1, err := p.Retrieve(context.Background())
	require.NoError(t, err)
	p.Invalidate() // e.g. STS rejected c1
	c2, err := p.Retrieve(context.Background())
	require.NoError(t, err)
	assert.NotEqual(t, c1.AccessKeyID, c2.AccessKeyID, "the rejected session is not read back from the cache")
	p.impl.Load().refresh.state.Store(nil) // forget memory only: the cache serves again
	c3, err := p.Retrieve(context.Background())
	require.NoError(t, err)
	assert.Equal(t, c2.AccessKeyID, c3.AccessKeyID)
	assert.Equal(t, 2, f.count())
}

func TestSessionTokenCacheKeyDependsOnTheUser(t *testing.T) {
	cache := newMemCache()
	f := newFakeSTS("S", time.Hour)
	alice := newFake(t, f, staticMaster("alice"), withCache(cache))
	bob := newFake(t, f, staticMaster("bob"), withCache(cache))
	ca, err := alice.Retrieve(context.Background())
	require.NoError(t, err)
	cb, err := bob.Retrieve(context.Background())
	require.NoError(t, err)
	assert.NotEqual(t, ca.AccessKeyID, cb.AccessKeyID, "two users never share a session")
	assert.Equal(t, 2, f.count())
	require.Len(t, cache.stores, 2)
	assert.NotEqual(t, cache.stores[0], cache.stores[1])
	for _, k := range cache.stores {
		assert.NotContains(t, k, "alice")
		assert.NotContains(t, k, "bob")
	}
}

func TestCacheEntryWithoutExpiryIsRefused(t *testing.T) {
	cache := newMemCache()
	f := newFakeSTS("A", time.Hour)
	p := newFake(t, f, staticMaster("alice"), withRole(roleA), withCache(cache))
	cache.entries[p.impl.Load().link.cacheKey] = CacheEntry{Credentials: aws.Credentials{AccessKeyID: "ASIAFOREVER", SecretAccessKey: "s", SessionToken: "t"}}
	c, err := p.Retrieve(context.Background())
	require.NoError(t, err)
	assert.NotEqual(t, "ASIAFOREVER", c.AccessKeyID, "STS sessions expire: one that does not is no STS session")
	assert.Equal(t, 1, f.count())
}

func TestRefreshBypassesTheCache(t *testing.T) {
	cache := newMemCache()
	f := newFakeSTS("A", time.Hour)
	p := newFake(t, f, staticMaster("alice"), withRole(roleA), withCache(cache))
	c1, err := p.Retrieve(context.Background())
	require.NoError(t, err)
	c2, err := p.Refresh(context.Background())
	require.NoError(t, err)
	assert.NotEqual(t, c1.AccessKeyID, c2.AccessKeyID)
	assert.Equal(t, 2, f.count())
	require.Len(t, cache.stores, 2, "the forced result is stored for others")
}

func TestBackgroundRefreshDoesNotReloadItsOwnEntry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cache := newMemCache()
		f := newFakeSTS("A", time.Hour)
		p := newFake(t, f, staticMaster("alice"), withRole(roleA), withCache(cache), func(o *Options) {
			o.PrefetchWindow = 0
			o.DisableJitter = false
		})
		for range 20 { // many draws of the jittered refresh point
			_, err := p.Retrieve(context.Background())
			require.NoError(t, err)
			before := f.count()
			time.Sleep(time.Hour - 2*time.Minute)     // past every jittered refresh point
			_, err = p.Retrieve(context.Background()) // inside the prefetch window
			require.NoError(t, err)
			synctest.Wait()
			require.Equal(t, before+1, f.count(), "the refresh called STS instead of reloading the entry being replaced")
			s := p.impl.Load().refresh.state.Load()
			assert.Equal(t, s.creds.Expires.Add(-DefaultExpiryWindow), s.waitAt, "full windows, not ones shrunk to the entry's remaining life")
		}
	})
}

func TestCacheLoadedEntryKeepsFullWindows(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cache := newMemCache()
		f := newFakeSTS("A", time.Hour)
		first := newFake(t, f, staticMaster("alice"), withRole(roleA), withCache(cache), func(o *Options) { o.PrefetchWindow = 0 })
		_, err := first.Retrieve(context.Background())
		require.NoError(t, err)
		time.Sleep(50 * time.Minute) // 10 minutes left: still outside the 5 min window
		second := newFake(t, f, staticMaster("alice"), withRole(roleA), withCache(cache), func(o *Options) { o.PrefetchWindow = 0 })
		c, err := second.Retrieve(context.Background())
		require.NoError(t, err)
		assert.Equal(t, 1, f.count())
		s := second.impl.Load().refresh.state.Load()
		assert.Equal(t, c.Expires.Add(-DefaultPrefetchWindow), s.prefetchAt)
		assert.Equal(t, c.Expires.Add(-DefaultExpiryWindow), s.waitAt)
	})
}

func TestFreshAssumeRoleEntryLeavesTheMasterAlone(t *testing.T) {
	cache := newMemCache()
	fb, fa := newFakeSTS("B", time.Hour), newFakeSTS("A", time.Hour)
	b := newFake(t, fb, staticMaster("alice"), withRole(roleB))
	a := newFake(t, fa, b, withRole(roleA), withCache(cache))
	_, err := a.Retrieve(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, fb.count())

	// A restart: new providers, the same cache.
	fb2 := newFakeSTS("B", time.Hour)
	b2 := newFake(t, fb2, staticMaster("alice"), withRole(roleB))
	a2 := newFake(t, fa, b2, withRole(roleA), withCache(cache))
	_, err = a2.Retrieve(context.Background())
	require.NoError(t, err)
	assert.Zero(t, fb2.count(), "no STS call (and no MFA prompt) below a fresh cached link")
	assert.Equal(t, 1, fa.count())
}

func TestRoleChainingCapKeepsTheCacheKey(t *testing.T) {
	cache := newMemCache()
	f := newFakeSTS("A", time.Hour)
	f.failNext(apiError("ValidationError", "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."))
	p := newFake(t, f, staticMaster("alice"), withRole(roleA), withCache(cache), func(o *Options) { o.Duration = 4 * time.Hour })
	_, err := p.Retrieve(context.Background())
	require.NoError(t, err)
	_, err = p.Refresh(context.Background())
	require.NoError(t, err)
	require.Len(t, cache.stores, 2)
	assert.Equal(t, cache.stores[0], cache.stores[1], "capped or not, one key for every process")
}

func TestCacheOnGetSessionTokenNeedsAMaster(t *testing.T) {
	_, err := New(aws.Config{}, withCache(newMemCache()), func(o *Options) { o.Client = newFakeSTS("S", 0) })
	require.ErrorIs(t, err, ErrInvalidOptions)
	assert.Contains(t, err.Error(), "master")
}

func TestCacheEntryShowsNoSecret(t *testing.T) {
	e := CacheEntry{Credentials: aws.Credentials{AccessKeyID: "ASIAKEY", SecretAccessKey: "SECRETKEY", SessionToken: "SESSIONTOKEN",
		CanExpire: true, Expires: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}}
	var logs strings.Builder
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("x", "entry", e)
	for _, s := range []string{fmt.Sprint(e), fmt.Sprintf("%+v", e), fmt.Sprintf("%#v", e), fmt.Sprintf("%v", &e), logs.String()} {
		assert.NotContains(t, s, "SECRETKEY")
		assert.NotContains(t, s, "SESSIONTOKEN")
		assert.Contains(t, s, "ASIAKEY")
	}
}
