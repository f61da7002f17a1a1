package main

import (
	"bytes"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSmoke runs the whole program, small, for both providers in a
// testing/synctest bubble against an in-memory ststest: fake time makes
// every Retrieve either instant or a wait for STS of exactly its latency,
// so the report's verdicts are exact, whatever the machine's load.
// stschain meets every target (no caller waits, one STS call for the top
// link per cycle, no caller error, none during the outage) and the SDK's
// cache, the baseline, makes every caller wait for both links on every
// cycle.
func TestSmoke(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := defaultConfig()
		cfg.Cycles = 2
		cfg.Goroutines = 8
		cfg.Pause = 10 * time.Millisecond // lets the fake clock move
		cfg.AfterCycles = 1
		cfg.BenchRounds = 0
		cfg.inMemory = true
		require.NoError(t, cfg.validate())

		var logs bytes.Buffer
		rep, err := run(t.Context(), cfg, &logs)
		require.NoError(t, err, logs.String())
		// A chain whose callers stopped may still be refreshing ahead, against
		// a closed server by now: let those refreshes end, in fake time, before
		// the bubble does.
		time.Sleep(time.Minute)
		var out bytes.Buffer
		rep.write(&out)
		t.Logf("\n%s", out.String())

		require.Len(t, rep.results, 2)
		ours, sdk := rep.result(providerOurs), rep.result(providerSDK)
		require.NotNil(t, ours)
		require.NotNil(t, sdk)
		assert.True(t, rep.oursPass(), "stschain met every target")
		assert.Contains(t, out.String(), "| caller errors during the outage | 0 | 0 PASS |")
		assert.Equal(t, cfg.Cycles, ours.callsA, "AssumeRole calls for the top link")
		assert.Zero(t, ours.stalled, "cycles in which a stschain caller waited")
		assert.Zero(t, ours.slowCalls[phaseNormal]+ours.slowCalls[phaseOutage]+ours.slowCalls[phaseAfter], "stschain calls that waited for STS")
		assert.True(t, ours.outage.ran)
		assert.Positive(t, ours.failedSTS[roleA], "stschain tried to refresh during the outage")

		assert.Equal(t, cfg.Cycles, sdk.stalled, "cycles in which an SDK caller waited")
		assert.Equal(t, cfg.Goroutines*cfg.Cycles, sdk.slowCalls[phaseNormal], "every SDK caller waited once per cycle")
		assert.Equal(t, 2*cfg.Latency, sdk.hist[phaseNormal].max, "for both links")
		for ph := range numPhases {
			assert.Zero(t, sdk.errs[ph], "SDK caller errors: %s", sdk.firstErr[ph])
		}

		var details bytes.Buffer
		rep.writeDetails(&details)
		for _, p := range []string{providerOurs, providerSDK} {
			assert.Contains(t, details.String(), "== "+p+": refresh events")
		}
	})
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
