package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stschain/stschain"
)

// memoryResult is the heap each provider takes, its credentials not yet
// fetched.
type memoryResult struct {
	variant  string
	n        int
	perProvB float64
}

// measureMemory builds n providers of variant and returns the heap they
// (and a pool around them) take, per provider.
func measureMemory(variant string, n int) (memoryResult, error) {
	nm := newNames(n)
	cfg := awsConfig("http://127.0.0.1:9")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	ps, keep, err := providers(variant, cfg, nm, nil)
	if err != nil {
		return memoryResult{}, err
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(ps)
	runtime.KeepAlive(keep)
	runtime.KeepAlive(nm)
	return memoryResult{variant: variant, n: n, perProvB: float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n)}, nil
}

// run is one variant's run against a server: a cold start, then callers
// for a while.
type run struct {
	variant      string
	n            int
	ps           []aws.CredentialsProvider
	keep         any
	srv          *stsProcess
	expires      []atomic.Int64 // per provider: the expiry of the last credentials it handed out, Unix ns
	coldStart    time.Duration
	coldCalls    int64 // STS calls that succeeded during the cold start
	coldRequests int64 // requests, retries included
}

func newRun(ctx context.Context, dir, variant string, n int, lifetime time.Duration, poolOpts func(*stschain.PoolOptions)) (*run, error) {
	srv, err := startServer(ctx, dir, serverConfig(n, lifetime))
	if err != nil {
		return nil, err
	}
	r := &run{variant: variant, n: n, srv: srv, expires: make([]atomic.Int64, n)}
	r.ps, r.keep, err = providers(variant, awsConfig(srv.URL), newNames(n), poolOpts)
	if err != nil {
		srv.stop()
		return nil, err
	}
	return r, nil
}

// close stops the providers' refreshes and the server, so that nothing of
// this run goes on into the next: a process that runs the scenarios again
// (go test -count) measures memory first.
func (r *run) close() {
	for _, p := range r.ps {
		if inv, ok := p.(interface{ Invalidate() }); ok {
			inv.Invalidate() // a ChainableProvider's stops its timer
		}
	}
	r.srv.stop()
}

// coldStart has callers goroutines retrieve every provider once, each
// its share, and records how long that took and how many STS requests it
// made.
func (r *run) coldStartWith(ctx context.Context, callers int) error {
	if err := r.srv.resetStats(); err != nil {
		return err
	}
	start := time.Now()
	var wg sync.WaitGroup
	var firstErr atomic.Pointer[error]
	for g := range callers {
		wg.Go(func() {
			for i := g; i < r.n; i += callers {
				creds, err := r.ps[i].Retrieve(ctx)
				if err != nil {
					firstErr.CompareAndSwap(nil, &err)
					continue
				}
				r.expires[i].Store(creds.Expires.UnixNano())
			}
		})
	}
	wg.Wait()
	r.coldStart = time.Since(start)
	st, err := r.srv.readStats()
	if err != nil {
		return err
	}
	r.coldCalls, r.coldRequests = st.OK, st.Total
	if e := firstErr.Load(); e != nil {
		return fmt.Errorf("%s cold start: %w", r.variant, *e)
	}
	return nil
}

// phase is what callers saw during a stretch of a run.
type phase struct {
	d          time.Duration
	calls      int64 // Retrieve calls
	errs       int64 // Retrieve errors
	errsValid  int64 // errors while the provider had unexpired credentials
	firstErr   error
	requests   int64   // STS requests (attempts) sent
	perSecond  []int64 // STS requests per second
	hist       histogram
	goroutines int // the most goroutines seen, beyond the callers' and the sampler's
}

// callFor has callers goroutines call Retrieve on random providers, with
// no pause, for d.
func (r *run) callFor(ctx context.Context, callers int, d time.Duration) *phase {
	ph := &phase{d: d}
	if err := r.srv.resetStats(); err != nil {
		ph.firstErr = err
		return ph
	}
	base := runtime.NumGoroutine()
	var stop atomic.Bool
	var peak atomic.Int64
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for !stop.Load() {
			peak.Store(max(peak.Load(), int64(runtime.NumGoroutine())))
			time.Sleep(5 * time.Millisecond)
		}
	}()
	hists := make([]histogram, callers)
	var calls, errs, errsValid atomic.Int64
	var firstErr atomic.Pointer[error]
	var wg sync.WaitGroup
	for g := range callers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			for n := 0; !stop.Load(); n++ {
				i := rng.IntN(r.n)
				t0 := time.Now()
				creds, err := r.ps[i].Retrieve(ctx)
				hists[g].record(time.Since(t0))
				calls.Add(1)
				if err != nil {
					errs.Add(1)
					if time.Now().UnixNano() < r.expires[i].Load() {
						errsValid.Add(1)
					}
					firstErr.CompareAndSwap(nil, &err)
				} else {
					r.expires[i].Store(creds.Expires.UnixNano())
				}
				if n%64 == 0 {
					runtime.Gosched()
				}
			}
		})
	}
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
	stop.Store(true)
	wg.Wait()
	<-sampled
	ph.calls, ph.errs, ph.errsValid = calls.Load(), errs.Load(), errsValid.Load()
	if e := firstErr.Load(); e != nil {
		ph.firstErr = *e
	}
	st, err := r.srv.readStats()
	if err != nil && ph.firstErr == nil {
		ph.firstErr = err
	}
	ph.requests, ph.perSecond = st.Total, st.PerSecond
	for i := range hists {
		ph.hist.merge(&hists[i])
	}
	ph.goroutines = int(peak.Load()) - base - callers - 1
	return ph
}

// waves returns the peak and the mean of the per-second request counts.
func (ph *phase) waves() (peak int64, mean float64) {
	var sum int64
	for _, v := range ph.perSecond {
		sum += v
		peak = max(peak, v)
	}
	if len(ph.perSecond) > 0 {
		mean = float64(sum) / float64(len(ph.perSecond))
	}
	return peak, mean
}

// histogram is a log-linear latency histogram: 16 buckets per power of
// two, so quantiles are within 1/16 (6%).
type histogram struct {
	n       int64
	max     time.Duration
	buckets [64 * 16]int64
}

func bucketOf(d time.Duration) int {
	if d < 16 {
		return int(max(d, 0))
	}
	exp := 63 - leadingZeros(uint64(d))
	sub := int(uint64(d)>>(exp-4)) & 15
	return (exp-3)*16 + sub
}

func upperBound(i int) time.Duration {
	if i < 16 {
		return time.Duration(i)
	}
	exp := i/16 + 3
	sub := i % 16
	return time.Duration((uint64(16+sub+1) << (exp - 4)) - 1)
}

func leadingZeros(x uint64) int {
	n := 0
	for x&(1<<63) == 0 && n < 64 {
		x <<= 1
		n++
	}
	return n
}

func (h *histogram) record(d time.Duration) {
	h.n++
	h.max = max(h.max, d)
	h.buckets[min(bucketOf(d), len(h.buckets)-1)]++
}

func (h *histogram) merge(o *histogram) {
	h.n += o.n
	h.max = max(h.max, o.max)
	for i := range h.buckets {
		h.buckets[i] += o.buckets[i]
	}
}

func (h *histogram) quantile(q float64) time.Duration {
	want := int64(q * float64(h.n))
	var seen int64
	for i, c := range h.buckets {
		seen += c
		if seen > want {
			return min(upperBound(i), h.max)
		}
	}
	return h.max
}

var progress io.Writer = os.Stderr

func logf(format string, args ...any) { fmt.Fprintf(progress, "bench/pool: "+format+"\n", args...) }
