package redistest

import (
	"fmt"
	"net"
	"sync"
	"testing"
	"time"
)

// Proxy is a loopback TCP proxy in front of a server, for faults a network
// causes: latency, stalls and dropped connections. Clients connect to Addr
// instead of the server.
type Proxy struct {
	// Addr is where the proxy listens, 127.0.0.1:PORT.
	Addr string
	// Target is the address it forwards to.
	Target string

	ln net.Listener
	wg sync.WaitGroup // the accept loop and every connection's goroutines

	mu      sync.Mutex
	latency time.Duration       // guarded by mu: added to each round trip
	paused  chan struct{}       // guarded by mu: closed while not paused
	conns   map[*proxyConn]bool // guarded by mu: open connections
	closed  bool                // guarded by mu
	dropped int                 // guarded by mu: connections closed by Drop
}

// proxyConn is one proxied connection.
type proxyConn struct {
	client, server net.Conn
	once           sync.Once
}

func (c *proxyConn) close() {
	c.once.Do(func() {
		_ = c.client.Close()
		_ = c.server.Close()
	})
}

// NewProxy starts a proxy to target for t and stops it in t.Cleanup.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	p, err := StartProxy(target)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

// StartProxy starts a proxy to target on 127.0.0.1 and a free port. Call
// Close when done.
func StartProxy(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("redistest: proxy: %w", err)
	}
	running := make(chan struct{})
	close(running)
	p := &Proxy{Addr: ln.Addr().String(), Target: target, ln: ln, paused: running, conns: map[*proxyConn]bool{}}
	p.wg.Go(p.accept)
	return p, nil
}

func (p *Proxy) accept() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.DialTimeout("tcp", p.Target, 5*time.Second)
		if err != nil {
			_ = client.Close()
			continue
		}
		c := &proxyConn{client: client, server: server}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			c.close()
			return
		}
		p.conns[c] = true
		p.mu.Unlock()
		p.wg.Go(func() { p.pipe(c, client, server) })
		p.wg.Go(func() { p.pipe(c, server, client) })
	}
}

// chunk is data read from one side, to be written to the other at a time.
type chunk struct {
	data []byte
	at   time.Time
}

// pipe copies from src to dst, each chunk half the latency after it was
// read and not while the proxy is paused, in order.
func (p *Proxy) pipe(c *proxyConn, src, dst net.Conn) {
	defer p.forget(c)
	queue := make(chan chunk, 1024)
	go func() {
		defer close(queue)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				p.mu.Lock()
				at := time.Now().Add(p.latency / 2)
				p.mu.Unlock()
				queue <- chunk{buf[:n], at}
			}
			if err != nil {
				return
			}
		}
	}()
	for ch := range queue {
		time.Sleep(time.Until(ch.at))
		p.mu.Lock()
		running := p.paused
		p.mu.Unlock()
		<-running
		if _, err := dst.Write(ch.data); err != nil {
			c.close()
			break
		}
	}
	c.close()
	for range queue { // until the reader sees the close
	}
}

func (p *Proxy) forget(c *proxyConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
}

// SetLatency makes each round trip through the proxy take d longer: each
// direction delays what it forwards by d/2. It applies to what is read from
// now on.
func (p *Proxy) SetLatency(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.latency = d
}

// Pause stops forwarding in both directions until Resume; connections stay
// open and new ones are accepted, as behind a stalled network.
func (p *Proxy) Pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.paused:
		p.paused = make(chan struct{})
	default: // paused already
	}
}

// Resume forwards again what Pause held back, in order.
func (p *Proxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.paused:
	default:
		close(p.paused)
	}
}

// Drop closes every open connection, as a network that resets them does;
// new connections are accepted. It returns how many it closed.
func (p *Proxy) Drop() int {
	n := p.closeAll()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dropped += n
	return n
}

// closeAll closes every open connection and returns how many.
func (p *Proxy) closeAll() int {
	p.mu.Lock()
	conns := make([]*proxyConn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	p.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
	return len(conns)
}

// Dropped is how many connections Drop closed in all.
func (p *Proxy) Dropped() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dropped
}

// Close stops the proxy: it closes the listener and every connection and
// waits for its goroutines. Close may be called more than once.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.mu.Unlock()
	_ = p.ln.Close()
	p.Resume()
	p.closeAll()
	p.wg.Wait()
}
