package stschain

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"
	"golang.org/x/sync/singleflight"
)

// Refresh tuning that is not worth an option.
const (
	// refreshTimeout bounds one refresh (MFA prompt and STS call), so that a
	// hung connection cannot stall a provider forever.
	refreshTimeout = 5 * time.Minute
	// minBackoff and maxBackoff bound the pause between attempts while STS
	// fails and the current credentials are still valid.
	minBackoff = 100 * time.Millisecond
	maxBackoff = time.Minute
	// shortLifetimeFactor: a credential living less than this many times the
	// largest window gets its windows shrunk in proportion.
	shortLifetimeFactor = 3
	// STS's session lengths when DurationSeconds is not sent.
	defaultAssumeRoleDuration   = time.Hour
	defaultSessionTokenDuration = 12 * time.Hour
)

// ChainableProvider is an [aws.CredentialsProvider] that fetches temporary
// credentials from STS, with AssumeRole when Options.RoleARN is set and
// GetSessionToken otherwise, signing each call with a fresh Retrieve of its
// master credentials. A ChainableProvider can be the master of another, to
// any depth; every link refreshes on its own schedule.
//
// It is safe for concurrent use. Create one with [New].
type ChainableProvider struct {
	// Set by New, read-only afterwards.
	client       STSClient
	master       aws.CredentialsProvider // nil only when Options.Client signs on its own
	link         string                  // role ARN or GetSessionTokenLink, for errors and logs
	opts         Options                 // as validated; never modified after New
	expiryWindow time.Duration           // resolved default
	prefetch     time.Duration           // resolved default; 0 means off
	logger       *slog.Logger            // never nil

	// state is the current credentials and their refresh schedule; nil when
	// there are none. Read lock-free; written under mu.
	state atomic.Pointer[credState]
	// mu orders writes of state and epoch. It is held only for those
	// writes, never during an STS call or a callback.
	mu sync.Mutex
	// epoch counts Invalidate calls; written under mu. A refresh flight
	// belongs to the epoch it started in and publishes nothing once that
	// has passed, so no flight can bring back invalidated credentials, and
	// callers after an Invalidate never join a flight from before it.
	epoch atomic.Uint64

	// flights makes the refreshes of one epoch share one STS call.
	flights singleflight.Group
	// background is true while a background refresh goroutine exists.
	background atomic.Bool
	// waiting counts callers waiting for a flight, so that a refresh can
	// tell whether anyone waited for it.
	waiting atomic.Int32
	// skipCache makes the next refresh ignore Options.Cache (set by
	// Invalidate, whose caller has seen the current credentials rejected).
	skipCache atomic.Bool
	// chainingCapped is set once STS refused Options.Duration for role
	// chaining; later refreshes ask for one hour straight away.
	chainingCapped atomic.Bool
}

// credState is an immutable snapshot of cached credentials.
type credState struct {
	creds      aws.Credentials
	prefetchAt time.Time // from here a background refresh starts
	waitAt     time.Time // from here callers wait for a refresh
	failures   int       // consecutive failed refreshes since creds were fetched
	retryAt    time.Time // after a failure, no new attempt before this
}

var _ aws.CredentialsProvider = (*ChainableProvider)(nil)

