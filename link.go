package stschain

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go/tracing"

	"github.com/stschain/stschain/internal/clicache"
	"github.com/stschain/stschain/internal/credcheck"
	"github.com/stschain/stschain/internal/lockwait"
	"github.com/stschain/stschain/internal/redact"
	"github.com/stschain/stschain/internal/stslimits"
)

// The link: one link of a chain, the refresh engine's fetcher. A fetch
// looks in the shared cache, retrieves the master's credentials, takes the
// cache's lock, calls STS (asking for an MFA code first when the link has
// a device) and stores what it got, and recovers where STS's refusal
// leaves a way: fresh master credentials, one hour for role chaining,
// another MFA code.

// ProviderName is the [aws.Credentials.Source] of every credential a
// [ChainableProvider] returns.
const ProviderName = "stschain.ChainableProvider"

// tokenCodeAttemptsRefused bounds the codes sent for one STS call that
// refuses them as invalid (a mistyped code, a device clock that drifted).
const tokenCodeAttemptsRefused = 3

// linkConfig is what a link needs besides its parameters and master. The
// providers of a Pool share one.
type linkConfig struct {
	client  STSClient
	guard   *CodeGuard     // never nil
	logger  *slog.Logger   // never nil
	cache   Cache          // nil: no cache
	windows windows        // to judge cache entries
	budget  *budget        // a Pool's bounds on STS calls; nil: none
	tracer  tracing.Tracer // of Options.TracerProvider; nil: no spans
}

// stsLink is one link of a chain.
type stsLink struct {
	// Set by New, read-only afterwards.
	cfg    *linkConfig
	params linkParams
	master aws.CredentialsProvider // nil only when Options.Client signs on its own
	// cacheKey is the Cache key of an AssumeRole link, computed once by New
	// (it does not depend on the master); "" otherwise.
	cacheKey string

	// chainingCapped is set once STS refused Options.Duration for role
	// chaining; later calls ask for one hour straight away.
	chainingCapped atomic.Bool
	// newest is the latest expiry (Unix nanoseconds) of the credentials the
	// link has fetched, from STS or the cache: a cache entry expiring
	// earlier is an older session (which a peer sharing the cache could
	// store to roll the key back to one that was revoked), never taken.
	newest atomic.Int64
}

// name is how errors, logs and events name the link.
func (l *stsLink) name() string { return l.params.name() }

// assumeRole reports whether the link calls AssumeRole.
func (l *stsLink) assumeRole() bool { return l.params.assumeRole() }

// interactive reports whether a fetch may wait for an MFA code.
func (l *stsLink) interactive() bool { return l.params.SerialNumber != "" }

// phase is the fraction that places the link's first refresh when it
// shares its sessions through a cache: a hash of what the link asks STS
// for (its cache key), the same in every process, so that a fleet
// refreshes each shared session at one moment, once, and different roles
// apart. Without a cache each process places it at random.
func (l *stsLink) phase() (float64, bool) {
	if l.cfg.cache == nil {
		return 0, false
	}
	h := fnv.New64a()
	for _, s := range []string{l.cacheKey, l.name(), l.params.SerialNumber} {
		_, _ = h.Write([]byte(s))
		_, _ = h.Write([]byte{0})
	}
	return float64(h.Sum64()>>11) / (1 << 53), true
}

// fetch returns new credentials from the cache or STS, in a span of
// Options.TracerProvider when there is one.
func (l *stsLink) fetch(ctx context.Context, req fetchRequest) (fetched, error) {
	if l.cfg.tracer == nil {
		return l.fetchUntraced(ctx, req)
	}
	ctx, span := l.cfg.tracer.StartSpan(ctx, "stschain.refresh", func(o *tracing.SpanOptions) {
		o.Properties.Set("stschain.link", l.name())
	})
	defer span.End()
	got, err := l.fetchUntraced(ctx, req)
	switch {
	case err != nil:
		span.SetProperty("stschain.outcome", "error")
		span.SetProperty("error.message", err.Error())
		span.SetStatus(tracing.SpanStatusError)
	case got.fromCache:
		span.SetProperty("stschain.outcome", string(RefreshFromCache))
		span.SetStatus(tracing.SpanStatusOK)
	default:
		span.SetProperty("stschain.outcome", string(RefreshOK))
		span.SetStatus(tracing.SpanStatusOK)
	}
	return got, err
}

