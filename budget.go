package stschain

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"golang.org/x/time/rate"

	"github.com/stschain/stschain/internal/redact"
)

// A Pool's refresh budget: the STS calls in flight at once, the calls a
// second, the pause of every call while STS throttles, and the workers
// that run background refreshes.

// How a Pool backs off when STS throttles it.
const (
	minThrottlePause = time.Second
	maxThrottlePause = 30 * time.Second
)

// ErrThrottled is wrapped by the Error of a pooled provider's refresh that
// was not attempted because STS is throttling the pool; the provider keeps
// its current credentials and tries again after the pause.
var ErrThrottled = errors.New("STS is throttling the pool: refresh postponed")

// budget bounds the STS calls of a pool.
type budget struct {
	slots   chan struct{} // a token per call in flight
	limiter *rate.Limiter // nil: no rate limit
	logger  *slog.Logger
	size    atomic.Int64 // providers in the pool, for the rate check

	mu         sync.Mutex
	pauseUntil time.Time     // guarded by mu: no call starts before this
	pauseStep  time.Duration // guarded by mu: the last pause; 0 after a success
	rateWarned time.Time     // guarded by mu: when the rate was last said to be too low
}

func newBudget(concurrent int, perSecond float64, logger *slog.Logger) *budget {
	b := &budget{slots: make(chan struct{}, concurrent), logger: logger}
	if perSecond > 0 {
		b.limiter = rate.NewLimiter(rate.Limit(perSecond), 1)
	}
	return b
}

// acquire waits for the pool's leave to make one STS call: the end of a
// throttling pause, the rate limit and a free slot. A caller that waits
// and has credentials valid until keepUntil is not kept waiting by a pause
// before then: the refresh fails with ErrThrottled and the caller keeps
// them.
func (b *budget) acquire(ctx context.Context, keepUntil time.Time) (release func(), err error) {
	if b.limiter != nil {
		if err := b.limiter.Wait(ctx); err != nil {
			return nil, err
		}
	}
	for {
		select {
		case b.slots <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		// Look at the pause only with the slot held: a call that waited
		// for it may find the pool paused by the call that had it.
		b.mu.Lock()
		until := b.pauseUntil
		b.mu.Unlock()
		now := wallNow()
		if !now.Before(until) {
			return func() { <-b.slots }, nil
		}
		<-b.slots
		if now.Before(keepUntil) {
			return nil, fmt.Errorf("%w until %s", ErrThrottled, until.UTC().Format(time.RFC3339))
		}
		t := time.NewTimer(until.Sub(now))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
	}
}

// throttles are the errors that pause a pool: the SDK's own list.
var throttles = retry.IsErrorThrottles(retry.DefaultThrottles)

// observe learns from the outcome of an STS call: a throttling error
// pauses the pool, doubling the pause while STS keeps throttling.
func (b *budget) observe(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err == nil {
		b.pauseStep = 0
		return
	}
	if throttles.IsErrorThrottle(err) != aws.TrueTernary {
		return
	}
	now := wallNow()
	if now.Before(b.pauseUntil) {
		return // calls that started before the pause
	}
	b.pauseStep = min(max(2*b.pauseStep, minThrottlePause), maxThrottlePause)
	pause := b.pauseStep/2 + rand.N(b.pauseStep/2+1)
	b.pauseUntil = now.Add(pause)
	b.logger.Warn("stschain: STS is throttling the pool; pausing its refreshes", slog.Duration("pause", pause), slog.String("error", redact.Message(messageOf(err))))
}

// noteLifetime checks that the rate limit can refresh every provider of
// the pool within life, and logs, at most every ten minutes, when it
// cannot.
func (b *budget) noteLifetime(life time.Duration) {
	if b.limiter == nil || life <= 0 {
		return
	}
	perSecond := float64(b.limiter.Limit())
	need := float64(b.size.Load()) / life.Seconds()
	if need <= perSecond {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if now := wallNow(); now.Sub(b.rateWarned) > 10*time.Minute {
		b.rateWarned = now
		b.logger.Warn("stschain: MaxCallsPerSecond is too low to refresh every provider of the pool within its session's life",
			slog.Float64("max_calls_per_second", perSecond), slog.Float64("needed_per_second", need),
			slog.Int64("providers", b.size.Load()), slog.Duration("session", life))
	}
}

// workers run a pool's background refreshes: at most max goroutines, which
// exist only while there is work.
type workers struct {
	max     int
	mu      sync.Mutex
	queue   []func() // guarded by mu
	running int      // guarded by mu
}

func (w *workers) run(job func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.queue = append(w.queue, job)
	if w.running < w.max {
		w.running++
		go w.work()
	}
}

func (w *workers) work() {
	for {
		w.mu.Lock()
		if len(w.queue) == 0 {
			w.running--
			w.queue = w.queue[:0:0] // let a burst's backing array go
			w.mu.Unlock()
			return
		}
		job := w.queue[0]
		w.queue[0] = nil
		w.queue = w.queue[1:]
		w.mu.Unlock()
		job()
	}
}
