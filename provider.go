package stschain

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/tracing"

	"github.com/stschain/stschain/internal/redact"
)

// ChainableProvider is an [aws.CredentialsProvider] that fetches temporary
// credentials from STS, with AssumeRole when Options.RoleARN is set and
// GetSessionToken otherwise, signing each call with a fresh Retrieve of its
// master credentials. A ChainableProvider can be the master of another, to
// any depth; every link refreshes on its own schedule.
//
// It is safe for concurrent use. Create one with [New] or [NewChain].
type ChainableProvider struct {
	// impl is set once by New. It sits behind an atomic.Pointer because fmt
	// prints one as an address under every verb, even a wrong one, so that
	// no verb applied to a ChainableProvider value reaches the secrets the
	// provider holds.
	impl atomic.Pointer[provider]
}

// provider is a ChainableProvider's STS link and refresh engine.
type provider struct {
	link    stsLink // how to fetch; immutable after New
	refresh refresher
}

var (
	_ aws.CredentialsProvider                     = (*ChainableProvider)(nil)
	_ aws.AdjustExpiresByCredentialsCacheStrategy = (*ChainableProvider)(nil)
	_ aws.CredentialProviderSource                = (*ChainableProvider)(nil)
)

// New returns a provider for cfg and the options optFns set. It validates
// everything and builds the STS client once: from cfg (cfg.Region, or
// DefaultRegion when empty; cfg.BaseEndpoint, retryer, HTTP client ...), the
// master credentials and Options.STSOptions. Later changes to cfg do not
// affect the provider. Every error it returns wraps [ErrInvalidOptions].
func New(cfg aws.Config, optFns ...func(*Options)) (*ChainableProvider, error) {
	o := resolveOptions(optFns)
	if err := o.validate(); err != nil {
		return nil, err
	}
	if holdsNil(cfg.Credentials) {
		return nil, invalidOptions(fmt.Errorf("cfg.Credentials is a nil %T: set it to a usable value or leave it nil", cfg.Credentials))
	}
	master := o.MasterCredentials
	if master == nil {
		master = cfg.Credentials
	}
	client := o.Client
	if client == nil {
		if master == nil {
			return nil, invalidOptions(fmt.Errorf("%w (link %s)", ErrNoMasterCredentials, linkName(o.RoleARN)))
		}
		var err error
		if client, err = newSTSClient(cfg, master, o.STSOptions); err != nil {
			return nil, invalidOptions(err)
		}
	}
	lc, ec := configsOf(&o, client)
	ms, err := newMeters(o.MeterProvider)
	if err != nil {
		return nil, invalidOptions(err)
	}
	ec.meters = ms
	p, err := newProvider(&o, master, lc, ec)
	if err != nil {
		return nil, err
	}
	r := &p.impl.Load().refresh
	if err := watch(ms, p, func(observe func(string, *snapshot)) { observe(r.name, r.state.Load()) }); err != nil {
		return nil, invalidOptions(err)
	}
	return p, nil
}

// newSTSClient builds the client of a provider, or of a Pool, from cfg
// (see guardedSTSClient).
func newSTSClient(cfg aws.Config, master aws.CredentialsProvider, optFns []func(*sts.Options)) (*sts.Client, error) {
	cfg = cfg.Copy()
	cfg.Credentials = master
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	return guardedSTSClient(cfg, optFns)
}

// configsOf returns the link and engine configurations o describes.
func configsOf(o *Options, client STSClient) (*linkConfig, *engineConfig) {
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	guard := o.CodeGuard
	if guard == nil {
		guard = &processCodeGuard
	}
	w := o.windows()
	var tracer tracing.Tracer
	if o.TracerProvider != nil {
		tracer = o.TracerProvider.Tracer("github.com/stschain/stschain")
	}
	return &linkConfig{client: client, guard: guard, logger: logger, cache: o.Cache, windows: w, tracer: tracer},
		&engineConfig{windows: w, logger: logger, notify: o.OnRefresh}
}

// newProvider returns the provider of validated options o, signing with
// master, in the configurations given (a Pool's are shared).
func newProvider(o *Options, master aws.CredentialsProvider, lc *linkConfig, ec *engineConfig) (*ChainableProvider, error) {
	impl := &provider{link: stsLink{cfg: lc, params: o.linkParams(), master: master}}
	link := &impl.link
	if lc.cache != nil {
		if master == nil && !link.assumeRole() {
			return nil, invalidOptions(fmt.Errorf("Cache on a GetSessionToken link needs master credentials, whose access key ID is part of the cache key: set cfg.Credentials or MasterCredentials"))
		}
		if link.assumeRole() {
			key, err := link.assumeRoleKey()
			if err != nil {
				return nil, invalidOptions(fmt.Errorf("computing the cache key: %w", err))
			}
			link.cacheKey = key
		}
	}
	impl.refresh = refresher{name: link.name(), fetcher: link, cfg: ec}
	p := new(ChainableProvider)
	p.impl.Store(impl)
	return p, nil
}

