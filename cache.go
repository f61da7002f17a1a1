package stschain

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"

	"github.com/stschain/stschain/internal/clicache"
)

// CacheEntry is one STS response as a [Cache] keeps it.
type CacheEntry struct {
	// Credentials are the temporary credentials, with Expires set.
	Credentials aws.Credentials
	// AssumedRoleUser is the session's identity, for AssumeRole links; nil
	// for GetSessionToken links.
	AssumedRoleUser *types.AssumedRoleUser
}

// String describes the entry without its secret key or session token.
func (e CacheEntry) String() string {
	s := "stschain.CacheEntry{" + e.Credentials.AccessKeyID
	if e.Credentials.CanExpire {
		s += " expires " + e.Credentials.Expires.UTC().Format(time.RFC3339)
	}
	if e.AssumedRoleUser != nil {
		s += " " + aws.ToString(e.AssumedRoleUser.Arn)
	}
	return s + "}"
}

// Format prints String() for every verb, so that no verb (%+v, %#v, %d,
// %x ...) prints the secret key or the session token.
func (e CacheEntry) Format(f fmt.State, verb rune) { formatString(f, verb, e.String()) }

// LogValue is String, so that log/slog shows no secret either.
func (e CacheEntry) LogValue() slog.Value { return slog.StringValue(e.String()) }

// Cache keeps credentials beyond one provider's memory: across providers,
// processes and restarts. Keys are lower-case hex strings safe as file names.
// Implementations must be safe for concurrent use.
type Cache interface {
	// Load returns the entry stored under key. ok is false on a miss; err,
	// when not nil, says why a stored entry could not be used (it is logged,
	// and the load counts as a miss).
	Load(ctx context.Context, key string) (entry CacheEntry, ok bool, err error)
	// Store saves entry under key, replacing any earlier one. A failure is
	// logged; the provider goes on without the cache.
	Store(ctx context.Context, key string, entry CacheEntry) error
}

// CacheLocker is implemented by a [Cache] shared between processes. The
// provider holds the key's lock while it checks the cache, calls STS and
// stores the result, so that of many processes refreshing the same key only
// one calls STS (and prompts for MFA) while the others wait for its result.
// A lock that cannot be had (an unwritable directory, a server that is
// down) is logged, and the provider goes on without it.
type CacheLocker interface {
	// Lock blocks until the lock for key is held or ctx ends, and returns
	// the function that releases it.
	Lock(ctx context.Context, key string) (unlock func(), err error)
}

// cacheSkew is how far a cached entry's expiry may lie beyond the longest
// session STS could have granted, for clocks that disagree.
const cacheSkew = 5 * time.Minute

// How a link uses Options.Cache: which entries it takes, and what it does
// when the cache fails (logs, and goes on without it).

// loadCache returns the entry cached under key when it can replace
// current: it is not current itself, it is of the link's account, it
// could have been granted to the link, and it is fresh.
func (l *stsLink) loadCache(ctx context.Context, key string, current aws.Credentials) (fetched, bool) {
	e, ok, err := l.cfg.cache.Load(ctx, key)
	if err != nil {
		l.cfg.logger.Warn("stschain: cache load failed; going on without the entry", slog.String("link", l.name()), slog.String("error", redact(err.Error())))
		return fetched{}, false
	}
	if !ok || !e.Credentials.HasKeys() || e.Credentials.AccessKeyID == current.AccessKeyID {
		return fetched{}, false
	}
	if why := l.refuseEntry(e); why != "" {
		l.cfg.logger.Warn("stschain: ignoring cache entry: "+why, slog.String("link", l.name()), slog.Any("entry", e))
		return fetched{}, false
	}
	now := time.Now()
	creds := e.Credentials
	creds.Source = ProviderName
	if u := e.AssumedRoleUser; u != nil {
		creds.AccountID = accountOf(aws.ToString(u.Arn))
	}
	// The entry's age is unknown: judge it, without jitter, by the lifetime
	// the link asks for, so that an old entry is not taken for a short
	// fresh one.
	life := max(creds.Expires.Sub(now), l.requestedLifetime())
	if l.cfg.windows.schedule(creds, life, false).state(now) != fresh {
		return fetched{}, false
	}
	return fetched{creds: creds, life: life, fromCache: true}, true
}

// refuseEntry says why the link must not use e, or "".
func (l *stsLink) refuseEntry(e CacheEntry) string {
	if !e.Credentials.CanExpire {
		return "it never expires, but STS sessions do"
	}
	if limit := time.Now().Add(l.maxLifetime() + cacheSkew); e.Credentials.Expires.After(limit) {
		return fmt.Sprintf("it expires at %s, later than STS could have granted (%v from now)",
			e.Credentials.Expires.UTC().Format(time.RFC3339), l.maxLifetime())
	}
	if !l.assumeRole() {
		if e.AssumedRoleUser != nil {
			return "it is an AssumeRole session, and the link calls GetSessionToken"
		}
		return ""
	}
	if err := clicache.CheckAssumedRoleUser(l.params.RoleARN, e.AssumedRoleUser); err != nil {
		return err.Error()
	}
	return ""
}

// lockCache takes the lock of key when the cache has locks. A lock that
// cannot be had is logged, and the link goes on without it: locked is
// false.
func (l *stsLink) lockCache(ctx context.Context, key string) (unlock func(), locked bool) {
	cl, ok := l.cfg.cache.(CacheLocker)
	if !ok {
		return nil, false
	}
	unlock, err := cl.Lock(ctx, key)
	if err != nil {
		l.cfg.logger.Warn("stschain: cache lock failed; refreshing without it", slog.String("link", l.name()), slog.String("error", redact(err.Error())))
		return nil, false
	}
	return unlock, true
}

// storeCache saves e under key; a failure is logged.
func (l *stsLink) storeCache(ctx context.Context, key string, e CacheEntry) {
	if err := l.cfg.cache.Store(ctx, key, e); err != nil {
		l.cfg.logger.Warn("stschain: storing credentials in cache failed", slog.String("link", l.name()), slog.String("error", redact(err.Error())))
	}
}

// assumeRoleKey is the Cache key of an AssumeRole link: the AWS CLI's key
// for the same arguments. It uses Options.Duration even after STS capped it
// for role chaining, so that every process agrees on it.
func (l *stsLink) assumeRoleKey() (string, error) {
	return clicache.AssumeRoleKey(l.assumeRoleInput(nil, l.params.RoleSessionName, seconds(l.params.Duration)), l.params.RoleSessionName != "")
}

// sessionTokenKey is the Cache key of a GetSessionToken link, which
// depends on the master's access key ID, so that two users never share an
// entry.
func (l *stsLink) sessionTokenKey(masterAccessKeyID string) string {
	key, err := clicache.SessionTokenKey(l.sessionTokenInput(nil), masterAccessKeyID)
	if err != nil {
		// Only an empty access key ID fails, and retrieveMaster refuses
		// master credentials without one.
		panic("stschain: " + err.Error())
	}
	return key
}
