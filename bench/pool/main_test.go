package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	if os.Getenv(serverEnv) != "" {
		serve()
	}
	// The race detector pauses a second before a process exits; the
	// server children, stopped once per scenario and variant, need not.
	os.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	os.Exit(m.Run())
}

// TestSmoke runs every scenario small and asserts what does not depend on
// the machine's speed: no caller error of the pool while it held valid
// credentials, N + 1 STS calls for its cold start, and memory within the
// target.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the benchmark's smoke run in -short mode")
	}
	cfg := defaultConfig()
	cfg.MemoryN, cfg.MemoryNewN = 2000, 200
	cfg.ThrottleN, cfg.ThrottleLifetime, cfg.ThrottleRPS, cfg.ThrottleCallers = 100, 3*time.Second, 20, 4
	// The first refreshes wait for the cold start to end: it makes
	// exactly N + 1 calls however long it takes, as long as it ends before
	// the first sessions reach their prefetch points, two thirds of 12 s
	// in. Two seconds of callers after it see refreshes under way.
	cfg.SatN, cfg.SatLifetime, cfg.SatCallers, cfg.SatCalling = 200, 12*time.Second, 8, 2*time.Second
	cfg.Variants = []string{variantPool} // the SDK's side has no target
	progress = &bytes.Buffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := measure(ctx, cfg)
	require.NoError(t, err)
	var out bytes.Buffer
	rep.write(&out)
	t.Logf("\n%s", out.String())

	for _, m := range rep.memory {
		if m.variant == variantPool {
			assert.LessOrEqual(t, m.perProvB, 600.0)
		}
	}
	th := rep.throttle[variantPool]
	assert.Zero(t, th[0].errsValid+th[1].errsValid, "pool errors while valid credentials existed: %v", th[0].firstErr)
	assert.Equal(t, int64(cfg.SatN+1), rep.satR[variantPool].coldCalls, "the pool's cold start: one call per provider and one for the hub")
	assert.Zero(t, rep.saturation[variantPool].errs, "%v", rep.saturation[variantPool].firstErr)
}
