package stschain

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
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

// singleflight keys.
const (
	flightRefresh = "refresh"
	flightForce   = "force"
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
	// there are none. Written only inside a refresh flight (and by
	// Invalidate); read lock-free.
	state atomic.Pointer[credState]

	// flights makes concurrent refreshes share one STS call.
	flights singleflight.Group
	// background is true while a background refresh goroutine exists.
	background atomic.Bool
	// waited is set by callers that wait for a refresh, and cleared by the
	// refresh when it reports its event.
	waited atomic.Bool
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
		fn(&o)
	}
	// Copy the slices and map so that a caller changing them later does not
	// change the provider.
	o.PolicyARNs = slices.Clone(o.PolicyARNs)
	o.TransitiveTagKeys = slices.Clone(o.TransitiveTagKeys)
	o.STSOptions = slices.Clone(o.STSOptions)
	o.Tags = maps.Clone(o.Tags)
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
			if !now.Before(s.retryAt) {
				p.refreshInBackground()
			}
			return s.creds, nil
		}
	}
	return p.wait(ctx, flightRefresh)
}

// Refresh makes one STS call now, whatever the cache holds, and returns its
// credentials. A failure is returned to the caller even when the current
// credentials are still valid (they stay cached).
func (p *ChainableProvider) Refresh(ctx context.Context) (aws.Credentials, error) {
	return p.wait(ctx, flightForce)
}

// Invalidate drops the cached credentials: the next Retrieve refreshes, and
// that refresh skips Options.Cache.
func (p *ChainableProvider) Invalidate() {
	p.skipCache.Store(true)
	p.state.Store(nil)
}

// String describes the provider without any secret.
func (p *ChainableProvider) String() string {
	return "stschain.ChainableProvider{" + p.link + "}"
}

// GoString is String, so that %#v shows no secret either.
func (p *ChainableProvider) GoString() string { return p.String() }

// wait joins (or starts) the refresh flight key and waits for it or ctx.
func (p *ChainableProvider) wait(ctx context.Context, key string) (aws.Credentials, error) {
	p.waited.Store(true)
	force := key == flightForce
	ch := p.flights.DoChan(key, func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), refreshTimeout)
		defer cancel()
		return p.refresh(fctx, force)
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return aws.Credentials{}, res.Err
		}
		return res.Val.(aws.Credentials), nil
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
	go func() {
		defer p.background.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), refreshTimeout)
		defer cancel()
		_, _, _ = p.flights.Do(flightRefresh, func() (any, error) {
			return p.refresh(ctx, false)
		})
	}()
}

