package rediscache_test

// Tests against a real redis-server (skipped without one, unless
// STSCHAIN_REQUIRE_REDIS is set) and the fake STS.

import (
	"bytes"
	"context"
	"crypto/rand"
	"log/slog"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/stschain/stschain"
	"github.com/stschain/stschain/internal/redistest"
	"github.com/stschain/stschain/rediscache"
	"github.com/stschain/stschain/ststest"
)

const (
	account   = "123456789012"
	roleARN   = "arn:aws:iam::" + account + ":role/deploy"
	shortRole = "arn:aws:iam::" + account + ":role/short"
	aliceARN  = "arn:aws:iam::" + account + ":user/alice"
)

var sessionNameRe = regexp.MustCompile(`^stschain:session:[0-9a-f]{40}$`)

func TestMain(m *testing.M) {
	// go-redis logs its failed dials to stderr, process-wide; the tests
	// that kill redis-server make many.
	redis.SetLogger(quietLogger{})
	os.Exit(m.Run())
}

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

func stsServer(t *testing.T) *ststest.Server {
	t.Helper()
	srv := ststest.NewServer(ststest.Config{
		AccountID: account,
		Users:     []ststest.User{{Name: "alice", AccessKeyID: "AKIAALICEEXAMPLE01", SecretAccessKey: "alice-secret-key"}},
		Roles: []ststest.Role{
			{ARN: roleARN, Trust: []string{aliceARN}},
			{ARN: shortRole, Trust: []string{aliceARN}, Lifetime: 30 * time.Second},
		},
	})
	t.Cleanup(srv.Close)
	return srv
}

func newKey(t *testing.T) []byte {
	key := make([]byte, rediscache.KeySize)
	_, _ = rand.Read(key)
	return key
}

// process is what one process of a fleet has: its own Redis client and
// Cache, with the fleet's key.
func process(t *testing.T, rs *redistest.Server, key []byte, optFns ...func(*rediscache.Options)) (*rediscache.Cache, *redis.Client) {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	c, err := rediscache.New(rdb, key, optFns...)
	require.NoError(t, err)
	return c, rdb
}

func provider(t *testing.T, srv *ststest.Server, cache stschain.Cache, optFns ...func(*stschain.Options)) *stschain.ChainableProvider {
	t.Helper()
	p, err := stschain.New(srv.AWSConfig("alice"), append([]func(*stschain.Options){func(o *stschain.Options) {
		o.RoleARN = roleARN
		o.Cache = cache
	}}, optFns...)...)
	require.NoError(t, err)
	return p
}

// scan returns the key names redis-cli --scan lists.
func scan(t *testing.T, rs *redistest.Server) []string {
	t.Helper()
	out, err := rs.CLI(t.Context(), nil, "--scan")
	require.NoError(t, err)
	return strings.Fields(string(out))
}

func TestProvidersShareSessionsThroughRedis(t *testing.T) {
	rs := redistest.New(t, redistest.Options{})
	srv := stsServer(t)
	key := newKey(t)

	cache1, _ := process(t, rs, key)
	first, err := provider(t, srv, cache1).Retrieve(t.Context())
	require.NoError(t, err)

	// Another process, with its own client and Cache.
	cache2, _ := process(t, rs, key)
	second, err := provider(t, srv, cache2).Retrieve(t.Context())
	require.NoError(t, err)

	assert.Equal(t, first.AccessKeyID, second.AccessKeyID)
	assert.Equal(t, first.SecretAccessKey, second.SecretAccessKey)
	assert.Equal(t, first.SessionToken, second.SessionToken)
	assert.True(t, first.Expires.Equal(second.Expires))
	assert.Equal(t, account, second.AccountID)
	assert.Equal(t, 1, len(srv.Calls(ststest.Call{Action: "AssumeRole"})), "the second process made no STS call")

	keys := scan(t, rs)
	require.Len(t, keys, 1, "one session, and no lock left behind: %v", keys)
	assert.Regexp(t, sessionNameRe, keys[0])
}

