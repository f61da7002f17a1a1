package sharedcache_test

import (
	"context"
	"sync"
	"time"

	"github.com/stschain/stschain/sharedcache"
)

// memStore is a shared store in memory, as a Redis, DynamoDB or etcd
// would be for the processes of a fleet: values by name, and the
// LockStore operations. The tests count its calls and make them fail.
type memStore struct {
	mu     sync.Mutex
	values map[string][]byte  // guarded by mu
	locks  map[string]memLock // guarded by mu
	calls  map[string]int     // guarded by mu: per operation
	// fail, when not nil, may fail an operation ("poll", "extend",
	// "release") before it runs, or after with applied set. Guarded by
	// mu.
	fail func(op string, applied bool) error
}

// memLock is a held lock; expires is zero for a lock without a TTL.
type memLock struct {
	token   string
	expires time.Time
}

var _ sharedcache.LockStore = (*memStore)(nil)

func newMemStore() *memStore {
	return &memStore{values: map[string][]byte{}, locks: map[string]memLock{}, calls: map[string]int{}}
}

// sessionName and lockName are the names of a key's value and lock.
func sessionName(key string) string { return "session:" + key }
func lockName(key string) string    { return "lock:" + key }

func (s *memStore) Get(name string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.values[name]
}

func (s *memStore) Set(name string, val []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.values[name] = val
}

// live returns the lock of key unless it has expired. s.mu is held.
func (s *memStore) live(key string) (memLock, bool) {
	l, ok := s.locks[lockName(key)]
	if ok && !l.expires.IsZero() && !time.Now().Before(l.expires) {
		delete(s.locks, lockName(key))
		return memLock{}, false
	}
	return l, ok
}

// op counts a call of op and runs the injected failure before it.
func (s *memStore) op(name string) error {
	s.calls[name]++
	if s.fail != nil {
		return s.fail(name, false)
	}
	return nil
}

// after runs the injected failure after op was applied.
func (s *memStore) after(name string) error {
	if s.fail != nil {
		return s.fail(name, true)
	}
	return nil
}

func (s *memStore) Poll(_ context.Context, key, token string, ttl time.Duration) (bool, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.op("poll"); err != nil {
		return false, "", err
	}
	stamp := sharedcache.Stamp(s.values[sessionName(key)])
	now := time.Now()
	l, held := s.live(key)
	switch {
	case held && l.token == token:
		return true, stamp, s.after("poll")
	case !held:
		s.locks[lockName(key)] = memLock{token: token, expires: now.Add(ttl)}
		return true, stamp, s.after("poll")
	case l.expires.IsZero() || l.expires.After(now.Add(ttl)):
		l.expires = now.Add(ttl) // trusted for no longer
		s.locks[lockName(key)] = l
	}
	return false, stamp, s.after("poll")
}

func (s *memStore) Extend(_ context.Context, key, token string, ttl time.Duration) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.op("extend"); err != nil {
		return false, err
	}
	l, held := s.live(key)
	if !held || l.token != token {
		return false, s.after("extend")
	}
	l.expires = time.Now().Add(ttl)
	s.locks[lockName(key)] = l
	return true, s.after("extend")
}

func (s *memStore) Release(_ context.Context, key, token string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.op("release"); err != nil {
		return false, err
	}
	l, held := s.live(key)
	if !held || l.token != token {
		return false, s.after("release")
	}
	delete(s.locks, lockName(key))
	return true, s.after("release")
}

// Calls is how many times op was called.
func (s *memStore) Calls(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

// Locked reports whether key's lock is held, and by which token.
func (s *memStore) Locked(key string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.live(key)
	return l.token, ok
}

// Plant holds key's lock for another token, with no TTL when ttl is 0.
func (s *memStore) Plant(key string, ttl time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := memLock{token: "planted"}
	if ttl > 0 {
		l.expires = time.Now().Add(ttl)
	}
	s.locks[lockName(key)] = l
}

// Fail sets the injected failure.
func (s *memStore) Fail(fn func(op string, applied bool) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = fn
}
