package fleettest

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stschain/stschain"
	"github.com/stschain/stschain/ststest"
)

// The fake accounts: the SaaS's user and hub role, and one role per
// customer, each in its own account, trusting the hub with an external ID.
const (
	SaaSAccount = "111111111111"
	UserName    = "saas-app"
	UserKeyID   = "AKIASAASAPP000000000"
	UserSecret  = "saas-app-long-term-secret"
	HubRole     = "arn:aws:iam::" + SaaSAccount + ":role/saas-hub"
	UserARN     = "arn:aws:iam::" + SaaSAccount + ":user/" + UserName
)

// CustomerAt is the i-th customer.
func CustomerAt(i int) Customer {
	return Customer{
		RoleARN:    fmt.Sprintf("arn:aws:iam::%012d:role/saas-access", 200000000000+i),
		ExternalID: fmt.Sprintf("saas-external-id-%04d", i),
	}
}

// Customers are the first n customers.
func Customers(n int) []Customer {
	cs := make([]Customer, n)
	for i := range cs {
		cs[i] = CustomerAt(i)
	}
	return cs
}

// STSConfig is the fake STS of a fleet of roles customer roles, whose
// sessions live lifetime; the hub's live an hour.
func STSConfig(roles int, lifetime time.Duration) ststest.Config {
	c := ststest.Config{
		AccountID: SaaSAccount,
		Users:     []ststest.User{{Name: UserName, AccessKeyID: UserKeyID, SecretAccessKey: UserSecret}},
		Roles:     []ststest.Role{{ARN: HubRole, Trust: []string{UserARN}}},
	}
	for i := range roles {
		cu := CustomerAt(i)
		c.Roles = append(c.Roles, ststest.Role{ARN: cu.RoleARN, Trust: []string{HubRole}, ExternalID: cu.ExternalID, Lifetime: lifetime})
	}
	return c
}

// Config configures a Fleet of hosts in one process.
type Config struct {
	Hosts    int           // W
	Roles    int           // N
	Lifetime time.Duration // the customer sessions' lifetime
	Prefetch time.Duration // the customer providers' PrefetchWindow
	Expiry   time.Duration // their ExpiryWindow
	Callers  int           // per host
	Pause    time.Duration // each caller's pause between sweeps
	Phases   int
	// Cache returns host i's cache: each host has its own client, as a
	// process of a fleet has. Nil for none.
	Cache func(i int) stschain.Cache
}

// Fleet is hosts in one process sharing a fake STS (and a store, through
// their caches).
type Fleet struct {
	Config Config
	STS    *ststest.Server
	Hosts  []*Host
}

// Start starts the fake STS and the hosts, and warms them up: every
// provider's first Retrieve, all at once. Close stops them.
func Start(ctx context.Context, cfg Config) (*Fleet, error) {
	scfg := STSConfig(cfg.Roles, cfg.Lifetime)
	if err := scfg.Validate(); err != nil {
		return nil, err
	}
	f := &Fleet{Config: cfg, STS: ststest.NewServer(scfg)}
	for i := range cfg.Hosts {
		hc := HostConfig{
			STSURL: f.STS.URL, AccessKeyID: UserKeyID, SecretKey: UserSecret, HubRole: HubRole,
			Customers: Customers(cfg.Roles), Prefetch: cfg.Prefetch, Expiry: cfg.Expiry,
			Callers: cfg.Callers, Pause: cfg.Pause, Phases: cfg.Phases,
		}
		if cfg.Cache != nil {
			hc.Cache = cfg.Cache(i)
		}
		h, err := NewHost(hc)
		if err != nil {
			f.STS.Close()
			return nil, err
		}
		f.Hosts = append(f.Hosts, h)
	}
	var wg sync.WaitGroup
	for _, h := range f.Hosts {
		wg.Go(func() { h.Warmup(ctx) })
	}
	wg.Wait()
	for _, h := range f.Hosts {
		h.Start()
	}
	return f, nil
}

// SetPhase moves every host to phase p.
func (f *Fleet) SetPhase(p int) {
	for _, h := range f.Hosts {
		h.SetPhase(p)
	}
}

// Stats adds up the hosts' stats of phase p.
func (f *Fleet) Stats(p int) Stats {
	var s Stats
	for _, h := range f.Hosts {
		s.Add(h.Stats(p))
	}
	return s
}

// Rounds is how many refresh rounds s holds: every provider refreshes once
// a round, from STS or from the cache.
func (f *Fleet) Rounds(s Stats) float64 {
	return float64(s.RefreshSTS+s.RefreshCache) / float64(f.Config.Hosts*f.Config.Roles)
}

