package stschain

import (
	"errors"
	"fmt"
	"hash/maphash"
	"maps"
	"math"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go/metrics"

	"github.com/stschain/stschain/internal/redact"
)

// Defaults of [PoolOptions].
const (
	// DefaultMaxConcurrentRefreshes is how many STS calls a Pool makes at
	// once when PoolOptions.MaxConcurrentRefreshes is zero.
	DefaultMaxConcurrentRefreshes = 32
	// DefaultIdleTimeout is how long a Pool keeps a provider nobody asks
	// for when PoolOptions.IdleTimeout is zero.
	DefaultIdleTimeout = time.Hour
)

// PoolOptions configures a [Pool]. The zero value of every field is valid
// and means the default its comment gives.
type PoolOptions struct {
	// Options are applied to every provider of the pool before its own
	// (MasterCredentials, windows, Logger, Cache ...). Client and
	// STSOptions, when set here, make the pool's one STS client. Optional.
	Options []func(*Options)

	// MaxConcurrentRefreshes bounds the STS calls in flight at once across
	// the pool; background refreshes wait in a queue for one of as many
	// workers, and the HTTP client NewPool builds keeps as many idle
	// connections, and no more. Optional: zero means
	// DefaultMaxConcurrentRefreshes.
	MaxConcurrentRefreshes int

	// MaxCallsPerSecond bounds the STS calls per second across the pool.
	// A rate too low to refresh every provider within its lifetime is
	// logged. Optional: zero means no limit.
	MaxCallsPerSecond float64

	// IdleTimeout is how long a provider nobody asks for (neither Get nor
	// Retrieve) stays in the pool: it is dropped after between IdleTimeout
	// and twice that, and stops refreshing; a later Get makes a new one.
	// Optional: zero means DefaultIdleTimeout; negative keeps providers for
	// ever.
	IdleTimeout time.Duration

	// MeterProvider records the metrics of every provider of the pool on
	// one set of instruments (see Options.MeterProvider), each provider a
	// link. Optional: nil records none. Options.MeterProvider is refused
	// in a pool's options.
	MeterProvider metrics.MeterProvider
}

// Pool is a set of providers that share one STS client (one retryer, one
// retry quota) and one refresh budget: at most MaxConcurrentRefreshes STS
// calls at once and MaxCallsPerSecond a second, background refreshes run
// by at most MaxConcurrentRefreshes goroutines, and a throttling answer
// (Throttling, ThrottlingException, RequestLimitExceeded ...) pauses the
// refreshes of the whole pool while callers keep their unexpired
// credentials. It is what a service that assumes a role in each of
// thousands of accounts through one hub role wants: one Pool, one Get per
// account.
//
// Providers made together (a cold start) would refresh together for ever
// after: their first refreshes are spread over their first sessions. None
// comes before the cold start is over, when every provider Get made has
// fetched credentials (or was dropped), nor before a tenth of a provider's
// session has passed since its own fetch; each then falls at random
// between that moment and the provider's prefetch point. So a cold start
// makes one STS call per provider however long it lasts, as long as it
// ends before the first sessions reach their prefetch points.
//
// A Pool is safe for concurrent use. Create one with [NewPool].
type Pool struct {
	// impl is set once by NewPool, behind an atomic.Pointer so that no fmt
	// verb applied to a Pool value reaches the providers' secrets.
	impl atomic.Pointer[pool]
}

type pool struct {
	// Set by NewPool, read-only afterwards.
	template []func(*Options)
	master   aws.CredentialsProvider // cfg.Credentials; may be nil
	client   STSClient
	lc       *linkConfig   // shared by providers that change none of it
	ec       *engineConfig // likewise
	budget   *budget
	workers  *workers
	cold     coldStart
	idle     time.Duration // <= 0: never drop
	seed     maphash.Seed
	meters   *meters // of PoolOptions.MeterProvider; nil: none

	mu        sync.Mutex
	providers map[uint64][]*ChainableProvider // by poolKey; guarded by mu
	size      int                             // providers in the map; guarded by mu
	sweep     *time.Timer                     // armed while the pool is not empty; guarded by mu
}

