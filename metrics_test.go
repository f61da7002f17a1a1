package stschain

import (
	"context"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go/metrics"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain/internal/metricstest"
)

// sums adds up what the instrument name recorded, by attributes
// ("k=v,k=v").
func sums(mp *metricstest.Provider, name string) map[string]int64 {
	out := map[string]int64{}
	for _, m := range mp.Measurements(name) {
		out[m.AttributeString()] += int64(m.Value)
	}
	return out
}

// values lists what the instrument name recorded, by attributes.
func values(mp *metricstest.Provider, name string) map[string][]float64 {
	out := map[string][]float64{}
	for _, m := range mp.Measurements(name) {
		out[m.AttributeString()] = append(out[m.AttributeString()], m.Value)
	}
	return out
}

// collect collects mp, as a meter's reader does, and returns what the
// instrument name observed, by attributes.
func collect(mp *metricstest.Provider, name string) map[string]float64 {
	out := map[string]float64{}
	for _, m := range mp.Collect(context.Background(), name) {
		out[m.AttributeString()] = m.Value
	}
	return out
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
		mp := &metricstest.Provider{}
		cache := newMemCache()
		f := newFakeSTS("A", time.Hour)
		f.latency = 2 * time.Second
		p := newFake(t, f, staticMaster("alice"), withRole(roleA), withCache(cache), withMeter(mp))
		kinds := map[string]string{}
		for _, in := range mp.Instruments() {
			assert.Equal(t, "github.com/stschain/stschain", in.Scope)
			assert.NotEmpty(t, in.Description, in.Name)
			kinds[in.Name] = in.Kind + " in " + in.Unit
		}
		assert.Equal(t, map[string]string{
			MetricRefreshes:            "Int64Counter in {refresh}",
			MetricRefreshDuration:      "Float64Histogram in s",
			MetricCredentialsRemaining: "Float64AsyncGauge in s",
		}, kinds)
		assert.Empty(t, collect(mp, MetricCredentialsRemaining), "no credentials yet")

		_, err := p.Retrieve(ctx)
		require.NoError(t, err)
		ok := "link=" + roleA + ",outcome=ok"
		assert.Equal(t, map[string]int64{ok: 1}, sums(mp, MetricRefreshes))
		assert.Equal(t, map[string][]float64{ok: {2}}, values(mp, MetricRefreshDuration))
		assert.Equal(t, map[string]float64{"link=" + roleA: 3600}, collect(mp, MetricCredentialsRemaining))

		time.Sleep(10 * time.Minute)
		assert.Equal(t, map[string]float64{"link=" + roleA: 3000}, collect(mp, MetricCredentialsRemaining), "read when collected")

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
		}, sums(mp, MetricRefreshes))
		assert.Equal(t, map[string]float64{"link=" + roleA: 3000 - 2}, collect(mp, MetricCredentialsRemaining),
			"the other provider's credentials alone, 2 s later (the failed call): the failed one has none")
	})
}

// A Pool's providers share one set of instruments, each provider a link.
func TestMetricsOfAPool(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		mp := &metricstest.Provider{}
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
		assert.Equal(t, map[string]int64{"link=" + roleA + ",outcome=ok": 1, "link=" + roleB + ",outcome=ok": 1}, sums(mp, MetricRefreshes))
		assert.Equal(t, map[string]float64{"link=" + roleA: 3600, "link=" + roleB: 3600}, collect(mp, MetricCredentialsRemaining))
		assert.Equal(t, 1, mp.Active(MetricCredentialsRemaining), "one gauge for the pool")

		_, err = pool.Get(withRole(roleA), withMeter(mp))
		assert.ErrorIs(t, err, ErrInvalidOptions)
		assert.ErrorContains(t, err, "MeterProvider belongs to the pool: set PoolOptions.MeterProvider")
		_, err = NewPool(aws.Config{}, func(po *PoolOptions) { po.Options = append(po.Options, withMeter(mp)) })
		assert.ErrorContains(t, err, "Options.MeterProvider belongs to the pool: set PoolOptions.MeterProvider")
		_, err = NewPool(aws.Config{}, func(po *PoolOptions) { po.MeterProvider = (*metricstest.Provider)(nil) })
		assert.ErrorContains(t, err, "PoolOptions.MeterProvider is a nil *metricstest.Provider")
		_, err = New(aws.Config{}, withMeter((*metricstest.Provider)(nil)))
		assert.ErrorContains(t, err, "MeterProvider is a nil *metricstest.Provider")
	})
}

// A provider a program drops does not stay in the meter's callbacks.
func TestMetricsGaugeStopsWithItsProvider(t *testing.T) {
	mp := &metricstest.Provider{}
	func() {
		p := newFake(t, newFakeSTS("A", time.Hour), staticMaster("alice"), withRole(roleA), withMeter(mp))
		_, err := p.Retrieve(context.Background())
		require.NoError(t, err)
	}()
	require.Equal(t, 1, mp.Active(MetricCredentialsRemaining))
	for i := 0; i < 100 && mp.Active(MetricCredentialsRemaining) > 0; i++ {
		runtime.GC()
		time.Sleep(time.Millisecond) // let the cleanup goroutine run
	}
	assert.Zero(t, mp.Active(MetricCredentialsRemaining), "the gauge was stopped once the provider was collected")
}

// A cached Retrieve records nothing, and allocates nothing, with a
// MeterProvider as without.
func TestMetricsCostACachedRetrieveNothing(t *testing.T) {
	mp := &metricstest.Provider{}
	p := newFake(t, newFakeSTS("A", time.Hour), staticMaster("alice"), withRole(roleA), withMeter(mp))
	ctx := context.Background()
	_, err := p.Retrieve(ctx)
	require.NoError(t, err)
	allocs := testing.AllocsPerRun(100, func() { _, _ = p.Retrieve(ctx) })
	assert.Zero(t, allocs)
	assert.Equal(t, map[string]int64{"link=" + roleA + ",outcome=ok": 1}, sums(mp, MetricRefreshes))
}
