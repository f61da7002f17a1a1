package lockwait

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A waiter waits no longer than a refresh takes (with a prompt, when the
// holder may prompt), and never past the moment its credentials reach
// their expiry window, or expire when they already have.
func TestDeadline(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	in := func(d time.Duration) time.Time { return now.Add(d) }
	for _, tc := range []struct {
		name              string
		interactive       bool
		windowAt, expires time.Time
		want              time.Duration // from now
		why               string
	}{
		{"no credentials", false, time.Time{}, time.Time{}, Bound, ReasonBound},
		{"far from expiry", false, in(time.Hour - time.Minute), in(time.Hour), Bound, ReasonBound},
		{"expiry window sooner", false, in(3 * time.Second), in(time.Minute), 3 * time.Second, ReasonWindow},
		{"inside the window", false, in(-time.Second), in(4 * time.Second), 4 * time.Second, ReasonExpired},
		{"inside the window, expiring later than a refresh", false, in(-time.Second), in(50 * time.Second), Bound, ReasonBound},
		{"expired", false, in(-2 * time.Second), in(-time.Second), Bound, ReasonBound},
		{"window only, reached", false, in(-time.Second), time.Time{}, Bound, ReasonBound},
		{"interactive", true, in(time.Hour - time.Minute), in(time.Hour), BoundInteractive, ReasonBoundInteractive},
		{"interactive, window sooner", true, in(time.Minute), in(2 * time.Minute), time.Minute, ReasonWindow},
		{"window at the bound", false, in(Bound), in(time.Hour), Bound, ReasonBound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			at, why := Deadline(now, tc.interactive, tc.windowAt, tc.expires)
			assert.Equal(t, tc.want, at.Sub(now))
			assert.Equal(t, tc.why, why)
		})
	}
}

// heldLock is a lock another holder keeps for ever: Lock waits until its
// context ends.
type heldLock struct{}

func (heldLock) Lock(ctx context.Context, _ string) (func(), error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

type lockFunc func(ctx context.Context, key string) (func(), error)

func (f lockFunc) Lock(ctx context.Context, key string) (func(), error) { return f(ctx, key) }

// Lock waits for a held lock until Deadline, and then says why it
// stopped; a lock it gets, or an error of the lock, or the end of the
// caller's context, it returns as they are.
func TestLock(t *testing.T) {
	t.Run("stopped at the deadline", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			start := time.Now()
			_, err := Lock(context.Background(), heldLock{}, "k", false, start.Add(3*time.Second), start.Add(time.Minute))
			var stopped *StoppedError
			require.ErrorAs(t, err, &stopped)
			assert.Equal(t, &StoppedError{Reason: ReasonWindow, Waited: 3 * time.Second}, stopped)
			assert.Equal(t, 3*time.Second, time.Since(start))
			assert.EqualError(t, err, "stopped waiting for the cache lock, which another holder kept until the current credentials reached their expiry window")
		})
	})
	t.Run("the caller's context", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_, err := Lock(ctx, heldLock{}, "k", false, time.Time{}, time.Time{})
			assert.ErrorIs(t, err, context.DeadlineExceeded)
			var stopped *StoppedError
			assert.False(t, errors.As(err, &stopped), "the caller's deadline, not the wait's")
		})
	})
	t.Run("taken", func(t *testing.T) {
		released := false
		unlock, err := Lock(context.Background(), lockFunc(func(ctx context.Context, key string) (func(), error) {
			assert.Equal(t, "k", key)
			deadline, ok := ctx.Deadline()
			assert.True(t, ok)
			assert.WithinDuration(t, time.Now().Add(Bound), deadline, time.Second)
			return func() { released = true }, nil
		}), "k", false, time.Time{}, time.Time{})
		require.NoError(t, err)
		unlock()
		assert.True(t, released)
	})
	t.Run("failed", func(t *testing.T) {
		boom := errors.New("boom")
		_, err := Lock(context.Background(), lockFunc(func(context.Context, string) (func(), error) { return nil, boom }), "k", true, time.Time{}, time.Time{})
		assert.Equal(t, boom, err)
	})
}
