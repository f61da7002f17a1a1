package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var _ aws.CredentialsProvider = (*freshRoot)(nil)

// fakeRoot issues a new set of credentials living life on each fetch (the
// same set again while same is set), or fails while failing is set, and
// counts its fetches. Behind an aws.CredentialsCache it is a root as
// awsprofile builds it.
type fakeRoot struct {
	life    time.Duration
	fetches atomic.Int64
	failing atomic.Bool
	same    atomic.Bool
	last    atomic.Pointer[aws.Credentials]
}

func (r *fakeRoot) Retrieve(context.Context) (aws.Credentials, error) {
	n := r.fetches.Add(1)
	if r.failing.Load() {
		return aws.Credentials{}, errors.New("the root is down")
	}
	if last := r.last.Load(); r.same.Load() && last != nil {
		return *last, nil
	}
	c := aws.Credentials{AccessKeyID: fmt.Sprintf("ASIAROOT%08d", n), SecretAccessKey: "s", SessionToken: "t",
		CanExpire: r.life > 0, Expires: time.Now().Add(r.life)}
	r.last.Store(&c)
	return c, nil
}

// newFakeFreshRoot is a freshRoot on a fakeRoot of life in the SDK's cache.
func newFakeFreshRoot(life time.Duration) (*freshRoot, *fakeRoot) {
	root := &fakeRoot{life: life}
	return newFreshRoot(aws.NewCredentialsCache(root)), root
}

func mustRetrieve(t *testing.T, p aws.CredentialsProvider) aws.Credentials {
	t.Helper()
	c, err := p.Retrieve(t.Context())
	require.NoError(t, err)
	return c
}

// A root's credentials are handed out until prefetchWindow before they
// expire, then renewed once: one fetch per set, each set renewed with
// prefetchWindow left.
func TestFreshRootRenewsAtTheWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const life = time.Hour
		fr, root := newFakeFreshRoot(life)
		first := mustRetrieve(t, fr)
		time.Sleep(life - prefetchWindow - time.Second)
		assert.Equal(t, first.AccessKeyID, mustRetrieve(t, fr).AccessKeyID, "outside the window")
		assert.Equal(t, int64(1), root.fetches.Load())

		time.Sleep(time.Second)
		second := mustRetrieve(t, fr)
		assert.NotEqual(t, first.AccessKeyID, second.AccessKeyID, "renewed in the window")
		assert.Equal(t, int64(2), root.fetches.Load())
		for range 5 {
			assert.Equal(t, second.AccessKeyID, mustRetrieve(t, fr).AccessKeyID)
		}
		assert.Equal(t, int64(2), root.fetches.Load(), "one fetch per set")
	})
}

// Credentials living less than three windows are renewed a third of
// their life before they expire, so a root of short sessions is fetched
// once a cycle.
func TestFreshRootShortLives(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const life = 3 * time.Second
		fr, root := newFakeFreshRoot(life)
		seen := map[string]bool{}
		for range 30 { // ten lifetimes, a call every second
			c := mustRetrieve(t, fr)
			assert.True(t, time.Now().Before(c.Expires), "never expired")
			assert.GreaterOrEqual(t, time.Until(c.Expires), life/3, "never inside the window")
			seen[c.AccessKeyID] = true
			time.Sleep(time.Second)
		}
		assert.Equal(t, int64(len(seen)), root.fetches.Load(), "each set fetched once")
		assert.Equal(t, 15, len(seen), "a set every two seconds")
	})
}

// Many callers in the window share one renewal.
func TestFreshRootOneRenewalForManyCallers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fr, root := newFakeFreshRoot(time.Hour)
		first := mustRetrieve(t, fr)
		time.Sleep(time.Hour - prefetchWindow)
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				c, err := fr.Retrieve(context.Background())
				assert.NoError(t, err)
				assert.True(t, time.Now().Before(c.Expires))
			})
		}
		wg.Wait()
		assert.Equal(t, int64(2), root.fetches.Load())
		assert.NotEqual(t, first.AccessKeyID, mustRetrieve(t, fr).AccessKeyID)
	})
}

// A failed renewal keeps the current credentials, and is tried again
// after a quarter of their remaining life, not on every call.
func TestFreshRootFailedRenewal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fr, root := newFakeFreshRoot(time.Hour)
		first := mustRetrieve(t, fr)
		time.Sleep(time.Hour - prefetchWindow)
		root.failing.Store(true)
		for range 3 {
			assert.Equal(t, first.AccessKeyID, mustRetrieve(t, fr).AccessKeyID)
		}
		assert.Equal(t, int64(2), root.fetches.Load(), "one renewal attempt")

		time.Sleep(prefetchWindow/retryFraction - time.Second)
		assert.Equal(t, first.AccessKeyID, mustRetrieve(t, fr).AccessKeyID)
		assert.Equal(t, int64(2), root.fetches.Load(), "no retry before its time")
		time.Sleep(time.Second)
		assert.Equal(t, first.AccessKeyID, mustRetrieve(t, fr).AccessKeyID)
		assert.Equal(t, int64(3), root.fetches.Load(), "the retry")

		root.failing.Store(false)
		time.Sleep((prefetchWindow - prefetchWindow/retryFraction) / retryFraction)
		assert.NotEqual(t, first.AccessKeyID, mustRetrieve(t, fr).AccessKeyID, "the next retry renews")
		assert.Equal(t, int64(4), root.fetches.Load())
	})
}

// Once the credentials have expired with the root still failing, the
// callers get its error, and the next set once it answers again.
func TestFreshRootExpiredWhileFailing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fr, root := newFakeFreshRoot(time.Hour)
		mustRetrieve(t, fr)
		time.Sleep(time.Hour - prefetchWindow)
		root.failing.Store(true)
		mustRetrieve(t, fr)
		time.Sleep(prefetchWindow)
		_, err := fr.Retrieve(context.Background())
		assert.ErrorContains(t, err, "the root is down")
		root.failing.Store(false)
		c := mustRetrieve(t, fr)
		assert.True(t, time.Now().Before(c.Expires))
	})
}

// A renewal that hands back the same set (another process's cache entry)
// is tried again as a failed one is.
func TestFreshRootSameSetIsRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fr, root := newFakeFreshRoot(time.Hour)
		first := mustRetrieve(t, fr)
		root.same.Store(true)
		time.Sleep(time.Hour - prefetchWindow)
		for range 5 {
			assert.Equal(t, first.AccessKeyID, mustRetrieve(t, fr).AccessKeyID)
		}
		assert.Equal(t, int64(2), root.fetches.Load(), "one renewal, until a quarter of the window has passed")
		root.same.Store(false)
		time.Sleep(prefetchWindow / retryFraction)
		assert.NotEqual(t, first.AccessKeyID, mustRetrieve(t, fr).AccessKeyID)
		assert.Equal(t, int64(3), root.fetches.Load())
	})
}

// Keys that do not expire, and a provider without Invalidate, are handed
// out as the root gives them.
func TestFreshRootPassesThrough(t *testing.T) {
	fr, root := newFakeFreshRoot(0)
	for range 3 {
		assert.False(t, mustRetrieve(t, fr).CanExpire)
	}
	assert.Equal(t, int64(1), root.fetches.Load())

	plain := &fakeRoot{life: time.Second}
	fr = newFreshRoot(plain)
	for range 3 {
		mustRetrieve(t, fr)
	}
	assert.Equal(t, int64(3), plain.fetches.Load(), "no cache, no Invalidate: the provider's own answer each time")
}
