package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/redis/go-redis/v9"
	"github.com/stschain/stschain"
	"github.com/stschain/stschain/rediscache"
)

// Phases of a run. A worker counts each event in the phase current when it
// happens; the parent moves the workers on with "phase N" lines.
const (
	phaseWarmup = iota // every provider's first Retrieve, cold cache
	phaseRedis         // refresh rounds with Redis
	phaseOutage        // redis-server killed
	numPhases
)

// workerConfig is the first line a worker reads on its standard input.
type workerConfig struct {
	Index        int
	STSURL       string
	RedisAddr    string
	Key          []byte // the sealing key (JSON: base64)
	AccessKeyID  string // the SaaS user's long-term key
	SecretKey    string
	HubRole      string
	Customers    []customer
	Prefetch     time.Duration
	Expiry       time.Duration
	Callers      int
	Pause        time.Duration
	WarmupBudget time.Duration
}

type customer struct {
	RoleARN    string
	ExternalID string
}

// phaseStats is what a worker saw in one phase.
type phaseStats struct {
	Retrieves         int64
	Errors            int64
	FirstError        string
	MaxRetrieve       time.Duration // slowest Retrieve
	RefreshSTS        int64         // customer refreshes that called STS
	RefreshCache      int64         // customer refreshes served by Redis
	RefreshFailed     int64         // customer refreshes that failed (kept or not)
	MaxRefresh        time.Duration // slowest customer refresh
	HubSTS, HubCache  int64         // the hub link's refreshes
	CacheWarnings     int64         // warnings the providers logged (cache errors)
	FirstCacheWarning string
}

// workerReport is the last line a worker writes on its standard output.
type workerReport struct {
	Index  int
	Phases [numPhases]phaseStats
}

// counters is phaseStats being counted, safe for concurrent use.
type counters struct {
	retrieves, errors, maxRetrieve            atomic.Int64
	refreshSTS, refreshCache, refreshFailed   atomic.Int64
	maxRefresh, hubSTS, hubCache, cacheWarned atomic.Int64
	mu                                        sync.Mutex
	firstError, firstWarning                  string // guarded by mu
}

func storeMax(v *atomic.Int64, d time.Duration) {
	for {
		old := v.Load()
		if int64(d) <= old || v.CompareAndSwap(old, int64(d)) {
			return
		}
	}
}

func (c *counters) snapshot() phaseStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return phaseStats{
		Retrieves: c.retrieves.Load(), Errors: c.errors.Load(), FirstError: c.firstError,
		MaxRetrieve: time.Duration(c.maxRetrieve.Load()),
		RefreshSTS:  c.refreshSTS.Load(), RefreshCache: c.refreshCache.Load(), RefreshFailed: c.refreshFailed.Load(),
		MaxRefresh: time.Duration(c.maxRefresh.Load()),
		HubSTS:     c.hubSTS.Load(), HubCache: c.hubCache.Load(),
		CacheWarnings: c.cacheWarned.Load(), FirstCacheWarning: c.firstWarning,
	}
}

// worker is one worker process's state.
type worker struct {
	cfg    workerConfig
	phase  atomic.Int32
	stats  [numPhases]counters
	hubARN string
}

func (w *worker) cur() *counters { return &w.stats[w.phase.Load()] }

func (w *worker) onRefresh(ev stschain.RefreshEvent) {
	c := w.cur()
	if ev.Link == w.hubARN {
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
	case stschain.RefreshFromCache:
		c.refreshCache.Add(1)
	default:
		c.refreshFailed.Add(1)
	}
	storeMax(&c.maxRefresh, ev.Latency)
}

// warnCounter is a slog.Handler counting the providers' warnings.
type warnCounter struct{ w *worker }

func (h warnCounter) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (h warnCounter) Handle(_ context.Context, r slog.Record) error {
	c := h.w.cur()
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

func (h warnCounter) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h warnCounter) WithGroup(string) slog.Handler      { return h }