// NewPool returns a pool of providers that share one STS client and one refresh budget.
//
// The client is built once from cfg, as New builds a provider's (with
// PoolOptions.Options' STSOptions), with the SDK's adaptive retry mode
// (client-side rate limiting after throttling) unless cfg.Retryer is set;
// PoolOptions.Options' Client replaces it. cfg.Credentials is the master of
// providers whose Options set none.
func NewPool(cfg aws.Config, optFns ...func(*PoolOptions)) (*Pool, error) {
	var po PoolOptions
	for _, fn := range optFns {
		if fn != nil {
			fn(&po)
		}
	}
	var errs []error
	if po.MaxConcurrentRefreshes < 0 {
		errs = append(errs, fmt.Errorf("MaxConcurrentRefreshes %d is negative: want 0 (default %d) or more", po.MaxConcurrentRefreshes, DefaultMaxConcurrentRefreshes))
	}
	if po.MaxCallsPerSecond < 0 || math.IsNaN(po.MaxCallsPerSecond) || math.IsInf(po.MaxCallsPerSecond, 0) {
		errs = append(errs, fmt.Errorf("MaxCallsPerSecond %v is invalid: want 0 (no limit) or a positive rate", po.MaxCallsPerSecond))
	}
	if holdsNil(cfg.Credentials) {
		errs = append(errs, fmt.Errorf("cfg.Credentials is a nil %T: set it to a usable value or leave it nil", cfg.Credentials))
	}
	base := resolveOptions(po.Options)
	for _, e := range []error{windowProblem(&base), nilProblem(&base)} {
		if e != nil {
			errs = append(errs, e)
		}
	}
	if base.MeterProvider != nil {
		errs = append(errs, errors.New("Options.MeterProvider belongs to the pool: set PoolOptions.MeterProvider"))
	}
	if holdsNil(po.MeterProvider) {
		errs = append(errs, fmt.Errorf("PoolOptions.MeterProvider is a nil %T: set it to a usable value or leave it nil", po.MeterProvider))
	}
	if len(errs) > 0 {
		return nil, invalidOptions(errs...)
	}
	ms, err := newMeters(po.MeterProvider)
	if err != nil {
		return nil, invalidOptions(err)
	}

	master := base.MasterCredentials
	if master == nil {
		master = cfg.Credentials
	}
	workersMax := po.MaxConcurrentRefreshes
	if workersMax == 0 {
		workersMax = DefaultMaxConcurrentRefreshes
	}
	client := base.Client
	if client == nil {
		if cfg.Retryer == nil {
			cfg.Retryer = func() aws.Retryer { return retry.NewAdaptiveMode() }
		}
		// Keep as many connections as calls may be in flight, so that
		// calls reuse them instead of opening new ones, and no more: a
		// connection dialled while another came free is closed.
		idle := func(t *http.Transport) {
			t.MaxIdleConnsPerHost, t.MaxIdleConns = workersMax, workersMax
		}
		switch c := cfg.HTTPClient.(type) {
		case nil:
			cfg.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(idle)
		case *awshttp.BuildableClient:
			cfg.HTTPClient = c.WithTransportOptions(idle)
		}
		// One retryer for the whole pool: the client keeps the one it
		// makes from cfg.Retryer.
		var err error
		if client, err = newSTSClient(cfg, master, base.STSOptions); err != nil {
			return nil, invalidOptions(err)
		}
	}
	p := &pool{
		template:  slices.Clone(po.Options),
		master:    cfg.Credentials,
		client:    client,
		workers:   &workers{max: workersMax},
		idle:      po.IdleTimeout,
		seed:      maphash.MakeSeed(),
		providers: map[uint64][]*ChainableProvider{},
		meters:    ms,
	}
	if p.idle == 0 {
		p.idle = DefaultIdleTimeout
	}
	p.lc, p.ec = configsOf(&base, client)
	p.budget = newBudget(workersMax, po.MaxCallsPerSecond, p.lc.logger)
	p.share(p.lc, p.ec)
	out := new(Pool)
	out.impl.Store(p)
	if err := watch(ms, out, p.each); err != nil {
		return nil, invalidOptions(err)
	}
	return out, nil
}

