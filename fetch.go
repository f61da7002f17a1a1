package stschain

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// What the refresh engine asks of what it refreshes, and what it gets: the
// whole of what the engine knows of a link.

// fetchRequest is what the engine asks of its fetcher.
type fetchRequest struct {
	// current are the credentials being replaced; zero when there are none.
	current aws.Credentials
	// windowAt is when current reach their expiry window in the engine's
	// schedule (callers wait from there); zero when there are none.
	windowAt time.Time
	// skipCache: do not look in a shared cache (the caller forces a
	// refresh, or has seen the current credentials rejected).
	skipCache bool
	// waited: a caller waits for this fetch.
	waited bool
}

// fetched is what a fetch got.
type fetched struct {
	creds     aws.Credentials
	life      time.Duration // how long the credentials live in all, for their schedule
	fromCache bool
}

// fetcher fetches new credentials for the engine. Its error is reported
// as it is.
type fetcher interface {
	// fetch gets new credentials within ctx's deadline, the engine's bound
	// on one attempt.
	fetch(ctx context.Context, req fetchRequest) (fetched, error)
	// interactive reports whether a fetch may wait for a person (an MFA
	// code typed at a prompt), which the engine gives more time.
	interactive() bool
	// phase places a first refresh inside the span where the engine
	// spreads it: a fraction in [0, 1) that every process sharing the
	// fetcher's credentials (through a cache) computes alike, so that they
	// refresh a shared session at one moment, once, and different
	// sessions apart. shared false: the fetcher shares its credentials
	// with no one, and the engine places its first refresh at random.
	phase() (fraction float64, shared bool)
}