func TestOneSTSCallForManyProcesses(t *testing.T) {
	rs := redistest.New(t, redistest.Options{})
	srv := stsServer(t)
	srv.SetLatency(50 * time.Millisecond) // so that the processes overlap
	key := newKey(t)

	const processes = 8
	got := make([]aws.Credentials, processes)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range processes {
		cache, _ := process(t, rs, key, func(o *rediscache.Options) { o.LockRetry = 5 * time.Millisecond })
		p := provider(t, srv, cache)
		wg.Go(func() {
			<-start
			c, err := p.Retrieve(t.Context())
			assert.NoError(t, err)
			got[i] = c
		})
	}
	close(start)
	wg.Wait()
	assert.Equal(t, 1, len(srv.Calls(ststest.Call{Action: "AssumeRole"})), "one process called STS, the others waited for its result")
	for _, c := range got {
		assert.Equal(t, got[0].AccessKeyID, c.AccessKeyID)
	}
}

func TestTTLIsTheRemainingLifetime(t *testing.T) {
	rs := redistest.New(t, redistest.Options{})
	srv := stsServer(t)
	cache, rdb := process(t, rs, newKey(t))
	for _, tt := range []struct {
		role string
		life time.Duration
	}{
		{roleARN, time.Hour},
		{shortRole, 30 * time.Second},
	} {
		t.Run(tt.role, func(t *testing.T) {
			c, err := provider(t, srv, cache, func(o *stschain.Options) { o.RoleARN = tt.role }).Retrieve(t.Context())
			require.NoError(t, err)
			names := scan(t, rs)
			var pttls []time.Duration
			before := time.Until(c.Expires)
			for _, n := range names {
				pttl, err := rdb.PTTL(t.Context(), n).Result()
				require.NoError(t, err)
				pttls = append(pttls, pttl)
			}
			after := time.Until(c.Expires)
			// This role's entry is the one whose TTL is nearest; Redis
			// counts in milliseconds, from a clock it reads once per
			// event loop turn, so allow a few of them.
			nearest := pttls[0]
			for _, pttl := range pttls {
				if (pttl - before).Abs() < (nearest - before).Abs() {
					nearest = pttl
				}
			}
			const slack = 20 * time.Millisecond
			assert.True(t, nearest <= before+slack && nearest >= after-slack,
				"a TTL of the remaining lifetime, %v to %v; got %v", after, before, pttls)
			assert.InDelta(t, tt.life.Seconds(), before.Seconds(), 2, "STS issued a session of the role's lifetime")
		})
	}
}

func TestNoSecretInRedis(t *testing.T) {
	rs := redistest.New(t, redistest.Options{Persistence: true})
	srv := stsServer(t)
	cache, rdb := process(t, rs, newKey(t))
	ctx := t.Context()

	assumed, err := provider(t, srv, cache).Retrieve(ctx)
	require.NoError(t, err)
	session, err := stschain.New(srv.AWSConfig("alice"), func(o *stschain.Options) { o.Cache = cache })
	require.NoError(t, err)
	gst, err := session.Retrieve(ctx)
	require.NoError(t, err)

	// A positive control: the same checks find a secret stored as it is.
	const canary = "CANARYSECRET/plaintext+value0123456789"
	require.NoError(t, rdb.Set(ctx, "control", canary, 0).Err())

	names := scan(t, rs)
	require.Len(t, names, 3)
	var cmds strings.Builder
	sessions := 0
	for _, n := range names {
		if n == "control" {
			continue
		}
		assert.Regexp(t, sessionNameRe, n, "key names show the prefix and a digest, nothing of the role")
		ttl, err := rdb.TTL(ctx, n).Result()
		require.NoError(t, err)
		assert.Positive(t, ttl, "every session has a TTL")
		sessions++
		cmds.WriteString("GET " + n + "\nDUMP " + n + "\n")
	}
	assert.Equal(t, 2, sessions)
	values, err := rs.CLI(ctx, []byte(cmds.String()))
	require.NoError(t, err)
	control, err := rs.CLI(ctx, []byte("GET control\nDUMP control\n"))
	require.NoError(t, err)
	_, err = rs.CLI(ctx, nil, "SAVE")
	require.NoError(t, err)
	dump, err := os.ReadFile(rs.DumpFile())
	require.NoError(t, err)

	assert.Equal(t, 2, bytes.Count(control, []byte(canary)), "GET and DUMP show a plaintext value")
	assert.True(t, bytes.Contains(dump, []byte(canary)), "the RDB file shows a plaintext value")
	for _, c := range []aws.Credentials{assumed, gst} {
		for what, s := range map[string]string{
			"secret key": c.SecretAccessKey, "session token": c.SessionToken, "access key ID": c.AccessKeyID,
			"start of the secret key": c.SecretAccessKey[:10], "start of the session token": c.SessionToken[:24],
		} {
			assert.False(t, bytes.Contains(values, []byte(s)), "GET/DUMP show the %s", what)
			assert.False(t, bytes.Contains(dump, []byte(s)), "the RDB file shows the %s", what)
		}
	}
	for _, s := range []string{roleARN, "assumed-role", account} {
		assert.False(t, bytes.Contains(values, []byte(s)), "GET/DUMP show %q", s)
		assert.False(t, bytes.Contains(dump, []byte(s)), "the RDB file shows %q", s)
	}
}

