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
	fetch(ctx context.Context, req fetchRequest) (fetched, error)
}