// New returns a provider for cfg and the options optFns set. It validates
// everything and builds the STS client once: from cfg (cfg.Region, or
// DefaultRegion when empty; cfg.BaseEndpoint, retryer, HTTP client ...), the
// master credentials and Options.STSOptions. Later changes to cfg do not
// affect the provider.
func New(cfg aws.Config, optFns ...func(*Options)) (*ChainableProvider, error) {
	var o Options
	for _, fn := range optFns {
		if fn != nil {
			fn(&o)
		}
	}
	// Copy the slices and map so that a caller changing them later does not
	// change the provider; a nil interface holding a nil pointer is unset.
	o.PolicyARNs = slices.Clone(o.PolicyARNs)
	o.TransitiveTagKeys = slices.Clone(o.TransitiveTagKeys)
	o.STSOptions = slices.DeleteFunc(slices.Clone(o.STSOptions), func(fn func(*sts.Options)) bool { return fn == nil })
	o.Tags = maps.Clone(o.Tags)
	o.Client = unlessNil(o.Client)
	o.MasterCredentials = unlessNil(o.MasterCredentials)
	o.Cache = unlessNil(o.Cache)
	cfg.Credentials = unlessNil(cfg.Credentials)
	if err := o.validate(); err != nil {
		return nil, err
	}

	p := &ChainableProvider{
		master:       o.MasterCredentials,
		link:         o.RoleARN,
		opts:         o,
		expiryWindow: o.ExpiryWindow,
		prefetch:     o.PrefetchWindow,
		logger:       o.Logger,
	}
	if p.link == "" {
		p.link = GetSessionTokenLink
	}
	if p.master == nil {
		p.master = cfg.Credentials
	}
	if p.expiryWindow == 0 {
		p.expiryWindow = DefaultExpiryWindow
	}
	switch {
	case p.prefetch == 0:
		p.prefetch = DefaultPrefetchWindow
	case p.prefetch < 0:
		p.prefetch = 0
	}
	if p.prefetch <= p.expiryWindow {
		p.prefetch = 0
	}
	if p.logger == nil {
		p.logger = slog.New(slog.DiscardHandler)
	}

	if p.master == nil && o.RoleARN == "" && o.Cache != nil {
		return nil, fmt.Errorf("%w: Cache on a GetSessionToken link needs master credentials, whose access key ID is part of the cache key: set cfg.Credentials or MasterCredentials", ErrInvalidOptions)
	}
	p.client = o.Client
	if p.client == nil {
		if p.master == nil {
			return nil, fmt.Errorf("%w (link %s)", ErrNoMasterCredentials, p.link)
		}
		stsCfg := cfg.Copy()
		stsCfg.Credentials = p.master
		if stsCfg.Region == "" {
			stsCfg.Region = DefaultRegion
		}
		p.client = sts.NewFromConfig(stsCfg, o.STSOptions...)
	}
	return p, nil
}

// unlessNil returns v, or the zero value when v is an interface holding a
// nil pointer, so that such a value counts as unset instead of panicking
// later.
func unlessNil[T any](v T) T {
	rv := reflect.ValueOf(&v).Elem()
	if rv.Kind() == reflect.Interface && !rv.IsNil() {
		if e := rv.Elem(); e.Kind() == reflect.Pointer && e.IsNil() {
			var zero T
			return zero
		}
	}
	return v
}

// Client returns the STS client New built or was given.
func (p *ChainableProvider) Client() STSClient { return p.client }

// Link returns the provider's role ARN, or GetSessionTokenLink.
func (p *ChainableProvider) Link() string { return p.link }

// Retrieve returns the current credentials. Outside the prefetch window it
// returns them at once, without locking or allocating. Inside the prefetch
// window it still returns them at once and starts one background refresh.
// Inside the expiry window callers wait for one shared refresh; if that
// fails while the current credentials have not expired, they get the
// current credentials and later attempts back off. Only when no unexpired
// credentials are left does a failure reach the caller.
func (p *ChainableProvider) Retrieve(ctx context.Context) (aws.Credentials, error) {
	if s := p.state.Load(); s != nil {
		now := time.Now()
		if now.Before(s.prefetchAt) {
			return s.creds, nil
		}
		if now.Before(s.creds.Expires) && (now.Before(s.waitAt) || s.failures > 0) {
			if !now.Before(s.retryAt) && !p.background.Load() {
				p.refreshInBackground()
			}
			return s.creds, nil
		}
	}
	return p.wait(ctx, false)
}

