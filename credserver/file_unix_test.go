//go:build unix

package credserver_test

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain/credserver"
)

// TestFileKeepsThePort: the copy of File keeps the port bound after
// Close, so that no one else can bind it; on it ServeStopped answers the
// server's clients with ServerStopped; once the copy is closed the port is
// free.
func TestFileKeepsThePort(t *testing.T) {
	s, err := credserver.Start(&countingProvider{creds: fixedCreds()})
	require.NoError(t, err)
	uri, tok := env(t, s)
	u, err := url.Parse(uri)
	require.NoError(t, err)
	f, err := s.File()
	require.NoError(t, err)
	require.NoError(t, s.Close())

	_, err = net.Listen("tcp4", u.Host)
	assert.Error(t, err, "the port is still bound")

	ln, err := net.FileListener(f)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- credserver.ServeStopped(ctx, ln) }()
	status, _, body := get(t, uri, tok)
	assert.Equal(t, http.StatusForbidden, status)
	assert.Contains(t, body, `"code":"ServerStopped"`)
	assert.NotContains(t, body, secret)
	cancel()
	require.NoError(t, <-served)

	again, err := net.Listen("tcp4", u.Host)
	require.NoError(t, err, "the port is free")
	again.Close()
}
