package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSmoke runs a few rounds: every program prints its credentials, the
// timed runs make no STS call, and the table has a row per program. The
// times themselves are the benchmark's, not the test's.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command; skipped in -short mode")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	var out, logs bytes.Buffer
	require.NoError(t, run(ctx, config{rounds: 3}, &out, &logs), logs.String())
	t.Logf("\n%s", out.String())
	for _, row := range []string{"| stschain credential-process |", "| floor (prints the JSON) |", "| the floor, importing awsprofile |"} {
		assert.Contains(t, out.String(), row)
	}
	assert.Equal(t, 5, strings.Count("\n"+out.String(), "\n|"), "a header, its rule and three rows")
	assert.Contains(t, out.String(), "3 rounds;")
}

// TestPercentile: nearest rank.
func TestPercentile(t *testing.T) {
	v := []float64{5, 1, 4, 2, 3}
	assert.Equal(t, 3.0, median(v))
	assert.Equal(t, 1.0, percentile(v, 10))
	assert.Equal(t, 5.0, percentile(v, 90))
	assert.Equal(t, 0.0, median(nil))
}
