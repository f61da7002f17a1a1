package rediscache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/aws/smithy-go/metrics"
	"github.com/redis/go-redis/v9"
	"github.com/stschain/stschain"
	"github.com/stschain/stschain/internal/redact"
	"github.com/stschain/stschain/sharedcache"
)

// Defaults used when the corresponding [Options] field is zero.
const (
	// DefaultPrefix starts the name of every Redis key a Cache uses.
	DefaultPrefix = "stschain:"
	// DefaultTimeout bounds each Redis call: it is what an unreachable or
	// stalled Redis costs a caller.
	DefaultTimeout = sharedcache.DefaultTimeout
	// DefaultLockTTL is how long a lock outlives a holder that stopped
	// renewing it (it crashed, or lost Redis): about one refresh, an STS
	// call with its retries. A live holder renews its lock for as long as
	// its refresh takes, an MFA prompt included, up to
	// [sharedcache.MaxHold].
	DefaultLockTTL = sharedcache.DefaultLockTTL
	// DefaultLockRetry is the first pause of a process waiting for
	// another's lock; each pause doubles, up to a second.
	DefaultLockRetry = sharedcache.DefaultLockRetry
)

// KeySize is the length of the key [New] takes, in bytes: an AES-256 key.
const KeySize = sharedcache.KeySize

// maxPrefixLen bounds Options.Prefix.
const maxPrefixLen = 128

// meterScope names the Meter of the package's instruments.
const meterScope = "github.com/stschain/stschain/rediscache"

// Options configures a [Cache]. The zero value of every field is valid and
// means the default its comment gives.
type Options struct {
	// Prefix starts the name of every Redis key the Cache uses: a session
	// is kept under Prefix + "session:" + its stschain cache key, the lock
	// of that key under Prefix + "lock:" + the cache key. Optional: empty
	// means DefaultPrefix. At most 128 printable ASCII characters, no
	// spaces. Caches that share a prefix must share the keys too: each
	// reads the other's entries as unusable otherwise.
	Prefix string

	// PreviousKeys are keys that values in Redis may be sealed with besides
	// the key given to New: Load opens values sealed with any of them, and
	// Store always seals with the key given to New, so each value read
	// under a previous key is sealed under the current one at the next
	// refresh. They let a key change across a fleet without a miss: first
	// give every process the new key here, then make it the key of New
	// with the old one here, until the old one's values have expired (the
	// longest session lifetime). Optional: nil means none. Each must be
	// KeySize random bytes, other than the key.
	PreviousKeys [][]byte

	// Timeout bounds each Redis call (one read, write or lock operation),
	// on top of the caller's context: a Redis that is down or does not
	// answer costs a caller at most this much per call. Optional: zero
	// means DefaultTimeout. Must not be negative.
	Timeout time.Duration

	// LockTTL is how long a lock lives when its holder stops renewing it,
	// so that a crashed holder blocks the others for at most this long. A
	// live holder renews its lock every third of LockTTL. Optional: zero
	// means DefaultLockTTL. Must be at least a millisecond otherwise.
	LockTTL time.Duration

	// LockRetry is the first pause of a process waiting for another's
	// lock; each pause doubles, up to a second, and is drawn at random
	// between half and one and a half times that. Optional: zero means
	// DefaultLockRetry. Must not be negative.
	LockRetry time.Duration

	// Logger receives a warning when a lock cannot be released (it then
	// expires after LockTTL) or was gone before its holder released it.
	// It never sees a secret. Optional: nil means silent.
	Logger *slog.Logger

	// MeterProvider receives the Cache's metrics: rediscache.lookups (a
	// counter of loads, attribute "result": "hit", "miss" or "error"),
	// rediscache.lock.wait (a histogram of the seconds Lock took,
	// attribute "result": "acquired", "stored", "abandoned" or "failed")
	// and rediscache.lock.stranded (a counter of locks whose release
	// failed or whose wait was given up, attribute "reason": "release" or
	// "wait"). See [sharedcache.Metrics]. Optional: nil means none.
	MeterProvider metrics.MeterProvider
}