// Refresh fetches new credentials now, skipping Options.Cache, and returns
// them; when a refresh is already running it waits for that one instead of
// starting another. A failure is returned even when the current credentials
// are still valid (they stay cached).
func (p *ChainableProvider) Refresh(ctx context.Context) (aws.Credentials, error) {
	return p.wait(ctx, true)
}

// Invalidate drops the cached credentials: the next Retrieve refreshes, and
// that refresh skips Options.Cache. A refresh already running when
// Invalidate is called finishes for the callers waiting for it, but its
// result is not kept.
func (p *ChainableProvider) Invalidate() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.epoch.Add(1)
	p.skipCache.Store(true)
	p.state.Store(nil)
}

// String describes the provider without any secret.
func (p *ChainableProvider) String() string {
	return "stschain.ChainableProvider{" + p.link + "}"
}

// GoString is String, so that %#v shows no secret either.
func (p *ChainableProvider) GoString() string { return p.String() }

// outcome is what a refresh flight hands its callers: the credentials to
// use, and the failure of the attempt when it kept the current ones.
type outcome struct {
	creds  aws.Credentials
	failed error
}

func flightKey(epoch uint64) string { return strconv.FormatUint(epoch, 10) }

// wait joins (or starts) the refresh flight of the current epoch and waits
// for it or ctx. force makes a flight it starts skip the freshness check and
// the cache lookup, and returns the flight's failure even when it kept the
// current credentials.
func (p *ChainableProvider) wait(ctx context.Context, force bool) (aws.Credentials, error) {
	p.waiting.Add(1)
	defer p.waiting.Add(-1)
	epoch := p.epoch.Load()
	ch := p.flights.DoChan(flightKey(epoch), func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), refreshTimeout)
		defer cancel()
		return p.refresh(fctx, epoch, force)
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return aws.Credentials{}, res.Err
		}
		out := res.Val.(outcome)
		if force && out.failed != nil {
			return aws.Credentials{}, out.failed
		}
		return out.creds, nil
	case <-ctx.Done():
		return aws.Credentials{}, &Error{Link: p.link, Op: "waiting for refresh", Err: ctx.Err()}
	}
}

// refreshInBackground starts a refresh that no caller waits for, unless one
// is already running.
func (p *ChainableProvider) refreshInBackground() {
	if !p.background.CompareAndSwap(false, true) {
		return
	}
	epoch := p.epoch.Load()
	go func() {
		defer p.background.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), refreshTimeout)
		defer cancel()
		_, _, _ = p.flights.Do(flightKey(epoch), func() (any, error) {
			return p.refresh(ctx, epoch, false)
		})
	}()
}

// refresh runs inside a flight of epoch: it fetches new credentials unless
// another flight has just done so, and publishes what it got.
func (p *ChainableProvider) refresh(ctx context.Context, epoch uint64, force bool) (any, error) {
	start := time.Now()
	cur := p.state.Load()
	if !force && cur != nil {
		// Another flight may have refreshed, or failed, since the caller
		// looked.
		if start.Before(cur.prefetchAt) {
			return outcome{creds: cur.creds}, nil
		}
		if cur.failures > 0 && start.Before(cur.retryAt) && start.Before(cur.creds.Expires) {
			return outcome{creds: cur.creds}, nil
		}
	}

	got, err := p.fetch(ctx, cur, force)
	end := time.Now()
	ev := RefreshEvent{Link: p.link, Latency: end.Sub(start), Background: p.waiting.Load() == 0}
	if err != nil {
		ev.Err = err
		if cur != nil && end.Before(cur.creds.Expires) {
			next := *cur
			next.failures++
			next.retryAt = end.Add(backoff(next.failures, cur.creds.Expires.Sub(end)))
			ev.Outcome, ev.Expires = RefreshFailedKept, cur.creds.Expires
			p.report(ev)
			p.publish(epoch, cur, &next)
			return outcome{creds: cur.creds, failed: err}, nil
		}
		ev.Outcome = RefreshFailed
		p.report(ev)
		return nil, err
	}

	creds := got.entry.Credentials
	creds.Source = ProviderName
	if creds.AccountID == "" && got.entry.AssumedRoleUser != nil {
		creds.AccountID = accountFromARN(aws.ToString(got.entry.AssumedRoleUser.Arn))
	}
	ev.Outcome, ev.Expires = RefreshOK, creds.Expires
	if got.fromCache {
		ev.Outcome = RefreshFromCache
	}
	next := p.schedule(creds, got.life, !p.opts.DisableJitter)
	// Credentials that reach us already due (a clock ahead of STS's) are
	// used for a moment rather than refreshed on every Retrieve.
	if soon := end.Add(minBackoff); next.waitAt.Before(soon) {
		next.prefetchAt, next.waitAt = soon, soon
	}
	// Report before publishing, so that whoever sees the new credentials
	// can count on the event having been delivered.
	p.report(ev)
	p.publish(epoch, nil, next)
	return outcome{creds: creds}, nil
}

