package redistest

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// roundTrip sends PING on conn and reads the answer.
func roundTrip(conn net.Conn, rd *bufio.Reader) (string, error) {
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return "", err
	}
	return rd.ReadString('\n')
}

func TestProxy(t *testing.T) {
	s := New(t, Options{})
	p := NewProxy(t, s.Addr)
	conn, err := net.DialTimeout("tcp4", p.Addr, time.Second)
	require.NoError(t, err)
	defer conn.Close()
	rd := bufio.NewReader(conn)
	line, err := roundTrip(conn, rd)
	require.NoError(t, err)
	assert.Equal(t, "+PONG\r\n", line)

	const latency = 200 * time.Millisecond
	p.SetLatency(latency)
	start := time.Now()
	_, err = roundTrip(conn, rd)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, time.Since(start), latency, "a round trip takes the latency longer")
	p.SetLatency(0)

	p.Pause()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(100*time.Millisecond)))
	_, err = roundTrip(conn, rd)
	var ne net.Error
	require.ErrorAs(t, err, &ne, "paused: no answer")
	assert.True(t, ne.Timeout())
	require.NoError(t, conn.SetReadDeadline(time.Time{}))
	p.Resume()
	line, err = rd.ReadString('\n')
	require.NoError(t, err, "the answer held back comes on Resume")
	assert.Equal(t, "+PONG\r\n", line)

	assert.Equal(t, 1, p.Drop())
	_, err = roundTrip(conn, rd)
	assert.Error(t, err, "dropped")
	assert.Equal(t, 1, p.Dropped())
	again, err := net.DialTimeout("tcp4", p.Addr, time.Second)
	require.NoError(t, err, "new connections are accepted")
	line, err = roundTrip(again, bufio.NewReader(again))
	require.NoError(t, err)
	assert.Equal(t, "+PONG\r\n", line)
	_ = again.Close()
	p.Close()
	p.Close()
}

func TestCluster(t *testing.T) {
	c := NewCluster(t, ClusterOptions{})
	require.Len(t, c.Nodes, 6)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	masters, err := c.Masters(ctx)
	require.NoError(t, err)
	require.Len(t, masters, 3)

	masters[0].Kill()
	require.NoError(t, c.WaitHealthy(ctx), "a replica takes over")
	after, err := c.Masters(ctx)
	require.NoError(t, err)
	assert.Len(t, after, 3)
	assert.NotContains(t, after, masters[0])
}

func TestSentinel(t *testing.T) {
	s := NewSentinel(t, SentinelOptions{})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	m, err := s.CurrentMaster(ctx)
	require.NoError(t, err)
	assert.Equal(t, s.Master.Addr, m)

	s.Master.Kill()
	m, err = s.WaitFailover(ctx, s.Master.Addr)
	require.NoError(t, err)
	assert.Equal(t, s.Replicas[0].Addr, m, "the replica took over")
	out, err := s.Replicas[0].CLI(ctx, nil, "ROLE")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(out), "master"))
}
