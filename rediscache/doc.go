// Package rediscache provides a [stschain.Cache] and [stschain.CacheLocker]
// that keeps sessions in Redis, so that a fleet of processes assuming the
// same roles shares their sessions: of many processes due to refresh a
// role, one calls STS and the others take its result from Redis.
//
//	rdb := redis.NewClient(&redis.Options{Addr: "redis:6379"})
//	cache, err := rediscache.New(rdb, key) // key: 32 random bytes, the same in every process
//	if err != nil { ... }
//	p, err := stschain.New(cfg, func(o *stschain.Options) {
//		o.RoleARN = "arn:aws:iam::123456789012:role/deploy"
//		o.Cache = cache
//	})
//
// # Keys and lifetimes
//
// A session is kept under Prefix + "session:" + its stschain cache key (a
// hex digest of the AssumeRole or GetSessionToken arguments, the AWS CLI's
// cache key), with a Redis TTL of the credentials' remaining lifetime, so
// Redis drops it when it expires. The lock of a key is Prefix + "lock:" +
// the cache key.
//
// # Encryption
//
// Values are sealed with AES-256-GCM under the key given to [New], with a
// random nonce per value and the Redis key name as additional data, behind
// a format version byte. No access key, secret key, session token or role
// ARN is readable in Redis, in its replies (GET, DUMP, MONITOR), its RDB
// and AOF files or its replicas; what is visible there is the key names,
// their TTLs and the lengths of the values. A value that does not open
// (sealed with another key, changed, truncated or copied under another
// name) is a miss with an error that says so, which the provider logs
// before calling STS. Changing the key therefore costs one STS call per
// cached session, and processes with different keys must use different
// prefixes.
//
// # Locking
//
// [Cache.Lock] is SET NX PX with a random token: one holder at a time, and
// a lock that outlives a crashed holder by at most Options.LockTTL (5
// minutes by default, the longest refresh of a provider). A lock is
// released only by its holder, with a compare-and-delete Lua script.
// Waiting is polling, bounded by the caller's context.
//
// # Failures
//
// Every Redis call is bounded by Options.Timeout (1 s by default) as well
// as by the caller's context, even with a client that does not honour
// contexts: a Redis that is down or stalled costs a caller at most that
// per call. Load then returns a miss with an error, Store and Lock an
// error; a [stschain.ChainableProvider] logs them and goes on with STS
// alone. Setting [redis.Options].ContextTimeoutEnabled also makes go-redis
// itself stop at that deadline; without it, an abandoned call ends in the
// background within the client's ReadTimeout.
//
// go-redis retries a refused connection for over a second by default (5
// dial attempts, then 3 retries), so with Redis down each call takes the
// whole Timeout. A miss costs one STS call while a retry costs the
// caller's time: a client for this cache may set DialerRetries to 1 and
// MaxRetries to -1, so that an unreachable Redis is reported at once.
package rediscache
