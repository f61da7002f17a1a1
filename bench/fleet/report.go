package main

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"

	"github.com/stschain/stschain/internal/fleettest"
)

// maxPeakRatio bounds the STS call rate's peak, in multiples of its mean:
// first refreshes spread over the first session keep a fleet's calls
// level. (The peak of a second is a count of few calls when a cycle has
// few per second: give a run enough roles, or a short enough cycle, for
// the bound to measure the spread rather than chance.)
const maxPeakRatio = 3.0

// row is one line of the table; pass is nil when it has no target.
type row struct {
	metric, target, value string
	pass                  *bool
}

func verdict(ok bool) *bool { return &ok }

// storeName says what the store of a run was.
func storeName(store string) string {
	switch store {
	case storeSingle:
		return "one redis-server"
	case storeCluster:
		return "a Redis Cluster (3 masters, 3 replicas)"
	}
	return "no shared cache"
}

// roundsByEvent tells the refresh rounds of the run from the workers' refreshes
// (fleettest.CountRounds): counted by event, not by time.
func (r *result) roundsByEvent() fleettest.Rounds {
	hosts := make([]map[string][]fleettest.Refresh, len(r.workers))
	for i, w := range r.workers {
		hosts[i] = w.Refreshes
	}
	return fleettest.CountRounds(hosts, r.shared())
}

// roundCalls is how many customer refreshes of round k called STS (round
// 0: the first fetches).
func (r *result) roundCalls(k int) int {
	n := 0
	for _, sts := range r.roundsByEvent().STS {
		if k < len(sts) {
			n += sts[k]
		}
	}
	return n
}

// exactRounds is how many of the roles' rounds k, for k in [from, to),
// called STS exactly as often as the store allows: once with a shared
// store, the other W-1 refreshes taking its session; W times without one.
// No round counts while a refresh took a session that no refresh fetched.
func (r *result) exactRounds(from, to int) int {
	want := r.cfg.Workers
	if r.shared() {
		want = 1
	}
	rounds := r.roundsByEvent()
	if rounds.Unplaced > 0 {
		return 0
	}
	n := 0
	for _, role := range fleettest.Customers(r.cfg.Roles) {
		sts := rounds.STS[role.RoleARN]
		for k := from; k < to && k < len(sts); k++ {
			if sts[k] == want {
				n++
			}
		}
	}
	return n
}

// callsPerRound is the customer STS calls of the counted rounds (1 to
// cfg.Rounds), per round.
func (r *result) callsPerRound() float64 {
	n := 0
	for k := 1; k <= r.cfg.Rounds; k++ {
		n += r.roundCalls(k)
	}
	return float64(n) / float64(r.cfg.Rounds)
}

// refreshCalls is how many customer refreshes of the run called STS.
func (r *result) refreshCalls() int {
	n := 0
	for ph := range numPhases {
		n += r.calls(ph)
	}
	return n
}

// callsMatch reports whether ststest answered exactly the customer
// AssumeRole calls the workers' refreshes made, and refused none.
func (r *result) callsMatch() bool { return r.refreshCalls() == r.stsCalls && r.refused == 0 }

// errors is the caller errors of all phases.
func (r *result) errors() int64 {
	var n int64
	for ph := range numPhases {
		n += r.sum(ph).Errors
	}
	return n
}

