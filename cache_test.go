package stschain

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// memCache is a Cache and CacheLocker in memory, recording what it is asked.
type memCache struct {
	mu      sync.Mutex
	entries map[string]CacheEntry
	loadErr error
	loads   []string
	stores  []string
	locks   []string
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
	m.entries[key] = e
	return nil
}

func (m *memCache) Lock(_ context.Context, key string) (func(), error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.locks = append(m.locks, key)
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
	p.state.Store(nil) // forget memory only: the cache serves again
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

func TestCacheEntryWithoutExpiryIsUsed(t *testing.T) {
	cache := newMemCache()
	p := newFake(t, newFakeSTS("A", time.Hour), staticMaster("alice"), withRole(roleA), withCache(cache))
	key, err := p.cacheKey(aws.Credentials{})
	require.NoError(t, err)
	cache.entries[key] = CacheEntry{Credentials: aws.Credentials{AccessKeyID: "ASIAFOREVER", SecretAccessKey: "s", SessionToken: "t"}}
	c, err := p.Retrieve(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "ASIAFOREVER", c.AccessKeyID)
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
