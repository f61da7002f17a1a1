package stschain

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// ChainableProvider is an [aws.CredentialsProvider] that fetches temporary
// credentials from STS, with AssumeRole when Options.RoleARN is set and
// GetSessionToken otherwise, signing each call with a fresh Retrieve of its
// master credentials. A ChainableProvider can be the master of another, to
// any depth; every link refreshes on its own schedule.
//
// It is safe for concurrent use. Create one with [New] or [NewChain].
type ChainableProvider struct {
	link    *stsLink // how to fetch: the STS link; immutable after New
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
	link := &stsLink{
		name:   linkName(o.RoleARN),
		opts:   &o,
		client: o.Client,
		master: o.MasterCredentials,
		guard:  o.CodeGuard,
		logger: o.Logger,
	}
	if link.master == nil {
		link.master = cfg.Credentials
	}
	if link.guard == nil {
		link.guard = &processCodeGuard
	}
	if link.logger == nil {
		link.logger = slog.New(slog.DiscardHandler)
	}
	if link.client == nil {
		if link.master == nil {
			return nil, invalidOptions(fmt.Errorf("%w (link %s)", ErrNoMasterCredentials, link.name))
		}
		stsCfg := cfg.Copy()
		stsCfg.Credentials = link.master
		if stsCfg.Region == "" {
			stsCfg.Region = DefaultRegion
		}
		link.client = sts.NewFromConfig(stsCfg, o.STSOptions...)
	}
	w := newWindows(&o)
	if o.Cache != nil {
		if link.master == nil && !link.assumeRole() {
			return nil, invalidOptions(fmt.Errorf("Cache on a GetSessionToken link needs master credentials, whose access key ID is part of the cache key: set cfg.Credentials or MasterCredentials"))
		}
		link.cache = linkCache{
			cache:     o.Cache,
			logger:    link.logger,
			link:      link.name,
			windows:   w,
			requested: link.requestedLifetime,
			longest:   link.maxLifetime(),
		}
		if link.assumeRole() {
			link.cache.account = accountOf(o.RoleARN)
			// Options.Duration, not the capped one: every process agrees
			// on the key, whatever STS said about role chaining.
			key, err := assumeRoleCacheKey(link.assumeRoleInput(nil, o.RoleSessionName, seconds(o.Duration)), o.RoleSessionName != "")
			if err != nil {
				return nil, invalidOptions(fmt.Errorf("computing the cache key: %w", err))
			}
			link.cache.assumeRoleKey = key
		}
	}
	p := &ChainableProvider{link: link}
	p.refresh = refresher{
		name:    link.name,
		fetch:   link.fetch,
		windows: w,
		logger:  link.logger,
		notify:  o.OnRefresh,
	}
	return p, nil
}

// Client returns the STS client New built or was given.
func (p *ChainableProvider) Client() STSClient { return p.link.client }

// Retrieve returns the current credentials. Outside the prefetch window it
// returns them at once, without locking or allocating. Inside the prefetch
// window it still returns them at once and starts one background refresh.
// Inside the expiry window callers wait for one shared refresh; if that
// fails while the current credentials have not expired, they get the
// current credentials and later attempts back off. Only when no unexpired
// credentials are left does a failure reach the caller.
//
// Credentials that were handed out are refreshed at the prefetch point even
// when nobody calls Retrieve then, so that callers behind another cache
// (config.WithCredentialsProvider wraps the provider in an
// aws.CredentialsCache, which asks again only at expiry) never wait for STS
// either. A provider nobody asks makes at most one such refresh.
func (p *ChainableProvider) Retrieve(ctx context.Context) (aws.Credentials, error) {
	return p.refresh.retrieve(ctx)
}

// Refresh fetches new credentials now, skipping Options.Cache, and returns
// them; when a refresh is already running it waits for that one instead of
// starting another. A failure is returned even when the current credentials
// are still valid (they stay cached).
func (p *ChainableProvider) Refresh(ctx context.Context) (aws.Credentials, error) {
	return p.refresh.wait(ctx, true)
}

// Invalidate drops the cached credentials: the next Retrieve refreshes, and
// refreshes skip Options.Cache until one succeeds. A refresh already
// running when Invalidate is called finishes for the callers waiting for
// it, but its result is not kept.
func (p *ChainableProvider) Invalidate() { p.refresh.invalidate() }

// AdjustExpiresBy implements [aws.AdjustExpiresByCredentialsCacheStrategy]:
// an aws.CredentialsCache with an ExpiryWindow around the provider (as
// config.WithCredentialsCacheOptions sets one) asks it again at its own
// refresh points (the prefetch point, then the expiry window) rather than
// only dur before expiry, so that the background refresh has new
// credentials ready when the cache asks.
func (p *ChainableProvider) AdjustExpiresBy(creds aws.Credentials, dur time.Duration) (aws.Credentials, error) {
	if !creds.CanExpire {
		return creds, nil
	}
	adjusted := creds.Expires.Add(dur)
	if s := p.refresh.state.Load(); s != nil && s.creds.AccessKeyID == creds.AccessKeyID {
		if at := s.nextAsk(time.Now()); !at.IsZero() && at.Before(adjusted) {
			adjusted = at
		}
	}
	creds.Expires = adjusted
	return creds, nil
}

// ProviderSources implements [aws.CredentialProviderSource], as the SDK's
// stscreds providers do: the sources of the master, when it reports them,
// then this link's (STSAssumeRole or STSSessionToken).
func (p *ChainableProvider) ProviderSources() []aws.CredentialSource {
	var out []aws.CredentialSource
	if s, ok := p.link.master.(aws.CredentialProviderSource); ok {
		out = append(out, s.ProviderSources()...)
	}
	if p.link.assumeRole() {
		return append(out, aws.CredentialSourceSTSAssumeRole)
	}
	return append(out, aws.CredentialSourceSTSSessionToken)
}

// String describes the provider without any secret.
func (p *ChainableProvider) String() string {
	return "stschain.ChainableProvider{" + p.link.name + "}"
}

// Format prints String() for every verb, so that no verb (%+v, %#v, %d,
// %x ...) prints a field.
func (p *ChainableProvider) Format(f fmt.State, verb rune) { formatString(f, verb, p.String()) }