func (r *result) rows() []row {
	cfg := r.cfg
	n, wn := cfg.Roles, cfg.Workers*cfg.Roles
	var rows []row
	add := func(metric, target, value string, pass *bool) {
		rows = append(rows, row{metric, target, value, pass})
	}
	warm, with := r.sum(phaseWarmup), r.sum(phaseRedis)

	perRole := fmt.Sprintf("%d: every worker calls STS", wn)
	if r.shared() {
		perRole = fmt.Sprintf("%d (one per role, not %d)", n, wn)
	}
	add("cold start: AssumeRole calls for the customer roles", perRole,
		fmt.Sprint(r.roundCalls(0)), verdict(r.exactRounds(0, 1) == n))
	add("cold start: wall time", "", fmt.Sprintf("%.1f s", r.durations[phaseWarmup].Seconds()), nil)
	add("caller errors, cold start", "0", fmt.Sprint(warm.Errors), verdict(warm.Errors == 0))

	add("refresh rounds counted (wall time)", "", fmt.Sprintf("%d (%.1f s)", cfg.Rounds, r.durations[phaseRedis].Seconds()), nil)
	exact := r.exactRounds(1, cfg.Rounds+1)
	add("AssumeRole calls per round, customer roles", perRole,
		fmt.Sprintf("%.2f (%d of %d roles × rounds exact)", r.callsPerRound(), exact, n*cfg.Rounds), verdict(exact == n*cfg.Rounds))
	if r.shared() {
		stored := float64(wn) - r.callsPerRound()
		add("provider refreshes served by the store, per round", fmt.Sprintf("%d of %d", wn-n, wn), fmt.Sprintf("%.2f of %d", stored, wn), nil)
	}
	add("STS call rate, customer roles: peak (1 s) / mean", fmt.Sprintf("peak ≤ %.0f × mean", maxPeakRatio),
		fmt.Sprintf("%.0f / %.1f per s (peak = %.1f × mean)", r.rate.Peak, r.rate.Mean, r.rate.Peak/max(r.rate.Mean, 1e-9)),
		verdict(r.rate.Peak <= maxPeakRatio*r.rate.Mean))
	hubs := cfg.Workers
	if r.shared() {
		hubs = 1
	}
	// The hub refreshes the workers report, by phase, say when any
	// extra call was made.
	add("AssumeRole calls for the hub role, whole run", fmt.Sprintf("%d (its session lasts an hour)", hubs),
		fmt.Sprintf("%d (refreshes that called STS: %d at the cold start, %d with the store, %d after the kill)",
			r.hubCalls, r.sum(phaseWarmup).HubSTS, r.sum(phaseRedis).HubSTS, r.sum(phaseOutage).HubSTS),
		verdict(r.hubCalls == hubs))
	add("AssumeRole calls ststest answered / refused, customer roles, whole run", "as many as the refreshes that called STS / 0",
		fmt.Sprintf("%d (refreshes that called STS: %d) / %d", r.stsCalls, r.refreshCalls(), r.refused), verdict(r.callsMatch()))
	add("`Retrieve` calls", "", fmt.Sprintf("%.1f M", float64(with.Retrieves)/1e6), nil)
	add("caller errors", "0", fmt.Sprint(with.Errors), verdict(with.Errors == 0))
	add("slowest `Retrieve` / slowest refresh", "", fmtDur(with.MaxRetrieve)+" / "+fmtDur(with.MaxRefresh), nil)

	if pc := r.plain; pc != nil {
		want := n + 1 // the customer sessions and the hub's
		plainOK := pc.err == nil && len(pc.leaks) == 0 && pc.controlFound && pc.sessions == want && len(pc.others) == 0
		value := fmt.Sprintf("%d found, in %d values (GET, DUMP) and the RDB file after SAVE; plaintext control found: %v",
			len(pc.leaks), pc.sessions, pc.controlFound)
		if pc.err != nil {
			value = "check failed: " + pc.err.Error()
		}
		add(fmt.Sprintf("secret keys, session tokens, access key IDs readable in Redis (%d searched)", pc.secretsChecked),
			fmt.Sprintf("0, in %d sessions", want), value, verdict(plainOK))
		add("what redis-cli shows", "", fmt.Sprintf("%d key names `stschain:session:` + 40 hex digits, %d lock keys, %d others; TTLs %s to %s; values ≤ %d bytes of ciphertext",
			pc.sessions, pc.locks, len(pc.others), fmtDur(pc.minTTL), fmtDur(pc.maxTTL), pc.maxValue), nil)
	}

	if r.outage != "" {
		out := r.sum(phaseOutage)
		orounds := r.rounds(phaseOutage)
		add("refresh rounds after the kill (wall time)", "", fmt.Sprintf("%.2f (%.1f s)", orounds, r.durations[phaseOutage].Seconds()), nil)
		v := fmt.Sprintf("%s (%d calls)", perRound(r.calls(phaseOutage), orounds), r.calls(phaseOutage))
		if before := r.callsPerRound(); orounds > 0 && before > 0 {
			v += fmt.Sprintf(": ×%.1f the rounds before", float64(r.calls(phaseOutage))/orounds/before)
		}
		target := fmt.Sprintf("rises to %d: every worker calls STS", wn)
		if r.store == storeCluster {
			target = fmt.Sprintf("%d once a replica took over", n)
		}
		add("AssumeRole calls per round, customer roles, after the kill", target, v, nil)
		add("caller errors, after the kill", "0", fmt.Sprint(out.Errors), verdict(out.Errors == 0))
		add("failed refreshes / cache warnings logged, after the kill", "", fmt.Sprintf("%d / %d", out.RefreshFailed, out.CacheWarnings), nil)
		add("slowest `Retrieve` / slowest refresh, after the kill", "", fmtDur(out.MaxRetrieve)+" / "+fmtDur(out.MaxRefresh), nil)
	}
	return rows
}

func perRound(calls int, rounds float64) string {
	if rounds <= 0 {
		return "n/a (no refresh succeeded)"
	}
	return fmt.Sprintf("%.2f", float64(calls)/rounds)
}

// pass reports whether every target was met.
func (r *result) pass() bool {
	for _, rw := range r.rows() {
		if rw.pass != nil && !*rw.pass {
			return false
		}
	}
	return true
}

