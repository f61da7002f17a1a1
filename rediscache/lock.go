package rediscache

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// releaseScript deletes a lock only if it still holds the holder's token:
// a holder whose lock expired and was taken by another cannot release the
// other's lock.
var releaseScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("DEL", KEYS[1])
end
return 0
`)

// Lock takes the lock of key, the Redis key Prefix + "lock:" + key set with
// SET NX PX to a random token, and returns the function that releases it.
// While another holder has the lock, Lock tries again every LockRetry or
// so until it is free, has expired (after LockTTL) or ctx ends. Each
// attempt is bounded by Options.Timeout: when Redis fails or does not
// answer, Lock returns an error at once rather than waiting on.
//
// The returned function releases the lock if this holder still has it
// (compare and delete, in one Lua script), so a holder whose lock expired
// never releases someone else's; calling it again does nothing. It runs
// even after ctx has ended, bounded by Options.Timeout; a failure is
// logged and the lock then expires by itself.
//
// An attempt whose outcome Lock does not learn (a lost answer, or one that
// comes after Lock stopped waiting for it) has its lock released, if it
// took one, so that nobody waits LockTTL for a lock no one holds; when
// Lock has returned already, this happens in the background once the
// answer comes or the client gives up.
func (c *Cache) Lock(ctx context.Context, key string) (unlock func(), err error) {
	name, err := c.name(kindLock, key)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("rediscache: locking %s: %w", name, err)
	}
	token := rand.Text()
	for waited := false; ; waited = true {
		ok, err := call(ctx, c.timeout, func(ctx context.Context) (bool, error) {
			ok, err := c.rdb.SetNX(ctx, name, token, c.lockTTL).Result()
			if err != nil {
				// The SET may have been applied with its answer lost.
				c.release(context.WithoutCancel(ctx), name, token, false)
			}
			return ok, err
		}, func(ok bool, _ error) {
			if ok { // taken after Lock gave up on the attempt
				c.release(context.WithoutCancel(ctx), name, token, false)
			}
		})
		if err != nil {
			if waited && ctx.Err() != nil {
				return nil, fmt.Errorf("rediscache: locking %s: held by another; stopped waiting: %w", name, ctx.Err())
			}
			return nil, fmt.Errorf("rediscache: locking %s: %w", name, err)
		}
		if ok {
			var once sync.Once
			return func() {
				once.Do(func() { c.release(context.WithoutCancel(ctx), name, token, true) })
			}, nil
		}
		wait := time.NewTimer(c.lockRetry/2 + randDuration(c.lockRetry))
		select {
		case <-wait.C:
		case <-ctx.Done():
			wait.Stop()
			return nil, fmt.Errorf("rediscache: locking %s: held by another; stopped waiting: %w", name, ctx.Err())
		}
	}
}

// release deletes the lock name if it still has token. holder says that the
// caller held it, so that a lock gone before its release is worth a
// warning.
func (c *Cache) release(ctx context.Context, name, token string, holder bool) {
	n, err := call(ctx, c.timeout, func(ctx context.Context) (int64, error) {
		return releaseScript.Run(ctx, c.rdb, []string{name}, token).Int64()
	}, nil)
	switch {
	case err != nil && holder:
		c.logger.Warn("rediscache: releasing a lock failed; it expires by itself",
			slog.String("lock", name), slog.Duration("lock_ttl", c.lockTTL), slog.Any("error", err))
	case err == nil && n == 0 && holder:
		c.logger.Warn("rediscache: a lock expired before its holder released it, so another process may have called STS too; raise LockTTL",
			slog.String("lock", name), slog.Duration("lock_ttl", c.lockTTL))
	}
}

func randDuration(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return mrand.N(d)
}