// logged returns a Logger for a provider, and what it writes.
func logged() (*slog.Logger, *syncBuffer) {
	b := &syncBuffer{}
	return slog.New(slog.NewTextHandler(b, nil)), b
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer // guarded by mu
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

func TestUnusableEntriesAreMissesForTheProvider(t *testing.T) {
	rs := redistest.New(t, redistest.Options{})
	srv := stsServer(t)
	key := newKey(t)
	cache, rdb := process(t, rs, key)
	ctx := t.Context()

	first, err := provider(t, srv, cache).Retrieve(ctx)
	require.NoError(t, err)
	names := scan(t, rs)
	require.Len(t, names, 1)
	name := names[0]
	good, err := rdb.Get(ctx, name).Bytes()
	require.NoError(t, err)
	// An entry of another role, to copy from.
	_, err = provider(t, srv, cache, func(o *stschain.Options) { o.RoleARN = shortRole }).Retrieve(ctx)
	require.NoError(t, err)
	var other string
	for _, n := range scan(t, rs) {
		if n != name {
			other = n
		}
	}
	require.NotEmpty(t, other)
	otherValue, err := rdb.Get(ctx, other).Bytes()
	require.NoError(t, err)

	for _, tt := range []struct {
		name  string
		apply func(t *testing.T) *rediscache.Cache // changes Redis, returns the cache to read with
		want  string
	}{
		{"tampered", func(t *testing.T) *rediscache.Cache {
			v := bytes.Clone(good)
			v[len(v)/2] ^= 0x80
			require.NoError(t, rdb.Set(ctx, name, v, time.Hour).Err())
			return cache
		}, "does not open"},
		{"truncated", func(t *testing.T) *rediscache.Cache {
			require.NoError(t, rdb.Set(ctx, name, good[:len(good)-10], time.Hour).Err())
			return cache
		}, "does not open"},
		{"swapped between keys", func(t *testing.T) *rediscache.Cache {
			require.NoError(t, rdb.Set(ctx, name, otherValue, time.Hour).Err())
			return cache
		}, "does not open"},
		{"read with another key", func(t *testing.T) *rediscache.Cache {
			require.NoError(t, rdb.Set(ctx, name, good, time.Hour).Err())
			c, _ := process(t, rs, newKey(t))
			return c
		}, "sealed with a key this process does not have"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.apply(t)
			_, ok, err := c.Load(ctx, strings.TrimPrefix(name, "stschain:session:"))
			assert.False(t, ok)
			require.ErrorContains(t, err, tt.want)

			logger, logs := logged()
			before := len(srv.Calls(ststest.Call{Action: "AssumeRole"}))
			got, err := provider(t, srv, c, func(o *stschain.Options) { o.Logger = logger }).Retrieve(ctx)
			require.NoError(t, err, "an unusable entry is a miss")
			assert.NotEqual(t, first.AccessKeyID, got.AccessKeyID)
			assert.Equal(t, before+1, len(srv.Calls(ststest.Call{Action: "AssumeRole"})), "the provider called STS instead")
			assert.Contains(t, logs.String(), "cache load failed")
			assert.Contains(t, logs.String(), tt.want)
			assert.NotContains(t, logs.String(), first.SecretAccessKey)
			assert.NotContains(t, logs.String(), first.SessionToken)
		})
	}
}

