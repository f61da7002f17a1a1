package rediscache

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stschain/stschain"
)

// Defaults used when the corresponding [Options] field is zero.
const (
	// DefaultPrefix starts the name of every Redis key a Cache uses.
	DefaultPrefix = "stschain:"
	// DefaultTimeout bounds each Redis call: it is what an unreachable or
	// stalled Redis costs a caller.
	DefaultTimeout = time.Second
	// DefaultLockTTL is how long a lock outlives a holder that never
	// releases it: as long as the longest refresh of a
	// [stschain.ChainableProvider] (an MFA prompt and an STS call).
	DefaultLockTTL = 5 * time.Minute
	// DefaultLockRetry is how often Lock tries again for a lock another
	// holder has.
	DefaultLockRetry = 50 * time.Millisecond
)

// KeySize is the length of the key [New] takes, in bytes: an AES-256 key.
const KeySize = 32

// Limits.
const (
	// maxPrefixLen bounds Options.Prefix.
	maxPrefixLen = 128
	// maxEntrySize bounds what Load accepts: an entry is a few KiB.
	maxEntrySize = 64 << 10
)

// Options configures a [Cache]. The zero value of every field is valid and
// means the default its comment gives.
type Options struct {
	// Prefix starts the name of every Redis key the Cache uses: a session
	// is kept under Prefix + "session:" + its stschain cache key, the lock
	// of that key under Prefix + "lock:" + the cache key. Optional: empty
	// means DefaultPrefix. At most 128 printable ASCII characters, no
	// spaces. Caches that share a prefix must share the key too: each
	// reads the other's entries as unusable otherwise.
	Prefix string

	// Timeout bounds each Redis call (one GET, SET or lock attempt), on top
	// of the caller's context: a Redis that is down or does not answer
	// costs a caller at most this much per call. Optional: zero means
	// DefaultTimeout. Must not be negative.
	Timeout time.Duration

	// LockTTL is how long a lock lives when its holder neither releases it
	// nor dies cleanly, so that a crashed holder blocks the others for at
	// most this long. Optional: zero means DefaultLockTTL. Must be at
	// least a millisecond otherwise, and longer than a refresh takes: a
	// lock that expires while its holder still refreshes lets another
	// process call STS too.
	LockTTL time.Duration

	// LockRetry is how often Lock tries again for a lock another holder
	// has; each wait is drawn at random between half and one and a half
	// times it. Optional: zero means DefaultLockRetry. Must not be
	// negative.
	LockRetry time.Duration

	// Logger receives a warning when a lock cannot be released (it then
	// expires after LockTTL) or had expired before its holder released it.
	// It never sees a secret. Optional: nil means silent.
	Logger *slog.Logger
}

// Cache is a [stschain.Cache] and [stschain.CacheLocker] that keeps
// sessions in Redis, sealed with AES-256-GCM, so that the processes of a
// fleet share them and, with the lock, only one of them calls STS for a
// key while the others wait for its result. See the package documentation.
//
// A Cache is safe for concurrent use. Create one with [New].
type Cache struct {
	// All fields are set by New and read-only afterwards.
	rdb       redis.UniversalClient
	aead      cipher.AEAD // AES-256-GCM with random nonces
	prefix    string
	timeout   time.Duration
	lockTTL   time.Duration
	lockRetry time.Duration
	logger    *slog.Logger // never nil
}

var (
	_ stschain.Cache       = (*Cache)(nil)
	_ stschain.CacheLocker = (*Cache)(nil)
)