// fetchUntraced is fetch without its span.
func (l *stsLink) fetchUntraced(ctx context.Context, req fetchRequest) (fetched, error) {
	useCache := l.cfg.cache != nil
	lookup := useCache && !req.skipCache

	// An AssumeRole key does not depend on the master: look first, so that a
	// fresh entry costs the links below nothing (no STS call, no MFA).
	if lookup && l.assumeRole() {
		if got, ok := l.loadCache(ctx, l.cacheKey, req.current); ok {
			return got, nil
		}
	}
	masterCreds, err := l.retrieveMaster(ctx)
	if err != nil {
		return fetched{}, err
	}
	key := l.cacheKey
	if useCache && !l.assumeRole() {
		key = l.sessionTokenKey(masterCreds.AccessKeyID)
		if lookup {
			if got, ok := l.loadCache(ctx, key, req.current); ok {
				return got, nil
			}
		}
	}
	if useCache {
		if unlock, locked := l.lockCache(ctx, key, req); locked {
			defer unlock()
			// Another process may have refreshed while this one waited.
			if lookup {
				if got, ok := l.loadCache(ctx, key, req.current); ok {
					return got, nil
				}
			}
		}
	}

	creds, user, err := l.call(ctx, masterCreds, req)
	if err != nil {
		return fetched{}, err
	}
	l.noteNewest(creds.Expires)
	if useCache {
		l.storeCache(ctx, key, CacheEntry{Credentials: creds, AssumedRoleUser: user})
	}
	creds.Source = ProviderName
	return fetched{creds: creds, life: time.Until(creds.Expires)}, nil
}

// retrieveMaster returns the master's credentials, or the zero value when
// Options.Client signs on its own.
func (l *stsLink) retrieveMaster(ctx context.Context) (aws.Credentials, error) {
	if l.master == nil {
		return aws.Credentials{}, nil
	}
	creds, err := l.master.Retrieve(ctx)
	if err != nil {
		return aws.Credentials{}, newError(l.name(), OpMaster, err)
	}
	if !creds.HasKeys() {
		return aws.Credentials{}, newError(l.name(), OpMaster, fmt.Errorf("the master (%T) returned credentials without an access key ID or secret key", l.master))
	}
	if !l.assumeRole() && creds.SessionToken != "" {
		return aws.Credentials{}, newError(l.name(), OpMaster, ErrLongTermCredentialsRequired)
	}
	return creds, nil
}

// call makes the link's STS call, signed with masterCreds, and tries again
// where that can succeed: with fresh master credentials when STS refused
// the master's, with one hour when STS refused a longer role-chaining
// session, and with a new MFA code when STS refused the code. A code STS
// did not look at (the call was refused for its signature or its duration)
// is sent again.
func (l *stsLink) call(ctx context.Context, masterCreds aws.Credentials, req fetchRequest) (aws.Credentials, *types.AssumedRoleUser, error) {
	var code *string
	reason := ""
	for codes, recovered := 1, false; ; {
		if l.params.SerialNumber != "" && code == nil {
			c, err := l.cfg.guard.fetch(withRetryReason(ctx, reason), l.params.TokenCode, l.params.SerialNumber)
			if err != nil {
				return aws.Credentials{}, nil, newError(l.name(), OpTokenCode, err)
			}
			code = &c
		}
		creds, user, err := l.callOnce(ctx, &masterCreds, code, req)
		switch {
		case err == nil:
			return creds, user, nil
		case !recovered && masterRejected(err):
			// The master's credentials were revoked or expired early: make
			// the master fetch new ones and try once more, if they are new.
			recovered = true
			fresh, ok := l.recoverMaster(ctx, masterCreds)
			if !ok {
				return aws.Credentials{}, nil, err
			}
			masterCreds = fresh
		case l.assumeRole() && l.params.Duration > stslimits.RoleChainingMaxDuration && !l.chainingCapped.Load() && roleChainingRefused(err):
			l.chainingCapped.Store(true)
			l.cfg.logger.Warn("stschain: STS limits role chaining to one hour; asking for one hour instead of Duration",
				slog.String("link", l.name()), slog.Duration("duration", l.params.Duration))
		case code != nil && codes < tokenCodeAttemptsRefused && tokenCodeRefused(err):
			codes++
			code = nil
			reason = "STS refused the MFA code for " + l.params.SerialNumber + "; enter the current code"
			l.cfg.logger.Warn("stschain: STS refused the MFA code; asking for another",
				slog.String("link", l.name()), slog.String("serial", l.params.SerialNumber))
		default:
			return aws.Credentials{}, nil, err
		}
	}
}

