// Package fleettest runs what one host of a fleet runs, for the fleet
// benchmark and the fault tests of a shared cache: one ChainableProvider
// per customer role, each assumed with an external ID from one hub role,
// itself assumed from a user; callers that call Retrieve on all of them
// continuously; and counters of what happened, per phase of a run.
package fleettest

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/stschain/stschain"
)

// Customer is one customer's role, which trusts the hub role with an
// external ID.
type Customer struct {
	RoleARN    string
	ExternalID string
}

// HostConfig configures a Host.
type HostConfig struct {
	// STSURL is the STS endpoint (ststest's URL).
	STSURL string
	// AccessKeyID and SecretKey are the user's long-term keys.
	AccessKeyID, SecretKey string
	// HubRole is the role assumed from the user; each customer role is
	// assumed from it.
	HubRole string
	// Customers are the customer roles, one provider each.
	Customers []Customer
	// Cache is every provider's cache; nil for none (every host calls STS
	// for itself).
	Cache stschain.Cache
	// Prefetch and Expiry are the customer providers' windows.
	Prefetch, Expiry time.Duration
	// Callers is how many goroutines call Retrieve on every provider.
	Callers int
	// Pause is each caller's pause between two sweeps over the providers.
	Pause time.Duration
	// Phases is how many phases the Host counts apart.
	Phases int
}

// Stats is what a host saw in one phase.
type Stats struct {
	Retrieves         int64
	Errors            int64 // Retrieve errors, and expired or empty credentials returned
	FirstError        string
	MaxRetrieve       time.Duration // slowest Retrieve
	RefreshSTS        int64         // customer refreshes that called STS
	RefreshCache      int64         // customer refreshes served by the cache
	RefreshFailed     int64         // customer refreshes that failed (kept or not)
	MaxRefresh        time.Duration // slowest customer refresh
	HubSTS, HubCache  int64         // the hub link's refreshes
	CacheWarnings     int64         // warnings the providers logged (cache errors)
	FirstCacheWarning string
	// STSTimes are when the customer refreshes that called STS ended.
	STSTimes []time.Time
}

// Add adds o's counts to s, keeping the first error and warning seen.
func (s *Stats) Add(o Stats) {
	s.Retrieves += o.Retrieves
	s.Errors += o.Errors
	if s.FirstError == "" {
		s.FirstError = o.FirstError
	}
	s.MaxRetrieve = max(s.MaxRetrieve, o.MaxRetrieve)
	s.RefreshSTS += o.RefreshSTS
	s.RefreshCache += o.RefreshCache
	s.RefreshFailed += o.RefreshFailed
	s.MaxRefresh = max(s.MaxRefresh, o.MaxRefresh)
	s.HubSTS += o.HubSTS
	s.HubCache += o.HubCache
	s.CacheWarnings += o.CacheWarnings
	if s.FirstCacheWarning == "" {
		s.FirstCacheWarning = o.FirstCacheWarning
	}
	s.STSTimes = append(s.STSTimes, o.STSTimes...)
}

// counters is Stats being counted, safe for concurrent use.
type counters struct {
	retrieves, errors, maxRetrieve            atomic.Int64
	refreshSTS, refreshCache, refreshFailed   atomic.Int64
	maxRefresh, hubSTS, hubCache, cacheWarned atomic.Int64
	mu                                        sync.Mutex
	firstError, firstWarning                  string      // guarded by mu
	stsTimes                                  []time.Time // guarded by mu
}

func storeMax(v *atomic.Int64, d time.Duration) {
	for {
		old := v.Load()
		if int64(d) <= old || v.CompareAndSwap(old, int64(d)) {
			return
		}
	}
}

func (c *counters) snapshot() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Stats{
		Retrieves: c.retrieves.Load(), Errors: c.errors.Load(), FirstError: c.firstError,
		MaxRetrieve: time.Duration(c.maxRetrieve.Load()),
		RefreshSTS:  c.refreshSTS.Load(), RefreshCache: c.refreshCache.Load(), RefreshFailed: c.refreshFailed.Load(),
		MaxRefresh: time.Duration(c.maxRefresh.Load()),
		HubSTS:     c.hubSTS.Load(), HubCache: c.hubCache.Load(),
		CacheWarnings: c.cacheWarned.Load(), FirstCacheWarning: c.firstWarning,
		STSTimes: append([]time.Time(nil), c.stsTimes...),
	}
}

