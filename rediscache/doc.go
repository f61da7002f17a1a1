// Package rediscache provides a [stschain.Cache] and [stschain.CacheLocker]
// that keeps sessions in Redis, so that a fleet of processes assuming the
// same roles shares their sessions: of many processes due to refresh a
// role, one calls STS and the others take its result from Redis.
//
//	rdb := redis.NewClient(&redis.Options{Addr: "redis:6379", DialerRetries: 1, MaxRetries: 1})
//	cache, err := rediscache.New(rdb, key) // key: 32 random bytes, the same in every process
//	if err != nil { ... }
//	p, err := stschain.New(cfg, func(o *stschain.Options) {
//		o.RoleARN = "arn:aws:iam::123456789012:role/deploy"
//		o.Cache = cache
//	})
//
// It works with any [redis.UniversalClient]: one server, a Cluster, a
// Sentinel setup, a Ring; Valkey too. The sealing and the lock protocol
// are package [sharedcache]'s, which a cache for another store can use as
// well.
//
// # Keys and lifetimes
//
// A session is kept under Prefix + "session:" + its stschain cache key (a
// hex digest of the AssumeRole or GetSessionToken arguments, the AWS CLI's
// cache key), with a Redis TTL of the credentials' remaining lifetime, so
// Redis drops it when it expires. The lock of a key is Prefix + "lock:" +
// the cache key, with a TTL of Options.LockTTL.
//
// # Encryption and key rotation
//
// Values are sealed with AES-256-GCM under the key given to [New], with a
// random nonce per value and the Redis key name as additional data, behind
// a format version byte and the ID of the key (see [sharedcache.Sealer]).
// No access key, secret key, session token or role ARN is readable in
// Redis, in its replies (GET, DUMP, MONITOR), its RDB and AOF files or its
// replicas; what is visible there is the key names, their TTLs and the
// lengths of the values. A value that does not open (sealed with a key
// this process lacks, changed, truncated or copied under another name) is
// a miss with an error that says so, which the provider logs before
// calling STS.
//
// Options.PreviousKeys rotates the key without a miss, in two rolling
// steps: first give every process the new key in PreviousKeys (they still
// seal with the old one, and read both); then make the new key the key of
// New, with the old one in PreviousKeys. Each value read under the old key
// is sealed under the new one at its next refresh; once the longest
// session has expired, drop the old key. Skipping the first step costs the
// processes still on the old key one STS call per session they read.
// [Cache.String] shows the ID of the key a process seals with.
//
// # Rollbacks
//
// Each value says which session it replaced, and a Cache refuses a value
// older than one it has seen under the same name, unless the value says it
// replaced that one: a peer that can write to Redis but has no key cannot
// put back an older session (one revoked since, say) for the processes
// that saw a newer one. Such a value is a miss with an error.
//
// # Locking
//
// [Cache.Lock] cannot strand a fleet. A process due to refresh takes the
// lock of the key with a Lua script (SET with a random token and
// Options.LockTTL, one refresh: 10 s by default); the others wait for its
// result, not for its lock: each of their polls is one pipeline that tries
// the lock and reads the first 17 bytes of the session (its stamp, which
// every new value changes), and a waiter returns as soon as the stamp is
// not the one its last Load read: the new session is there to read. Polls
// back off from Options.LockRetry to a second, one in flight per waiter.
// A waiter stops waiting when its context ends (a provider bounds it by its
// own credentials' expiry window) or when two polls in a row fail, and the
// provider then calls STS itself. The holder renews its lock every
// third of LockTTL for as long as its refresh runs (an MFA prompt
// included), up to [sharedcache.MaxHold]; a crashed holder's lock expires
// after LockTTL, and a lock planted without a TTL, or with a longer one,
// is given LockTTL by the first poll that sees it. The release is a
// compare-and-delete script, retried for up to Options.Timeout; a release
// that fails is logged and the lock expires after LockTTL.
//
// # Reads from the primary
//
// Between a Lock and its unlock, Load reads the session with a Lua script,
// which go-redis sends to the primary whatever the client's read routing
// (ReadOnly, RouteByLatency, RouteRandomly on a Cluster or on a
// FailoverClusterClient): a replica that lags would hand a process that
// waited for another's result the session it is replacing, and the
// process would call STS again. Other reads (GETRANGE) go where the client
// sends reads.
//
// # Deploying
//
// Client settings (go-redis):
//
//   - Any client: DialerRetries: 1 and MaxRetries: 1, so that a dead
//     server is reported at once while a dropped connection is tried
//     again once (the lock's scripts are safe to retry); each call is
//     bounded by Options.Timeout in any case. ContextTimeoutEnabled makes
//     go-redis itself stop at that deadline; without it, an abandoned call
//     ends in the background within the client's ReadTimeout.
//   - Cluster ([redis.NewClusterClient]): ClusterStateReloadInterval of a
//     few seconds (2 s, say). With go-redis's 60 s, the client keeps
//     sending commands to a master that failed over for up to a minute,
//     each one a miss or a failed lock: about three times the STS calls
//     while it lasts. [redis.UniversalOptions] cannot set it: build the
//     ClusterClient itself. Read routing (ReadOnly, RouteRandomly) is
//     safe.
//   - Sentinel: [redis.NewFailoverClient] (every command to the master),
//     or [redis.NewFailoverClusterClient] with RouteRandomly or
//     RouteByLatency for reads from replicas. Not ReplicaOnly on
//     NewFailoverClient: its writes fail, and every process calls STS.
//   - Ring: each key and its lock live on one shard; a shard down costs
//     the sessions it held.
//   - Many roles at once: a process that starts N providers together (or
//     whose refreshes fall together) runs N refreshes, each a few Redis
//     calls, at once. Give the client a PoolSize for them, and a Timeout
//     a busy host can meet: a call that times out is a miss, and a miss
//     an STS call, which loads the host further. 32 processes × 1,000
//     roles started together on a loaded 2-core machine fell back to STS
//     with go-redis's PoolSize (10 per CPU) and the 1 s Timeout (30,589
//     calls for 1,000 roles); with PoolSize 100 and Timeout 5 s they made
//     1,000.
//
// ACL: the cache needs, on the keys Prefix + "*",
//
//	ACL SETUSER stschain on >PASSWORD ~stschain:* +get +set +getrange +pttl +pexpire +del +eval +evalsha
//
// (GET, SET, PTTL, PEXPIRE and DEL run inside the scripts); a cluster
// client also needs +cluster|slots +command for its routing, and
// +readonly with ReadOnly, RouteByLatency or RouteRandomly. Without +del
// the releases fail: every lock then lives its whole LockTTL after its
// refresh, and a process that needs that lock within it waits that long
// (no STS call is lost). Without another command, the calls that need it
// fail, and every process calls STS for itself.
//
// maxmemory-policy: every key of the cache has a TTL. The choice, and what
// a wrong one costs at maxmemory:
//
//   - noeviction, with maxmemory sized for the sessions (about 1 KiB each)
//     on a Redis or database of their own: at the limit, writes fail:
//     sessions are not shared and locks not taken, so every process calls
//     STS for itself (W × N calls a round) until there is room, and logs
//     it; nothing already stored is lost. The choice.
//   - volatile-ttl: evicts the keys nearest their expiry first: locks (a
//     few seconds) and the sessions about to be refreshed; an evicted lock
//     lets a second process call STS for its key.
//   - volatile-lru, volatile-lfu, volatile-random: on a Redis shared with
//     keys that have no TTL, the cache's keys are the only ones these
//     evict, so its sessions go first: each evicted session costs one STS
//     call per process that needed it, and an evicted lock a second STS
//     call. A holder that finds its lock gone logs "a lock was gone before
//     its holder released it (... or the store evicted it)".
//   - allkeys-lru, allkeys-lfu, allkeys-random: as the volatile ones,
//     among every key.
//
// # Metrics
//
// Options.MeterProvider (the smithy-go interface the SDK's clients take;
// OpenTelemetry plugs in through smithyotelmetrics) receives
// rediscache.lookups, rediscache.lock.wait and rediscache.lock.stranded;
// see [Options].
//
// # Failures
//
// Every Redis call is bounded by Options.Timeout (1 s by default) as well
// as by the caller's context, even with a client that does not honour
// contexts: a Redis that is down or stalled costs a caller at most that
// per call. Load then returns a miss with an error, Store and Lock an
// error; a [stschain.ChainableProvider] logs them and goes on with STS
// alone. Load reads at most 64 KiB of a value, and a reply the client
// cannot take (go-redis panics on some) is an error too: no reply from
// Redis can end the process.
package rediscache
