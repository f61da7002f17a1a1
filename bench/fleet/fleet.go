package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stschain/stschain/internal/fleettest"
	"github.com/stschain/stschain/internal/redistest"
	"github.com/stschain/stschain/rediscache"
	"github.com/stschain/stschain/ststest"
)

// Tuning of the run.
const (
	// warmupBudget bounds the workers' first Retrieve of every provider.
	warmupBudget = 5 * time.Minute
	// controlKey holds the plaintext control value of the plaintext check.
	controlKey = "fleet:plaintext-control"
	// maxCalls is how many calls ststest remembers: every call of a run.
	maxCalls = 1 << 22
	// rateWindow is the window of the peak STS call rate.
	rateWindow = time.Second
	// progressPoll is the pause between two looks at the workers'
	// progress.
	progressPoll = 50 * time.Millisecond
)

// result is what a run measured.
type result struct {
	cfg       config
	store     string
	workers   []workerReport
	stsCalls  int // successful customer AssumeRole calls ststest answered, whole run
	refused   int // refused customer AssumeRole calls, whole run
	hubCalls  int // successful hub AssumeRole calls, whole run
	durations [numPhases]time.Duration
	rate      fleettest.Rate // of the customer STS calls with the store
	plain     *plainCheck
	outage    string // what was killed; "" when nothing was
	total     time.Duration
}

// sum adds up the workers' stats of phase ph.
func (r *result) sum(ph int) fleettest.Stats {
	var s fleettest.Stats
	for _, w := range r.workers {
		s.Add(w.Phases[ph])
	}
	return s
}

// calls is how many customer refreshes of phase ph called STS.
func (r *result) calls(ph int) int { return int(r.sum(ph).RefreshSTS) }

// shared reports whether the run had a shared store.
func (r *result) shared() bool { return r.store != storeNone }

// rounds is how many refresh rounds phase ph had: every provider refreshes
// once a round, from STS or from the store.
func (r *result) rounds(ph int) float64 {
	s := r.sum(ph)
	return float64(s.RefreshSTS+s.RefreshCache) / float64(r.cfg.Workers*r.cfg.Roles)
}

// store is the shared store of a run.
type store struct {
	addrs []string
	// kill kills a server (the server, or a master of the cluster) and
	// says which; nil when there is none.
	kill func(ctx context.Context) (string, error)
	// plaintext checks what Redis shows; nil when the run does not.
	plaintext func(ctx context.Context, key []byte) *plainCheck
	close     func()
}

func startStore(ctx context.Context, name string) (*store, error) {
	switch name {
	case storeSingle:
		rs, err := redistest.Start(redistest.Options{Persistence: true})
		if err != nil {
			return nil, err
		}
		return &store{
			addrs:     []string{rs.Addr},
			kill:      func(context.Context) (string, error) { rs.Kill(); return "redis-server " + rs.Addr, nil },
			plaintext: func(ctx context.Context, key []byte) *plainCheck { return checkPlaintext(ctx, rs, key) },
			close:     rs.Close,
		}, nil
	case storeCluster:
		c, err := redistest.StartCluster(redistest.ClusterOptions{})
		if err != nil {
			return nil, err
		}
		return &store{
			addrs: c.Addrs(),
			kill: func(ctx context.Context) (string, error) {
				masters, err := c.Masters(ctx)
				if err != nil {
					return "", err
				}
				masters[0].Kill()
				return "the cluster's master " + masters[0].Addr, nil
			},
			close: c.Close,
		}, nil
	}
	return &store{close: func() {}}, nil
}

// workerProc is a running worker process.
type workerProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string // its standard output, line by line; closed at EOF
}