// each hands observe the link and the current state of every provider.
func (p *pool) each(observe func(link string, s *snapshot)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, list := range p.providers {
		for _, c := range list {
			r := &c.impl.Load().refresh
			observe(r.name, r.state.Load())
		}
	}
}

// Get returns the pool's provider for these options, creating it on first use:
// the same STS parameters and the same master give the same provider.
//
// optFns are applied after PoolOptions.Options. The STS parameters are
// RoleARN, RoleSessionName, Duration, ExternalID, Policy, PolicyARNs, Tags,
// TransitiveTagKeys, SourceIdentity and SerialNumber; masters are the same
// when they are == (use pointers: a *ChainableProvider hub, an
// *aws.CredentialsCache), or, for types that cannot be compared, when
// reflect.DeepEqual says so. Other options (windows, Logger, Cache ...)
// are those of the call that created the provider. Client and STSOptions
// belong to the pool and are refused here. Get validates as New does, and
// its errors wrap ErrInvalidOptions.
func (p *Pool) Get(optFns ...func(*Options)) (*ChainableProvider, error) {
	return p.impl.Load().get(optFns)
}

// Len returns how many providers the pool holds.
func (p *Pool) Len() int {
	pl := p.impl.Load()
	pl.mu.Lock()
	defer pl.mu.Unlock()
	return pl.size
}

// String describes the pool without any secret.
func (p *Pool) String() string {
	return "stschain.Pool{" + strconv.Itoa(p.Len()) + " providers}"
}

// Format prints String() for every verb.
func (p *Pool) Format(f fmt.State, verb rune) { redact.Format(f, verb, p.String()) }

func (p *pool) get(optFns []func(*Options)) (*ChainableProvider, error) {
	own := resolveOptions(optFns)
	if own.Client != nil || len(own.STSOptions) > 0 {
		return nil, invalidOptions(errors.New("Client and STSOptions belong to the pool: set them in PoolOptions.Options"))
	}
	if own.MeterProvider != nil {
		return nil, invalidOptions(errors.New("MeterProvider belongs to the pool: set PoolOptions.MeterProvider"))
	}
	o := resolveOptions(append(slices.Clip(p.template), optFns...))
	if err := o.validate(); err != nil {
		return nil, err
	}
	master := o.MasterCredentials
	if master == nil {
		master = p.master
	}
	if master == nil {
		return nil, invalidOptions(fmt.Errorf("%w (link %s)", ErrNoMasterCredentials, linkName(o.RoleARN)))
	}
	params := o.linkParams()
	key := p.key(&params, master)

	p.mu.Lock()
	for _, c := range p.providers[key] {
		if l := &c.impl.Load().link; sameParams(&l.params, &params) && sameMaster(l.master, master) {
			p.mu.Unlock()
			c.impl.Load().refresh.use.Or(asked)
			return c, nil
		}
	}
	p.mu.Unlock()

	lc, ec := p.lc, p.ec
	if own.Logger != nil || own.OnRefresh != nil || own.Cache != nil || own.CodeGuard != nil || own.TracerProvider != nil ||
		own.ExpiryWindow != 0 || own.PrefetchWindow != 0 || own.DisableJitter {
		lc, ec = configsOf(&o, p.client)
		p.share(lc, ec)
	}
	c, err := newProvider(&o, master, lc, ec)
	if err != nil {
		return nil, err
	}
	c.impl.Load().refresh.use.Or(asked)

	p.mu.Lock()
	defer p.mu.Unlock()
	for _, other := range p.providers[key] { // made by a Get that raced this one
		if l := &other.impl.Load().link; sameParams(&l.params, &params) && sameMaster(l.master, master) {
			return other, nil
		}
	}
	p.providers[key] = append(p.providers[key], c)
	p.size++
	p.cold.add(&c.impl.Load().refresh)
	p.budget.size.Store(int64(p.size))
	if p.idle > 0 && p.sweep == nil {
		p.sweep = time.AfterFunc(p.idle, p.dropIdle)
	}
	return c, nil
}

