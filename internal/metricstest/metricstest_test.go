package metricstest

import (
	"context"
	"testing"

	"github.com/aws/smithy-go/metrics"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func with(k, v string) metrics.RecordMetricOption {
	return func(o *metrics.RecordMetricOptions) { o.Properties.Set(k, v) }
}

func TestProviderRecords(t *testing.T) {
	var p Provider
	ctx := context.Background()
	m := p.Meter("example.com/pkg")
	c, err := m.Int64Counter("pkg.calls", func(o *metrics.InstrumentOptions) { o.UnitLabel = "{call}" })
	require.NoError(t, err)
	h, err := m.Float64Histogram("pkg.duration")
	require.NoError(t, err)

	c.Add(ctx, 2, with("result", "hit"))
	c.Add(ctx, 1, with("result", "miss"))
	c.Add(ctx, 3, with("result", "hit"), func(o *metrics.RecordMetricOptions) { o.Properties.Set(7, "not a string key") })
	h.Record(ctx, 0.25)

	assert.Equal(t, 5.0, p.Sum("pkg.calls", "result=hit"))
	assert.Equal(t, 6.0, p.Sum("pkg.calls"))
	assert.Equal(t, 1, p.Count("pkg.calls", "result=miss"))
	assert.Zero(t, p.Count("pkg.calls", "result=error"))
	assert.Equal(t, []Measurement{{Scope: "example.com/pkg", Instrument: "pkg.duration", Kind: "Float64Histogram", Value: 0.25, Attributes: map[string]string{}}},
		p.Measurements("pkg.duration"))
	assert.Len(t, p.Measurements(""), 4)
	assert.Equal(t, "pkg.calls{result=hit} 3", p.Measurements("pkg.calls")[2].String(), "attributes with other keys are left out")
	assert.Equal(t, []Instrument{
		{Scope: "example.com/pkg", Name: "pkg.calls", Kind: "Int64Counter", Unit: "{call}"},
		{Scope: "example.com/pkg", Name: "pkg.duration", Kind: "Float64Histogram"},
	}, p.Instruments())
}

func TestProviderCollectsAsyncInstruments(t *testing.T) {
	var p Provider
	ctx := context.Background()
	m := p.Meter("s")
	g, err := m.Float64AsyncGauge("s.remaining", func(ctx context.Context, o metrics.Float64Observer) {
		o.Observe(ctx, 42.5, with("link", "a"))
	})
	require.NoError(t, err)
	_, err = m.Int64AsyncCounter("s.count", func(ctx context.Context, o metrics.Int64Observer) { o.Observe(ctx, 7) })
	require.NoError(t, err)

	assert.Equal(t, 1, p.Active("s.remaining"))
	assert.Equal(t, []Measurement{{Scope: "s", Instrument: "s.remaining", Kind: "Float64AsyncGauge", Value: 42.5, Attributes: map[string]string{"link": "a"}}},
		p.Collect(ctx, "s.remaining"), "what this collection observed")
	assert.Equal(t, 42.5, p.Sum("s.remaining", "link=a"))
	assert.Equal(t, 7.0, p.Sum("s.count"))
	g.Stop()
	assert.Zero(t, p.Active("s.remaining"))
	assert.Empty(t, p.Collect(ctx, "s.remaining"), "a stopped instrument observes no more")
	assert.Equal(t, 1, p.Count("s.remaining"))
	assert.Len(t, p.Collect(ctx, ""), 1, "the counter, once more")
	assert.Equal(t, 3, p.Count("s.count"))
}

func TestAttributeString(t *testing.T) {
	m := Measurement{Instrument: "x", Value: 1, Attributes: map[string]string{"outcome": "ok", "link": "a"}}
	assert.Equal(t, "link=a,outcome=ok", m.AttributeString())
	assert.Equal(t, "x{link=a,outcome=ok} 1", m.String())
	assert.Empty(t, Measurement{}.AttributeString())
}