// Host is one host of a fleet. Create one with NewHost.
type Host struct {
	cfg       HostConfig
	providers []*stschain.ChainableProvider
	phase     atomic.Int32
	stats     []counters // one per phase
	stop      atomic.Bool
	callers   sync.WaitGroup

	mu sync.Mutex
	// refreshes is, per customer role, its provider's successful
	// refreshes, in order (see Refreshes). Guarded by mu.
	refreshes map[string][]Refresh
	// last is, per customer role, the expiry of the session its provider
	// has (Unix milliseconds). Guarded by mu.
	last map[string]int64
}

// Refreshes returns, per customer role, the successful refreshes of its
// provider, in order, its first fetch first. A failed refresh keeps the
// session, so it is not listed (Stats counts it). CountRounds tells the
// hosts' rounds from them.
func (h *Host) Refreshes() map[string][]Refresh {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string][]Refresh, len(h.refreshes))
	for role, seq := range h.refreshes {
		out[role] = slices.Clone(seq)
	}
	return out
}

// NewHost builds the hub provider and one provider per customer role.
func NewHost(cfg HostConfig) (*Host, error) {
	h := &Host{cfg: cfg, stats: make([]counters, max(cfg.Phases, 1)), refreshes: make(map[string][]Refresh), last: make(map[string]int64)}
	awsCfg := aws.Config{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(cfg.STSURL),
		Credentials:  credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretKey, ""),
		HTTPClient: &http.Client{Transport: &http.Transport{
			MaxIdleConns:        256,
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     time.Minute,
		}},
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) { o.MaxBackoff = 100 * time.Millisecond })
		},
	}
	logger := slog.New(warnCounter{h: h})
	hub, err := stschain.New(awsCfg, func(o *stschain.Options) {
		o.RoleARN = cfg.HubRole
		o.RoleSessionName = "saas-hub"
		o.Cache = cfg.Cache
		o.Logger = logger
		o.OnRefresh = h.onRefresh
	})
	if err != nil {
		return nil, err
	}
	for _, c := range cfg.Customers {
		p, err := stschain.New(awsCfg, func(o *stschain.Options) {
			o.RoleARN = c.RoleARN
			o.ExternalID = c.ExternalID
			o.RoleSessionName = "saas"
			o.MasterCredentials = hub
			o.Cache = cfg.Cache
			o.PrefetchWindow = cfg.Prefetch
			o.ExpiryWindow = cfg.Expiry
			o.Logger = logger
			o.OnRefresh = h.onRefresh
		})
		if err != nil {
			return nil, err
		}
		h.providers = append(h.providers, p)
	}
	return h, nil
}

// SetPhase makes what happens from now on count in phase p.
func (h *Host) SetPhase(p int) { h.phase.Store(int32(p)) }

// Stats returns what happened in phase p so far.
func (h *Host) Stats(p int) Stats { return h.stats[p].snapshot() }

func (h *Host) cur() *counters { return &h.stats[h.phase.Load()] }

func (h *Host) onRefresh(ev stschain.RefreshEvent) {
	c := h.cur()
	if ev.Link == h.cfg.HubRole {
		switch ev.Outcome {
		case stschain.RefreshOK:
			c.hubSTS.Add(1)
		case stschain.RefreshFromCache:
			c.hubCache.Add(1)
		}
		return
	}
	switch ev.Outcome {
	case stschain.RefreshOK:
		c.refreshSTS.Add(1)
		c.mu.Lock()
		c.stsTimes = append(c.stsTimes, time.Now())
		c.mu.Unlock()
	case stschain.RefreshFromCache:
		c.refreshCache.Add(1)
	default:
		c.refreshFailed.Add(1)
	}
	storeMax(&c.maxRefresh, ev.Latency)
	if ev.Outcome == stschain.RefreshOK || ev.Outcome == stschain.RefreshFromCache {
		h.mu.Lock()
		r := Refresh{Phase: int(h.phase.Load()), STS: ev.Outcome == stschain.RefreshOK, Expires: ev.Expires.UnixMilli(), Replaced: h.last[ev.Link]}
		h.refreshes[ev.Link] = append(h.refreshes[ev.Link], r)
		h.last[ev.Link] = r.Expires
		h.mu.Unlock()
	}
}