// publish makes next the current state, unless epoch has passed or, with
// expect set, the state is no longer expect.
func (p *ChainableProvider) publish(epoch uint64, expect, next *credState) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.epoch.Load() != epoch || (expect != nil && p.state.Load() != expect) {
		return
	}
	p.state.Store(next)
}

// report logs ev and hands it to Options.OnRefresh.
func (p *ChainableProvider) report(ev RefreshEvent) {
	attrs := []any{
		slog.String("link", ev.Link),
		slog.String("outcome", string(ev.Outcome)),
		slog.Duration("latency", ev.Latency),
		slog.Bool("background", ev.Background),
	}
	if !ev.Expires.IsZero() {
		attrs = append(attrs, slog.Time("expires", ev.Expires))
	}
	level, msg := slog.LevelInfo, "stschain: refreshed credentials"
	if ev.Err != nil {
		attrs = append(attrs, slog.Any("error", ev.Err))
		level, msg = slog.LevelError, "stschain: refresh failed"
		if ev.Outcome == RefreshFailedKept {
			level, msg = slog.LevelWarn, "stschain: refresh failed, keeping current credentials until they expire"
		}
	}
	p.logger.Log(context.Background(), level, msg, attrs...)
	if p.opts.OnRefresh != nil {
		p.opts.OnRefresh(ev)
	}
}

// schedule computes when creds, which live for life in all, are to be
// refreshed; jitter spreads the start of the refresh.
func (p *ChainableProvider) schedule(creds aws.Credentials, life time.Duration, jitter bool) *credState {
	expiry, prefetch := p.expiryWindow, p.prefetch
	if !creds.CanExpire {
		return &credState{creds: creds, prefetchAt: farFuture, waitAt: farFuture}
	}
	// Short sessions: shrink the windows in proportion, so the credentials
	// are still reused for most of their life.
	if w := max(expiry, prefetch); life < shortLifetimeFactor*w {
		scale := float64(max(life, 0)) / float64(shortLifetimeFactor*w)
		expiry = time.Duration(float64(expiry) * scale)
		prefetch = time.Duration(float64(prefetch) * scale)
	}
	s := &credState{creds: creds, waitAt: creds.Expires.Add(-expiry)}
	if prefetch > 0 {
		s.prefetchAt = creds.Expires.Add(-prefetch)
		if jitter {
			s.prefetchAt = s.prefetchAt.Add(randDuration((prefetch - expiry) / 2))
		}
	} else {
		if jitter {
			s.waitAt = s.waitAt.Add(-randDuration(expiry / 2))
		}
		s.prefetchAt = s.waitAt
	}
	return s
}

var farFuture = time.Unix(1<<62, 0)

func randDuration(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return rand.N(d)
}

// backoff is the pause after the nth consecutive failure, when the current
// credentials stay valid for remaining.
func backoff(n int, remaining time.Duration) time.Duration {
	d := maxBackoff
	if n < 20 {
		d = min(minBackoff<<n, maxBackoff)
	}
	d = min(d, remaining/4)
	return max(d/2+randDuration(d/2), time.Millisecond)
}

