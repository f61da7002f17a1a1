package main

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/stschain/stschain/ststest"
)

// The demo, in fake time, says what the README promises: after the first
// fetch of each link, no caller waits.
func TestDemo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := ststest.NewInMemoryServer(config())
		defer srv.Close()
		var out strings.Builder
		require.NoError(t, run(&out, srv, 12, time.Second))
		assert.Contains(t, out.String(), "Callers waited for STS on 1 refresh(es) of A and 1 of B: the first fetch of each.")
		assert.Contains(t, out.String(), "The slowest Retrieve after the first took 0s.")
		assert.Contains(t, out.String(), "each time with B's session of the moment")
		t.Log("\n" + out.String())
	})
}
