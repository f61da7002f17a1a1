//go:build !(darwin || dragonfly || freebsd || illumos || linux || netbsd || openbsd)

package clicache

import (
	"context"
	"fmt"
	"sync"

	"github.com/gofrs/flock"
)

// Lock takes the lock of key, an exclusive lock on <key>.lock (through
// github.com/gofrs/flock, which locks as the system does), trying again
// every [LockRetry] until it is free or ctx ends. It creates the lock file,
// mode 0600, when it is missing; an existing one that is not a regular file
// Dir trusts (see [Dir]) is refused. The lock excludes other processes and,
// since every call opens the file afresh, other goroutines of this process
// too. The lock file is left in place. The returned function releases the
// lock; calling it again does nothing.
func (d *Dir) Lock(ctx context.Context, key string) (unlock func(), err error) {
	path, err := d.lockPath(ctx, key)
	if err != nil {
		return nil, err
	}
	fl := flock.New(path, flock.SetPermissions(0o600))
	ok, err := fl.TryLockContext(ctx, LockRetry)
	if err != nil {
		return nil, withReadOnlyHint(err)
	}
	if !ok {
		return nil, fmt.Errorf("locking %s: lock not taken", path)
	}
	var once sync.Once
	return func() { once.Do(func() { _ = fl.Unlock() }) }, nil
}