// fetched is what fetch got, and how long the credentials live in all (for
// their schedule).
type fetched struct {
	entry     CacheEntry
	fromCache bool
	life      time.Duration
}

// fetch returns new credentials from Options.Cache or STS, replacing cur
// (which may be nil); force skips the cache lookup, though not the cache
// update.
func (p *ChainableProvider) fetch(ctx context.Context, cur *credState, force bool) (fetched, error) {
	useCache := p.opts.Cache != nil
	lookup := useCache && !p.skipCache.Swap(false) && !force

	// An AssumeRole key does not depend on the master: look first, so that a
	// fresh entry costs the links below nothing (no STS call, no MFA).
	var key string
	if useCache && p.opts.RoleARN != "" {
		var err error
		if key, err = p.assumeRoleCacheKey(); err != nil {
			return fetched{}, &Error{Link: p.link, Op: "computing cache key", Err: err}
		}
		if lookup {
			if got, ok := p.loadCache(ctx, key, cur); ok {
				return got, nil
			}
		}
	}

	masterCreds, err := p.retrieveMaster(ctx)
	if err != nil {
		return fetched{}, err
	}
	if useCache && key == "" {
		if key, err = sessionTokenCacheKey(p.sessionTokenInput(nil), masterCreds.AccessKeyID); err != nil {
			return fetched{}, &Error{Link: p.link, Op: "computing cache key", Err: err}
		}
		if lookup {
			if got, ok := p.loadCache(ctx, key, cur); ok {
				return got, nil
			}
		}
	}
	if l, ok := p.opts.Cache.(CacheLocker); ok {
		unlock, err := l.Lock(ctx, key)
		if err != nil {
			return fetched{}, &Error{Link: p.link, Op: "locking cache", Err: err}
		}
		defer unlock()
		// Another process may have refreshed while this one waited.
		if lookup {
			if got, ok := p.loadCache(ctx, key, cur); ok {
				return got, nil
			}
		}
	}

	entry, err := p.callSTS(ctx, masterCreds)
	if err != nil {
		return fetched{}, err
	}
	if useCache {
		if err := p.opts.Cache.Store(ctx, key, entry); err != nil {
			p.logger.Warn("stschain: storing credentials in cache failed", slog.String("link", p.link), slog.Any("error", err))
		}
	}
	return fetched{entry: entry, life: time.Until(entry.Credentials.Expires)}, nil
}

// retrieveMaster returns the master's credentials, or the zero value when
// Options.Client signs on its own.
func (p *ChainableProvider) retrieveMaster(ctx context.Context) (aws.Credentials, error) {
	if p.master == nil {
		return aws.Credentials{}, nil
	}
	creds, err := p.master.Retrieve(ctx)
	if err != nil {
		return aws.Credentials{}, &Error{Link: p.link, Op: opMaster, Err: err}
	}
	if p.opts.RoleARN == "" && creds.SessionToken != "" {
		return aws.Credentials{}, &Error{Link: p.link, Op: "GetSessionToken", Err: ErrLongTermCredentialsRequired}
	}
	return creds, nil
}

// loadCache returns the entry cached under key when it can replace cur: it
// is not cur's own credentials, and it is outside the refresh windows.
func (p *ChainableProvider) loadCache(ctx context.Context, key string, cur *credState) (fetched, bool) {
	e, ok, err := p.opts.Cache.Load(ctx, key)
	if err != nil {
		p.logger.Warn("stschain: ignoring unusable cache entry", slog.String("link", p.link), slog.Any("error", err))
		return fetched{}, false
	}
	if !ok || !e.Credentials.HasKeys() || (cur != nil && e.Credentials.AccessKeyID == cur.creds.AccessKeyID) {
		return fetched{}, false
	}
	if !e.Credentials.CanExpire {
		return fetched{entry: e, fromCache: true}, true
	}
	// The entry's age is unknown: judge it, without jitter, by the lifetime
	// this link asks for, so that an old entry is not taken for a short
	// fresh one.
	now := time.Now()
	life := max(e.Credentials.Expires.Sub(now), p.requestedLifetime())
	if !now.Before(p.schedule(e.Credentials, life, false).prefetchAt) {
		return fetched{}, false
	}
	return fetched{entry: e, fromCache: true, life: life}, true
}

