package ststest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
)

// memoryTransport is the http.RoundTripper of an in-memory server's
// client: it serves each request by calling the server's handler in the
// calling goroutine.
type memoryTransport struct{ s *Server }

var errClosed = errors.New("ststest: the in-memory server is closed")

// RoundTrip writes req as it would go on the wire and reads it back as a
// server would, so that the handler sees what a listening server sees
// (Host, Content-Length, RequestURI, a read body), then runs the handler.
// A request whose context ends before the answer fails with the
// context's error, as it would over a connection.
func (t memoryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	s := t.s
	ctx := req.Context()
	var wire bytes.Buffer
	err := req.Write(&wire) // reads and closes req.Body
	switch {
	case err != nil:
		return nil, fmt.Errorf("ststest: in-memory request: %w", err)
	case req.URL.Host != strings.TrimPrefix(inMemoryURL, "http://"):
		return nil, fmt.Errorf("ststest: the in-memory server at %s got a request for host %q", inMemoryURL, req.URL.Host)
	case ctx.Err() != nil:
		return nil, ctx.Err()
	}
	sr, err := http.ReadRequest(bufio.NewReader(&wire))
	if err != nil {
		return nil, fmt.Errorf("ststest: in-memory request: %w", err)
	}
	sr = sr.WithContext(ctx)
	sr.RemoteAddr = "192.0.2.1:1234" // as httptest.NewRequest

	s.mu.Lock()
	if s.memClosed {
		s.mu.Unlock()
		return nil, errClosed
	}
	s.memWG.Add(1)
	s.mu.Unlock()
	defer s.memWG.Done()

	w := httptest.NewRecorder()
	s.ServeHTTP(w, sr)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	resp := w.Result()
	resp.Request = req
	return resp, nil
}
