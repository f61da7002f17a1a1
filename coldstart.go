package stschain

import (
	"slices"
	"sync"
	"time"
)

// A Pool's cold start: providers made together fetch their first
// credentials together, and would refresh together for ever after unless
// their first refreshes are spread. Spread from their own fetch alone,
// some fall inside a cold start that lasts longer than the spread's
// start, and re-assume roles whose sessions are barely used: calls the
// pool's budget then lacks for the cold start itself. So the first
// refreshes wait for the cold start to end, when every provider of the
// pool has fetched credentials, and are spread from then. Meanwhile a
// first session keeps its own prefetch point, as outside a Pool: a
// provider that is never asked for, or whose first fetch keeps failing,
// holds the spread off until the pool drops it as idle, and delays no
// refresh.

// coldStart spreads the first refreshes of a Pool's providers.
type coldStart struct {
	mu sync.Mutex
	// unfetched counts the providers of the pool that have not fetched
	// credentials yet: those with the unfetched bit. Guarded by mu.
	unfetched int
	// pending are the first sessions fetched while unfetched was not zero,
	// whose refresh waits to be spread. Guarded by mu.
	pending []firstSession
}

// firstSession is a provider's first credentials.
type firstSession struct {
	r         *refresher
	s         *snapshot
	fetchedAt time.Time
	life      time.Duration
}

// add counts r, a provider just made for the pool, until it fetches.
func (c *coldStart) add(r *refresher) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r.use.Or(unfetched)
	c.unfetched++
}

// fetched is the engine's firstFetched of a pool's providers.
func (c *coldStart) fetched(r *refresher, s *snapshot, fetchedAt time.Time, life time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.pending) == cap(c.pending) {
		// A cold start that does not end (a provider made and never
		// asked for, whose first fetch never comes) must not keep what
		// has been refreshed since.
		c.pending = slices.DeleteFunc(c.pending, func(f firstSession) bool { return f.r.state.Load() != f.s })
	}
	c.pending = append(c.pending, firstSession{r: r, s: s, fetchedAt: fetchedAt, life: life})
	c.done(r)
}

// dropped stops counting r, a provider the pool let go.
func (c *coldStart) dropped(r *refresher) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.done(r)
}

// done stops counting r, and spreads the pending first refreshes once no
// provider is left to fetch: each between the later of now and its
// firstShare after its fetch, and its own prefetch point, where its phase
// places it (at random, or where every process sharing its cache places
// it). Called with mu held.
func (c *coldStart) done(r *refresher) {
	if r.use.And(^unfetched)&unfetched != 0 {
		c.unfetched--
	}
	if c.unfetched > 0 {
		return
	}
	now := wallNow()
	for _, f := range c.pending {
		from := f.fetchedAt.Add(firstShare(f.life))
		if from.Before(now) {
			from = now
		}
		if from.Before(f.s.prefetchAt) {
			f.r.moveRefresh(f.s, spreadPoint(from, f.s.prefetchAt, f.r.phase()))
		}
	}
	c.pending = nil
}