// requestedLifetime is the session length this link asks STS for.
func (p *ChainableProvider) requestedLifetime() time.Duration {
	if d := p.durationSeconds(); d != nil {
		return time.Duration(*d) * time.Second
	}
	if p.opts.RoleARN == "" {
		return defaultSessionTokenDuration
	}
	return defaultAssumeRoleDuration
}

// callSTS makes the link's STS call, signed with masterCreds, retrying once
// where a retry can succeed. The MFA code is fetched once: a call that STS
// refused for its signature or its duration has not used it up.
func (p *ChainableProvider) callSTS(ctx context.Context, masterCreds aws.Credentials) (CacheEntry, error) {
	var code *string
	if p.opts.SerialNumber != "" {
		c, err := fetchTokenCode(ctx, p.opts.TokenCode, p.opts.SerialNumber)
		if err != nil {
			return CacheEntry{}, &Error{Link: p.link, Op: "MFA token", Err: err}
		}
		code = &c
	}
	entry, err := p.callSTSOnce(ctx, masterCreds, code)
	if err == nil {
		return entry, nil
	}
	switch {
	case masterRejected(err):
		// The master's credentials were revoked or expired early: make the
		// master fetch new ones and try once more, if they are new.
		inv, ok := p.master.(interface{ Invalidate() })
		if !ok {
			return CacheEntry{}, err
		}
		inv.Invalidate()
		fresh, merr := p.retrieveMaster(ctx)
		if merr != nil {
			p.logger.Warn("stschain: fresh master credentials could not be had", slog.String("link", p.link), slog.Any("error", merr))
			return CacheEntry{}, err
		}
		if fresh.AccessKeyID == masterCreds.AccessKeyID && fresh.SessionToken == masterCreds.SessionToken {
			return CacheEntry{}, err // the same credentials would be refused the same way
		}
		p.logger.Warn("stschain: STS rejected the master credentials; retrying with fresh ones", slog.String("link", p.link))
		return p.callSTSOnce(ctx, fresh, code)
	case p.opts.RoleARN != "" && p.opts.Duration > RoleChainingMaxDuration && !p.chainingCapped.Load() && roleChainingRefused(err):
		p.chainingCapped.Store(true)
		p.logger.Warn("stschain: STS limits role chaining to one hour; asking for one hour instead of Duration",
			slog.String("link", p.link), slog.Duration("duration", p.opts.Duration))
		return p.callSTSOnce(ctx, masterCreds, code)
	}
	return CacheEntry{}, err
}

func (p *ChainableProvider) callSTSOnce(ctx context.Context, masterCreds aws.Credentials, code *string) (CacheEntry, error) {
	var optFns []func(*sts.Options)
	if p.master != nil {
		// Sign with exactly the credentials checked above.
		signer := credentials.StaticCredentialsProvider{Value: masterCreds}
		optFns = append(optFns, func(o *sts.Options) { o.Credentials = signer })
	}

	if p.opts.RoleARN == "" {
		out, err := p.client.GetSessionToken(ctx, p.sessionTokenInput(code), optFns...)
		if err != nil {
			return CacheEntry{}, &Error{Link: p.link, Op: "GetSessionToken", Err: err}
		}
		if out == nil || out.Credentials == nil {
			return CacheEntry{}, &Error{Link: p.link, Op: "GetSessionToken", Err: errors.New("response has no credentials")}
		}
		return CacheEntry{Credentials: fromSTS(out.Credentials)}, nil
	}
	in := p.assumeRoleInput(code, sessionName(p.opts.RoleSessionName), p.durationSeconds())
	out, err := p.client.AssumeRole(ctx, in, optFns...)
	if err != nil {
		return CacheEntry{}, &Error{Link: p.link, Op: "AssumeRole", Err: err}
	}
	if out == nil || out.Credentials == nil {
		return CacheEntry{}, &Error{Link: p.link, Op: "AssumeRole", Err: errors.New("response has no credentials")}
	}
	return CacheEntry{Credentials: fromSTS(out.Credentials), AssumedRoleUser: out.AssumedRoleUser}, nil
}

