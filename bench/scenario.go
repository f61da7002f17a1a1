package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stschain/stschain"
	"github.com/stschain/stschain/ststest"
)

// The fake account: one user, and a two-link chain user -> B -> A. The
// "cached" roles keep STS's default lifetime, for the cached Retrieve
// benchmark; the others live Config.Lifetime, for the refresh cycles.
const (
	account      = "123456789012"
	userName     = "bench"
	roleB        = "arn:aws:iam::" + account + ":role/bench-B"
	roleA        = "arn:aws:iam::" + account + ":role/bench-A"
	cachedRoleB  = "arn:aws:iam::" + account + ":role/bench-cached-B"
	cachedRoleA  = "arn:aws:iam::" + account + ":role/bench-cached-A"
	userARN      = "arn:aws:iam::" + account + ":user/" + userName
	providerOurs = "stschain"
	providerSDK  = "sdk"
)

// Caller phases: each Retrieve is counted in the phase current when it
// returns.
const (
	phaseNormal = iota // refresh cycles, and the wait for the outage
	phaseOutage        // STS answers 503 to everything
	phaseAfter         // STS is back
	numPhases
)

func newServer(cfg config) *ststest.Server {
	newSTS := ststest.NewServer
	if cfg.inMemory {
		newSTS = ststest.NewInMemoryServer
	}
	srv := newSTS(ststest.Config{
		AccountID: account,
		Users: []ststest.User{{
			Name: userName, AccessKeyID: "AKIABENCH00000000000", SecretAccessKey: "bench-secret",
		}},
		Roles: []ststest.Role{
			{ARN: roleB, Trust: []string{userARN}, Lifetime: cfg.MasterLifetime},
			{ARN: roleA, Trust: []string{roleB}, Lifetime: cfg.Lifetime},
			{ARN: cachedRoleB, Trust: []string{userARN}},
			{ARN: cachedRoleA, Trust: []string{cachedRoleB}},
		},
	})
	srv.SetLatency(cfg.Latency)
	return srv
}

// newChain returns the top link (A) of the chain user -> b -> a built by
// the named provider, with default options.
// onRefresh, when not nil, observes stschain's refresh events; it changes
// nothing else.
func newChain(srv *ststest.Server, provider, b, a string, onRefresh func(stschain.RefreshEvent)) (aws.CredentialsProvider, error) {
	switch provider {
	case providerOurs:
		pb, err := stschain.New(srv.AWSConfig(userName), func(o *stschain.Options) {
			o.RoleARN = b
			o.OnRefresh = onRefresh
		})
		if err != nil {
			return nil, err
		}
		return stschain.New(srv.AWSConfig(userName), func(o *stschain.Options) {
			o.RoleARN = a
			o.MasterCredentials = pb
			o.OnRefresh = onRefresh
		})
	case providerSDK:
		cb := aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(srv.AWSConfig(userName)), b))
		cfgB := srv.AWSConfig(userName)
		cfgB.Credentials = cb
		return aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfgB), a)), nil
	}
	return nil, fmt.Errorf("unknown provider %q", provider)
}

// generation is one set of top-link credentials, as callers saw it.
type generation struct {
	key       string
	expires   time.Time
	firstSeen time.Time // when a caller first got it
}

// tracker records each new top-link credential set callers see.
type tracker struct {
	mu      sync.Mutex
	gens    []generation   // guarded by mu; in order of first sight
	seen    map[string]int // guarded by mu; index in gens by access key ID
	changed chan struct{}  // guarded by mu; closed and replaced on each new generation
}

func newTracker(c aws.Credentials, now time.Time) *tracker {
	return &tracker{
		gens:    []generation{{key: c.AccessKeyID, expires: c.Expires, firstSeen: now}},
		seen:    map[string]int{c.AccessKeyID: 0},
		changed: make(chan struct{}),
	}
}

func (t *tracker) observe(c aws.Credentials, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.seen[c.AccessKeyID]; ok {
		return
	}
	t.seen[c.AccessKeyID] = len(t.gens)
	t.gens = append(t.gens, generation{key: c.AccessKeyID, expires: c.Expires, firstSeen: now})
	close(t.changed)
	t.changed = make(chan struct{})
}

// rotations returns how many times the credentials changed, and the latest
// generation.
func (t *tracker) rotations() (int, generation) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.gens) - 1, t.gens[len(t.gens)-1]
}

// waitRotations waits until the credentials changed n times in all.
func (t *tracker) waitRotations(ctx context.Context, n int) error {
	for {
		t.mu.Lock()
		got, ch := len(t.gens)-1, t.changed
		t.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("waiting for rotation %d (got %d): %w", n, got, ctx.Err())
		}
	}
}

func (t *tracker) generations() []generation {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]generation(nil), t.gens...)
}

// slowCall is one Retrieve that took at least Config.Slow.
type slowCall struct {
	end     time.Time
	latency time.Duration
}

