package credserver

import (
	"container/list"
	"context"
	"net"
	"sync"
)

// Bounds on a server's connections. A connection is untrusted until a
// request on it has carried the token: another local user can open
// untrusted ones, only a holder of the token trusted ones.
const (
	// maxUntrusted bounds the untrusted connections: a new one past it
	// closes the oldest. A client with the token sends its request as soon
	// as it connects, so it is the youngest, and idle connections opened
	// by someone without the token cannot crowd it out.
	maxUntrusted = 128
	// maxConns bounds all connections: past it a new connection closes the
	// oldest untrusted one, or itself when every one is trusted.
	maxConns = 512
)

// limitListener bounds the connections of a listener as the constants above
// say. It is safe for concurrent use.
type limitListener struct {
	net.Listener

	mu        sync.Mutex
	untrusted list.List // guarded by mu: the untrusted *limitConn, oldest first
	open      int       // guarded by mu: connections accepted and not closed
}

func newLimitListener(ln net.Listener) *limitListener { return &limitListener{Listener: ln} }

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		lc := &limitConn{Conn: c, l: l}
		var evict *limitConn
		l.mu.Lock()
		if l.untrusted.Len() >= maxUntrusted || l.open >= maxConns {
			if front := l.untrusted.Front(); front != nil {
				evict = l.untrusted.Remove(front).(*limitConn)
				evict.elem = nil
			} else {
				l.mu.Unlock()
				_ = c.Close()
				continue
			}
		}
		lc.elem = l.untrusted.PushBack(lc)
		l.open++
		l.mu.Unlock()
		if evict != nil {
			_ = evict.Close()
		}
		return lc, nil
	}
}

// limitConn is a connection of a limitListener.
type limitConn struct {
	net.Conn
	l *limitListener

	elem      *list.Element // guarded by l.mu: in l.untrusted; nil once trusted or evicted
	closeOnce sync.Once
}

// trust marks c as carrying the token: it is never evicted.
func (c *limitConn) trust() {
	c.l.mu.Lock()
	defer c.l.mu.Unlock()
	if c.elem != nil {
		c.l.untrusted.Remove(c.elem)
		c.elem = nil
	}
}

func (c *limitConn) Close() error {
	c.closeOnce.Do(func() {
		c.l.mu.Lock()
		if c.elem != nil {
			c.l.untrusted.Remove(c.elem)
			c.elem = nil
		}
		c.l.open--
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}

// connKey is the context key of a request's *limitConn.
type connKey struct{}

// withConn is the http.Server's ConnContext: it gives each request its
// connection, for trustConn.
func withConn(ctx context.Context, c net.Conn) context.Context {
	if lc, ok := c.(*limitConn); ok {
		return context.WithValue(ctx, connKey{}, lc)
	}
	return ctx
}

// trustConn marks the connection of the request whose context is ctx as
// trusted.
func trustConn(ctx context.Context) {
	if lc, ok := ctx.Value(connKey{}).(*limitConn); ok {
		lc.trust()
	}
}
