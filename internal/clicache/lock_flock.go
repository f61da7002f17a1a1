//go:build darwin || dragonfly || freebsd || illumos || linux || netbsd || openbsd

package clicache

import (
	"context"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stschain/stschain/internal/safefile"
)

// Lock takes the lock of key, an exclusive flock(2) on <key>.lock, trying
// again every [LockRetry] until it is free, ctx ends, or the holder has
// shown no sign of life for [LockStale] (an error wrapping
// [ErrLockStale]). It creates the lock file, mode 0600, when it is
// missing, and never follows a symbolic link: a link planted as <key>.lock
// makes it create nothing anywhere, and a FIFO cannot block it; a lock
// file Dir does not trust (see [Dir]) is refused. The operating system
// releases the lock when its holder exits, so a crashed process never
// leaves a key locked. The lock excludes other processes and, since every
// call opens the file afresh, other goroutines of this process too. The
// holder touches the lock file while it holds the lock (see LockStale);
// the file is left in place. The returned function releases the lock;
// calling it again does nothing.
func (d *Dir) Lock(ctx context.Context, key string) (unlock func(), err error) {
	path, err := d.lockPath(ctx, key)
	if err != nil {
		return nil, err
	}
	f, fi, err := safefile.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600, false)
	if err != nil {
		return nil, withReadOnlyHint(notUsing(err))
	}
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	if err := safefile.CheckOwner(path, fi); err != nil {
		return nil, err
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	// onFD runs fn on the file's descriptor, again while it is
	// interrupted.
	onFD := func(fn func(fd int) error) error {
		var ferr error
		if err := rc.Control(func(fd uintptr) {
			for {
				if ferr = fn(int(fd)); ferr != unix.EINTR {
					return
				}
			}
		}); err != nil {
			return err
		}
		return ferr
	}
	err = d.waitLock(ctx, path, func() (bool, error) {
		switch err := onFD(func(fd int) error { return unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) }); err {
		case nil:
			return true, nil
		case unix.EWOULDBLOCK:
			return false, nil
		default:
			return false, &os.PathError{Op: "flock", Path: path, Err: err}
		}
	})
	if err != nil {
		return nil, err
	}
	touch := func() error {
		// The descriptor, not the path: nothing put in the file's place
		// is touched.
		now := unix.NsecToTimeval(time.Now().UnixNano())
		return onFD(func(fd int) error { return unix.Futimes(fd, []unix.Timeval{now, now}) })
	}
	return d.holdLock(touch, func() { _ = f.Close() }), nil
}
