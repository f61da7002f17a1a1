package sharedcache

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// errTimeout is the cause of a call's context when its timeout ran out.
var errTimeout = errors.New("sharedcache: call timed out")

// States of a call.
const (
	callWaiting   int32 = iota // the caller waits for fn
	callDelivered              // fn returned to a waiting caller
	callAbandoned              // the caller stopped waiting first
)

// Call runs fn, one call to a store, with a context that ends after timeout
// or with ctx, and returns fn's result, or an error once that context
// ends, whichever comes first: a client that does not honour contexts
// cannot hold the caller longer than timeout. When the caller stops
// waiting first, fn goes on in the background until the client gives up,
// and abandoned (when not nil) then gets its result, so that a lock taken
// too late can be released.
//
// fn runs on a goroutine of its own. A panic in fn or abandoned (a client
// that chokes on a hostile reply, say) is recovered and becomes fn's error,
// "the client panicked: ...", so that no reply from a store can end the
// process.
//
// When the timeout ends the call, the error says so ("no answer within
// 1s") and wraps [context.DeadlineExceeded]; when ctx ends it, the error
// is ctx's.
func Call[T any](ctx context.Context, timeout time.Duration, fn func(context.Context) (T, error), abandoned func(T, error)) (T, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, errTimeout)
	defer cancel()
	type result struct {
		v   T
		err error
	}
	var state atomic.Int32
	done := make(chan result, 1)
	go func() {
		var r result
		func() {
			defer recoverInto(&r.err)
			r.v, r.err = fn(ctx)
		}()
		done <- r
		if !state.CompareAndSwap(callWaiting, callDelivered) && abandoned != nil {
			var err error
			defer recoverInto(&err) // nobody is left to tell
			abandoned(r.v, r.err)
		}
	}()
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		if state.CompareAndSwap(callWaiting, callAbandoned) {
			var zero T
			return zero, ctxError(ctx, timeout)
		}
		r = <-done
	}
	if r.err != nil && ctx.Err() != nil {
		// The client stopped because the context ended: say why it did.
		return r.v, ctxError(ctx, timeout)
	}
	return r.v, r.err
}

// recoverInto turns a panic into *err.
func recoverInto(err *error) {
	if p := recover(); p != nil {
		*err = fmt.Errorf("the client panicked: %v", p)
	}
}

// ctxError says why a call's context ended.
func ctxError(ctx context.Context, timeout time.Duration) error {
	if context.Cause(ctx) == errTimeout {
		return fmt.Errorf("no answer within %v: %w", timeout, ctx.Err())
	}
	return ctx.Err()
}
