package awsprofile

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/stschain/stschain"
	"github.com/stschain/stschain/internal/lockwait"
	"github.com/stschain/stschain/internal/pyjson"
)

// maxSSOLifetime is the longest session of an IAM Identity Center
// permission set, so the longest SSO role credentials last.
const maxSSOLifetime = 12 * time.Hour

// rootFreshFor is how long a cached root entry must still be valid to be
// taken: the AWS CLI replaces SSO role credentials 15 minutes before they
// expire, and a credential_process's are often short.
const rootFreshFor = 5 * time.Minute

// rootClockSkew is how far beyond the longest lifetime a cached entry may
// expire, for clocks that disagree.
const rootClockSkew = 5 * time.Minute

// sharedRoot keeps the credentials of a root that expire (SSO role
// credentials, a credential_process's with an Expiration) in
// Options.Cache, so that the processes that share the cache run the root
// once per lifetime: a process takes a fresh entry; else it takes the
// key's lock (when the cache is a [stschain.CacheLocker]), looks again,
// and only then asks the root, storing what it gets. An entry is taken
// only when it is a session (an access key, a secret key, a session token
// and an expiry), not an AssumeRole session, valid for rootFreshFor more,
// and expiring no later than the root could have granted (plus five
// minutes). A failing cache is logged (with LinkOptions' Logger) and
// worked around. The wait for the lock is bounded as a link's is (package
// lockwait): a root's refresh, a prompt's for a credential_process, and no
// later than the credentials it returned last expire (the
// aws.CredentialsCache in front asks only inside its expiry window).
type sharedRoot struct {
	p           aws.CredentialsProvider
	cache       stschain.Cache
	key         string
	longest     time.Duration
	interactive bool         // the root may prompt: a credential_process
	logger      *slog.Logger // never nil
	// expires is the expiry (Unix nanoseconds) of the credentials Retrieve
	// returned last; 0 for none.
	expires atomic.Int64
}

// shared wraps p in a sharedRoot under key when Options.Cache is set.
func (l *loader) shared(p aws.CredentialsProvider, key string, longest time.Duration) aws.CredentialsProvider {
	if l.o.Cache == nil {
		return p
	}
	var so stschain.Options
	for _, fn := range l.o.LinkOptions {
		if fn != nil {
			fn(&so)
		}
	}
	logger := so.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	_, interactive := p.(*processRoot)
	return &sharedRoot{p: p, cache: l.o.Cache, key: key, longest: longest, interactive: interactive, logger: logger}
}

func (r *sharedRoot) Retrieve(ctx context.Context) (aws.Credentials, error) {
	c, err := r.retrieve(ctx)
	if err == nil && c.CanExpire {
		r.expires.Store(c.Expires.UnixNano())
	}
	return c, err
}

func (r *sharedRoot) retrieve(ctx context.Context) (aws.Credentials, error) {
	if c, ok := r.load(ctx); ok {
		return c, nil
	}
	if unlock, locked := r.lock(ctx); locked {
		defer unlock()
		if c, ok := r.load(ctx); ok {
			return c, nil
		}
	}
	c, err := r.p.Retrieve(ctx)
	if err != nil || !c.CanExpire || c.SessionToken == "" {
		return c, err
	}
	if err := r.cache.Store(ctx, r.key, stschain.CacheEntry{Credentials: c}); err != nil {
		r.logger.Warn("awsprofile: storing root credentials in the cache failed", slog.String("key", r.key), slog.String("error", err.Error()))
	}
	return c, nil
}

// lock takes the key's lock when the cache has locks, waiting by package
// lockwait's rule. A lock that cannot be had in time is logged, and the
// root is asked without it: locked is false.
func (r *sharedRoot) lock(ctx context.Context) (unlock func(), locked bool) {
	locker, ok := r.cache.(stschain.CacheLocker)
	if !ok {
		return nil, false
	}
	var expires time.Time
	if n := r.expires.Load(); n != 0 {
		expires = time.Unix(0, n)
	}
	unlock, err := lockwait.Lock(ctx, locker, r.key, r.interactive, time.Time{}, expires)
	var stopped *lockwait.StoppedError
	switch {
	case err == nil:
		return unlock, true
	case errors.As(err, &stopped):
		r.logger.Warn("awsprofile: "+stopped.Error()+"; asking the root without it", slog.String("key", r.key), slog.Duration("waited", stopped.Waited))
	default:
		r.logger.Warn("awsprofile: cache lock failed; asking the root without it", slog.String("key", r.key), slog.String("error", err.Error()))
	}
	return nil, false
}

// load returns the cached entry when it may be taken.
func (r *sharedRoot) load(ctx context.Context) (aws.Credentials, bool) {
	e, ok, err := r.cache.Load(ctx, r.key)
	if err != nil {
		r.logger.Warn("awsprofile: cache load failed; going on without the entry", slog.String("key", r.key), slog.String("error", err.Error()))
		return aws.Credentials{}, false
	}
	c := e.Credentials
	now := time.Now()
	switch {
	case !ok:
		return aws.Credentials{}, false
	case !c.HasKeys() || c.SessionToken == "" || !c.CanExpire || e.AssumedRoleUser != nil:
		r.logger.Warn("awsprofile: ignoring a cache entry that is not the session of a root", slog.String("key", r.key))
		return aws.Credentials{}, false
	case c.Expires.After(now.Add(r.longest + rootClockSkew)):
		r.logger.Warn("awsprofile: ignoring a cache entry that expires later than the root could have granted",
			slog.String("key", r.key), slog.Time("expires", c.Expires), slog.Duration("longest", r.longest))
		return aws.Credentials{}, false
	case !c.Expires.After(now.Add(rootFreshFor)):
		return aws.Credentials{}, false
	}
	c.Source = "awsprofile cache"
	return c, true
}

// ssoCacheKey is the AWS CLI's cache key of SSO role credentials
// (botocore's SSOCredentialFetcher._create_cache_key): the SHA-1 of the
// compact, sorted JSON of the account, the role, and the sso-session's
// name or, for the legacy keys, the start URL.
func ssoCacheKey(s ssoPlan) string {
	args := map[string]string{"accountId": s.accountID, "roleName": s.roleName}
	if s.session != "" {
		args["sessionName"] = s.session
	} else {
		args["startUrl"] = s.startURL
	}
	return sha1JSON(args)
}

// processCacheKey is the cache key of a credential_process's
// credentials: the SHA-1 of the compact JSON naming the command, under a
// name no AWS CLI key uses.
func processCacheKey(command string) string {
	return sha1JSON(map[string]string{"stschain:credential_process": command})
}

// sha1JSON is the hex SHA-1 of Python's json.dumps(m, sort_keys=True,
// separators=(",", ":")), which never fails for a map of strings.
func sha1JSON(m map[string]string) string {
	s, _ := pyjson.Dumps(m, true)
	sum := sha1.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}
