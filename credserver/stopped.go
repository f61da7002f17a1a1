package credserver

import (
	"context"
	"errors"
	"net"
	"net/http"
)

// ServeStopped answers every request on ln with 403 and the error code
// ServerStopped, until ctx is done; it then closes ln and returns nil, or
// the error that stopped it earlier.
//
// It stands in for a [Server] that has stopped, on a copy of its listening
// socket ([Server.File]), so that no other process can take the
// port while a client may still hold the server's URI: a client that
// comes back after the server is gone gets an error, not the credentials
// of whoever bound the port next. Connections are bounded as a Server's
// are, and each is closed after its answer.
func ServeStopped(ctx context.Context, ln net.Listener) error {
	hs := newHTTPServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Connection", "close")
		writeError(w, http.StatusForbidden, "ServerStopped", "the credential server has stopped: it serves no more credentials")
	}))
	stop := context.AfterFunc(ctx, func() { _ = hs.Close() })
	defer stop()
	err := hs.Serve(newLimitListener(ln))
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	_ = ln.Close()
	return err
}