// run starts the store, the fake STS and the workers, and drives the
// phases.
func run(ctx context.Context, cfg config, storeName string, logw io.Writer) (*result, error) {
	begin := time.Now()
	if storeName != storeNone {
		if err := redistest.Available(); err != nil {
			return nil, err
		}
	}
	st, err := startStore(ctx, storeName)
	if err != nil {
		return nil, err
	}
	defer st.close()
	scfg := fleettest.STSConfig(cfg.Roles, cfg.Lifetime)
	scfg.MaxCalls = maxCalls
	if err := scfg.Validate(); err != nil {
		return nil, err
	}
	srv := ststest.NewServer(scfg)
	defer srv.Close()
	key := make([]byte, rediscache.KeySize)
	_, _ = rand.Read(key)
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}

	wctx, cancelWorkers := context.WithCancel(ctx)
	defer cancelWorkers()
	var procs []*workerProc
	defer func() {
		cancelWorkers()
		for _, p := range procs {
			_ = p.cmd.Wait()
		}
	}()
	logf(logw, "%s: %d workers × %d customer roles; store %v, ststest on %s", storeName, cfg.Workers, cfg.Roles, st.addrs, srv.URL)
	for i := range cfg.Workers {
		p, err := startWorker(wctx, exe, i, logw)
		if err != nil {
			return nil, err
		}
		procs = append(procs, p)
		wc := workerConfig{
			Index: i, STSURL: srv.URL, Store: storeName, RedisAddrs: st.addrs, Key: key, Roles: cfg.Roles,
			Prefetch: cfg.Prefetch, Expiry: cfg.Expiry, Callers: cfg.Callers, Pause: cfg.Pause, WarmupBudget: warmupBudget,
			RedisTimeout: cfg.RedisTimeout, PoolSize: cfg.PoolSize,
		}
		line, err := json.Marshal(wc)
		if err != nil {
			return nil, err
		}
		if _, err := p.stdin.Write(append(line, '\n')); err != nil {
			return nil, fmt.Errorf("worker %d: %w", i, err)
		}
	}

	res := &result{cfg: cfg, store: storeName}
	for i, p := range procs {
		if err := expectLine(ctx, p, "ready"); err != nil {
			return nil, fmt.Errorf("worker %d: %w", i, err)
		}
	}
	res.durations[phaseWarmup] = time.Since(begin)
	logf(logw, "%s: warm-up done in %.1f s; %d refresh rounds (about %v each)", storeName, res.durations[phaseWarmup].Seconds(), cfg.Rounds, cfg.cycle())

	// The phase lasts until every provider of every worker has been
	// through Rounds rounds after its first fetch: a count of events,
	// whatever the spread of the refreshes over the cycle.
	phaseStart := time.Now()
	deadline := phaseStart.Add(time.Duration(cfg.Rounds+2)*cfg.Lifetime + time.Minute)
	if err := waitProgress(ctx, procs, deadline, func(p fleettest.Progress) bool { return p.Rounds >= cfg.Rounds }); err != nil {
		return nil, err
	}
	if st.plaintext != nil {
		logf(logw, "%s: plaintext check of Redis with redis-cli ...", storeName)
		res.plain = st.plaintext(ctx, key)
	}
	phaseEnd := time.Now()
	res.durations[phaseRedis] = phaseEnd.Sub(phaseStart)

	if cfg.OutageRounds > 0 && st.kill != nil {
		// Killed before the phase changes, so that no refresh of the
		// outage phase can have read the store.
		if res.outage, err = st.kill(ctx); err != nil {
			return nil, err
		}
		if err := broadcast(procs, fmt.Sprintf("phase %d", phaseOutage)); err != nil {
			return nil, err
		}
		outageStart := time.Now()
		// Until every session fetched before the kill has expired, and
		// every provider has refreshed OutageRounds times since.
		expired := outageStart.Add(cfg.Lifetime + time.Second)
		logf(logw, "%s: killed %s; watching the fleet for %v or a little more", storeName, res.outage, cfg.Lifetime+time.Second)
		deadline := expired.Add(time.Duration(cfg.OutageRounds+1)*cfg.Lifetime + time.Minute)
		if err := waitProgress(ctx, procs, deadline, func(p fleettest.Progress) bool {
			return p.InPhase >= cfg.OutageRounds && !time.Now().Before(expired)
		}); err != nil {
			return nil, err
		}
		res.durations[phaseOutage] = time.Since(outageStart)
	}

	// Stop the callers, then the fake STS, which waits for the calls under
	// way; then every call it answered is a refresh some worker reports.
	if err := broadcast(procs, "stop"); err != nil {
		return nil, err
	}
	for i, p := range procs {
		if err := expectLine(ctx, p, "stopped"); err != nil {
			return nil, fmt.Errorf("worker %d: %w", i, err)
		}
	}
	srv.Close()
	for _, c := range srv.Calls() {
		switch {
		case c.Action != "AssumeRole":
		case c.RoleARN == fleettest.HubRole && c.Status == 200:
			res.hubCalls++
		case c.Status == 200:
			res.stsCalls++
		default:
			res.refused++
		}
	}
	// The last answers' refreshes may still be under way in the workers.
	// An answer whose caller had stopped waiting for it (a timeout under
	// load, retried) is no refresh: then the counts differ, and the
	// report says so.
	err = waitProgress(ctx, procs, time.Now().Add(10*time.Second), func(p fleettest.Progress) bool { return p.STS >= res.stsCalls })
	if err != nil && !errors.Is(err, errGaveUp) {
		return nil, err
	}

	if err := broadcast(procs, "report"); err != nil {
		return nil, err
	}
	for i, p := range procs {
		line, err := nextLine(ctx, p)
		if err != nil {
			return nil, fmt.Errorf("worker %d: report: %w", i, err)
		}
		var rep workerReport
		if err := json.Unmarshal([]byte(line), &rep); err != nil {
			return nil, fmt.Errorf("worker %d: report: %w", i, err)
		}
		res.workers = append(res.workers, rep)
	}
	for i, p := range procs {
		_ = p.stdin.Close()
		if err := p.cmd.Wait(); err != nil {
			return nil, fmt.Errorf("worker %d: %w", i, err)
		}
	}
	procs = nil

	res.rate = fleettest.Rates(res.sum(phaseRedis).STSTimes, phaseStart, phaseEnd, rateWindow)
	res.total = time.Since(begin)
	return res, nil
}

