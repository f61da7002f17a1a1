package stschain

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/aws/smithy-go/metrics"
)

// The instruments of Options.MeterProvider and PoolOptions.MeterProvider:
// what a refresh reports, through the interfaces of smithy-go/metrics that
// the SDK's own clients use. Nothing here runs on a cached Retrieve.

// Names of the instruments a provider or a Pool records, with the
// attributes "link" (the role ARN, or GetSessionTokenLink) and, for the
// first two, "outcome" (a [RefreshOutcome]).
const (
	// MetricRefreshes counts refresh attempts.
	MetricRefreshes = "stschain.refreshes"
	// MetricRefreshDuration is a histogram of how long refresh attempts
	// took, in seconds.
	MetricRefreshDuration = "stschain.refresh.duration"
	// MetricCredentialsRemaining is a gauge of the seconds left until the
	// current credentials of each link expire, read when the meter
	// collects.
	MetricCredentialsRemaining = "stschain.credentials.remaining"
)

// meterScope is the instrumentation scope of the instruments.
const meterScope = "github.com/stschain/stschain"

// meters are the instruments of one provider, or of all the providers of
// a Pool. A nil *meters records nothing.
type meters struct {
	refreshes metrics.Int64Counter
	duration  metrics.Float64Histogram
	meter     metrics.Meter // for the gauge, registered by watch
}

// newMeters creates the instruments on mp; nil when mp is nil.
func newMeters(mp metrics.MeterProvider) (*meters, error) {
	if mp == nil {
		return nil, nil
	}
	m := &meters{meter: mp.Meter(meterScope)}
	var err error
	if m.refreshes, err = m.meter.Int64Counter(MetricRefreshes, instrument("{refresh}", "Refresh attempts, by link and outcome")); err != nil {
		return nil, fmt.Errorf("MeterProvider: creating %s: %w", MetricRefreshes, err)
	}
	if m.duration, err = m.meter.Float64Histogram(MetricRefreshDuration, instrument("s", "Duration of refresh attempts, by link and outcome")); err != nil {
		return nil, fmt.Errorf("MeterProvider: creating %s: %w", MetricRefreshDuration, err)
	}
	return m, nil
}

func instrument(unit, description string) metrics.InstrumentOption {
	return func(o *metrics.InstrumentOptions) { o.UnitLabel, o.Description = unit, description }
}

// record records the refresh attempt ev.
func (m *meters) record(ev RefreshEvent) {
	if m == nil {
		return
	}
	attrs := func(o *metrics.RecordMetricOptions) {
		o.Properties.Set("link", ev.Link)
		o.Properties.Set("outcome", string(ev.Outcome))
	}
	ctx := context.Background()
	m.refreshes.Add(ctx, 1, attrs)
	m.duration.Record(ctx, ev.Latency.Seconds(), attrs)
}

// watch registers the gauge of the seconds left to the current
// credentials each hands observe, one snapshot per link (nil when it has
// none), for as long as owner (the ChainableProvider or Pool they belong
// to) is reachable: the meter keeps each, which must capture what it
// reads but not owner, and the gauge is stopped once owner has been
// collected, so that a provider or Pool a program drops does not stay in
// the meter's callbacks for ever.
func watch[T any](m *meters, owner *T, each func(observe func(link string, s *snapshot))) error {
	if m == nil {
		return nil
	}
	gauge, err := m.meter.Float64AsyncGauge(MetricCredentialsRemaining, func(ctx context.Context, o metrics.Float64Observer) {
		now := time.Now()
		each(func(link string, s *snapshot) {
			if s == nil || !s.creds.CanExpire {
				return
			}
			o.Observe(ctx, max(s.creds.Expires.Sub(now).Seconds(), 0), func(o *metrics.RecordMetricOptions) {
				o.Properties.Set("link", link)
			})
		})
	}, instrument("s", "Seconds until the current credentials expire, by link"))
	if err != nil {
		return fmt.Errorf("MeterProvider: creating %s: %w", MetricCredentialsRemaining, err)
	}
	runtime.AddCleanup(owner, func(g metrics.AsyncInstrument) { g.Stop() }, gauge)
	return nil
}
