package sharedcache

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestCall(t *testing.T) {
	errBoom := errors.New("boom")
	t.Run("result", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			v, err := Call(t.Context(), time.Second, func(context.Context) (int, error) { return 7, nil }, nil)
			assert.NoError(t, err)
			assert.Equal(t, 7, v)
			_, err = Call(t.Context(), time.Second, func(context.Context) (int, error) { return 0, errBoom }, nil)
			assert.ErrorIs(t, err, errBoom)
		})
	})
	t.Run("timeout, abandoned result handed on", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			release := make(chan struct{})
			abandoned := make(chan int, 1)
			start := time.Now()
			_, err := Call(t.Context(), time.Second, func(context.Context) (int, error) {
				<-release // a client that ignores the context
				return 7, nil
			}, func(v int, err error) { abandoned <- v })
			assert.Equal(t, time.Second, time.Since(start))
			assert.ErrorIs(t, err, context.DeadlineExceeded)
			assert.EqualError(t, err, "no answer within 1s: context deadline exceeded")
			close(release)
			assert.Equal(t, 7, <-abandoned)
		})
	})
	t.Run("client that honours the context", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			start := time.Now()
			_, err := Call(t.Context(), time.Second, func(ctx context.Context) (int, error) {
				<-ctx.Done()
				return 0, fmt.Errorf("i/o: %w", ctx.Err())
			}, nil)
			assert.Equal(t, time.Second, time.Since(start))
			assert.EqualError(t, err, "no answer within 1s: context deadline exceeded",
				"whether the client's answer or the deadline came first")
		})
	})
	t.Run("caller's context", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
			defer cancel()
			release := make(chan struct{})
			defer close(release)
			_, err := Call(ctx, time.Second, func(context.Context) (int, error) { <-release; return 0, nil }, nil)
			assert.Equal(t, context.DeadlineExceeded, err, "the caller's deadline, not the timeout")
		})
	})
}

// A client that panics on a reply (go-redis does on a bulk string length
// near 2^63) fails the call; the process goes on.
func TestCallRecoversPanics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, err := Call(t.Context(), time.Second, func(context.Context) ([]byte, error) {
			n := -1
			return make([]byte, n), nil // as a client reading a hostile length would
		}, nil)
		assert.ErrorContains(t, err, "the client panicked: runtime error: makeslice: len out of range")

		release := make(chan struct{})
		_, err = Call(t.Context(), time.Millisecond, func(context.Context) (int, error) {
			<-release
			return 1, nil
		}, func(int, error) { panic("in abandoned") })
		assert.ErrorContains(t, err, "no answer within 1ms")
		close(release)
		synctest.Wait() // the abandoned callback's panic ended nothing
	})
}
