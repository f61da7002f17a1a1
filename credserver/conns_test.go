package credserver

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pipeListener hands out the server ends of net.Pipe pairs, one per dial.
type pipeListener struct {
	conns chan net.Conn
}

func (l *pipeListener) Accept() (net.Conn, error) {
	c, ok := <-l.conns
	if !ok {
		return nil, net.ErrClosed
	}
	return c, nil
}

func (l *pipeListener) Close() error   { return nil }
func (l *pipeListener) Addr() net.Addr { return &net.TCPAddr{} }

// dial queues a new connection on pl, accepts it through ll and returns
// the client end and the accepted connection.
func dial(t *testing.T, pl *pipeListener, ll *limitListener) (client net.Conn, accepted *limitConn) {
	t.Helper()
	server, client := net.Pipe()
	t.Cleanup(func() { client.Close(); server.Close() })
	pl.conns <- server
	c, err := ll.Accept()
	require.NoError(t, err)
	return client, c.(*limitConn)
}

// closed reports whether the server end of client has been closed: a
// pipe's Read reports that before a passed deadline.
func closed(client net.Conn) bool {
	_ = client.SetReadDeadline(time.Unix(1, 0))
	_, err := client.Read(make([]byte, 1))
	return errors.Is(err, io.EOF)
}

// TestLimitListenerEvictsOldestUntrusted counts what the limits do: past
// maxUntrusted the oldest untrusted connection is closed, a trusted one
// never is, and past maxConns with none untrusted a new one is refused.
func TestLimitListenerEvictsOldestUntrusted(t *testing.T) {
	pl := &pipeListener{conns: make(chan net.Conn, 1)}
	ll := newLimitListener(pl)

	var clients []net.Conn
	var conns []*limitConn
	for range maxUntrusted {
		c, lc := dial(t, pl, ll)
		clients, conns = append(clients, c), append(conns, lc)
	}
	conns[0].trust() // the first one sent the token
	for i, c := range clients {
		assert.False(t, closed(c), "connection %d", i)
	}

	// Three more: the first fills the last place, the next two close the
	// oldest untrusted (1 and 2, not the trusted 0).
	for range 3 {
		c, lc := dial(t, pl, ll)
		clients, conns = append(clients, c), append(conns, lc)
	}
	for i, c := range clients {
		assert.Equal(t, i == 1 || i == 2, closed(c), "connection %d", i)
	}
	ll.mu.Lock()
	assert.Equal(t, maxUntrusted, ll.untrusted.Len())
	assert.Equal(t, maxUntrusted+1, ll.open)
	ll.mu.Unlock()

	// Closing a connection frees its place, once.
	require.NoError(t, conns[3].Close())
	_ = conns[3].Close()
	ll.mu.Lock()
	assert.Equal(t, maxUntrusted-1, ll.untrusted.Len())
	assert.Equal(t, maxUntrusted, ll.open)
	ll.mu.Unlock()
}

func TestLimitListenerRefusesPastMaxConnsWhenAllTrusted(t *testing.T) {
	pl := &pipeListener{conns: make(chan net.Conn, 1)}
	ll := newLimitListener(pl)
	for range maxConns {
		_, lc := dial(t, pl, ll)
		lc.trust()
	}
	// The next one is closed at once and Accept waits for another; the one
	// after that is taken once a trusted connection has closed.
	server, client := net.Pipe()
	defer client.Close()
	pl.conns <- server
	accepted := make(chan net.Conn, 1)
	go func() { c, _ := ll.Accept(); accepted <- c }()
	_, err := client.Read(make([]byte, 1))
	assert.ErrorIs(t, err, io.EOF, "refused")
	close(pl.conns)
	assert.Nil(t, <-accepted)
	ll.mu.Lock()
	assert.Equal(t, maxConns, ll.open)
	ll.mu.Unlock()
}
