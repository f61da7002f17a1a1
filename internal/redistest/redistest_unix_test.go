//go:build unix

package redistest

import (
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPauseAndResume(t *testing.T) {
	s := New(t, Options{})
	require.NoError(t, s.Pause())
	err := s.ping()
	require.Error(t, err, "a paused server does not answer")
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	assert.True(t, ne.Timeout(), "the connection is accepted, the answer never comes: %v", err)
	require.NoError(t, s.Resume())
	assert.NoError(t, s.ping())
}