// New returns a Cache keeping sessions in Redis through rdb, sealed and
// authenticated with key, which must be [KeySize] (32) random bytes, the
// same in every process that shares the cache. New keeps no copy of key
// (only the AES key schedule derived from it), so the caller may clear it
// afterwards. rdb is used as it is; New makes no Redis call.
func New(rdb redis.UniversalClient, key []byte, optFns ...func(*Options)) (*Cache, error) {
	var o Options
	for _, fn := range optFns {
		if fn != nil {
			fn(&o)
		}
	}
	var errs []error
	if rdb == nil {
		errs = append(errs, errors.New("the Redis client is nil"))
	}
	switch {
	case len(key) != KeySize:
		errs = append(errs, fmt.Errorf("the key is %d bytes; AES-256-GCM needs exactly %d (random bytes, such as from crypto/rand, kept in a secret store)", len(key), KeySize))
	case allZero(key):
		errs = append(errs, errors.New("the key is all zero bytes; fill it with random bytes, such as from crypto/rand"))
	}
	if err := o.validate(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("rediscache: New: %w", errors.Join(errs...))
	}

	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("rediscache: New: %w", err)
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("rediscache: New: %w", err)
	}
	c := &Cache{
		rdb:       rdb,
		aead:      aead,
		prefix:    o.Prefix,
		timeout:   o.Timeout,
		lockTTL:   o.LockTTL,
		lockRetry: o.LockRetry,
		logger:    o.Logger,
	}
	if c.prefix == "" {
		c.prefix = DefaultPrefix
	}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	if c.lockTTL == 0 {
		c.lockTTL = DefaultLockTTL
	}
	if c.lockRetry == 0 {
		c.lockRetry = DefaultLockRetry
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// validate says what is wrong with o, and what is valid.
func (o *Options) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if o.Prefix != "" {
		switch {
		case len(o.Prefix) > maxPrefixLen:
			bad("Prefix has %d characters; want at most %d", len(o.Prefix), maxPrefixLen)
		case strings.ContainsFunc(o.Prefix, func(r rune) bool { return r <= ' ' || r > '~' }):
			bad("Prefix %q has a space, control or non-ASCII character; want printable ASCII such as %q", o.Prefix, DefaultPrefix)
		}
	}
	if o.Timeout < 0 {
		bad("Timeout %v is negative; want 0 (default %v) or more", o.Timeout, DefaultTimeout)
	}
	if o.LockTTL < 0 || (o.LockTTL > 0 && o.LockTTL < time.Millisecond) {
		bad("LockTTL %v is out of range; want 0 (default %v) or at least 1ms", o.LockTTL, DefaultLockTTL)
	}
	if o.LockRetry < 0 {
		bad("LockRetry %v is negative; want 0 (default %v) or more", o.LockRetry, DefaultLockRetry)
	}
	return errors.Join(errs...)
}

// cacheKeyRe is what a stschain cache key may be (as FileCache accepts it),
// so that no key name can run into another's.
var cacheKeyRe = regexp.MustCompile(`^[0-9A-Za-z_-]{1,200}$`)

// Kinds of Redis key names. A cache key has no ':', so a session name
// never equals a lock name.
const (
	kindSession = "session:"
	kindLock    = "lock:"
)

// name returns the Redis key name of a cache key.
func (c *Cache) name(kind, key string) (string, error) {
	if !cacheKeyRe.MatchString(key) {
		return "", fmt.Errorf("rediscache: invalid cache key %q: want 1 to 200 characters of letters, digits, '_' and '-'", key)
	}
	return c.prefix + kind + key, nil
}

// Load returns the entry stored under key. A missing key is a miss with a
// nil error. A value that does not open (sealed with another key, changed,
// truncated, or copied from another key name), is not in this package's
// format, or holds credentials that have expired is a miss with an error
// that says which; so is a Redis call that fails or does not answer within
// Options.Timeout. No error holds a secret.
func (c *Cache) Load(ctx context.Context, key string) (stschain.CacheEntry, bool, error) {
	name, err := c.name(kindSession, key)
	if err != nil {
		return stschain.CacheEntry{}, false, err
	}
	val, err := call(ctx, c.timeout, func(ctx context.Context) ([]byte, error) {
		return c.rdb.Get(ctx, name).Bytes()
	}, nil)
	if errors.Is(err, redis.Nil) {
		return stschain.CacheEntry{}, false, nil
	}
	if err != nil {
		return stschain.CacheEntry{}, false, fmt.Errorf("rediscache: reading %s: %w", name, err)
	}
	entry, err := c.open(name, val)
	if err != nil {
		return stschain.CacheEntry{}, false, fmt.Errorf("rediscache: entry %s is unusable: %w", name, err)
	}
	if now := time.Now(); !entry.Credentials.Expires.After(now) {
		return stschain.CacheEntry{}, false, fmt.Errorf("rediscache: entry %s is unusable: its credentials expired at %s, %v ago, yet Redis still has it",
			name, entry.Credentials.Expires.UTC().Format(time.RFC3339), now.Sub(entry.Credentials.Expires).Round(time.Millisecond))
	}
	return entry, true, nil
}