// workerMain runs a worker: it reads its workerConfig, builds the
// providers, fetches every one once, writes "ready", calls Retrieve until
// "stop" (or the end of its input) and writes its workerReport.
func workerMain(stdin io.Reader, stdout, stderr io.Writer) int {
	// go-redis logs its failed dials process-wide; the outage makes many.
	redis.SetLogger(quietRedisLogger{})
	in := bufio.NewScanner(stdin)
	in.Buffer(make([]byte, 0, 1<<20), 1<<24)
	if !in.Scan() {
		fmt.Fprintln(stderr, "fleet worker: no configuration on standard input")
		return 2
	}
	var cfg workerConfig
	if err := json.Unmarshal(in.Bytes(), &cfg); err != nil {
		fmt.Fprintln(stderr, "fleet worker: configuration:", err)
		return 2
	}
	w := &worker{cfg: cfg, hubARN: cfg.HubRole}
	providers, closeFn, err := w.build()
	if err != nil {
		fmt.Fprintf(stderr, "fleet worker %d: %v\n", cfg.Index, err)
		return 2
	}
	defer closeFn()

	w.warmup(providers)
	fmt.Fprintln(stdout, "ready")

	var stop atomic.Bool
	var wg sync.WaitGroup
	for i := range cfg.Callers {
		wg.Go(func() { w.call(providers, i, &stop) })
	}
	for in.Scan() {
		line := in.Text()
		if line == "stop" {
			break
		}
		if n, ok := strings.CutPrefix(line, "phase "); ok {
			if p, err := strconv.Atoi(n); err == nil && p >= 0 && p < numPhases {
				w.phase.Store(int32(p))
			}
		}
	}
	stop.Store(true)
	wg.Wait()

	rep := workerReport{Index: cfg.Index}
	for i := range rep.Phases {
		rep.Phases[i] = w.stats[i].snapshot()
	}
	out, err := json.Marshal(rep)
	if err != nil {
		fmt.Fprintln(stderr, "fleet worker:", err)
		return 1
	}
	fmt.Fprintln(stdout, string(out))
	return 0
}

type quietRedisLogger struct{}

func (quietRedisLogger) Printf(context.Context, string, ...any) {}

// build makes the Redis client, the cache, the hub provider and one
// provider per customer role.
func (w *worker) build() ([]*stschain.ChainableProvider, func(), error) {
	cfg := w.cfg
	rdb := redis.NewClient(&redis.Options{
		Addr: cfg.RedisAddr,
		// A miss costs an STS call, a retry the caller's time.
		DialerRetries: 1,
		MaxRetries:    -1,
	})
	cache, err := rediscache.New(rdb, cfg.Key)
	clear(cfg.Key)
	if err != nil {
		_ = rdb.Close()
		return nil, nil, err
	}
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
	logger := slog.New(warnCounter{w: w})
	hub, err := stschain.New(awsCfg, func(o *stschain.Options) {
		o.RoleARN = cfg.HubRole
		o.RoleSessionName = "saas-hub"
		o.Cache = cache
		o.Logger = logger
		o.OnRefresh = w.onRefresh
	})
	if err != nil {
		_ = rdb.Close()
		return nil, nil, err
	}
	providers := make([]*stschain.ChainableProvider, len(cfg.Customers))
	for i, c := range cfg.Customers {
		p, err := stschain.New(awsCfg, func(o *stschain.Options) {
			o.RoleARN = c.RoleARN
			o.ExternalID = c.ExternalID
			o.RoleSessionName = "saas"
			o.MasterCredentials = hub
			o.Cache = cache
			o.PrefetchWindow = cfg.Prefetch
			o.ExpiryWindow = cfg.Expiry
			o.Logger = logger
			o.OnRefresh = w.onRefresh
		})
		if err != nil {
			_ = rdb.Close()
			return nil, nil, err
		}
		providers[i] = p
	}
	return providers, func() { _ = rdb.Close() }, nil
}

// warmup retrieves every provider once, all at once, as a fleet starting
// together does.
func (w *worker) warmup(providers []*stschain.ChainableProvider) {
	ctx, cancel := context.WithTimeout(context.Background(), w.cfg.WarmupBudget)
	defer cancel()
	var wg sync.WaitGroup
	for _, p := range providers {
		wg.Go(func() { w.retrieve(ctx, p) })
	}
	wg.Wait()
}

// call sweeps over all providers, starting at a different one for each
// caller, until stop.
func (w *worker) call(providers []*stschain.ChainableProvider, offset int, stop *atomic.Bool) {
	ctx := context.Background()
	n := len(providers)
	for !stop.Load() {
		for i := range n {
			w.retrieve(ctx, providers[(i+offset*n/max(w.cfg.Callers, 1))%n])
		}
		time.Sleep(w.cfg.Pause)
	}
}

func (w *worker) retrieve(ctx context.Context, p *stschain.ChainableProvider) {
	start := time.Now()
	creds, err := p.Retrieve(ctx)
	d := time.Since(start)
	c := w.cur()
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
