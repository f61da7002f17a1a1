package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSmoke runs the program small and asserts what does not depend on
// the machine's speed: no caller error, the SDK's chain calls every link
// once per top-link cycle, and awsprofile's inner link at most as often as
// its top link.
func TestSmoke(t *testing.T) {
	cfg := defaultConfig()
	cfg.Depths = []int{2}
	cfg.Cycles = 2
	cfg.Callers = 4
	cfg.Latency = 20 * time.Millisecond
	cfg.TopLifetime = 2 * time.Second
	cfg.InnerLifetime = 30 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var logs bytes.Buffer
	results, err := run(ctx, cfg, &logs)
	require.NoError(t, err, logs.String())
	require.Len(t, results, 2)
	for _, r := range results {
		assert.Zero(t, r.errs, "%s: %v", r.provider, r.firstErr)
		assert.GreaterOrEqual(t, r.cycles, cfg.Cycles, r.provider)
		require.Len(t, r.perLink, 2)
	}
	ours, sdk := results[0], results[1]
	require.Equal(t, "awsprofile.LoadConfig", ours.provider)
	assert.Zero(t, ours.perLink[0], "the inner link, whose sessions last 30 s, is not asked again")
	assert.Equal(t, sdk.cycles, sdk.perLink[0], "the SDK's chain re-assumes the inner role on every top-link refresh")

	var out bytes.Buffer
	write(&out, cfg, results)
	assert.Contains(t, out.String(), "| 2 | SDK profile chain | 1.00 / 1.00 |")
	t.Logf("\n%s", out.String())
}