// Client returns the STS client New built or was given.
func (p *ChainableProvider) Client() STSClient { return p.impl.Load().link.cfg.client }

// Retrieve returns the current credentials. Outside the prefetch window it
// returns them at once, without locking or allocating. Inside the prefetch
// window it still returns them at once and starts one background refresh.
// Inside the expiry window callers wait for one shared refresh; if that
// fails while the current credentials have not expired, they get the
// current credentials and later attempts back off. Only when no unexpired
// credentials are left does a failure reach the caller; callers share one
// attempt at a time then, and those that come in the pause after a failed
// one get its failure at once, without a call.
//
// Credentials that were handed out are refreshed at the prefetch point even
// when nobody calls Retrieve then, so that callers behind another cache
// (config.WithCredentialsProvider wraps the provider in an
// aws.CredentialsCache, which asks again only at expiry) never wait for STS
// either. A provider nobody asks makes at most one such refresh.
func (p *ChainableProvider) Retrieve(ctx context.Context) (aws.Credentials, error) {
	return p.impl.Load().refresh.retrieve(ctx)
}

// Refresh fetches new credentials now, skipping Options.Cache, and returns
// them; when a refresh is already running it waits for that one instead of
// starting another. A failure is returned even when the current credentials
// are still valid (they stay cached).
func (p *ChainableProvider) Refresh(ctx context.Context) (aws.Credentials, error) {
	return p.impl.Load().refresh.wait(ctx, true)
}

// Invalidate drops the cached credentials: the next Retrieve refreshes, and
// refreshes skip Options.Cache until one succeeds. Invalidations coalesce,
// as with an [aws.CredentialsCache]: while a refresh is due (the
// credentials were dropped, or a failure left none) or under way,
// Invalidate drops nothing, and its callers share that refresh; its new
// credentials are kept. So a hundred callers that see the credentials
// refused and invalidate them cost one STS call.
func (p *ChainableProvider) Invalidate() { p.impl.Load().refresh.invalidate("") }

// invalidateIf is Invalidate for the caller that saw the credentials with
// access key ID accessKeyID refused: newer ones are kept. Links whose
// master this provider is recover with it, so that many links finding one
// master session refused cost one refresh of the master.
func (p *ChainableProvider) invalidateIf(accessKeyID string) {
	p.impl.Load().refresh.invalidate(accessKeyID)
}

// AdjustExpiresBy implements [aws.AdjustExpiresByCredentialsCacheStrategy]:
// an aws.CredentialsCache with an ExpiryWindow around the provider (as
// config.WithCredentialsCacheOptions sets one) asks it again at its own
// refresh points, the prefetch point and then the expiry window, by when
// the background refresh has new credentials ready, instead of dur before
// expiry. To have credentials replaced earlier, set PrefetchWindow. For
// credentials the provider does not hold, Expires moves by dur.
func (p *ChainableProvider) AdjustExpiresBy(creds aws.Credentials, dur time.Duration) (aws.Credentials, error) {
	if !creds.CanExpire {
		return creds, nil
	}
	if s := p.impl.Load().refresh.state.Load(); s != nil && s.creds.AccessKeyID == creds.AccessKeyID {
		if at := s.nextAsk(wallNow()); !at.IsZero() {
			creds.Expires = at
			return creds, nil
		}
	}
	creds.Expires = creds.Expires.Add(dur)
	return creds, nil
}

// ProviderSources implements [aws.CredentialProviderSource], as the SDK's
// stscreds providers do: the sources of the master, when it reports them,
// then this link's (STSAssumeRole or STSSessionToken).
func (p *ChainableProvider) ProviderSources() []aws.CredentialSource {
	link := &p.impl.Load().link
	var out []aws.CredentialSource
	if s, ok := link.master.(aws.CredentialProviderSource); ok {
		out = append(out, s.ProviderSources()...)
	}
	if link.assumeRole() {
		return append(out, aws.CredentialSourceSTSAssumeRole)
	}
	return append(out, aws.CredentialSourceSTSSessionToken)
}

// String describes the provider without any secret.
func (p *ChainableProvider) String() string {
	return "stschain.ChainableProvider{" + p.impl.Load().link.name() + "}"
}

// Format prints String() for every verb, so that no verb (%+v, %#v, %d,
// %x ...) prints a field.
func (p *ChainableProvider) Format(f fmt.State, verb rune) { redact.Format(f, verb, p.String()) }
