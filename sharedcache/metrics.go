package sharedcache

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/smithy-go/metrics"
)

// Values of the "result" attribute of the lookups counter.
const (
	LookupHit   = "hit"   // an entry was found and opened
	LookupMiss  = "miss"  // no entry
	LookupError = "error" // the store failed, or the entry was unusable
)

// Values of the "result" attribute of the lock wait histogram.
const (
	LockAcquired  = "acquired"  // the lock was taken
	LockStored    = "stored"    // the holder stored its result, and Lock returned without the lock
	LockAbandoned = "abandoned" // Lock stopped waiting for a held lock
	LockFailed    = "failed"    // the store failed before Lock knew whether the lock was held
)

// Values of the "reason" attribute of the stranded counter.
const (
	StrandedRelease = "release" // a release that failed: the lock lives until its TTL ends
	StrandedWait    = "wait"    // a wait given up: the waiter goes on without the lock
)

// Metrics are the instruments of a shared cache, named after its package
// (prefix "rediscache" gives rediscache.lookups and so on):
//
//   - prefix.lookups, a counter of loads, with attribute "result": [LookupHit],
//     [LookupMiss] or [LookupError];
//   - prefix.lock.wait, a histogram of the seconds Lock took, with attribute
//     "result": [LockAcquired], [LockStored], [LockAbandoned] or [LockFailed];
//   - prefix.lock.stranded, a counter of locks left behind, with attribute
//     "reason": [StrandedRelease] (a release that failed) or [StrandedWait]
//     (a wait given up).
//
// A nil *Metrics records nothing. Create one with [NewMetrics].
type Metrics struct {
	lookups  metrics.Int64Counter
	wait     metrics.Float64Histogram
	stranded metrics.Int64Counter
}

// NewMetrics creates the instruments of a shared cache through mp, in the
// meter named scope (the package's import path). A nil mp means no
// metrics: NewMetrics returns nil.
func NewMetrics(mp metrics.MeterProvider, scope, prefix string) (*Metrics, error) {
	if mp == nil {
		return nil, nil
	}
	m := mp.Meter(scope)
	var err error
	var ms Metrics
	if ms.lookups, err = m.Int64Counter(prefix+".lookups", describe("{lookup}", "Cache loads, by result")); err != nil {
		return nil, fmt.Errorf("creating %s.lookups: %w", prefix, err)
	}
	if ms.wait, err = m.Float64Histogram(prefix+".lock.wait", describe("s", "Time taken to take a lock or to see the holder's result")); err != nil {
		return nil, fmt.Errorf("creating %s.lock.wait: %w", prefix, err)
	}
	if ms.stranded, err = m.Int64Counter(prefix+".lock.stranded", describe("{lock}", "Locks left behind: releases that failed, waits given up")); err != nil {
		return nil, fmt.Errorf("creating %s.lock.stranded: %w", prefix, err)
	}
	return &ms, nil
}

func describe(unit, desc string) metrics.InstrumentOption {
	return func(o *metrics.InstrumentOptions) { o.UnitLabel, o.Description = unit, desc }
}

func attr(key, value string) metrics.RecordMetricOption {
	return func(o *metrics.RecordMetricOptions) { o.Properties.Set(key, value) }
}

// Lookup counts one load with its result.
func (m *Metrics) Lookup(ctx context.Context, result string) {
	if m != nil {
		m.lookups.Add(ctx, 1, attr("result", result))
	}
}

// LockWait records how long one Lock took, with its result.
func (m *Metrics) LockWait(ctx context.Context, d time.Duration, result string) {
	if m != nil {
		m.wait.Record(ctx, d.Seconds(), attr("result", result))
	}
}

// Stranded counts one lock left behind, with the reason.
func (m *Metrics) Stranded(ctx context.Context, reason string) {
	if m != nil {
		m.stranded.Add(ctx, 1, attr("reason", reason))
	}
}