// Store saves entry under key, replacing any earlier entry, with a Redis
// TTL of the credentials' remaining lifetime (in whole milliseconds, so
// that Redis drops the entry at most a millisecond before they expire, never
// after). The entry needs an access key, secret key, session token and an
// Expires in the future.
func (c *Cache) Store(ctx context.Context, key string, entry stschain.CacheEntry) error {
	name, err := c.name(kindSession, key)
	if err != nil {
		return err
	}
	cr := entry.Credentials
	var missing []string
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"AccessKeyID", cr.AccessKeyID != ""},
		{"SecretAccessKey", cr.SecretAccessKey != ""},
		{"SessionToken", cr.SessionToken != ""},
		{"Expires", !cr.Expires.IsZero()},
	} {
		if !f.set {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("rediscache: cannot cache credentials without %s", strings.Join(missing, ", "))
	}
	ttl := time.Until(cr.Expires).Truncate(time.Millisecond)
	if ttl <= 0 {
		return fmt.Errorf("rediscache: not caching credentials %s that expire at %s, less than a millisecond from now",
			cr.AccessKeyID, cr.Expires.UTC().Format(time.RFC3339Nano))
	}
	val, err := c.seal(name, entry)
	if err != nil {
		return err
	}
	_, err = call(ctx, c.timeout, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, c.rdb.Set(ctx, name, val, ttl).Err()
	}, nil)
	if err != nil {
		return fmt.Errorf("rediscache: writing %s: %w", name, err)
	}
	return nil
}

// String describes the cache without its key.
func (c *Cache) String() string {
	return fmt.Sprintf("rediscache.Cache{prefix %q, timeout %v, lock TTL %v}", c.prefix, c.timeout, c.lockTTL)
}

// Format writes String for every verb, so that no verb (%v, %+v, %#v, %x,
// %d ...) prints the fields, the cipher among them.
func (c *Cache) Format(f fmt.State, verb rune) { _, _ = io.WriteString(f, c.String()) }

// LogValue is String, so that log/slog shows no key either.
func (c *Cache) LogValue() slog.Value { return slog.StringValue(c.String()) }

// errTimeout is the cause of a call's context when Options.Timeout ran out.
var errTimeout = errors.New("rediscache: Redis call timed out")

// States of a call.
const (
	callWaiting   int32 = iota // the caller waits for fn
	callDelivered              // fn returned to a waiting caller
	callAbandoned              // the caller stopped waiting first
)

// call runs fn with a context that ends after timeout or with ctx, and
// returns fn's result, or an error once that context ends, whichever comes
// first: a client that does not honour contexts (go-redis does not unless
// its ContextTimeoutEnabled is set) cannot hold the caller longer. When the
// caller stops waiting first, fn goes on in the background until the
// client gives up, and abandoned (when not nil) then gets its result.
func call[T any](ctx context.Context, timeout time.Duration, fn func(context.Context) (T, error), abandoned func(T, error)) (T, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, errTimeout)
	defer cancel()
	type result struct {
		v   T
		err error
	}
	var state atomic.Int32
	done := make(chan result, 1)
	go func() {
		v, err := fn(ctx)
		done <- result{v, err}
		if !state.CompareAndSwap(callWaiting, callDelivered) && abandoned != nil {
			abandoned(v, err)
		}
	}()
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		if state.CompareAndSwap(callWaiting, callAbandoned) {
			var zero T
			return zero, ctxError(ctx, timeout)
		}
		r = <-done
	}
	if r.err != nil && !errors.Is(r.err, redis.Nil) && ctx.Err() != nil {
		// The client stopped because the context ended: say why it did.
		return r.v, ctxError(ctx, timeout)
	}
	return r.v, r.err
}

// ctxError says why a call's context ended.
func ctxError(ctx context.Context, timeout time.Duration) error {
	if context.Cause(ctx) == errTimeout {
		return fmt.Errorf("no answer from Redis within %v: %w", timeout, ctx.Err())
	}
	return ctx.Err()
}
