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
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // a port that was free a moment ago
	s, err := credserver.Start(&countingProvider{creds: fixedCreds()}, func(o *credserver.Options) { o.Addr = addr })
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	assert.Equal(t, "http://"+addr+"/credentials", s.URL())
	uri, tok := env(t, s)
	status, _, body := get(t, uri, tok)
	assert.Equal(t, http.StatusOK, status, body)
}

// TestListener serves on the listener given, and Close closes it.
func TestListener(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	s, err := credserver.Start(&countingProvider{creds: fixedCreds()}, func(o *credserver.Options) { o.Listener = ln })
	require.NoError(t, err)
	assert.Equal(t, "http://"+ln.Addr().String()+"/credentials", s.URL())
	uri, tok := env(t, s)
	status, _, body := get(t, uri, tok)
	assert.Equal(t, http.StatusOK, status, body)
	require.NoError(t, s.Close())
	_, err = ln.Accept()
	assert.ErrorIs(t, err, net.ErrClosed)

	_, err = credserver.Start(&countingProvider{}, func(o *credserver.Options) { o.Listener, o.Addr = ln, "127.0.0.1" })
	assert.ErrorContains(t, err, "both set")
	assert.ErrorIs(t, err, credserver.ErrInvalidOptions)
}

// TestListenerOnEveryInterface: a listener on the unspecified address is
// refused, and closed.
func TestListenerOnEveryInterface(t *testing.T) {
	ln, err := net.Listen("tcp4", "0.0.0.0:0")
	require.NoError(t, err)
	_, err = credserver.Start(&countingProvider{}, func(o *credserver.Options) { o.Listener = ln })
	assert.ErrorContains(t, err, "every interface")
	assert.ErrorIs(t, err, credserver.ErrInvalidOptions)
	_, err = ln.Accept()
	assert.ErrorIs(t, err, net.ErrClosed)
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
