package stschain

import (
	"context"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go/metrics"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testMeterProvider is a metrics.MeterProvider that keeps in memory what
// is recorded: counter sums, histogram values and async gauges, which
// collect reads, each keyed by instrument name and by the attributes in
// the form "k=v,k=v" (sorted).
type testMeterProvider struct {
	mu         sync.Mutex
	scopes     []string
	units      map[string]string
	counters   map[string]map[string]int64
	histograms map[string]map[string][]float64
	gauges     map[string][]*testGauge
}

type testGauge struct {
	callback metrics.Float64Callback
	stopped  bool
}

func newTestMeterProvider() *testMeterProvider {
	return &testMeterProvider{
		units:      map[string]string{},
		counters:   map[string]map[string]int64{},
		histograms: map[string]map[string][]float64{},
		gauges:     map[string][]*testGauge{},
	}
}

func (p *testMeterProvider) Meter(scope string, _ ...metrics.MeterOption) metrics.Meter {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.scopes = append(p.scopes, scope)
	return testMeter{p: p}
}

// testMeter records the instruments stschain uses; the others are no-ops.
type testMeter struct {
	metrics.NopMeter
	p *testMeterProvider
}

func (m testMeter) unit(name string, opts []metrics.InstrumentOption) {
	var o metrics.InstrumentOptions
	for _, fn := range opts {
		fn(&o)
	}
	m.p.units[name] = o.UnitLabel
}

func (m testMeter) Int64Counter(name string, opts ...metrics.InstrumentOption) (metrics.Int64Counter, error) {
	m.p.mu.Lock()
	defer m.p.mu.Unlock()
	m.unit(name, opts)
	return testCounter{p: m.p, name: name}, nil
}

func (m testMeter) Float64Histogram(name string, opts ...metrics.InstrumentOption) (metrics.Float64Histogram, error) {
	m.p.mu.Lock()
	defer m.p.mu.Unlock()
	m.unit(name, opts)
	return testHistogram{p: m.p, name: name}, nil
}

func (m testMeter) Float64AsyncGauge(name string, callback metrics.Float64Callback, opts ...metrics.InstrumentOption) (metrics.AsyncInstrument, error) {
	m.p.mu.Lock()
	defer m.p.mu.Unlock()
	m.unit(name, opts)
	g := &testGauge{callback: callback}
	m.p.gauges[name] = append(m.p.gauges[name], g)
	return testStopper{p: m.p, g: g}, nil
}

type testStopper struct {
	p *testMeterProvider
	g *testGauge
}

func (s testStopper) Stop() {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	s.g.stopped = true
}

// attrsOf is the attributes opts set, as "k=v,k=v".
func attrsOf(opts []metrics.RecordMetricOption) string {
	var o metrics.RecordMetricOptions
	for _, fn := range opts {
		fn(&o)
	}
	var kv []string
	for k, v := range o.Properties.Values() {
		kv = append(kv, fmt.Sprintf("%v=%v", k, v))
	}
	slices.Sort(kv)
	return strings.Join(kv, ",")
}

type testCounter struct {
	p    *testMeterProvider
	name string
}

func (c testCounter) Add(_ context.Context, n int64, opts ...metrics.RecordMetricOption) {
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	if c.p.counters[c.name] == nil {
		c.p.counters[c.name] = map[string]int64{}
	}
	c.p.counters[c.name][attrsOf(opts)] += n
}

type testHistogram struct {
	p    *testMeterProvider
	name string
}

func (h testHistogram) Record(_ context.Context, v float64, opts ...metrics.RecordMetricOption) {
	h.p.mu.Lock()
	defer h.p.mu.Unlock()
	if h.p.histograms[h.name] == nil {
		h.p.histograms[h.name] = map[string][]float64{}
	}
	a := attrsOf(opts)
	h.p.histograms[h.name][a] = append(h.p.histograms[h.name][a], v)
}

// counter returns the sums of the counter name.
func (p *testMeterProvider) counter(name string) map[string]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.counters[name])
}

// histogram returns the values of the histogram name.
func (p *testMeterProvider) histogram(name string) map[string][]float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.histograms[name])
}

// collect runs the callbacks of the gauges name that are not stopped, as
// a meter's reader does, and returns what they observed.
func (p *testMeterProvider) collect(name string) map[string]float64 {
	p.mu.Lock()
	var live []*testGauge
	for _, g := range p.gauges[name] {
		if !g.stopped {
			live = append(live, g)
		}
	}
	p.mu.Unlock()
	out := map[string]float64{}
	for _, g := range live {
		g.callback(context.Background(), gaugeObserver(out))
	}
	return out
}

// liveGauges counts the gauges name not stopped.
func (p *testMeterProvider) liveGauges(name string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, g := range p.gauges[name] {
		if !g.stopped {
			n++
		}
	}
	return n
}

type gaugeObserver map[string]float64

func (o gaugeObserver) Observe(_ context.Context, v float64, opts ...metrics.RecordMetricOption) {
	o[attrsOf(opts)] = v
}

func withMeter(mp metrics.MeterProvider) func(*Options) {
	return func(o *Options) { o.MeterProvider = mp }
}