// Cache is a [stschain.Cache] and [stschain.CacheLocker] that keeps
// sessions in Redis, sealed with AES-256-GCM, so that the processes of a
// fleet share them and, with the lock, only one of them calls STS for a
// key while the others wait for its result. See the package documentation.
//
// A Cache is safe for concurrent use. Create one with [New].
type Cache struct {
	// All fields but mu and primary are set by New and read-only
	// afterwards.
	rdb     redis.UniversalClient
	sealer  *sharedcache.Sealer
	locker  *sharedcache.Locker
	metrics *sharedcache.Metrics // nil: none
	prefix  string
	timeout time.Duration

	mu sync.Mutex
	// primary counts, per session name, the Lock calls that returned and
	// whose unlock has not run: Load reads those names from the primary.
	// Guarded by mu.
	primary map[string]int
}

var (
	_ stschain.Cache       = (*Cache)(nil)
	_ stschain.CacheLocker = (*Cache)(nil)
)

// New returns a Cache keeping sessions in Redis through rdb, sealed and
// authenticated with key, which must be [KeySize] (32) random bytes, the
// same in every process that shares the cache. New keeps no copy of key
// or Options.PreviousKeys (only the AES key schedules derived from them),
// so the caller may clear them afterwards. rdb is used as it is; New makes
// no Redis call.
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
	sealer, err := sharedcache.NewSealer(key, o.PreviousKeys...)
	if err != nil {
		errs = append(errs, err)
	}
	if err := o.validate(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("rediscache: New: %w", errors.Join(errs...))
	}
	m, err := sharedcache.NewMetrics(o.MeterProvider, meterScope, "rediscache")
	if err != nil {
		return nil, fmt.Errorf("rediscache: New: %w", err)
	}
	c := &Cache{
		rdb:     rdb,
		sealer:  sealer,
		metrics: m,
		prefix:  o.Prefix,
		timeout: o.Timeout,
		primary: make(map[string]int),
	}
	if c.prefix == "" {
		c.prefix = DefaultPrefix
	}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	c.locker, err = sharedcache.NewLocker(lockStore{c}, sharedcache.LockOptions{
		TTL:       o.LockTTL,
		Timeout:   c.timeout,
		Retry:     o.LockRetry,
		Name:      "rediscache",
		Logger:    o.Logger,
		Metrics:   m,
		Permanent: deniedByACL,
	})
	if err != nil {
		return nil, fmt.Errorf("rediscache: New: %w", err)
	}
	return c, nil
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
var cacheKeyRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9A-Za-z_-]{1,200}$`) })

// Kinds of Redis key names. A cache key has no ':', so a session name
// never equals a lock name.
const (
	kindSession = "session:"
	kindLock    = "lock:"
)

// name returns the Redis key name of a cache key.
func (c *Cache) name(kind, key string) (string, error) {
	if !cacheKeyRe().MatchString(key) {
		return "", fmt.Errorf("rediscache: invalid cache key %q: want 1 to 200 characters of letters, digits, '_' and '-'", key)
	}
	return c.prefix + kind + key, nil
}

// readScript reads at most ARGV[1] + 1 bytes of a value. Run as a script,
// it goes to the primary whatever the client's read routing.
var readScript = redis.NewScript(`return redis.call("GETRANGE", KEYS[1], 0, ARGV[1])`)

// Load returns the entry stored under key. A missing key is a miss with a
// nil error. A value that does not open (sealed with a key this Cache does
// not have, changed, truncated, or copied from another key name), is not
// in this package's format, is larger than an entry can be, holds
// credentials that have expired, or holds a session older than one this
// Cache has seen under key (a rollback), is a miss with an error that says
// which; so is a Redis call that fails, does not answer within
// Options.Timeout, or answers with a reply the client cannot take. No
// error holds a secret.
//
// Load reads at most [sharedcache.MaxValueSize] + 1 bytes (GETRANGE), so a
// larger value planted in Redis costs a bounded read. It reads from
// wherever the client routes reads (a replica, with ReadOnly or
// RouteRandomly), except between a Lock of key and its unlock: then from
// the primary, so that a process that waited for another's result reads
// that result and not a replica's older copy.
func (c *Cache) Load(ctx context.Context, key string) (stschain.CacheEntry, bool, error) {
	entry, ok, err := c.load(ctx, key)
	switch {
	case err != nil:
		c.metrics.Lookup(ctx, sharedcache.LookupError)
	case ok:
		c.metrics.Lookup(ctx, sharedcache.LookupHit)
	default:
		c.metrics.Lookup(ctx, sharedcache.LookupMiss)
	}
	return entry, ok, err
}

func (c *Cache) load(ctx context.Context, key string) (stschain.CacheEntry, bool, error) {
	name, err := c.name(kindSession, key)
	if err != nil {
		return stschain.CacheEntry{}, false, err
	}
	primary := c.readsPrimary(name)
	val, err := sharedcache.Call(ctx, c.timeout, func(ctx context.Context) ([]byte, error) {
		if primary {
			s, err := readScript.Run(ctx, c.rdb, []string{name}, sharedcache.MaxValueSize).Text()
			return []byte(s), err
		}
		return c.rdb.GetRange(ctx, name, 0, sharedcache.MaxValueSize).Bytes()
	}, nil)
	if err != nil {
		return stschain.CacheEntry{}, false, fmt.Errorf("rediscache: reading %s: %w", name, err)
	}
	c.locker.Saw(key, sharedcache.Stamp(val))
	if len(val) == 0 { // GETRANGE of a missing key
		return stschain.CacheEntry{}, false, nil
	}
	entry, err := c.sealer.Open(name, val)
	if err != nil {
		return stschain.CacheEntry{}, false, fmt.Errorf("rediscache: entry %s is unusable: %w", name, err)
	}
	return entry, true, nil
}

// Store saves entry under key, replacing any earlier entry, with a Redis
// TTL of the credentials' remaining lifetime (in whole milliseconds, so
// that Redis drops the entry at most a millisecond before they expire, never
// after). The entry needs an access key, secret key, session token and an
// Expires in the future. The value records the session it replaces (see
// [sharedcache.Sealer]).
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
	val, err := c.sealer.Seal(name, entry)
	if err != nil {
		return fmt.Errorf("rediscache: sealing %s: %w", name, err)
	}
	_, err = sharedcache.Call(ctx, c.timeout, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, c.rdb.Set(ctx, name, val, ttl).Err()
	}, nil)
	if err != nil {
		return fmt.Errorf("rediscache: writing %s: %w", name, err)
	}
	return nil
}

// String describes the cache without its keys.
func (c *Cache) String() string {
	return fmt.Sprintf("rediscache.Cache{prefix %q, key ID %s, timeout %v, lock TTL %v}", c.prefix, c.sealer.KeyID(), c.timeout, c.locker.TTL())
}

// Format writes String for every verb, %q quoting it, so that no verb
// (%v, %+v, %#v, %x, %d ...) prints the fields, the ciphers among them.
func (c *Cache) Format(f fmt.State, verb rune) { redact.Format(f, verb, c.String()) }

// LogValue is String, so that log/slog shows no key either.
func (c *Cache) LogValue() slog.Value { return slog.StringValue(c.String()) }

// String describes the options by how many PreviousKeys there are, never
// what they hold.
func (o Options) String() string {
	return fmt.Sprintf("rediscache.Options{prefix %q, %d previous keys, timeout %v, lock TTL %v, lock retry %v}", o.Prefix, len(o.PreviousKeys), o.Timeout, o.LockTTL, o.LockRetry)
}

// Format writes String for every verb, %q quoting it, so that no verb
// prints PreviousKeys.
func (o Options) Format(f fmt.State, verb rune) { redact.Format(f, verb, o.String()) }

// MarshalJSON encodes the options as String describes them: PreviousKeys
// as how many there are. Logger and MeterProvider are left out.
func (o Options) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Prefix                      string        `json:",omitempty"`
		PreviousKeys                int           `json:",omitempty"`
		Timeout, LockTTL, LockRetry time.Duration `json:",omitempty"`
	}{o.Prefix, len(o.PreviousKeys), o.Timeout, o.LockTTL, o.LockRetry})
}

// deniedByACL reports whether err is Redis refusing a command to the user
// (NOPERM; in a script, Redis 7.0 says "ERR The user executing the script
// can't run this command"): it refuses it again.
func deniedByACL(err error) bool {
	return redis.HasErrorPrefix(err, "NOPERM") || strings.Contains(err.Error(), "can't run this command")
}
