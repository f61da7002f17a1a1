package rediscache_test

// Tests against a hostile Redis: a tiny RESP server that answers what no
// real Redis would.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/stschain/stschain"
	"github.com/stschain/stschain/rediscache"
	"github.com/stschain/stschain/ststest"
)

// hostileRedis serves RESP on loopback until the test ends. It answers the
// connection's handshake as an old Redis would (HELLO unknown, CLIENT
// +OK), and every other command with reply(name), raw RESP.
func hostileRedis(t *testing.T, reply func(name string) string) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	t.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
	})
	var conns sync.Map
	t.Cleanup(func() {
		conns.Range(func(c, _ any) bool { _ = c.(net.Conn).Close(); return true })
	})
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Store(conn, true)
			wg.Go(func() {
				defer conn.Close()
				rd := bufio.NewReader(conn)
				for {
					args, err := readCommand(rd)
					if err != nil {
						return
					}
					var out string
					switch name := strings.ToLower(args[0]); name {
					case "hello":
						out = "-ERR unknown command 'HELLO'\r\n"
					case "client", "ping", "select":
						out = "+OK\r\n"
					default:
						out = reply(name)
					}
					if _, err := io.WriteString(conn, out); err != nil {
						return
					}
				}
			})
		}
	})
	return ln.Addr().String()
}

// readCommand reads one RESP array of bulk strings.
func readCommand(rd *bufio.Reader) ([]string, error) {
	line, err := rd.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(line, "*") {
		return nil, fmt.Errorf("not an array: %q", line)
	}
	n, err := strconv.Atoi(strings.TrimSpace(line[1:]))
	if err != nil || n < 1 || n > 64 {
		return nil, fmt.Errorf("bad array length %q", line)
	}
	args := make([]string, n)
	for i := range args {
		hdr, err := rd.ReadString('\n')
		if err != nil {
			return nil, err
		}
		size, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(hdr, "$")))
		if err != nil || size < 0 || size > 1<<20 {
			return nil, errors.New("bad bulk length")
		}
		buf := make([]byte, size+2)
		if _, err := io.ReadFull(rd, buf); err != nil {
			return nil, err
		}
		args[i] = string(buf[:size])
	}
	return args, nil
}

// A reply announcing a string or an array of nearly 2^63 bytes makes
// go-redis panic (makeslice: len out of range) on the goroutine that reads
// it: a miss with a logged error, and the provider calls STS.
func TestHostileReplyLengthIsAMiss(t *testing.T) {
	for _, tt := range []struct {
		name, reply, want string
	}{
		{"bulk string", "$9223372036854775806\r\n", "the client panicked: runtime error: makeslice: len out of range"},
		{"array", "*9223372036854775806\r\n", "redis: can't parse reply"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			reply := tt.reply
			addr := hostileRedis(t, func(string) string { return reply })
			rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialerRetries: 1})
			t.Cleanup(func() { _ = rdb.Close() })
			cache, err := rediscache.New(rdb, newKey(t))
			require.NoError(t, err)
			ctx := t.Context()
			const ck = "0123456789abcdef0123456789abcdef01234567"

			e, ok, err := cache.Load(ctx, ck)
			assert.False(t, ok)
			assert.Zero(t, e)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "rediscache: reading stschain:session:"+ck+": "+tt.want)
			_, err = cache.Lock(ctx, ck)
			assert.ErrorContains(t, err, "rediscache: locking stschain:lock:"+ck+": ")

			srv := stsServer(t)
			logger, logs := logged()
			creds, err := provider(t, srv, cache, func(o *stschain.Options) { o.Logger = logger }).Retrieve(ctx)
			require.NoError(t, err, "a hostile Redis fails no caller")
			assert.True(t, creds.HasKeys())
			assert.Equal(t, 1, len(srv.Calls(ststest.Call{Action: "AssumeRole"})), "the provider called STS")
			assert.Contains(t, logs.String(), "cache load failed")
			assert.Contains(t, logs.String(), tt.want)
		})
	}
}