// recoverMaster invalidates the master, when it can be invalidated, and
// returns its fresh credentials if they differ from rejected. A
// ChainableProvider master drops only the rejected credentials, so that
// the links sharing it, finding them refused at once, cost it one refresh.
func (l *stsLink) recoverMaster(ctx context.Context, rejected aws.Credentials) (aws.Credentials, bool) {
	switch m := l.master.(type) {
	case interface{ invalidateIf(accessKeyID string) }:
		m.invalidateIf(rejected.AccessKeyID)
	case interface{ Invalidate() }:
		m.Invalidate()
	default:
		return aws.Credentials{}, false
	}
	fresh, err := l.retrieveMaster(ctx)
	if err != nil {
		l.cfg.logger.Warn("stschain: fresh master credentials could not be had", slog.String("link", l.name()), slog.String("error", messageOf(err)))
		return aws.Credentials{}, false
	}
	if fresh.AccessKeyID == rejected.AccessKeyID && fresh.SessionToken == rejected.SessionToken {
		return aws.Credentials{}, false // the same credentials would be refused the same way
	}
	l.cfg.logger.Warn("stschain: STS rejected the master credentials; retrying with fresh ones", slog.String("link", l.name()))
	return fresh, true
}

// callOnce makes one STS call, within the Pool's budget if there is one,
// signed with *masterCreds.
func (l *stsLink) callOnce(ctx context.Context, masterCreds *aws.Credentials, code *string, req fetchRequest) (aws.Credentials, *types.AssumedRoleUser, error) {
	var signer *aws.Credentials
	if l.master != nil {
		signer = masterCreds
	}
	capped := l.chainingCapped.Load()
	b := l.cfg.budget
	if b == nil {
		return l.params.call(ctx, l.cfg.client, signer, code, capped)
	}
	// A caller that waits with valid credentials keeps them rather than
	// wait out a throttling pause.
	var keepUntil time.Time
	if req.waited && req.current.HasKeys() {
		keepUntil = req.current.Expires
	}
	// The pool's queue is not the attempt's: the attempt's deadline moves
	// by the time spent in it.
	queued := time.Now()
	release, err := b.acquire(context.WithoutCancel(ctx), keepUntil)
	if err != nil {
		return aws.Credentials{}, nil, newError(l.name(), l.params.op(), err)
	}
	defer release()
	if deadline, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(context.WithoutCancel(ctx), deadline.Add(time.Since(queued)))
		defer cancel()
	}
	// The master's credentials may have expired during the wait: sign
	// with its current ones.
	if signer != nil {
		if *masterCreds, err = l.retrieveMaster(ctx); err != nil {
			return aws.Credentials{}, nil, err
		}
	}
	creds, user, err := l.params.call(ctx, l.cfg.client, signer, code, capped)
	b.observe(err)
	if err == nil {
		b.noteLifetime(time.Until(creds.Expires))
	}
	return creds, user, err
}

// How a link uses Options.Cache: which entries it takes, and what it does
// when the cache fails (logs, and goes on without it).

