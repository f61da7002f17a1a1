package lockwait

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
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
