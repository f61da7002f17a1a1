package stschain

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/assert"
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

func TestCacheEntryShowsNoSecret(t *testing.T) {
	e := CacheEntry{Credentials: aws.Credentials{AccessKeyID: "ASIAKEY000000001", SecretAccessKey: "SECRETKEY", SessionToken: "SESSIONTOKEN",
		CanExpire: true, Expires: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}}
	var logs strings.Builder
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("x", "entry", e)
	for _, s := range []string{fmt.Sprint(e), fmt.Sprintf("%+v", e), fmt.Sprintf("%#v", e), fmt.Sprintf("%v", &e), logs.String()} {
		assert.NotContains(t, s, "SECRETKEY")
		assert.NotContains(t, s, "SESSIONTOKEN")
		assert.Contains(t, s, "ASIAKEY000000001")
	}
	e.Credentials.AccessKeyID = "ASIA\x1b[2J$(id)"
	assert.Equal(t, "stschain.CacheEntry{(malformed access key ID) expires 2030-01-02T03:04:05Z}", e.String(),
		"an access key ID of another shape is not printed")
}
