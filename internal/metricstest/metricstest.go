// Package metricstest provides an in-memory [metrics.MeterProvider] for
// tests: it records every measurement of every instrument, so that a test
// reads what a package reported through the smithy-go metrics interfaces.
package metricstest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/aws/smithy-go/metrics"
)

// Measurement is one value an instrument recorded.
type Measurement struct {
	// Scope is the name of the Meter the instrument came from.
	Scope string
	// Instrument is the instrument's name.
	Instrument string
	// Kind is the instrument's kind: "Int64Counter", "Float64Histogram"
	// and so on, as the Meter method that created it is named.
	Kind string
	// Value is the value, as a float64.
	Value float64
	// Attributes are the measurement's properties whose keys and values
	// are strings.
	Attributes map[string]string
}

// Instrument is one created instrument.
type Instrument struct {
	Scope, Name, Kind, Unit, Description string
}

// Provider is a metrics.MeterProvider that records in memory. Its zero
// value is ready to use; it is safe for concurrent use.
type Provider struct {
	mu           sync.Mutex
	instruments  []Instrument  // guarded by mu
	measurements []Measurement // guarded by mu
	callbacks    []*callback   // guarded by mu: of the asynchronous instruments
}

var _ metrics.MeterProvider = (*Provider)(nil)

// Meter returns the meter named scope.
func (p *Provider) Meter(scope string, _ ...metrics.MeterOption) metrics.Meter {
	return &meter{p: p, scope: scope}
}

// Instruments returns the instruments created so far, in order.
func (p *Provider) Instruments() []Instrument {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.instruments)
}

// Measurements returns what the instrument named name recorded, in order;
// all instruments' when name is "".
func (p *Provider) Measurements(name string) []Measurement {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []Measurement
	for _, m := range p.measurements {
		if name == "" || m.Instrument == name {
			out = append(out, m)
		}
	}
	return out
}

// Sum adds up what the instrument named name recorded with every attribute
// of attrs ("key=value" pairs).
func (p *Provider) Sum(name string, attrs ...string) float64 {
	var sum float64
	for _, m := range p.Measurements(name) {
		if m.Has(attrs...) {
			sum += m.Value
		}
	}
	return sum
}

// Count is how many measurements the instrument named name recorded with
// every attribute of attrs ("key=value" pairs).
func (p *Provider) Count(name string, attrs ...string) int {
	n := 0
	for _, m := range p.Measurements(name) {
		if m.Has(attrs...) {
			n++
		}
	}
	return n
}

