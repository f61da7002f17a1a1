package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSmoke runs the program, small, in a testing/synctest bubble against
// in-memory ststest servers: in fake time a Retrieve is either instant or
// a wait for STS of exactly the links' latencies, so the counts are exact
// whatever the machine's load. awsprofile's chain calls its top link once
// per cycle, asks an inner link at most once more (its first refresh,
// spread over a session that outlasts the run) and keeps every caller
// from waiting; the SDK's chain re-assumes
// every link on each top-link cycle while every caller waits for all of
// them.
func TestSmoke(t *testing.T) {
	// The SDK's loader reads the environment; a variable such as
	// AWS_CA_BUNDLE (which it cannot apply to the in-memory client) or
	// AWS_PROFILE must not change the run.
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	synctest.Test(t, func(t *testing.T) {
		cfg := defaultConfig()
		cfg.Depths = []int{2, 3}
		cfg.Cycles = 2
		cfg.Callers = 4
		cfg.Pause = 10 * time.Millisecond
		cfg.inMemory = true
		var logs bytes.Buffer
		results, err := run(t.Context(), cfg, &logs)
		require.NoError(t, err, logs.String())
		// A chain whose callers stopped may still be refreshing ahead, against
		// a closed server by now: let those refreshes end, in fake time, before
		// the bubble does.
		time.Sleep(time.Minute)
		var out bytes.Buffer
		write(&out, cfg, results)
		t.Logf("\n%s", out.String())

		require.Len(t, results, 2*len(cfg.Depths))
		for i, depth := range cfg.Depths {
			ap, sdk := results[2*i], results[2*i+1]
			require.Equal(t, ours, ap.provider)
			require.Equal(t, sdkChain, sdk.provider)
			for _, r := range []*result{ap, sdk} {
				require.Equal(t, depth, r.depth)
				require.Len(t, r.perLink, depth)
				assert.Zero(t, r.errs, "%s: %v", r.provider, r.firstErr)
				assert.Positive(t, r.calls, r.provider)
			}
			// An inner link is called at most once: its first refresh,
			// spread over its first session.
			for l, n := range ap.perLink[:depth-1] {
				assert.LessOrEqual(t, n, 1, "depth %d: awsprofile's calls of link %d", depth, l+1)
			}
			assert.Equal(t, cfg.Cycles, ap.perLink[depth-1], "depth %d: awsprofile's calls of the top link", depth)
			assert.Zero(t, ap.waits, "depth %d: awsprofile's callers that waited", depth)

			every := make([]int, depth)
			for l := range every {
				every[l] = sdk.cycles
			}
			assert.Equal(t, every, sdk.perLink, "depth %d: the SDK re-assumes every link on each top-link cycle", depth)
			assert.Equal(t, cfg.Callers*sdk.cycles, sdk.waits, "depth %d: every SDK caller waits once per cycle", depth)
			assert.Equal(t, time.Duration(depth)*cfg.Latency, sdk.max, "depth %d: for every link", depth)
		}
		assert.Contains(t, out.String(), "| 2 | SDK profile chain | 1.00 / 1.00 |")
	})
}
