// Package lockwait bounds how long a refresh waits for a cache lock that
// another process holds, by one rule for every lock user of the module
// (the links of package stschain, awsprofile's shared roots): a waiter
// stops waiting, and refreshes without the lock, once the lock has been
// held longer than a refresh takes, or earlier, when the credentials it
// has reach their expiry window, so that its callers never wait on
// another process's lock; already inside the window, no later than they
// expire.
package lockwait

import (
	"context"
	"time"
)

// Bounds of a wait, whatever the credentials.
const (
	// Bound is longer than one refresh takes (an STS call and the SDK's
	// retries), so that a holder at work is waited for, and short enough
	// that a holder that hung, or a lock left behind without an expiry,
	// costs a refresh seconds, not minutes.
	Bound = 10 * time.Second
	// BoundInteractive is the bound of a refresh that may wait for a
	// person: an MFA code read off a device and typed, a credential
	// process that prompts.
	BoundInteractive = 2 * time.Minute
)

// Reasons a wait ends, as log lines say them after "which another holder
// kept".
const (
	ReasonBound            = "longer than a refresh takes"
	ReasonBoundInteractive = "longer than a refresh with a prompt takes"
	ReasonWindow           = "until the current credentials reached their expiry window"
	ReasonExpired          = "until the current credentials expired"
)

// Deadline returns when a waiter that starts waiting at now stops, and
// why (one of the Reasons). interactive: the holder's refresh may wait for
// a person. windowAt is when the waiter's current credentials reach their
// expiry window, and expires when they expire; zero when it has none (or
// they never expire).
func Deadline(now time.Time, interactive bool, windowAt, expires time.Time) (time.Time, string) {
	deadline, why := now.Add(Bound), ReasonBound
	if interactive {
		deadline, why = now.Add(BoundInteractive), ReasonBoundInteractive
	}
	at, atWhy := windowAt, ReasonWindow
	if !at.After(now) {
		at, atWhy = expires, ReasonExpired
	}
	if at.After(now) && at.Before(deadline) {
		return at, atWhy
	}
	return deadline, why
}

// Locker is a cache's lock (stschain.CacheLocker).
type Locker interface {
	Lock(ctx context.Context, key string) (unlock func(), err error)
}

// StoppedError is the error of a Lock that stopped waiting at its
// Deadline.
type StoppedError struct {
	Reason string        // why, one of the Reasons
	Waited time.Duration // how long Lock waited
}

func (e *StoppedError) Error() string {
	return "stopped waiting for the cache lock, which another holder kept " + e.Reason
}

// Lock takes the lock of key from l, waiting no later than Deadline says
// for a waiter with these credentials (see Deadline), or until ctx ends.
// When it stopped at the Deadline, the error is a *StoppedError; otherwise
// it is l's. The lock, once held, does not depend on ctx.
func Lock(ctx context.Context, l Locker, key string, interactive bool, windowAt, expires time.Time) (unlock func(), err error) {
	start := time.Now()
	deadline, why := Deadline(start, interactive, windowAt, expires)
	lctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	unlock, err = l.Lock(lctx, key)
	if err != nil && ctx.Err() == nil && lctx.Err() != nil {
		return nil, &StoppedError{Reason: why, Waited: time.Since(start)}
	}
	return unlock, err
}