// loadCache returns the entry cached under key when it can replace
// current: it is not current itself, it is of the link's account, it
// could have been granted to the link, it is no older than the
// credentials the link has had, and it is fresh.
func (l *stsLink) loadCache(ctx context.Context, key string, current aws.Credentials) (fetched, bool) {
	e, ok, err := l.cfg.cache.Load(ctx, key)
	if err != nil {
		l.cfg.logger.Warn("stschain: cache load failed; going on without the entry", slog.String("link", l.name()), slog.String("error", redact.Message(messageOf(err))))
		return fetched{}, false
	}
	if !ok || !e.Credentials.HasKeys() || e.Credentials.AccessKeyID == current.AccessKeyID {
		return fetched{}, false
	}
	if why := l.refuseEntry(e, current); why != "" {
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
	life := max(creds.Expires.Sub(now), l.params.requestedLifetime(l.chainingCapped.Load()))
	if l.cfg.windows.schedule(creds, life, false).state(now) != fresh {
		return fetched{}, false
	}
	l.noteNewest(creds.Expires)
	return fetched{creds: creds, life: life, fromCache: true}, true
}

// noteNewest records that the link has had credentials expiring at t.
func (l *stsLink) noteNewest(t time.Time) {
	n := t.UnixNano()
	for {
		old := l.newest.Load()
		if n <= old || l.newest.CompareAndSwap(old, n) {
			return
		}
	}
}

// refuseEntry says why the link must not use e in place of current, or "".
func (l *stsLink) refuseEntry(e CacheEntry, current aws.Credentials) string {
	c := e.Credentials
	if !c.CanExpire {
		return "it never expires, but STS sessions do"
	}
	if err := credcheck.Check(c.AccessKeyID, c.SecretAccessKey, c.SessionToken); err != nil {
		return "its " + err.Error()
	}
	longest := l.params.maxLifetime()
	if limit := time.Now().Add(longest + clockSkew); c.Expires.After(limit) {
		return fmt.Sprintf("it expires at %s, later than STS could have granted (%v from now)",
			c.Expires.UTC().Format(time.RFC3339), longest)
	}
	newest := time.Unix(0, l.newest.Load())
	if current.CanExpire && current.Expires.After(newest) {
		newest = current.Expires
	}
	if c.Expires.Before(newest) {
		return fmt.Sprintf("it expires at %s, before the credentials the link already had (%s): it is an older session",
			c.Expires.UTC().Format(time.RFC3339), newest.UTC().Format(time.RFC3339))
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

// lockCache takes the lock of key when the cache has locks, waiting by
// package lockwait's rule: no longer than a refresh takes (with an MFA
// prompt for a link with a device), and no later than the credentials
// being replaced reach the expiry window of the engine's schedule (so
// that callers, who wait from there, never wait on another process's
// lock), or expire when they are inside it already. A lock that cannot be
// had in time is logged, and the link goes on without it: locked is false.
func (l *stsLink) lockCache(ctx context.Context, key string, req fetchRequest) (unlock func(), locked bool) {
	cl, ok := l.cfg.cache.(CacheLocker)
	if !ok {
		return nil, false
	}
	var expires time.Time
	if c := req.current; c.HasKeys() && c.CanExpire {
		expires = c.Expires
	}
	unlock, err := lockwait.Lock(ctx, cl, key, l.interactive(), req.windowAt, expires)
	var stopped *lockwait.StoppedError
	switch {
	case err == nil:
		return unlock, true
	case errors.As(err, &stopped):
		l.cfg.logger.Warn("stschain: "+stopped.Error()+"; refreshing without it", slog.String("link", l.name()), slog.Duration("waited", stopped.Waited))
	default:
		l.cfg.logger.Warn("stschain: cache lock failed; refreshing without it", slog.String("link", l.name()), slog.String("error", redact.Message(messageOf(err))))
	}
	return nil, false
}

// storeCache saves e under key; a failure is logged.
func (l *stsLink) storeCache(ctx context.Context, key string, e CacheEntry) {
	if err := l.cfg.cache.Store(ctx, key, e); err != nil {
		l.cfg.logger.Warn("stschain: storing credentials in cache failed", slog.String("link", l.name()), slog.String("error", redact.Message(messageOf(err))))
	}
}

// assumeRoleKey is the Cache key of an AssumeRole link: the AWS CLI's key
// for the same arguments. It uses Options.Duration even after STS capped it
// for role chaining, so that every process agrees on it.
func (l *stsLink) assumeRoleKey() (string, error) {
	p := &l.params
	return clicache.AssumeRoleKey(p.assumeRoleInput(nil, p.RoleSessionName, seconds(p.Duration)), p.RoleSessionName != "")
}

// sessionTokenKey is the Cache key of a GetSessionToken link, which
// depends on the master's access key ID, so that two users never share an
// entry.
func (l *stsLink) sessionTokenKey(masterAccessKeyID string) string {
	key, err := clicache.SessionTokenKey(l.params.sessionTokenInput(nil), masterAccessKeyID)
	if err != nil {
		// Only an empty access key ID fails, and retrieveMaster refuses
		// master credentials without one.
		panic("stschain: " + err.Error())
	}
	return key
}
