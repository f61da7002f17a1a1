package credserver_test

import (
	"net"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain/credserver"
)

// TestAddrRefused: addresses that would serve every interface, host names
// (which a rebinding attack could point anywhere) and what is not an
// address are refused before anything listens.
func TestAddrRefused(t *testing.T) {
	for _, addr := range []string{"0.0.0.0", "0.0.0.0:9911", "::", "[::]:80", "localhost", "example.com:80",
		"224.0.0.1", "fe80::1%lo", "127.0.0.1:http", "127.0.0.1:99999", "http://127.0.0.1/"} {
		t.Run(addr, func(t *testing.T) {
			s, err := credserver.Start(&countingProvider{creds: fixedCreds()}, func(o *credserver.Options) { o.Addr = addr })
			assert.Nil(t, s)
			require.Error(t, err)
			assert.ErrorIs(t, err, credserver.ErrInvalidOptions)
			assert.Contains(t, err.Error(), "credserver: invalid options: address "+`"`+addr+`"`)
		})
	}
}

// TestAddrWithPort serves on the address and port given.
func TestAddrWithPort(t *testing.T) {
	// A port that was free a moment ago; another process may take it in
	// between, so a few are tried.
	var s *credserver.Server
	var addr string
	for try := 0; s == nil; try++ {
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		require.NoError(t, err)
		addr = ln.Addr().String()
		require.NoError(t, ln.Close())
		s, err = credserver.Start(&countingProvider{creds: fixedCreds()}, func(o *credserver.Options) { o.Addr = addr })
		if try == 4 {
			require.NoError(t, err)
		}
	}
	t.Cleanup(func() { s.Close() })
	assert.Equal(t, "http://"+addr+"/credentials", s.URL())
	uri, tok := env(t, s)
	status, _, body := get(t, uri, tok)
	assert.Equal(t, http.StatusOK, status, body)
}

// TestIPv6Loopback serves on [::1] where the host has it.
func TestIPv6Loopback(t *testing.T) {
	probe, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("skipping: no IPv6 loopback: %v", err)
	}
	probe.Close()
	s := startWith(t, func(o *credserver.Options) { o.Addr = "::1" })
	u, err := url.Parse(s.URL())
	require.NoError(t, err)
	assert.Equal(t, "::1", u.Hostname())
	uri, tok := env(t, s)
	status, _, body := get(t, uri, tok)
	assert.Equal(t, http.StatusOK, status, body)
}

func startWith(t *testing.T, fn func(*credserver.Options)) *credserver.Server {
	t.Helper()
	s, err := credserver.Start(&countingProvider{creds: fixedCreds()}, fn)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	return s
}