const maxSlowPerCaller = 1 << 14

// caller is one goroutine's record; only that goroutine writes it until it
// stops.
type caller struct {
	hist     [numPhases]histogram
	errs     [numPhases]int
	slowN    [numPhases]int
	firstErr error
	slow     []slowCall
}

// callers runs n goroutines calling p.Retrieve until stop.
type callers struct {
	p     aws.CredentialsProvider
	tr    *tracker
	slow  time.Duration
	pause time.Duration
	phase atomic.Int32
	stop  atomic.Bool
	recs  []*caller
	wg    sync.WaitGroup
}

func startCallers(p aws.CredentialsProvider, tr *tracker, n int, slow, pause time.Duration) *callers {
	cs := &callers{p: p, tr: tr, slow: slow, pause: pause, recs: make([]*caller, n)}
	for i := range cs.recs {
		rec := &caller{slow: make([]slowCall, 0, 64)}
		cs.recs[i] = rec
		cs.wg.Go(func() { cs.loop(rec) })
	}
	return cs
}

func (cs *callers) loop(rec *caller) {
	ctx := context.Background()
	var last string
	for !cs.stop.Load() {
		start := time.Now()
		c, err := cs.p.Retrieve(ctx)
		d := time.Since(start)
		ph := cs.phase.Load()
		rec.hist[ph].record(d)
		if d >= cs.slow {
			rec.slowN[ph]++
			if len(rec.slow) < maxSlowPerCaller {
				rec.slow = append(rec.slow, slowCall{end: start.Add(d), latency: d})
			}
		}
		switch {
		case err != nil:
			rec.errs[ph]++
			if rec.firstErr == nil {
				rec.firstErr = err
			}
		case c.AccessKeyID != last:
			last = c.AccessKeyID
			cs.tr.observe(c, start.Add(d))
		}
		// Pause or yield outside the timed region: with 64 busy goroutines
		// on two cores, a goroutine preempted between the two clock
		// readings would otherwise count the scheduler's queue as Retrieve
		// latency.
		if cs.pause > 0 {
			time.Sleep(cs.pause)
		} else {
			runtime.Gosched()
		}
	}
}

func (cs *callers) finish() {
	cs.stop.Store(true)
	cs.wg.Wait()
}

// result is what one provider's run measured.
type result struct {
	provider string

	// Cached Retrieve (testing.Benchmark), best of the rounds.
	cachedNs     float64
	cachedAllocs float64
	benchRan     bool

	cycles     int                  // rotations of the top link in the cycles phase
	callsA     int                  // AssumeRole calls for role A in the cycles phase
	callsB     int                  // AssumeRole calls for role B in the cycles phase
	stalled    int                  // cycles in which some caller waited >= Slow
	hist       [numPhases]histogram // caller latency per phase
	slowCalls  [numPhases]int       // calls >= Slow per phase
	errs       [numPhases]int       // caller errors per phase
	firstErr   [numPhases]string    // first caller error per phase
	retrieves  int                  // Retrieve calls in all phases
	cyclesTime time.Duration        // duration of the cycles phase
	outage     outageReport         // the outage phase
	gens       []generation         // every generation seen
	events     []timedEvent         // stschain's refresh events
	slow       []slowCall           // slow calls (up to a cap per caller), by end time
	failedSTS  map[string]int       // 503 answers per role ARN during the outage
	okAfter    map[string]int       // successful AssumeRole per role ARN after the outage began
}

type outageReport struct {
	ran                bool
	start, back        time.Time
	remainingAtStart   time.Duration // life left in the top link's credentials at start
	remainingAtBack    time.Duration
	expiresOfOutageGen time.Time
}

func (r *result) outageDuration() time.Duration { return r.outage.back.Sub(r.outage.start) }