// warnCounter is a slog.Handler counting the providers' warnings.
type warnCounter struct{ h *Host }

func (w warnCounter) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (w warnCounter) Handle(_ context.Context, r slog.Record) error {
	c := w.h.cur()
	if c.cacheWarned.Add(1) == 1 {
		var b strings.Builder
		b.WriteString(r.Message)
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "error" {
				b.WriteString(": " + a.Value.String())
			}
			return true
		})
		c.mu.Lock()
		c.firstWarning = b.String()
		c.mu.Unlock()
	}
	return nil
}

func (w warnCounter) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w warnCounter) WithGroup(string) slog.Handler      { return w }

// Warmup retrieves every provider once, all at once, as a fleet starting
// together does, within ctx.
func (h *Host) Warmup(ctx context.Context) {
	var wg sync.WaitGroup
	for _, p := range h.providers {
		wg.Go(func() { h.retrieve(ctx, p) })
	}
	wg.Wait()
}

// Start starts the callers, which sweep over all providers until Stop.
func (h *Host) Start() {
	for i := range max(h.cfg.Callers, 1) {
		h.callers.Go(func() { h.call(i) })
	}
}

// Stop stops the callers and waits for them.
func (h *Host) Stop() {
	h.stop.Store(true)
	h.callers.Wait()
}

// call sweeps over all providers, starting at a different one for each
// caller, until Stop.
func (h *Host) call(offset int) {
	ctx := context.Background()
	n := len(h.providers)
	for !h.stop.Load() {
		for i := range n {
			h.retrieve(ctx, h.providers[(i+offset*n/max(h.cfg.Callers, 1))%n])
		}
		time.Sleep(h.cfg.Pause)
	}
}

func (h *Host) retrieve(ctx context.Context, p *stschain.ChainableProvider) {
	start := time.Now()
	creds, err := p.Retrieve(ctx)
	d := time.Since(start)
	c := h.cur()
	c.retrieves.Add(1)
	storeMax(&c.maxRetrieve, d)
	switch {
	case err != nil:
	case !creds.HasKeys():
		err = fmt.Errorf("%v returned credentials without keys", p)
	case creds.CanExpire && !time.Now().Before(creds.Expires):
		err = fmt.Errorf("%v returned credentials that expired at %v", p, creds.Expires)
	}
	if err != nil && c.errors.Add(1) == 1 {
		c.mu.Lock()
		c.firstError = err.Error()
		c.mu.Unlock()
	}
}

// Progress is how far a Host's refreshes have come.
type Progress struct {
	// Rounds is the fewest refreshes a customer role's provider has made
	// after its first fetch.
	Rounds int
	// InPhase is the fewest refreshes a customer role's provider has made
	// in the current phase.
	InPhase int
	// STS is how many customer refreshes called STS, first fetches
	// included.
	STS int
}

// Progress says how far the host's refreshes have come.
func (h *Host) Progress() Progress {
	phase := int(h.phase.Load())
	h.mu.Lock()
	defer h.mu.Unlock()
	p := Progress{Rounds: -1, InPhase: -1}
	for _, c := range h.cfg.Customers {
		seq := h.refreshes[c.RoleARN]
		inPhase := 0
		for _, r := range seq {
			if r.Phase == phase {
				inPhase++
			}
			if r.STS {
				p.STS++
			}
		}
		if p.Rounds < 0 || len(seq)-1 < p.Rounds {
			p.Rounds = len(seq) - 1
		}
		if p.InPhase < 0 || inPhase < p.InPhase {
			p.InPhase = inPhase
		}
	}
	p.Rounds, p.InPhase = max(p.Rounds, 0), max(p.InPhase, 0)
	return p
}
