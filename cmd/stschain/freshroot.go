package main

import (
	"context"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

const (
	// shortLifeFactor: credentials that live less than this many prefetch
	// windows are renewed a third of their life before they expire, as
	// stschain's links renew short sessions.
	shortLifeFactor = 3
	// retryFraction: after a renewal that failed, or handed back the same
	// credentials, the next one is tried when this fraction of their
	// remaining life has passed (but at least minRetryPause later).
	retryFraction = 4
	minRetryPause = time.Second
)

// freshRoot hands out a chain's root credentials when no link of the chain
// is a role or GetSessionToken link of stschain's: an SSO profile, a
// credential_process session, web identity, login_session, the
// container's or the instance's role.
//
// The root's provider, an aws.CredentialsCache as the SDK builds it, keeps
// its credentials until they expire. freshRoot has it fetch new ones once
// they are within prefetchWindow of expiring (a third of their life when
// they live less than three windows), as stschain's links do, so that
// exec --server's command, and the AWS CLI running credential-process, get
// credentials with time left. One caller renews; the others are handed the
// current credentials meanwhile. A renewal that fails, or hands back the
// same credentials (another process's cache entry), keeps the current ones
// and is tried again after a quarter of their remaining life; once they
// have expired, every caller asks the root, as the SDK's cache does.
// Credentials that do not expire, and a provider without Invalidate, are
// handed out as the provider gives them. It is safe for concurrent use.
type freshRoot struct {
	p          aws.CredentialsProvider // immutable
	invalidate func()                  // immutable: makes p fetch anew on its next Retrieve; nil when p cannot

	mu      sync.Mutex
	cur     aws.Credentials // guarded by mu: the credentials last handed out; zero before the first
	renewAt time.Time       // guarded by mu: when to renew cur; zero while a renewal runs
}

// newFreshRoot wraps p, the root's provider.
func newFreshRoot(p aws.CredentialsProvider) *freshRoot {
	r := &freshRoot{p: p}
	if inv, ok := p.(interface{ Invalidate() }); ok {
		r.invalidate = inv.Invalidate
	}
	return r
}

func (r *freshRoot) Retrieve(ctx context.Context) (aws.Credentials, error) {
	if r.invalidate == nil {
		return r.p.Retrieve(ctx)
	}
	cur, renew, ok := r.current(time.Now())
	if ok {
		return cur, nil
	}
	if renew {
		r.invalidate()
	}
	creds, err := r.p.Retrieve(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	switch {
	case err != nil && renew && now.Before(cur.Expires):
		r.renewAt = now.Add(retryPause(cur.Expires.Sub(now)))
		return cur, nil
	case err != nil:
		return creds, err
	case creds.AccessKeyID != r.cur.AccessKeyID:
		r.cur, r.renewAt = creds, renewalTime(creds, now)
	case renew:
		r.renewAt = now.Add(retryPause(creds.Expires.Sub(now)))
	}
	return creds, nil
}

// current returns the credentials to hand out at now without asking the
// provider, ok true; or, ok false, says whether the caller is to renew
// them (renew true, cur the credentials it replaces) or just to ask the
// provider (there are none yet, or they have expired).
func (r *freshRoot) current(now time.Time) (cur aws.Credentials, renew, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cur = r.cur
	switch {
	case !cur.HasKeys() || cur.CanExpire && !now.Before(cur.Expires):
		return cur, false, false
	case !cur.CanExpire || r.renewAt.IsZero() || now.Before(r.renewAt):
		return cur, false, true
	}
	r.renewAt = time.Time{}
	return cur, true, false
}

// renewalTime is when to renew creds, first handed out at now.
func renewalTime(creds aws.Credentials, now time.Time) time.Time {
	if !creds.CanExpire {
		return time.Time{}
	}
	window := prefetchWindow
	if life := creds.Expires.Sub(now); life < shortLifeFactor*window {
		window = life / shortLifeFactor
	}
	return creds.Expires.Add(-window)
}

// retryPause is how long after a renewal that did not renew credentials
// with remaining left the next one is tried.
func retryPause(remaining time.Duration) time.Duration {
	return max(remaining/retryFraction, minRetryPause)
}