// errGaveUp is waitProgress's error at its deadline.
var errGaveUp = errors.New("gave up waiting for the fleet's refreshes")

// waitProgress asks the workers how far their refreshes have come every
// progressPoll until done holds for every one: Rounds and InPhase are
// the least of them all, STS their sum. It gives up at deadline.
func waitProgress(ctx context.Context, procs []*workerProc, deadline time.Time, done func(fleettest.Progress) bool) error {
	for {
		var all fleettest.Progress
		for i, p := range procs {
			if _, err := io.WriteString(p.stdin, "progress\n"); err != nil {
				return fmt.Errorf("worker %d: %w", i, err)
			}
			line, err := nextLine(ctx, p)
			if err != nil {
				return fmt.Errorf("worker %d: progress: %w", i, err)
			}
			var pr fleettest.Progress
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, progressPrefix)), &pr); err != nil {
				return fmt.Errorf("worker %d: progress %q: %w", i, line, err)
			}
			if i == 0 {
				all = pr
			}
			all.Rounds, all.InPhase = min(all.Rounds, pr.Rounds), min(all.InPhase, pr.InPhase)
			if i > 0 {
				all.STS += pr.STS
			}
		}
		if done(all) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w at %+v", errGaveUp, all)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(progressPoll):
		}
	}
}

func startWorker(ctx context.Context, exe string, i int, logw io.Writer) (*workerProc, error) {
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), workerEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting worker %d: %w", i, err)
	}
	p := &workerProc{cmd: cmd, stdin: stdin, lines: make(chan string, 4)}
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 0, 1<<16), 1<<28)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
	}()
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			fmt.Fprintf(logw, "fleet: worker %d: %s\n", i, sc.Text())
		}
	}()
	return p, nil
}

