package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSmoke runs the whole program logic for stschain alone, small: two
// refresh cycles with 8 callers, then the outage. It asserts what does not
// depend on the machine's speed: no caller error, and one STS call for the
// top link per cycle (at most one for the link below). Latencies are for
// the program's output, not for this test.
func TestSmoke(t *testing.T) {
	cfg := defaultConfig()
	cfg.Cycles = 2
	cfg.Goroutines = 8
	cfg.Lifetime = 3 * time.Second
	cfg.MasterLifetime = 3 * time.Second
	cfg.Latency = 20 * time.Millisecond
	cfg.OutageFrac = 0.5
	cfg.AfterCycles = 1
	cfg.BenchRounds = 0
	cfg.Providers = []string{providerOurs}
	require.NoError(t, cfg.validate())

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var logs bytes.Buffer
	rep, err := run(ctx, cfg, &logs)
	require.NoError(t, err, logs.String())
	require.Len(t, rep.results, 1)
	res := rep.results[0]

	assert.Equal(t, cfg.Cycles, res.cycles)
	assert.Equal(t, res.cycles, res.callsA, "AssumeRole calls for the top link")
	assert.LessOrEqual(t, res.callsB, res.cycles, "AssumeRole calls for role B")
	assert.GreaterOrEqual(t, res.callsB, 1, "AssumeRole calls for role B")
	for ph, name := range []string{"refresh cycles", "outage", "after the outage"} {
		assert.Zero(t, res.errs[ph], "caller errors (%s): %s", name, res.firstErr[ph])
	}
	assert.True(t, res.outage.ran)
	assert.Positive(t, res.hist[phaseNormal].n)

	var out bytes.Buffer
	rep.write(&out)
	assert.Contains(t, out.String(), "| caller errors during the outage | 0 | 0 PASS |")
	t.Logf("\n%s", out.String())
}

func TestHistogram(t *testing.T) {
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	assert.Equal(t, uint64(1000), h.n)
	assert.Equal(t, time.Millisecond, h.max)
	for _, q := range []float64{0.5, 0.99} {
		want := time.Duration(q*1000) * time.Microsecond
		got := h.quantile(q)
		assert.GreaterOrEqual(t, got, want, "q=%v", q)
		assert.LessOrEqual(t, float64(got), float64(want)*(1+1.0/histSub), "q=%v", q)
	}
	for _, d := range []time.Duration{0, 1, 15, 16, 17, 1000, time.Second, time.Hour} {
		i := bucketOf(d)
		assert.GreaterOrEqual(t, upperBound(i), d, "d=%v", d)
		if i > 0 {
			assert.Less(t, upperBound(i-1), d, "d=%v", d)
		}
	}
}