// runProvider runs the refresh cycles and the outage for one provider.
func runProvider(ctx context.Context, srv *ststest.Server, cfg config, provider string, logw io.Writer) (*result, error) {
	res := &result{provider: provider}
	ev := &events{}
	top, err := newChain(srv, provider, roleB, roleA, ev.add)
	if err != nil {
		return nil, err
	}
	// Warm up: the first Retrieve fetches both links; it is not measured.
	c0, err := top.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: first Retrieve: %w", provider, err)
	}
	tr := newTracker(c0, time.Now())
	srv.ResetCalls()

	fmt.Fprintf(logw, "bench: %s: %d goroutines, %d refresh cycles ...\n", provider, cfg.Goroutines, cfg.Cycles)
	cs := startCallers(top, tr, cfg.Goroutines, cfg.Slow, cfg.Pause)
	defer cs.finish()
	cyclesStart := time.Now()

	// Refresh cycles.
	if err := tr.waitRotations(ctx, cfg.Cycles); err != nil {
		return nil, fmt.Errorf("%s: %w", provider, err)
	}
	res.cyclesTime = time.Since(cyclesStart)
	// Let the refreshes that produced the last rotation finish (a link
	// below may refresh in the background at the same time), then count.
	if err := sleepCtx(ctx, 3*cfg.Latency+50*time.Millisecond); err != nil {
		return nil, err
	}
	calls := srv.Calls()
	res.cycles = cfg.Cycles
	res.callsA, res.callsB = countAssumeRole(calls, roleA), countAssumeRole(calls, roleB)
	markCalls := len(calls)

	// The outage.
	if cfg.OutageFrac > 0 {
		rot, cur := tr.rotations()
		life := cur.expires.Sub(cur.firstSeen)
		start := cur.expires.Add(-life / 3) // first background refresh point of stschain's default windows
		remaining := cur.expires.Sub(start)
		dur := time.Duration(cfg.OutageFrac * float64(remaining))
		fmt.Fprintf(logw, "bench: %s: outage of %v starting %v before the current credentials expire ...\n",
			provider, dur.Round(time.Millisecond), remaining.Round(time.Millisecond))
		if err := sleepCtx(ctx, time.Until(start)); err != nil {
			return nil, err
		}
		srv.SetOutage("", outageStatus, outageCode)
		cs.phase.Store(phaseOutage)
		res.outage.start = time.Now()
		res.outage.remainingAtStart = cur.expires.Sub(res.outage.start)
		res.outage.expiresOfOutageGen = cur.expires
		err := sleepCtx(ctx, time.Until(start.Add(dur)))
		srv.EndOutage()
		if err != nil {
			return nil, err
		}
		cs.phase.Store(phaseAfter)
		res.outage.back = time.Now()
		res.outage.remainingAtBack = cur.expires.Sub(res.outage.back)
		res.outage.ran = true
		fmt.Fprintf(logw, "bench: %s: STS is back; waiting for %d more refresh cycles ...\n", provider, cfg.AfterCycles)
		if err := tr.waitRotations(ctx, rot+cfg.AfterCycles); err != nil {
			return nil, fmt.Errorf("%s: after the outage: %w", provider, err)
		}
		if err := sleepCtx(ctx, 3*cfg.Latency+50*time.Millisecond); err != nil {
			return nil, err
		}
		after := srv.Calls()[markCalls:]
		res.failedSTS, res.okAfter = map[string]int{}, map[string]int{}
		for _, c := range after {
			if c.Action != "AssumeRole" {
				continue
			}
			if c.Status == 503 {
				res.failedSTS[c.RoleARN]++
			} else if c.Status == 200 {
				res.okAfter[c.RoleARN]++
			}
		}
	}
	cs.finish()
	res.events = ev.all()

	// Merge the callers' records.
	res.gens = tr.generations()
	var slow []slowCall
	for _, rec := range cs.recs {
		for ph := range numPhases {
			res.hist[ph].merge(&rec.hist[ph])
			res.errs[ph] += rec.errs[ph]
			res.slowCalls[ph] += rec.slowN[ph]
			res.retrieves += int(rec.hist[ph].n)
		}
		slow = append(slow, rec.slow...)
	}
	for _, rec := range cs.recs {
		if rec.firstErr == nil {
			continue
		}
		for ph := range numPhases {
			if rec.errs[ph] > 0 && res.firstErr[ph] == "" {
				res.firstErr[ph] = rec.firstErr.Error()
			}
		}
	}
	res.stalled = stalledCycles(res.gens[:cfg.Cycles+1], slow)
	sort.Slice(slow, func(i, j int) bool { return slow[i].end.Before(slow[j].end) })
	res.slow = slow
	return res, nil
}

// stalledCycles counts the rotations in gens that some caller waited for:
// a slow call ending between shortly after the previous rotation and
// shortly after this one.
func stalledCycles(gens []generation, slow []slowCall) int {
	const grace = 50 * time.Millisecond
	sort.Slice(slow, func(i, j int) bool { return slow[i].end.Before(slow[j].end) })
	n := 0
	for k := 1; k < len(gens); k++ {
		lo, hi := gens[k-1].firstSeen.Add(grace), gens[k].firstSeen.Add(grace)
		i := sort.Search(len(slow), func(i int) bool { return slow[i].end.After(lo) })
		if i < len(slow) && !slow[i].end.After(hi) {
			n++
		}
	}
	return n
}

func countAssumeRole(calls []ststest.Call, role string) int {
	n := 0
	for _, c := range calls {
		if c.Action == "AssumeRole" && c.RoleARN == role {
			n++
		}
	}
	return n
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// timedEvent is a stschain refresh event and when it was reported.
type timedEvent struct {
	at time.Time
	ev stschain.RefreshEvent
}

// events collects refresh events.
type events struct {
	mu  sync.Mutex
	evs []timedEvent // guarded by mu
}

func (e *events) add(ev stschain.RefreshEvent) {
	now := time.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.evs = append(e.evs, timedEvent{at: now, ev: ev})
}

func (e *events) all() []timedEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]timedEvent(nil), e.evs...)
}