// Every named instrument, read through a MeterProvider: refreshes by link
// and outcome, their durations in seconds, and the seconds left to each
// link's credentials, read when the meter collects.
func TestMetricsOfAProvider(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		mp := newTestMeterProvider()
		cache := newMemCache()
		f := newFakeSTS("A", time.Hour)
		f.latency = 2 * time.Second
		p := newFake(t, f, staticMaster("alice"), withRole(roleA), withCache(cache), withMeter(mp))
		assert.Equal(t, []string{"github.com/stschain/stschain"}, mp.scopes)
		assert.Equal(t, map[string]string{MetricRefreshes: "{refresh}", MetricRefreshDuration: "s", MetricCredentialsRemaining: "s"}, mp.units)
		assert.Empty(t, mp.collect(MetricCredentialsRemaining), "no credentials yet")

		_, err := p.Retrieve(ctx)
		require.NoError(t, err)
		ok := "link=" + roleA + ",outcome=ok"
		assert.Equal(t, map[string]int64{ok: 1}, mp.counter(MetricRefreshes))
		assert.Equal(t, map[string][]float64{ok: {2}}, mp.histogram(MetricRefreshDuration))
		assert.Equal(t, map[string]float64{"link=" + roleA: 3600}, mp.collect(MetricCredentialsRemaining))

		time.Sleep(10 * time.Minute)
		assert.Equal(t, map[string]float64{"link=" + roleA: 3000}, mp.collect(MetricCredentialsRemaining), "read when collected")

		// Another provider takes the session from the cache; then this
		// one fails.
		other := newFake(t, newFakeSTS("B", time.Hour), staticMaster("alice"), withRole(roleA), withCache(cache), withMeter(mp))
		_, err = other.Retrieve(ctx)
		require.NoError(t, err)
		f.failNext(apiError("AccessDenied", "no"))
		p.Invalidate()
		_, err = p.Retrieve(ctx)
		require.Error(t, err)
		assert.Equal(t, map[string]int64{
			ok:                                  1,
			"link=" + roleA + ",outcome=cache":  1,
			"link=" + roleA + ",outcome=failed": 1,
		}, mp.counter(MetricRefreshes))
		assert.Equal(t, map[string]float64{"link=" + roleA: 3000 - 2}, mp.collect(MetricCredentialsRemaining),
			"the other provider's credentials alone, 2 s later (the failed call): the failed one has none")
	})
}

// A Pool's providers share one set of instruments, each provider a link.
func TestMetricsOfAPool(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		mp := newTestMeterProvider()
		pool, err := NewPool(aws.Config{}, func(po *PoolOptions) {
			po.MeterProvider = mp
			po.Options = append(po.Options, func(o *Options) {
				o.Client = newFakeSTS("P", time.Hour)
				o.MasterCredentials = staticMaster("alice")
			})
		})
		require.NoError(t, err)
		for _, role := range []string{roleA, roleB} {
			p, err := pool.Get(withRole(role))
			require.NoError(t, err)
			_, err = p.Retrieve(ctx)
			require.NoError(t, err)
		}
		assert.Equal(t, map[string]int64{"link=" + roleA + ",outcome=ok": 1, "link=" + roleB + ",outcome=ok": 1}, mp.counter(MetricRefreshes))
		assert.Equal(t, map[string]float64{"link=" + roleA: 3600, "link=" + roleB: 3600}, mp.collect(MetricCredentialsRemaining))
		assert.Equal(t, 1, mp.liveGauges(MetricCredentialsRemaining), "one gauge for the pool")

		_, err = pool.Get(withRole(roleA), withMeter(mp))
		assert.ErrorIs(t, err, ErrInvalidOptions)
		assert.ErrorContains(t, err, "MeterProvider belongs to the pool: set PoolOptions.MeterProvider")
		_, err = NewPool(aws.Config{}, func(po *PoolOptions) { po.Options = append(po.Options, withMeter(mp)) })
		assert.ErrorContains(t, err, "Options.MeterProvider belongs to the pool: set PoolOptions.MeterProvider")
		_, err = NewPool(aws.Config{}, func(po *PoolOptions) { po.MeterProvider = (*testMeterProvider)(nil) })
		assert.ErrorContains(t, err, "PoolOptions.MeterProvider is a nil *stschain.testMeterProvider")
		_, err = New(aws.Config{}, withMeter((*testMeterProvider)(nil)))
		assert.ErrorContains(t, err, "MeterProvider is a nil *stschain.testMeterProvider")
	})
}

// A provider a program drops does not stay in the meter's callbacks.
func TestMetricsGaugeStopsWithItsProvider(t *testing.T) {
	mp := newTestMeterProvider()
	func() {
		p := newFake(t, newFakeSTS("A", time.Hour), staticMaster("alice"), withRole(roleA), withMeter(mp))
		_, err := p.Retrieve(context.Background())
		require.NoError(t, err)
	}()
	require.Equal(t, 1, mp.liveGauges(MetricCredentialsRemaining))
	for i := 0; i < 100 && mp.liveGauges(MetricCredentialsRemaining) > 0; i++ {
		runtime.GC()
		time.Sleep(time.Millisecond) // let the cleanup goroutine run
	}
	assert.Zero(t, mp.liveGauges(MetricCredentialsRemaining), "the gauge was stopped once the provider was collected")
}

// A cached Retrieve records nothing, and allocates nothing, with a
// MeterProvider as without.
func TestMetricsCostACachedRetrieveNothing(t *testing.T) {
	mp := newTestMeterProvider()
	p := newFake(t, newFakeSTS("A", time.Hour), staticMaster("alice"), withRole(roleA), withMeter(mp))
	ctx := context.Background()
	_, err := p.Retrieve(ctx)
	require.NoError(t, err)
	allocs := testing.AllocsPerRun(100, func() { _, _ = p.Retrieve(ctx) })
	assert.Zero(t, allocs)
	assert.Equal(t, map[string]int64{"link=" + roleA + ",outcome=ok": 1}, mp.counter(MetricRefreshes))
}