func TestLockAgainstRedis(t *testing.T) {
	t.Parallel()
	rs := redistest.New(t, redistest.Options{})
	key := newKey(t)
	const ttl = time.Second
	opts := func(o *rediscache.Options) { o.LockTTL = ttl; o.LockRetry = 5 * time.Millisecond }
	a, rdb := process(t, rs, key, opts)
	b, _ := process(t, rs, key, opts)
	ctx := t.Context()
	const ck = "0123456789abcdef0123456789abcdef01234567"
	const lock = "stschain:lock:" + ck

	unlockA, err := a.Lock(ctx, ck)
	require.NoError(t, err)
	tokenA, err := rdb.Get(ctx, lock).Result()
	require.NoError(t, err)
	pttl, err := rdb.PTTL(ctx, lock).Result()
	require.NoError(t, err)
	assert.LessOrEqual(t, pttl, ttl)
	assert.Greater(t, pttl, ttl/2)

	// B waits, and gives up when its context ends.
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	_, err = b.Lock(short, ck)
	require.ErrorIs(t, err, context.DeadlineExceeded, "A holds the lock")
	assert.Contains(t, err.Error(), "held by another; stopped waiting")

	// The lock vanishes (evicted, say) and B takes it: A's late unlock
	// leaves B's lock alone.
	require.NoError(t, rdb.Del(ctx, lock).Err())
	unlockB, err := b.Lock(ctx, ck)
	require.NoError(t, err)
	tokenB, err := rdb.Get(ctx, lock).Result()
	require.NoError(t, err)
	assert.NotEqual(t, tokenA, tokenB)
	unlockA()
	got, err := rdb.Get(ctx, lock).Result()
	require.NoError(t, err, "A's late unlock left B's lock in place")
	assert.Equal(t, tokenB, got)
	unlockB()
	assert.Zero(t, rdb.Exists(ctx, lock).Val(), "released by its holder")

	// A holder that crashed left its lock with its TTL; one planted by
	// hand has none. Either lasts at most ttl from the first poll.
	for name, set := range map[string][]string{"crashed holder": {"SET", lock, "x", "PX", "300"}, "no TTL": {"SET", lock, "x"}} {
		_, err = rs.CLI(ctx, nil, set...)
		require.NoError(t, err)
		start := time.Now()
		unlock, err := b.Lock(ctx, ck)
		require.NoError(t, err, name)
		unlock()
		t.Logf("%s: lock taken after %v", name, time.Since(start))
	}
}

func TestRedisKilled(t *testing.T) {
	rs := redistest.New(t, redistest.Options{})
	srv := stsServer(t)
	key := newKey(t)
	cache, _ := process(t, rs, key)
	ctx := t.Context()
	creds, err := provider(t, srv, cache).Retrieve(ctx)
	require.NoError(t, err)
	ck := strings.TrimPrefix(scan(t, rs)[0], "stschain:session:")
	// A client that does not retry a refused connection, beside the one
	// with go-redis's defaults (5 dial attempts, 3 retries: more than a
	// second of retrying).
	fastRDB := redis.NewClient(&redis.Options{Addr: rs.Addr, DialerRetries: 1, MaxRetries: -1})
	t.Cleanup(func() { _ = fastRDB.Close() })
	fast, err := rediscache.New(fastRDB, key)
	require.NoError(t, err)
	require.NoError(t, fastRDB.Ping(ctx).Err())

	rs.Kill()
	for _, tt := range []struct {
		client string
		cache  *rediscache.Cache
		within time.Duration
		want   string
	}{
		{"defaults", cache, rediscache.DefaultTimeout + 500*time.Millisecond, ""},
		{"no retries", fast, 200 * time.Millisecond, "connection refused"},
	} {
		for name, op := range map[string]func() error{
			"Load": func() error {
				e, ok, err := tt.cache.Load(ctx, ck)
				assert.False(t, ok)
				assert.Zero(t, e)
				return err
			},
			"Store": func() error {
				return tt.cache.Store(ctx, ck, stschain.CacheEntry{Credentials: creds})
			},
			"Lock": func() error {
				unlock, err := tt.cache.Lock(ctx, ck)
				assert.Nil(t, unlock)
				return err
			},
		} {
			start := time.Now()
			err := op()
			elapsed := time.Since(start)
			t.Logf("%s (client %s) with redis-server killed: %v, %v", name, tt.client, elapsed, err)
			require.Error(t, err, name)
			assert.Regexp(t, `^rediscache: (reading|writing|locking) stschain:(session|lock):`+ck+`: `, err.Error(), name)
			assert.Contains(t, err.Error(), tt.want, name)
			assert.Less(t, elapsed, tt.within, "%s, client %s", name, tt.client)
			assert.NotContains(t, err.Error(), creds.SecretAccessKey)
			assert.NotContains(t, err.Error(), creds.SessionToken)
		}
	}
}