// share makes the providers of configurations lc and ec use the pool's
// budget and workers, and spreads their first refreshes with its cold
// start.
func (p *pool) share(lc *linkConfig, ec *engineConfig) {
	lc.budget, ec.background, ec.firstFetched = p.budget, p.workers, p.cold.fetched
	ec.meters = p.meters
}

// dropIdle drops the providers nobody asked for since the last sweep, and
// arms the next sweep while providers are left.
func (p *pool) dropIdle() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for key, list := range p.providers {
		kept := list[:0]
		for _, c := range list {
			r := &c.impl.Load().refresh
			if r.use.And(^asked)&asked != 0 {
				kept = append(kept, c)
				continue
			}
			r.stop()
			p.cold.dropped(r)
			p.size--
		}
		if len(kept) == 0 {
			delete(p.providers, key)
		} else {
			clear(list[len(kept):])
			p.providers[key] = kept
		}
	}
	p.budget.size.Store(int64(p.size))
	if p.size == 0 {
		p.sweep = nil
		return
	}
	p.sweep.Reset(p.idle)
}

// key hashes the STS parameters and the master's identity.
func (p *pool) key(lp *linkParams, master aws.CredentialsProvider) uint64 {
	var h maphash.Hash
	h.SetSeed(p.seed)
	for _, s := range []string{lp.RoleARN, lp.RoleSessionName, lp.ExternalID, lp.Policy, lp.SourceIdentity, lp.SerialNumber} {
		writeField(&h, s)
	}
	writeField(&h, strconv.FormatInt(int64(lp.Duration), 10))
	for _, list := range [][]string{lp.PolicyARNs, lp.TransitiveTagKeys} {
		writeField(&h, strconv.Itoa(len(list)))
		for _, s := range list {
			writeField(&h, s)
		}
	}
	writeField(&h, strconv.Itoa(len(lp.Tags)))
	for _, k := range slices.Sorted(maps.Keys(lp.Tags)) {
		writeField(&h, k)
		writeField(&h, lp.Tags[k])
	}
	writeField(&h, reflect.TypeOf(master).String())
	sum := h.Sum64()
	if reflect.TypeOf(master).Comparable() {
		sum ^= maphash.Comparable(p.seed, master)
	}
	return sum
}

// writeField writes s length-first, so that no two lists of fields hash
// the same bytes.
func writeField(h *maphash.Hash, s string) {
	_, _ = h.WriteString(strconv.Itoa(len(s)))
	_ = h.WriteByte(':')
	_, _ = h.WriteString(s)
}

// sameParams reports whether a and b ask STS for the same session.
func sameParams(a, b *linkParams) bool {
	return a.RoleARN == b.RoleARN && a.RoleSessionName == b.RoleSessionName && a.Duration == b.Duration &&
		a.ExternalID == b.ExternalID && a.Policy == b.Policy && a.SourceIdentity == b.SourceIdentity &&
		a.SerialNumber == b.SerialNumber && slices.Equal(a.PolicyARNs, b.PolicyARNs) &&
		slices.Equal(a.TransitiveTagKeys, b.TransitiveTagKeys) && maps.Equal(a.Tags, b.Tags)
}

// sameMaster reports whether a and b are the same master: == where their
// type can be compared, reflect.DeepEqual where it cannot.
func sameMaster(a, b aws.CredentialsProvider) bool {
	if reflect.TypeOf(a) != reflect.TypeOf(b) {
		return false
	}
	if reflect.TypeOf(a).Comparable() {
		return a == b
	}
	return reflect.DeepEqual(a, b)
}