func (r *result) write(w io.Writer) {
	cfg := r.cfg
	fmt.Fprintf(w, "Fleet with %s: %d worker processes × %d customer roles (one ChainableProvider each, assumed with an external ID from one hub role per worker, assumed from a user); "+
		"customer sessions live %s, PrefetchWindow %s, ExpiryWindow %s; %d callers per worker sweep over all providers; GOMAXPROCS %d, %s.\n\n",
		storeName(r.store), cfg.Workers, cfg.Roles, fmtDur(cfg.Lifetime), fmtDur(cfg.Prefetch), fmtDur(cfg.Expiry), cfg.Callers, runtime.GOMAXPROCS(0), runtime.Version())
	var b strings.Builder
	b.WriteString("| Metric | Target | Measured |\n|---|---|---|\n")
	for _, rw := range r.rows() {
		v := rw.value
		if rw.pass != nil {
			if *rw.pass {
				v += " PASS"
			} else {
				v += " **FAIL**"
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", rw.metric, rw.target, v)
	}
	_, _ = io.WriteString(w, b.String())

	fmt.Fprintln(w)
	fmt.Fprintln(w, "Notes:")
	fmt.Fprintln(w, "- Rounds are counted by event, not by time, from the providers' `OnRefresh` events (fleettest.CountRounds): round 0 is the sessions of the first fetches, round k+1 the sessions that replaced one of round k, whether a refresh called STS for it or took it from the store. First refreshes are spread over the first session, so the roles' rounds overlap; the run lasts until every provider has been through the counted rounds. ststest's count of AssumeRole calls must equal the refreshes that called STS. The STS call rate is from the times of those refreshes, over the counted rounds' wall time.")
	if r.shared() {
		timeout, pool := "1 s", "go-redis's default"
		if cfg.RedisTimeout > 0 {
			timeout = fmtDur(cfg.RedisTimeout)
		}
		if cfg.PoolSize > 0 {
			pool = fmt.Sprint(cfg.PoolSize)
		}
		fmt.Fprintf(w, "- The Redis client is go-redis (a `redis.Client`, or a `redis.ClusterClient` for a Cluster) with `DialerRetries: 1, MaxRetries: 1, ClusterStateReloadInterval: 2s`, as the rediscache documentation advises, and a PoolSize of %s; rediscache bounds each call by its Timeout (%s).\n", pool, timeout)
	}
	if r.outage != "" {
		fmt.Fprintf(w, "- %s is killed (SIGKILL) once every provider has been through the counted rounds, and the run goes on until every session fetched before has expired and every provider has refreshed since; rounds after the kill = provider refreshes / (workers × roles).\n", r.outage)
	}
	for ph, name := range []string{"cold start", "with the store", "after the kill"} {
		s := r.sum(ph)
		if s.FirstError != "" {
			fmt.Fprintf(w, "- First caller error (%s): %s\n", name, s.FirstError)
		}
		if s.FirstCacheWarning != "" {
			fmt.Fprintf(w, "- First warning a provider logged (%s): %s\n", name, s.FirstCacheWarning)
		}
	}
	if pc := r.plain; pc != nil {
		for _, l := range pc.leaks {
			fmt.Fprintf(w, "- Plaintext: %s\n", l)
		}
		if len(pc.others) > 0 {
			fmt.Fprintf(w, "- Unexpected keys in Redis: %s\n", strings.Join(pc.others, ", "))
		}
	}
	fmt.Fprintf(w, "- Total run time %.1f s.\n", r.total.Seconds())
}

// writeComparison writes one table with a column per run.
func writeComparison(w io.Writer, results []*result) {
	var b strings.Builder
	b.WriteString("| " + fmt.Sprintf("%d workers × %d roles", results[0].cfg.Workers, results[0].cfg.Roles))
	for _, r := range results {
		b.WriteString(" | " + storeName(r.store))
	}
	b.WriteString(" |\n|---")
	for range results {
		b.WriteString("|---")
	}
	b.WriteString("|\n")
	line := func(metric string, value func(r *result) string) {
		b.WriteString("| " + metric)
		for _, r := range results {
			b.WriteString(" | " + value(r))
		}
		b.WriteString(" |\n")
	}
	line("AssumeRole calls, cold start", func(r *result) string { return fmt.Sprint(r.calls(phaseWarmup)) })
	line("AssumeRole calls per round", func(r *result) string { return fmt.Sprintf("%.2f", r.callsPerRound()) })
	line("STS calls per second, peak (1 s) / mean", func(r *result) string {
		return fmt.Sprintf("%.0f / %.1f (×%.1f)", r.rate.Peak, r.rate.Mean, r.rate.Peak/max(r.rate.Mean, 1e-9))
	})
	line("AssumeRole calls per round after a server is killed", func(r *result) string {
		if r.outage == "" {
			return "–"
		}
		return perRound(r.calls(phaseOutage), r.rounds(phaseOutage))
	})
	line("caller errors, whole run", func(r *result) string { return fmt.Sprint(r.errors()) })
	_, _ = io.WriteString(w, b.String())
}

func fmtDur(d time.Duration) string {
	switch {
	case d < time.Microsecond:
		return fmt.Sprintf("%d ns", d.Nanoseconds())
	case d < time.Millisecond:
		return fmt.Sprintf("%.1f µs", float64(d)/float64(time.Microsecond))
	case d < time.Second:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}
