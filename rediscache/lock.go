package rediscache

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stschain/stschain/sharedcache"
)

// The lock's Lua scripts. Redis runs each atomically, on the primary of its
// key, whatever the client's read routing.
var (
	// acquireScript takes the lock KEYS[1] for token ARGV[1], to expire
	// after ARGV[2] ms, if it is free or the token holds it already (a
	// retried attempt), and returns 1; otherwise it gives a lock without
	// a TTL, or with a longer one, that TTL, and returns 0.
	acquireScript = redis.NewScript(`
local holder = redis.call("GET", KEYS[1])
if holder == ARGV[1] then
	return 1
end
if not holder then
	redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
	return 1
end
local ttl = tonumber(ARGV[2])
local left = redis.call("PTTL", KEYS[1])
if left == -1 or left > ttl then
	redis.call("PEXPIRE", KEYS[1], ttl)
end
return 0
`)
	// extendScript makes the lock KEYS[1] expire after ARGV[2] ms if token
	// ARGV[1] holds it, and returns 1; otherwise 0.
	extendScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("PEXPIRE", KEYS[1], ARGV[2])
end
return 0
`)
	// releaseScript deletes the lock KEYS[1] if token ARGV[1] holds it,
	// and returns 1; otherwise 0. A holder whose lock expired and was
	// taken by another cannot release the other's lock.
	releaseScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("DEL", KEYS[1])
end
return 0
`)
)

// Lock takes the lock of key, the Redis key Prefix + "lock:" + key set to a
// random token, or waits until its holder stored a new session under key,
// and returns the function to call once the refresh is over. The protocol
// is [sharedcache.Locker]'s:
//
//   - One attempt takes the lock if it is free (GET and SET PX in a Lua
//     script, which also gives a lock planted without a TTL, or with a
//     longer one, a TTL of LockTTL; a retried attempt finds its own token).
//   - While another holds it, Lock polls with a pause that doubles from
//     LockRetry to a second: each poll is one pipeline of two Lua scripts,
//     the same attempt and a read of the first 17 bytes of the session
//     (its stamp). When the stamp changes, the holder has stored its
//     result: Lock returns without the lock, with a function that does
//     nothing.
//   - Lock stops waiting when ctx ends, or when two polls in a row fail,
//     and returns an error: the caller goes on without the lock. Give it a
//     context that ends when the caller's own credentials reach their
//     expiry window.
//   - The holder renews its lock every third of LockTTL until it releases
//     it, for at most [sharedcache.MaxHold] (an MFA prompt); a crashed
//     holder's lock expires after LockTTL.
//   - The release deletes the lock only if it still holds the holder's
//     token (a Lua script), and is retried for up to Options.Timeout unless
//     Redis refuses it (NOPERM: an ACL without DEL); a release that still
//     fails is logged, and the lock expires after LockTTL.
//
// Until the returned function runs, Load reads key from the primary,
// whatever the client's read routing: a replica may not have the result
// yet. When Redis fails on the first attempt, Lock returns an error at
// once. An attempt whose outcome Lock does not learn (a lost answer, or
// one that comes after Lock stopped waiting for it) has its lock
// released, if it took one, so that nobody waits for a lock no one holds.
func (c *Cache) Lock(ctx context.Context, key string) (unlock func(), err error) {
	lockName, err := c.name(kindLock, key)
	if err != nil {
		return nil, err
	}
	sessionName, _ := c.name(kindSession, key)
	c.mu.Lock()
	c.primary[sessionName]++ // for the Load right after Lock returns
	c.mu.Unlock()
	done := func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.primary[sessionName]--; c.primary[sessionName] == 0 {
			delete(c.primary, sessionName)
		}
	}
	release, err := c.locker.Lock(ctx, key)
	if err != nil {
		done()
		return nil, fmt.Errorf("rediscache: locking %s: %w", lockName, err)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			release()
			done()
		})
	}, nil
}

// readsPrimary reports whether Load reads the session name from the
// primary.
func (c *Cache) readsPrimary(name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.primary[name] > 0
}

// lockStore is the [sharedcache.LockStore] of a Cache.
type lockStore struct{ c *Cache }

// Poll runs the acquire script on the lock and reads the session's stamp
// from the primary, in one pipeline.
func (s lockStore) Poll(ctx context.Context, key, token string, ttl time.Duration) (bool, string, error) {
	lockName, sessionName := s.c.prefix+kindLock+key, s.c.prefix+kindSession+key
	pipe := s.c.rdb.Pipeline()
	acquired := acquireScript.Eval(ctx, pipe, []string{lockName}, token, ms(ttl))
	stamp := readScript.Eval(ctx, pipe, []string{sessionName}, sharedcache.StampSize-1)
	if _, err := pipe.Exec(ctx); err != nil {
		return false, "", err
	}
	n, err := acquired.Int64()
	if err != nil {
		return false, "", err
	}
	st, err := stamp.Text()
	if err != nil {
		return false, "", err
	}
	return n == 1, st, nil
}

// Extend runs the extend script.
func (s lockStore) Extend(ctx context.Context, key, token string, ttl time.Duration) (bool, error) {
	n, err := extendScript.Run(ctx, s.c.rdb, []string{s.c.prefix + kindLock + key}, token, ms(ttl)).Int64()
	return n == 1, err
}

// Release runs the release script.
func (s lockStore) Release(ctx context.Context, key, token string) (bool, error) {
	n, err := releaseScript.Run(ctx, s.c.rdb, []string{s.c.prefix + kindLock + key}, token).Int64()
	return n == 1, err
}

// ms is d in whole milliseconds, at least 1, as PX and PEXPIRE take it.
func ms(d time.Duration) string { return strconv.FormatInt(max(d.Milliseconds(), 1), 10) }
