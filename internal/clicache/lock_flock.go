//go:build darwin || dragonfly || freebsd || illumos || linux || netbsd || openbsd

package clicache

import (
	"context"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Lock takes the lock of key, an exclusive flock(2) on <key>.lock, trying
// again every [LockRetry] until it is free or ctx ends. It creates the lock
// file, mode 0600, when it is missing, and never follows a symbolic link:
// a link planted as <key>.lock makes it create nothing anywhere, and a FIFO
// cannot block it; a lock file Dir does not trust (see [Dir]) is refused.
// The operating system releases the lock when its holder exits, so a
// crashed process never leaves a key locked. The lock excludes other
// processes and, since every call opens the file afresh, other goroutines
// of this process too. The lock file is left in place. The returned
// function releases the lock; calling it again does nothing.
func (d *Dir) Lock(ctx context.Context, key string) (unlock func(), err error) {
	path, err := d.lockPath(ctx, key)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|openNoFollow, 0o600)
	if err != nil {
		return nil, withReadOnlyHint(describeOpenError(path, err))
	}
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if err := checkFile(path, fi); err != nil {
		return nil, err
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	var retry *time.Timer
	for {
		var ferr error
		if err := rc.Control(func(fd uintptr) {
			for {
				ferr = unix.Flock(int(fd), unix.LOCK_EX|unix.LOCK_NB)
				if ferr != unix.EINTR {
					return
				}
			}
		}); err != nil {
			return nil, err
		}
		if ferr == nil {
			break
		}
		if ferr != unix.EWOULDBLOCK {
			return nil, &os.PathError{Op: "flock", Path: path, Err: ferr}
		}
		if retry == nil {
			retry = time.NewTimer(LockRetry)
		} else {
			retry.Reset(LockRetry)
		}
		select {
		case <-ctx.Done():
			retry.Stop()
			return nil, ctx.Err()
		case <-retry.C:
		}
	}
	var once sync.Once
	return func() { once.Do(func() { _ = f.Close() }) }, nil
}
