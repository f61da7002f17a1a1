// Package sharedcache holds what every [stschain.Cache] and
// [stschain.CacheLocker] shared by a fleet needs, whatever its store, so
// that one for DynamoDB, etcd or memcached is its store's calls and
// nothing more. Package rediscache is built on it.
//
//   - [Sealer] seals entries with AES-256-GCM under a key the fleet
//     shares, names the key in each value so that keys rotate without a
//     miss ([NewSealer] takes previous keys), and refuses a value older
//     than one the process has seen under the same name (a rollback).
//   - [Locker] runs a lock protocol over three atomic operations of the
//     store ([LockStore]) that cannot strand a fleet: waiters watch the
//     value rather than the lock, give up when their context ends, and
//     never trust a lock longer than its holder keeps it alive; releases
//     are token-checked and retried.
//   - [Call] bounds each store call by a timeout, even with a client that
//     ignores contexts, and turns a panic in the client into an error.
//   - [Metrics] are a shared cache's instruments (lookups, lock waits,
//     stranded locks) through the smithy-go metrics interfaces the SDK
//     uses.
//
// # A store's part
//
// A store keeps each session under a name of its own (rediscache: its
// prefix, "session:" and the stschain cache key), and each lock under
// another. Load reads at most [MaxValueSize]+1 bytes of the value and
// passes them to [Sealer.Open]; Store passes the entry to [Sealer.Seal] and
// writes the value with a time to live of the credentials' remaining
// lifetime. The [LockStore] operations are the atomic ones a store offers:
// Redis runs each as a Lua script, DynamoDB would use conditional writes,
// etcd a transaction on a lease.
package sharedcache