// refresh runs inside a flight: it fetches new credentials unless another
// flight has just done so, and updates state.
func (p *ChainableProvider) refresh(ctx context.Context, force bool) (aws.Credentials, error) {
	start := time.Now()
	cur := p.state.Load()
	if !force && cur != nil {
		// Another flight may have refreshed, or failed, since the caller
		// looked.
		if start.Before(cur.prefetchAt) {
			return cur.creds, nil
		}
		if cur.failures > 0 && start.Before(cur.retryAt) && start.Before(cur.creds.Expires) {
			return cur.creds, nil
		}
	}

	entry, fromCache, err := p.fetch(ctx, force)
	end := time.Now()
	ev := RefreshEvent{Link: p.link, Latency: end.Sub(start), Background: !p.waited.Swap(false)}
	if err != nil {
		ev.Err = err
		if cur != nil && end.Before(cur.creds.Expires) {
			next := *cur
			next.failures++
			next.retryAt = end.Add(backoff(next.failures, cur.creds.Expires.Sub(end)))
			ev.Outcome, ev.Expires = RefreshFailedKept, cur.creds.Expires
			p.report(ev)
			p.state.Store(&next)
			if force {
				return aws.Credentials{}, err
			}
			return cur.creds, nil
		}
		ev.Outcome = RefreshFailed
		p.report(ev)
		return aws.Credentials{}, err
	}

	creds := entry.Credentials
	creds.Source = ProviderName
	if creds.AccountID == "" && entry.AssumedRoleUser != nil {
		creds.AccountID = accountFromARN(aws.ToString(entry.AssumedRoleUser.Arn))
	}
	ev.Outcome, ev.Expires = RefreshOK, creds.Expires
	if fromCache {
		ev.Outcome = RefreshFromCache
	}
	// Report before publishing, so that whoever sees the new credentials
	// can count on the event having been delivered.
	p.report(ev)
	p.state.Store(p.schedule(creds, creds.Expires.Sub(end)))
	return creds, nil
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
// refreshed.
func (p *ChainableProvider) schedule(creds aws.Credentials, life time.Duration) *credState {
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
		if !p.opts.DisableJitter {
			s.prefetchAt = s.prefetchAt.Add(randDuration((prefetch - expiry) / 2))
		}
	} else {
		if !p.opts.DisableJitter {
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

// fetch returns new credentials from Options.Cache or STS; force skips
// the cache lookup, though not the cache update.
func (p *ChainableProvider) fetch(ctx context.Context, force bool) (entry CacheEntry, fromCache bool, err error) {
	var masterCreds aws.Credentials
	if p.master != nil {
		masterCreds, err = p.master.Retrieve(ctx)
		if err != nil {
			return CacheEntry{}, false, &Error{Link: p.link, Op: opMaster, Err: err}
		}
		if p.opts.RoleARN == "" && masterCreds.SessionToken != "" {
			return CacheEntry{}, false, &Error{Link: p.link, Op: "GetSessionToken", Err: ErrLongTermCredentialsRequired}
		}
	}

	skipCache := p.skipCache.Swap(false) || force
	if p.opts.Cache == nil {
		entry, err = p.callSTS(ctx, masterCreds)
		return entry, false, err
	}
	key, err := p.cacheKey(masterCreds)
	if err != nil {
		return CacheEntry{}, false, &Error{Link: p.link, Op: "computing cache key", Err: err}
	}
	if !skipCache {
		if e, ok := p.loadCache(ctx, key); ok {
			return e, true, nil
		}
	}
	if l, ok := p.opts.Cache.(CacheLocker); ok {
		unlock, err := l.Lock(ctx, key)
		if err != nil {
			return CacheEntry{}, false, &Error{Link: p.link, Op: "locking cache", Err: err}
		}
		defer unlock()
		// Another process may have refreshed while this one waited.
		if !skipCache {
			if e, ok := p.loadCache(ctx, key); ok {
				return e, true, nil
			}
		}
	}
	entry, err = p.callSTS(ctx, masterCreds)
	if err != nil {
		return CacheEntry{}, false, err
	}
	if err := p.opts.Cache.Store(ctx, key, entry); err != nil {
		p.logger.Warn("stschain: storing credentials in cache failed", slog.String("link", p.link), slog.Any("error", err))
	}
	return entry, false, nil
}

// loadCache returns the cached entry for key when it is still outside the
// refresh windows.
func (p *ChainableProvider) loadCache(ctx context.Context, key string) (CacheEntry, bool) {
	e, ok, err := p.opts.Cache.Load(ctx, key)
	if err != nil {
		p.logger.Warn("stschain: ignoring unusable cache entry", slog.String("link", p.link), slog.Any("error", err))
		return CacheEntry{}, false
	}
	if !ok || !e.Credentials.HasKeys() {
		return CacheEntry{}, false
	}
	// The entry's age is unknown: judge it by the lifetime this link asks
	// for, so that an old entry is not taken for a short fresh one.
	now := time.Now()
	life := max(e.Credentials.Expires.Sub(now), p.requestedLifetime())
	if e.Credentials.CanExpire && !now.Before(p.schedule(e.Credentials, life).prefetchAt) {
		return CacheEntry{}, false
	}
	return e, true
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
// where a retry can succeed.
func (p *ChainableProvider) callSTS(ctx context.Context, masterCreds aws.Credentials) (CacheEntry, error) {
	entry, err := p.callSTSOnce(ctx, masterCreds)
	if err == nil {
		return entry, nil
	}
	switch {
	case masterRejected(err):
		// The master's credentials were revoked or expired early: make the
		// master fetch new ones and try once more.
		inv, ok := p.master.(interface{ Invalidate() })
		if !ok {
			return CacheEntry{}, err
		}
		inv.Invalidate()
		fresh, merr := p.master.Retrieve(ctx)
		if merr != nil {
			return CacheEntry{}, &Error{Link: p.link, Op: opMaster, Err: merr}
		}
		p.logger.Warn("stschain: STS rejected the master credentials; retrying with fresh ones", slog.String("link", p.link))
		return p.callSTSOnce(ctx, fresh)
	case p.opts.RoleARN != "" && p.opts.Duration > RoleChainingMaxDuration && !p.chainingCapped.Load() && roleChainingRefused(err):
		p.chainingCapped.Store(true)
		p.logger.Warn("stschain: STS limits role chaining to one hour; asking for one hour instead of Duration",
			slog.String("link", p.link), slog.Duration("duration", p.opts.Duration))
		return p.callSTSOnce(ctx, masterCreds)
	}
	return CacheEntry{}, err
}

func (p *ChainableProvider) callSTSOnce(ctx context.Context, masterCreds aws.Credentials) (CacheEntry, error) {
	var code *string
	if p.opts.SerialNumber != "" {
		c, err := fetchTokenCode(ctx, p.opts.TokenCode, p.opts.SerialNumber)
		if err != nil {
			return CacheEntry{}, &Error{Link: p.link, Op: "MFA token", Err: err}
		}
		code = &c
	}
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
	out, err := p.client.AssumeRole(ctx, p.assumeRoleInput(code, sessionName(p.opts.RoleSessionName)), optFns...)
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
	if d == 0 {
		return nil
	}
	return aws.Int32(int32(d / time.Second))
}

func (p *ChainableProvider) assumeRoleInput(code *string, session string) *sts.AssumeRoleInput {
	o := &p.opts
	in := &sts.AssumeRoleInput{
		RoleArn:           aws.String(o.RoleARN),
		RoleSessionName:   aws.String(session),
		DurationSeconds:   p.durationSeconds(),
		ExternalId:        optString(o.ExternalID),
		Policy:            optString(o.Policy),
		SourceIdentity:    optString(o.SourceIdentity),
		TransitiveTagKeys: o.TransitiveTagKeys,
		TokenCode:         code,
	}
	if o.SerialNumber != "" {
		in.SerialNumber = aws.String(o.SerialNumber)
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
	in := &sts.GetSessionTokenInput{DurationSeconds: p.durationSeconds(), TokenCode: code}
	if p.opts.SerialNumber != "" {
		in.SerialNumber = aws.String(p.opts.SerialNumber)
	}
	return in
}

// cacheKey is the Options.Cache key of this link: the AWS CLI's key for
// AssumeRole, and one that includes the master's access key for
// GetSessionToken.
func (p *ChainableProvider) cacheKey(masterCreds aws.Credentials) (string, error) {
	if p.opts.RoleARN == "" {
		return sessionTokenCacheKey(p.sessionTokenInput(nil), masterCreds.AccessKeyID)
	}
	return assumeRoleCacheKey(p.assumeRoleInput(nil, p.opts.RoleSessionName), p.opts.RoleSessionName != "")
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