// Has reports whether m has every attribute of attrs ("key=value" pairs).
func (m Measurement) Has(attrs ...string) bool {
	for _, a := range attrs {
		k, v, _ := strings.Cut(a, "=")
		if got, ok := m.Attributes[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// AttributeString is m's attributes as "k=v,k=v", sorted by key.
func (m Measurement) AttributeString() string {
	var kv []string
	for _, k := range slices.Sorted(maps.Keys(m.Attributes)) {
		kv = append(kv, k+"="+m.Attributes[k])
	}
	return strings.Join(kv, ",")
}

// String is "name{k=v,...} value".
func (m Measurement) String() string {
	return fmt.Sprintf("%s{%s} %g", m.Instrument, m.AttributeString(), m.Value)
}

func (p *Provider) create(scope, name, kind string, opts []metrics.InstrumentOption) *instrument {
	var o metrics.InstrumentOptions
	for _, fn := range opts {
		fn(&o)
	}
	p.mu.Lock()
	p.instruments = append(p.instruments, Instrument{Scope: scope, Name: name, Kind: kind, Unit: o.UnitLabel, Description: o.Description})
	p.mu.Unlock()
	return &instrument{p: p, scope: scope, name: name, kind: kind}
}

func (p *Provider) record(in *instrument, v float64, opts []metrics.RecordMetricOption) {
	var o metrics.RecordMetricOptions
	for _, fn := range opts {
		fn(&o)
	}
	attrs := map[string]string{}
	for k, v := range o.Properties.Values() {
		ks, kok := k.(string)
		vs, vok := v.(string)
		if kok && vok {
			attrs[ks] = vs
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.measurements = append(p.measurements, Measurement{Scope: in.scope, Instrument: in.name, Kind: in.kind, Value: v, Attributes: attrs})
}

type meter struct {
	p     *Provider
	scope string
}

func (m *meter) Int64Counter(name string, opts ...metrics.InstrumentOption) (metrics.Int64Counter, error) {
	return m.p.create(m.scope, name, "Int64Counter", opts), nil
}

func (m *meter) Int64UpDownCounter(name string, opts ...metrics.InstrumentOption) (metrics.Int64UpDownCounter, error) {
	return m.p.create(m.scope, name, "Int64UpDownCounter", opts), nil
}

func (m *meter) Int64Gauge(name string, opts ...metrics.InstrumentOption) (metrics.Int64Gauge, error) {
	return m.p.create(m.scope, name, "Int64Gauge", opts), nil
}

func (m *meter) Int64Histogram(name string, opts ...metrics.InstrumentOption) (metrics.Int64Histogram, error) {
	return m.p.create(m.scope, name, "Int64Histogram", opts), nil
}

func (m *meter) Int64AsyncCounter(name string, cb metrics.Int64Callback, opts ...metrics.InstrumentOption) (metrics.AsyncInstrument, error) {
	return m.p.observe(m.p.create(m.scope, name, "Int64AsyncCounter", opts), cb, nil), nil
}

func (m *meter) Int64AsyncUpDownCounter(name string, cb metrics.Int64Callback, opts ...metrics.InstrumentOption) (metrics.AsyncInstrument, error) {
	return m.p.observe(m.p.create(m.scope, name, "Int64AsyncUpDownCounter", opts), cb, nil), nil
}

func (m *meter) Int64AsyncGauge(name string, cb metrics.Int64Callback, opts ...metrics.InstrumentOption) (metrics.AsyncInstrument, error) {
	return m.p.observe(m.p.create(m.scope, name, "Int64AsyncGauge", opts), cb, nil), nil
}

func (m *meter) Float64Counter(name string, opts ...metrics.InstrumentOption) (metrics.Float64Counter, error) {
	return floatInstrument{m.p.create(m.scope, name, "Float64Counter", opts)}, nil
}

func (m *meter) Float64UpDownCounter(name string, opts ...metrics.InstrumentOption) (metrics.Float64UpDownCounter, error) {
	return floatInstrument{m.p.create(m.scope, name, "Float64UpDownCounter", opts)}, nil
}

func (m *meter) Float64Gauge(name string, opts ...metrics.InstrumentOption) (metrics.Float64Gauge, error) {
	return floatInstrument{m.p.create(m.scope, name, "Float64Gauge", opts)}, nil
}

func (m *meter) Float64Histogram(name string, opts ...metrics.InstrumentOption) (metrics.Float64Histogram, error) {
	return floatInstrument{m.p.create(m.scope, name, "Float64Histogram", opts)}, nil
}

func (m *meter) Float64AsyncCounter(name string, cb metrics.Float64Callback, opts ...metrics.InstrumentOption) (metrics.AsyncInstrument, error) {
	return m.p.observe(m.p.create(m.scope, name, "Float64AsyncCounter", opts), nil, cb), nil
}

func (m *meter) Float64AsyncUpDownCounter(name string, cb metrics.Float64Callback, opts ...metrics.InstrumentOption) (metrics.AsyncInstrument, error) {
	return m.p.observe(m.p.create(m.scope, name, "Float64AsyncUpDownCounter", opts), nil, cb), nil
}

func (m *meter) Float64AsyncGauge(name string, cb metrics.Float64Callback, opts ...metrics.InstrumentOption) (metrics.AsyncInstrument, error) {
	return m.p.observe(m.p.create(m.scope, name, "Float64AsyncGauge", opts), nil, cb), nil
}

// instrument records into its Provider; it is every int64 instrument.
type instrument struct {
	p                 *Provider
	scope, name, kind string
}

func (in *instrument) Add(_ context.Context, v int64, opts ...metrics.RecordMetricOption) {
	in.p.record(in, float64(v), opts)
}

func (in *instrument) Sample(_ context.Context, v int64, opts ...metrics.RecordMetricOption) {
	in.p.record(in, float64(v), opts)
}

func (in *instrument) Record(_ context.Context, v int64, opts ...metrics.RecordMetricOption) {
	in.p.record(in, float64(v), opts)
}

func (in *instrument) Observe(_ context.Context, v int64, opts ...metrics.RecordMetricOption) {
	in.p.record(in, float64(v), opts)
}

// floatInstrument is every float64 instrument.
type floatInstrument struct{ *instrument }

func (in floatInstrument) Add(_ context.Context, v float64, opts ...metrics.RecordMetricOption) {
	in.p.record(in.instrument, v, opts)
}

func (in floatInstrument) Sample(_ context.Context, v float64, opts ...metrics.RecordMetricOption) {
	in.p.record(in.instrument, v, opts)
}

func (in floatInstrument) Record(_ context.Context, v float64, opts ...metrics.RecordMetricOption) {
	in.p.record(in.instrument, v, opts)
}

func (in floatInstrument) Observe(_ context.Context, v float64, opts ...metrics.RecordMetricOption) {
	in.p.record(in.instrument, v, opts)
}

// callback is an asynchronous instrument's callback.
type callback struct {
	in      *instrument
	int64   metrics.Int64Callback
	float64 metrics.Float64Callback
	stopped bool // guarded by Provider.mu
}

// Stop stops the asynchronous instrument: Collect calls it no more.
func (c *callback) Stop() {
	c.in.p.mu.Lock()
	defer c.in.p.mu.Unlock()
	c.stopped = true
}

func (p *Provider) observe(in *instrument, i metrics.Int64Callback, f metrics.Float64Callback) *callback {
	c := &callback{in: in, int64: i, float64: f}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.callbacks = append(p.callbacks, c)
	return c
}

// Active is how many asynchronous instruments named name are not stopped:
// Collect calls their callbacks.
func (p *Provider) Active(name string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, c := range p.callbacks {
		if !c.stopped && c.in.name == name {
			n++
		}
	}
	return n
}

// Collect calls the callback of every asynchronous instrument not stopped,
// as an exporter does at each collection, recording what they observe,
// and returns those measurements of the instrument named name (all of
// them when name is "").
func (p *Provider) Collect(ctx context.Context, name string) []Measurement {
	p.mu.Lock()
	var live []*callback
	for _, c := range p.callbacks {
		if !c.stopped {
			live = append(live, c)
		}
	}
	from := len(p.measurements)
	p.mu.Unlock()
	for _, c := range live {
		if c.int64 != nil {
			c.int64(ctx, c.in)
		}
		if c.float64 != nil {
			c.float64(ctx, floatInstrument{c.in})
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []Measurement
	for _, m := range p.measurements[from:] {
		if name == "" || m.Instrument == name {
			out = append(out, m)
		}
	}
	return out
}
