package credserver_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain/credserver"
)

// TestServeStopped: a stand-in on a stopped server's socket answers every
// request with the error ServerStopped, which the SDK reports, until its
// context ends; then the port is free.
func TestServeStopped(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	uri := "http://" + ln.Addr().String() + "/credentials"
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- credserver.ServeStopped(ctx, ln) }()

	for _, tok := range []string{"", "any token"} {
		status, h, body := get(t, uri, tok)
		assert.Equal(t, http.StatusForbidden, status)
		assert.Equal(t, "no-store", h.Get("Cache-Control"))
		var e struct{ Code, Message string }
		require.NoError(t, json.Unmarshal([]byte(body), &e), body)
		assert.Equal(t, "ServerStopped", e.Code)
	}
	assert.True(t, closesAfterAnswer(t, uri, "x"), "the connection is closed after the answer")
	_, err = endpointcreds.New(uri, func(o *endpointcreds.Options) { o.AuthorizationToken = "x" }).Retrieve(t.Context())
	assert.ErrorContains(t, err, "ServerStopped")

	cancel()
	require.NoError(t, <-served)
	again, err := net.Listen("tcp4", ln.Addr().String())
	require.NoError(t, err, "the port is free once ServeStopped has returned")
	again.Close()
}