// WaitRounds waits until phase p has had rounds refresh rounds, or ctx
// ends.
func (f *Fleet) WaitRounds(ctx context.Context, p int, rounds float64) error {
	for f.Rounds(f.Stats(p)) < rounds {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%.2f of %.0f refresh rounds: %w", f.Rounds(f.Stats(p)), rounds, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// WaitRefreshed waits until every provider of every host has refreshed n
// times after its first fetch (Host.Progress), or ctx ends.
func (f *Fleet) WaitRefreshed(ctx context.Context, n int) error {
	for {
		least := -1
		for _, h := range f.Hosts {
			if p := h.Progress(); least < 0 || p.Rounds < least {
				least = p.Rounds
			}
		}
		if least >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("every provider refreshed %d of %d times: %w", least, n, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// RoundsByEvent tells the fleet's rounds so far from its hosts' refreshes
// (CountRounds).
func (f *Fleet) RoundsByEvent() Rounds {
	hosts := make([]map[string][]Refresh, len(f.Hosts))
	for i, h := range f.Hosts {
		hosts[i] = h.Refreshes()
	}
	return CountRounds(hosts, f.Config.Cache != nil)
}

// AssumeRoleCalls counts the successful AssumeRole calls of customer roles
// the fake STS answered so far.
func (f *Fleet) AssumeRoleCalls() int {
	n := 0
	for _, c := range f.STS.Calls(ststest.Call{Action: "AssumeRole", Status: 200}) {
		if c.RoleARN != HubRole {
			n++
		}
	}
	return n
}

// Close stops the hosts' callers and the fake STS.
func (f *Fleet) Close() {
	for _, h := range f.Hosts {
		h.Stop()
	}
	f.STS.Close()
}

// Rate is a rate of events over time.
type Rate struct {
	Mean float64 // events per second over the whole span
	Peak float64 // events per second in the busiest window
}

// Rates measures times, events within [from, to): the mean rate over the
// span, and the peak rate over any window of length window.
func Rates(times []time.Time, from, to time.Time, window time.Duration) Rate {
	var in []time.Time
	for _, t := range times {
		if !t.Before(from) && t.Before(to) {
			in = append(in, t)
		}
	}
	span := to.Sub(from).Seconds()
	if span <= 0 || len(in) == 0 {
		return Rate{}
	}
	slices.SortFunc(in, func(a, b time.Time) int { return a.Compare(b) })
	peak, j := 0, 0
	for i := range in {
		for in[i].Sub(in[j]) >= window {
			j++
		}
		peak = max(peak, i-j+1)
	}
	return Rate{Mean: float64(len(in)) / span, Peak: float64(peak) / math.Min(window.Seconds(), span)}
}

// LockWatch samples a store's lock keys, to see how long locks are held
// and what time to live they have.
type LockWatch struct {
	rdb     redis.UniversalClient
	pattern string
	stop    chan struct{}
	done    chan struct{}

	mu     sync.Mutex
	held   map[string][2]time.Time // guarded by mu: lock name and token → first and last seen
	maxTTL time.Duration           // guarded by mu
	errors int                     // guarded by mu: failed samples
}

// LockReport is what a LockWatch saw.
type LockReport struct {
	Locks       int           // locks seen (a name with a token)
	LongestHeld time.Duration // between the first and last sample that saw one lock
	LongestTTL  time.Duration // the longest time to live a lock had
	Errors      int           // samples that failed (a server down)
}

// WatchLocks samples the keys matching pattern through rdb every period,
// on every master, until Stop.
func WatchLocks(rdb redis.UniversalClient, pattern string, period time.Duration) *LockWatch {
	w := &LockWatch{rdb: rdb, pattern: pattern, stop: make(chan struct{}), done: make(chan struct{}), held: map[string][2]time.Time{}}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(period)
		defer tick.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
			w.sample()
		}
	}()
	return w
}

func (w *LockWatch) sample() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	scan := func(ctx context.Context, c *redis.Client) error {
		keys, _, err := c.Scan(ctx, 0, w.pattern, 1000).Result()
		if err != nil {
			return err
		}
		now := time.Now()
		for _, k := range keys {
			token, err := c.Get(ctx, k).Result()
			if err != nil {
				continue // gone since the scan
			}
			ttl, err := c.PTTL(ctx, k).Result()
			if err != nil {
				continue
			}
			w.mu.Lock()
			seen, ok := w.held[k+" "+token]
			if !ok {
				seen[0] = now
			}
			seen[1] = now
			w.held[k+" "+token] = seen
			switch {
			case ttl == -1: // no TTL at all (go-redis's -1 ns)
				ttl = time.Duration(math.MaxInt64)
			case ttl < 0: // gone since the GET
				w.mu.Unlock()
				continue
			}
			w.maxTTL = max(w.maxTTL, ttl)
			w.mu.Unlock()
		}
		return nil
	}
	var err error
	switch c := w.rdb.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, scan)
	case *redis.Client:
		err = scan(ctx, c)
	default:
		err = fmt.Errorf("fleettest: cannot scan through a %T", w.rdb)
	}
	if err != nil {
		w.mu.Lock()
		w.errors++
		w.mu.Unlock()
	}
}

// Stop stops sampling and reports.
func (w *LockWatch) Stop() LockReport {
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	r := LockReport{Locks: len(w.held), LongestTTL: w.maxTTL, Errors: w.errors}
	for _, seen := range w.held {
		r.LongestHeld = max(r.LongestHeld, seen[1].Sub(seen[0]))
	}
	return r
}
