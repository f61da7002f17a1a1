//go:build !(darwin || dragonfly || freebsd || illumos || linux || netbsd || openbsd)

package clicache

import (
	"context"
	"os"
	"time"

	"github.com/gofrs/flock"
)

// Lock takes the lock of key, an exclusive lock on <key>.lock (through
// github.com/gofrs/flock, which locks as the system does), trying again
// every [LockRetry] until it is free, ctx ends, or the holder has shown no
// sign of life for [LockStale] (an error wrapping [ErrLockStale]). It
// creates the lock file, mode 0600, when it is missing; an existing one
// that is not a regular file Dir trusts (see [Dir]) is refused. The lock
// excludes other processes and, since every call opens the file afresh,
// other goroutines of this process too. The holder touches the lock file
// while it holds the lock (see LockStale); the file is left in place. The
// returned function releases the lock; calling it again does nothing.
func (d *Dir) Lock(ctx context.Context, key string) (unlock func(), err error) {
	path, err := d.lockPath(ctx, key)
	if err != nil {
		return nil, err
	}
	fl := flock.New(path, flock.SetPermissions(0o600))
	err = d.waitLock(ctx, path, func() (bool, error) {
		ok, err := fl.TryLock()
		if err != nil {
			return false, withReadOnlyHint(err)
		}
		return ok, nil
	})
	if err != nil {
		return nil, err
	}
	touch := func() error {
		now := time.Now()
		return os.Chtimes(path, now, now)
	}
	return d.holdLock(touch, func() { _ = fl.Unlock() }), nil
}