func nextLine(ctx context.Context, p *workerProc) (string, error) {
	select {
	case line, ok := <-p.lines:
		if !ok {
			return "", errors.New("exited early")
		}
		return line, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func expectLine(ctx context.Context, p *workerProc, want string) error {
	line, err := nextLine(ctx, p)
	if err != nil {
		return err
	}
	if line != want {
		return fmt.Errorf("said %q, want %q", line, want)
	}
	return nil
}

func broadcast(procs []*workerProc, line string) error {
	for i, p := range procs {
		if _, err := io.WriteString(p.stdin, line+"\n"); err != nil {
			return fmt.Errorf("worker %d: %w", i, err)
		}
	}
	return nil
}

// plainCheck is what redis-cli showed of Redis.
type plainCheck struct {
	err            error
	sessions       int      // session keys found and opened
	locks          int      // lock keys found
	others         []string // other key names
	secretsChecked int      // secret keys, session tokens and access key IDs searched for
	leaks          []string // where one was found (never the value)
	controlFound   bool     // the plaintext control value was found by every search
	minTTL, maxTTL time.Duration
	maxValue       int // bytes
}

// checkPlaintext lists Redis's keys with redis-cli --scan, fetches every
// value with GET and DUMP, writes the RDB file with SAVE, and searches
// them all for the secret key, session token and access key ID of every
// session, which it learns by opening the sessions with the key. A
// plaintext control value stored beside them shows that the searches find
// what is there.
func checkPlaintext(ctx context.Context, rs *redistest.Server, key []byte) *plainCheck {
	pc := &plainCheck{}
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr})
	defer rdb.Close()
	cache, err := rediscache.New(rdb, key)
	if err != nil {
		pc.err = err
		return pc
	}
	canary := "PLAINTEXT-CONTROL-" + rand.Text()
	if err := rdb.Set(ctx, controlKey, canary, time.Minute).Err(); err != nil {
		pc.err = err
		return pc
	}
	defer rdb.Del(context.WithoutCancel(ctx), controlKey)

	out, err := rs.CLI(ctx, nil, "--scan")
	if err != nil {
		pc.err = err
		return pc
	}
	type secret struct{ what, name, value string }
	var secrets []secret
	var cmds strings.Builder
	for _, name := range strings.Fields(string(out)) {
		cmds.WriteString("GET " + name + "\nDUMP " + name + "\n")
		ck, isSession := strings.CutPrefix(name, rediscache.DefaultPrefix+"session:")
		switch {
		case name == controlKey:
			continue
		case strings.HasPrefix(name, rediscache.DefaultPrefix+"lock:"):
			pc.locks++
			continue
		case !isSession:
			pc.others = append(pc.others, name)
			continue
		}
		e, ok, err := cache.Load(ctx, ck)
		if err != nil || !ok {
			pc.err = fmt.Errorf("opening %s: ok %v, %v", name, ok, err)
			return pc
		}
		pc.sessions++
		c := e.Credentials
		secrets = append(secrets, secret{"secret key", name, c.SecretAccessKey}, secret{"session token", name, c.SessionToken},
			secret{"access key ID", name, c.AccessKeyID})
		ttl, err := rdb.PTTL(ctx, name).Result()
		if err != nil {
			pc.err = err
			return pc
		}
		if pc.minTTL == 0 || ttl < pc.minTTL {
			pc.minTTL = ttl
		}
		pc.maxTTL = max(pc.maxTTL, ttl)
		n, err := rdb.StrLen(ctx, name).Result()
		if err != nil {
			pc.err = err
			return pc
		}
		pc.maxValue = max(pc.maxValue, int(n))
	}
	values, err := rs.CLI(ctx, []byte(cmds.String()))
	if err != nil {
		pc.err = err
		return pc
	}
	if _, err := rs.CLI(ctx, nil, "SAVE"); err != nil {
		pc.err = err
		return pc
	}
	dump, err := os.ReadFile(rs.DumpFile())
	if err != nil {
		pc.err = err
		return pc
	}
	for _, s := range secrets {
		pc.secretsChecked++
		if bytes.Contains(values, []byte(s.value)) {
			pc.leaks = append(pc.leaks, fmt.Sprintf("GET/DUMP of %s show its %s", s.name, s.what))
		}
		if bytes.Contains(dump, []byte(s.value)) {
			pc.leaks = append(pc.leaks, fmt.Sprintf("the RDB file shows the %s of %s", s.what, s.name))
		}
	}
	pc.controlFound = bytes.Count(values, []byte(canary)) == 2 && bytes.Contains(dump, []byte(canary))
	return pc
}
