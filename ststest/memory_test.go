package ststest

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInMemorySessionExpiresInBubble runs the SDK's STS client against
// the in-memory server inside a synctest bubble: two hours pass in no
// real time, and the session issued before them has expired.
func TestInMemorySessionExpiresInBubble(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewInMemoryServer(testConfig())
		defer s.Close()
		ctx := t.Context()
		alice := client(s, "alice")
		start := time.Now()
		out, err := assume(ctx, alice, roleA, "bubble", func(in *sts.AssumeRoleInput) { in.DurationSeconds = aws.Int32(3600) })
		require.NoError(t, err)
		assert.WithinDuration(t, start.Add(time.Hour), aws.ToTime(out.Credentials.Expiration), 0, "the server clock is the bubble's")
		session := sessionClient(s, out.Credentials)
		id, err := session.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		require.NoError(t, err)
		assert.Equal(t, s.AssumedRoleARN(roleA, "bubble"), aws.ToString(id.Arn))

		time.Sleep(2 * time.Hour)

		_, err = session.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		requireAPIError(t, err, "ExpiredToken", msgExpiredToken)
		out2, err := assume(ctx, alice, roleA, "bubble", func(in *sts.AssumeRoleInput) { in.DurationSeconds = aws.Int32(3600) })
		require.NoError(t, err)
		assert.WithinDuration(t, start.Add(3*time.Hour), aws.ToTime(out2.Credentials.Expiration), 0)
		assert.Equal(t, 2*time.Hour, time.Since(start))
		assert.Len(t, s.Calls(Call{Action: "AssumeRole", Status: 200}), 2)
		assert.Len(t, s.Calls(Call{ErrorCode: "ExpiredToken"}), 1)
	})
}

// TestInMemoryCloseCutsLatencyShort: Close ends a delayed request at once
// and waits for it; requests after Close fail.
func TestInMemoryCloseCutsLatencyShort(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewInMemoryServer(testConfig())
		s.SetLatency(time.Hour)
		start := time.Now()
		answered := make(chan error, 1)
		go func() {
			_, err := client(s, "alice").GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
			answered <- err
		}()
		synctest.Wait() // the request waits for its latency
		s.Close()
		assert.Zero(t, time.Since(start))
		require.NoError(t, <-answered)
		assert.Len(t, s.Calls(), 1)

		c := sts.NewFromConfig(s.AWSConfig("alice"), func(o *sts.Options) { o.RetryMaxAttempts = 1 })
		_, err := c.GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
		assert.ErrorIs(t, err, errClosed)
		s.Close() // idempotent
	})
}

func TestInMemoryTransport(t *testing.T) {
	s := NewInMemoryServer(testConfig())
	t.Cleanup(s.Close)
	assert.Equal(t, "http://ststest.invalid", s.URL)
	assert.Same(t, s.Client(), s.Client())
	assert.PanicsWithValue(t, "ststest: Start on an in-memory server", s.Start)

	// A request that is not an SDK client's gets STS's answer too.
	req, err := http.NewRequestWithContext(ctxT(t), http.MethodPost, s.URL+"/?x=1", strings.NewReader("Action=GetCallerIdentity"))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := s.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "unsigned")
	assert.Equal(t, "text/xml", resp.Header.Get("Content-Type"))
	assert.Same(t, req, resp.Request)

	// Other hosts are refused, so nothing reaches the network by mistake.
	req, err = http.NewRequestWithContext(ctxT(t), http.MethodGet, "http://sts.amazonaws.com/", nil)
	require.NoError(t, err)
	_, err = s.Client().Do(req)
	require.ErrorContains(t, err, `ststest: the in-memory server at http://ststest.invalid got a request for host "sts.amazonaws.com"`)

	// A context that has ended fails the request before the handler.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	s.ResetCalls()
	_, err = client(s, "alice").GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	assert.ErrorIs(t, err, context.Canceled)
	assert.Empty(t, s.Calls())
}
