package main

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"
)

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

// sharedExactly reports whether every refresh round of phase ph called STS
// once per role: of the W providers of a role, one called STS and the
// others took its session from the store, and ststest saw exactly those
// calls.
func (r *result) sharedExactly(ph int) bool {
	s := r.sum(ph)
	return s.RefreshSTS > 0 && s.RefreshSTS*int64(r.cfg.Workers) == s.RefreshSTS+s.RefreshCache &&
		int64(r.calls[ph]) == s.RefreshSTS && s.RefreshFailed == 0
}

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

	if r.shared() {
		add("cold start: AssumeRole calls for the customer roles", fmt.Sprintf("%d (one per role, not %d)", n, wn),
			fmt.Sprint(r.calls[phaseWarmup]), verdict(r.calls[phaseWarmup] == n))
		add("cold start: AssumeRole calls for the hub role", "1",
			fmt.Sprint(r.hubCalls[phaseWarmup]), verdict(r.hubCalls[phaseWarmup] == 1))
	} else {
		add("cold start: AssumeRole calls for the customer roles / the hub role", "", fmt.Sprintf("%d / %d", r.calls[phaseWarmup], r.hubCalls[phaseWarmup]), nil)
	}
	add("cold start: wall time", "", fmt.Sprintf("%.1f s", r.durations[phaseWarmup].Seconds()), nil)
	add("caller errors, cold start", "0", fmt.Sprint(warm.Errors), verdict(warm.Errors == 0))

	rounds := r.rounds(phaseRedis)
	add("refresh rounds (wall time)", "", fmt.Sprintf("%.2f (%.1f s)", rounds, r.durations[phaseRedis].Seconds()), nil)
	calls := fmt.Sprintf("%s (%d calls)", perRound(r.calls[phaseRedis], rounds), r.calls[phaseRedis])
	if r.shared() {
		add("AssumeRole calls per round, customer roles", fmt.Sprintf("%d, not %d", n, wn), calls, verdict(r.sharedExactly(phaseRedis)))
		add("provider refreshes served by the store", fmt.Sprintf("%d of %d per round", wn-n, wn),
			fmt.Sprintf("%d of %d", with.RefreshCache, with.RefreshSTS+with.RefreshCache), nil)
	} else {
		add("AssumeRole calls per round, customer roles", fmt.Sprintf("%d: every worker calls STS", wn), calls, nil)
	}
	add("STS call rate, customer roles: peak (1 s) / mean", "",
		fmt.Sprintf("%.0f / %.1f per s (peak = %.1f × mean)", r.rate.Peak, r.rate.Mean, r.rate.Peak/max(r.rate.Mean, 1e-9)), nil)
	add("AssumeRole calls for the hub role after the cold start", "0 (its session lasts an hour)",
		fmt.Sprint(r.hubCalls[phaseRedis]+r.hubCalls[phaseOutage]), verdict(r.hubCalls[phaseRedis]+r.hubCalls[phaseOutage] == 0))
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
		v := fmt.Sprintf("%s (%d calls)", perRound(r.calls[phaseOutage], orounds), r.calls[phaseOutage])
		if orounds > 0 && rounds > 0 && r.calls[phaseRedis] > 0 {
			v += fmt.Sprintf(": ×%.1f the rounds before", (float64(r.calls[phaseOutage])/orounds)/(float64(r.calls[phaseRedis])/rounds))
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
	fmt.Fprintln(w, "- A round: every provider refreshes once, in its prefetch window, either calling STS or taking the session another worker stored; rounds = provider refreshes / (workers × roles), from the providers' `OnRefresh` events. AssumeRole calls are counted by ststest; the STS call rate from the times of the refreshes that called STS.")
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
		fmt.Fprintf(w, "- %s is killed (SIGKILL) midway between two rounds, and the run goes on until every session fetched before has expired.\n", r.outage)
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
	line("AssumeRole calls, cold start", func(r *result) string { return fmt.Sprint(r.calls[phaseWarmup]) })
	line("AssumeRole calls per round", func(r *result) string { return perRound(r.calls[phaseRedis], r.rounds(phaseRedis)) })
	line("STS calls per second, peak (1 s) / mean", func(r *result) string {
		return fmt.Sprintf("%.0f / %.1f (×%.1f)", r.rate.Peak, r.rate.Mean, r.rate.Peak/max(r.rate.Mean, 1e-9))
	})
	line("AssumeRole calls per round after a server is killed", func(r *result) string {
		if r.outage == "" {
			return "–"
		}
		return perRound(r.calls[phaseOutage], r.rounds(phaseOutage))
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