// durationSeconds is the DurationSeconds to request, nil for STS's default.
func (p *ChainableProvider) durationSeconds() *int32 {
	d := p.opts.Duration
	if p.opts.RoleARN != "" && p.chainingCapped.Load() && d > RoleChainingMaxDuration {
		d = RoleChainingMaxDuration
	}
	return seconds(d)
}

func seconds(d time.Duration) *int32 {
	if d == 0 {
		return nil
	}
	return aws.Int32(int32(d / time.Second))
}

func (p *ChainableProvider) assumeRoleInput(code *string, session string, duration *int32) *sts.AssumeRoleInput {
	o := &p.opts
	in := &sts.AssumeRoleInput{
		RoleArn:           aws.String(o.RoleARN),
		RoleSessionName:   optString(session),
		DurationSeconds:   duration,
		ExternalId:        optString(o.ExternalID),
		Policy:            optString(o.Policy),
		SourceIdentity:    optString(o.SourceIdentity),
		TransitiveTagKeys: o.TransitiveTagKeys,
		SerialNumber:      optString(o.SerialNumber),
		TokenCode:         code,
	}
	for _, a := range o.PolicyARNs {
		in.PolicyArns = append(in.PolicyArns, types.PolicyDescriptorType{Arn: aws.String(a)})
	}
	for _, k := range sortedKeys(o.Tags) {
		in.Tags = append(in.Tags, types.Tag{Key: aws.String(k), Value: aws.String(o.Tags[k])})
	}
	return in
}

func (p *ChainableProvider) sessionTokenInput(code *string) *sts.GetSessionTokenInput {
	return &sts.GetSessionTokenInput{
		DurationSeconds: p.durationSeconds(),
		SerialNumber:    optString(p.opts.SerialNumber),
		TokenCode:       code,
	}
}

// assumeRoleCacheKey is the Options.Cache key of an AssumeRole link: the
// AWS CLI's key for the same arguments. It uses Options.Duration even after
// STS capped it for role chaining, so that every process agrees on it.
func (p *ChainableProvider) assumeRoleCacheKey() (string, error) {
	in := p.assumeRoleInput(nil, p.opts.RoleSessionName, seconds(p.opts.Duration))
	return assumeRoleCacheKey(in, p.opts.RoleSessionName != "")
}

// sessionName is name, or a generated one when name is empty.
func sessionName(name string) string {
	if name != "" {
		return name
	}
	return "stschain-" + strconv.FormatInt(time.Now().UnixNano(), 10)
}

func fromSTS(c *types.Credentials) aws.Credentials {
	return aws.Credentials{
		AccessKeyID:     aws.ToString(c.AccessKeyId),
		SecretAccessKey: aws.ToString(c.SecretAccessKey),
		SessionToken:    aws.ToString(c.SessionToken),
		CanExpire:       true,
		Expires:         aws.ToTime(c.Expiration),
	}
}

// masterRejected reports whether STS refused the credentials that signed the
// call.
func masterRejected(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.ErrorCode() {
	case "ExpiredToken", "InvalidClientTokenId":
		return true
	}
	return false
}

// roleChainingRefused reports whether err is STS refusing a duration over
// one hour for a role assumed with role credentials.
func roleChainingRefused(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "ValidationError" &&
		strings.Contains(ae.ErrorMessage(), "role chaining")
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}