// TestProviderGoesOnWithoutRedis: with redis-server gone, a provider with
// this Cache still returns credentials, from STS.
func TestProviderGoesOnWithoutRedis(t *testing.T) {
	rs := redistest.New(t, redistest.Options{})
	srv := stsServer(t)
	// A client that reports a refused connection at once, as doc.go
	// advises; TestRedisKilled bounds the calls of one that retries.
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr, DialerRetries: 1, MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	cache, err := rediscache.New(rdb, newKey(t))
	require.NoError(t, err)
	ctx := t.Context()
	_, err = provider(t, srv, cache).Retrieve(ctx)
	require.NoError(t, err)

	rs.Kill()
	logger, logs := logged()
	start := time.Now()
	creds, err := provider(t, srv, cache, func(o *stschain.Options) { o.Logger = logger }).Retrieve(ctx)
	elapsed := time.Since(start)
	t.Logf("Retrieve with redis-server killed: %v; log:\n%s", elapsed, logs.String())
	require.NoError(t, err, "a cache outage fails no caller")
	assert.True(t, creds.HasKeys())
	assert.Equal(t, 2, len(srv.Calls(ststest.Call{Action: "AssumeRole"})), "the provider went to STS")
	assert.Less(t, elapsed, rediscache.DefaultTimeout, "the cache calls fail at once")
	assert.Contains(t, logs.String(), "rediscache: reading")
	assert.NotContains(t, logs.String(), creds.SecretAccessKey)
	assert.NotContains(t, logs.String(), creds.SessionToken)
}

// countingConn counts the bytes a client reads.
type countingConn struct {
	net.Conn
	read *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

// A 32 MiB value planted under a session name costs a read of 64 KiB, not
// 32 MiB on every Load: it is a miss with an error.
func TestOversizedValueIsReadBounded(t *testing.T) {
	rs := redistest.New(t, redistest.Options{})
	var read atomic.Int64
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr, Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countingConn{c, &read}, nil
	}})
	t.Cleanup(func() { _ = rdb.Close() })
	cache, err := rediscache.New(rdb, newKey(t))
	require.NoError(t, err)
	ctx := t.Context()
	const ck = "0123456789abcdef0123456789abcdef01234567"
	const size = 32 << 20
	_, err = rs.CLI(ctx, nil, "SETRANGE", "stschain:session:"+ck, strconv.Itoa(size-1), "x")
	require.NoError(t, err)

	for _, underLock := range []bool{false, true} {
		if underLock { // Load reads the primary with a script
			unlock, err := cache.Lock(ctx, ck)
			require.NoError(t, err)
			defer unlock()
		}
		before := read.Load()
		_, ok, err := cache.Load(ctx, ck)
		assert.False(t, ok)
		assert.ErrorContains(t, err, "is unusable: the value is over 65536 bytes, more than an entry can be")
		n := read.Load() - before
		t.Logf("under lock %v: Load read %d bytes of a %d-byte value", underLock, n, size)
		assert.Less(t, n, int64(65<<10))
	}
}

// documentedACL is the ACL the package documentation gives a deployment.
var documentedACL = []string{"~stschain:*", "+get", "+set", "+getrange", "+pttl", "+pexpire", "+del", "+eval", "+evalsha"}

// The ACL the package documentation gives is all the cache needs: a cold
// start, a shared session, a lock a waiter waits on, and no warning.
func TestDocumentedACL(t *testing.T) {
	rs := redistest.New(t, redistest.Options{})
	_, err := rs.CLI(t.Context(), nil, append([]string{"ACL", "SETUSER", "stschain", "on", ">acl-password"}, documentedACL...)...)
	require.NoError(t, err)
	srv := stsServer(t)
	srv.SetLatency(50 * time.Millisecond) // so that the processes overlap
	key := newKey(t)
	logger, logs := logged()
	var ps []*stschain.ChainableProvider
	for range 4 {
		rdb := redis.NewClient(&redis.Options{Addr: rs.Addr, Username: "stschain", Password: "acl-password"})
		t.Cleanup(func() { _ = rdb.Close() })
		cache, err := rediscache.New(rdb, key, func(o *rediscache.Options) { o.Logger = logger })
		require.NoError(t, err)
		ps = append(ps, provider(t, srv, cache, func(o *stschain.Options) { o.Logger = logger }))
	}
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Go(func() {
			_, err := p.Retrieve(t.Context())
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	assert.Equal(t, 1, len(srv.Calls(ststest.Call{Action: "AssumeRole"})), "one process called STS, the others took its session")
	assert.NotContains(t, logs.String(), "level=WARN", "no command was refused")
	out, err := rs.CLI(t.Context(), nil, "ACL", "LOG")
	require.NoError(t, err)
	assert.Empty(t, strings.TrimSpace(string(out)), "the ACL log is empty")
}
