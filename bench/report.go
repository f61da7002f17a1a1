package main

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"
)

// cachedTolerance absorbs timer noise when comparing cached Retrieve
// speeds: stschain passes when it is at most this much slower than the SDK.
const cachedTolerance = 0.05

// report is the outcome of a run.
type report struct {
	cfg     config
	results []*result // in cfg.Providers order
	total   time.Duration
}

// cell is one provider's value in a row, and whether it meets the target
// (nil when the row has no target for that provider).
type cell struct {
	value string
	pass  *bool
}

type row struct {
	metric, target string
	cells          map[string]cell
}

func verdict(ok bool) *bool { return &ok }

func (r *report) result(provider string) *result {
	for _, res := range r.results {
		if res.provider == provider {
			return res
		}
	}
	return nil
}

func (r *report) rows() []row {
	cfg := r.cfg
	var rows []row
	add := func(metric, target string, f func(res *result) cell) {
		rw := row{metric: metric, target: target, cells: map[string]cell{}}
		for _, res := range r.results {
			rw.cells[res.provider] = f(res)
		}
		rows = append(rows, rw)
	}
	sdk := r.result(providerSDK)
	slow := fmtDur(cfg.Slow)

	if cfg.BenchRounds > 0 {
		add("cached `Retrieve`, ns/op", "stschain ≤ SDK", func(res *result) cell {
			c := cell{value: fmt.Sprintf("%.1f", res.cachedNs)}
			if res.provider == providerOurs && sdk != nil && sdk.benchRan {
				c.pass = verdict(res.cachedNs <= sdk.cachedNs*(1+cachedTolerance))
			}
			return c
		})
		add("cached `Retrieve`, allocs/op", "0", func(res *result) cell {
			return cell{value: fmt.Sprintf("%.0f", res.cachedAllocs), pass: verdict(res.cachedAllocs < 0.5)}
		})
	}
	add("refresh cycles of the top link (wall time)", fmt.Sprintf("≥ %d", cfg.Cycles), func(res *result) cell {
		return cell{value: fmt.Sprintf("%d (%.1f s)", res.cycles, res.cyclesTime.Seconds()), pass: verdict(res.cycles >= cfg.Cycles)}
	})
	add("`Retrieve` calls measured", "", func(res *result) cell {
		return cell{value: fmt.Sprintf("%.1f M", float64(res.hist[phaseNormal].n)/1e6)}
	})
	add("caller latency p50", "", func(res *result) cell {
		return cell{value: fmtDur(res.hist[phaseNormal].quantile(0.50))}
	})
	add("caller latency p99", "< 1 ms", func(res *result) cell {
		q := res.hist[phaseNormal].quantile(0.99)
		return cell{value: fmtDur(q), pass: verdict(q < time.Millisecond)}
	})
	add("caller latency max", "", func(res *result) cell {
		return cell{value: fmtDur(res.hist[phaseNormal].max)}
	})
	add("calls ≥ "+slow, "0", func(res *result) cell {
		n := res.slowCalls[phaseNormal]
		return cell{value: fmt.Sprint(n), pass: verdict(n == 0)}
	})
	add("cycles in which a caller waited ≥ "+slow, "stschain: none; SDK: every cycle", func(res *result) cell {
		c := cell{value: fmt.Sprintf("%d of %d", res.stalled, res.cycles)}
		if res.provider == providerOurs {
			c.pass = verdict(res.stalled == 0)
		} else {
			c.pass = verdict(res.stalled == res.cycles && res.hist[phaseNormal].max >= cfg.Latency)
		}
		return c
	})
	add("STS AssumeRole calls per cycle, role A (top)", "exactly 1", func(res *result) cell {
		return perCycle(res.callsA, res.cycles)
	})
	add("STS AssumeRole calls per cycle, role B", "at most 1 (B refreshes in its own window)", func(res *result) cell {
		return cell{
			value: fmt.Sprintf("%.2f (%d calls)", float64(res.callsB)/float64(max(res.cycles, 1)), res.callsB),
			pass:  verdict(res.callsB >= 1 && res.callsB <= res.cycles),
		}
	})
	add("top-link refreshes a caller waited for (stschain `OnRefresh`)", "0", func(res *result) cell {
		if res.provider != providerOurs {
			return cell{value: "n/a"}
		}
		n := res.waitedRefreshes()
		return cell{value: fmt.Sprint(n), pass: verdict(n == 0)}
	})
	add("caller errors during the refresh cycles", "0", func(res *result) cell {
		return errCell(res, phaseNormal)
	})
	if cfg.OutageFrac > 0 {
		add("STS outage (all requests 503)", "", func(res *result) cell {
			o := res.outage
			return cell{value: fmt.Sprintf("%s, from %s to %s before expiry; %d + %d AssumeRole refused (A + B)",
				fmtDur(res.outageDuration()), fmtDur(o.remainingAtStart), fmtDur(o.remainingAtBack),
				res.failedSTS[roleA], res.failedSTS[roleB])}
		})
		add("caller errors during the outage", "0", func(res *result) cell {
			return errCell(res, phaseOutage)
		})
		add(fmt.Sprintf("caller errors after the outage (%d cycles)", cfg.AfterCycles), "0", func(res *result) cell {
			return errCell(res, phaseAfter)
		})
		add("calls ≥ "+slow+" during / after the outage", "", func(res *result) cell {
			return cell{value: fmt.Sprintf("%d / %d", res.slowCalls[phaseOutage], res.slowCalls[phaseAfter])}
		})
	}
	return rows
}

// waitedRefreshes counts the top link's refreshes in the cycles phase
// that some caller waited for (the first fetch excluded).
func (res *result) waitedRefreshes() int {
	if len(res.gens) <= res.cycles {
		return 0
	}
	lo, hi := res.gens[0].firstSeen, res.gens[res.cycles].firstSeen
	n := 0
	for _, e := range res.events {
		if e.ev.Link == roleA && !e.ev.Background && e.at.After(lo) && !e.at.After(hi) {
			n++
		}
	}
	return n
}

func perCycle(calls, cycles int) cell {
	return cell{
		value: fmt.Sprintf("%.2f (%d calls)", float64(calls)/float64(max(cycles, 1)), calls),
		pass:  verdict(calls == cycles),
	}
}

func errCell(res *result, ph int) cell {
	n := res.errs[ph]
	return cell{value: fmt.Sprint(n), pass: verdict(n == 0)}
}

// oursPass reports whether stschain met every target.
func (r *report) oursPass() bool {
	for _, rw := range r.rows() {
		if c, ok := rw.cells[providerOurs]; ok && c.pass != nil && !*c.pass {
			return false
		}
	}
	return true
}

var providerTitles = map[string]string{
	providerOurs: "stschain (defaults)",
	providerSDK:  "SDK CredentialsCache + AssumeRoleProvider (defaults)",
}

func (r *report) write(w io.Writer) {
	cfg := r.cfg
	pause := "without pause"
	if cfg.Pause > 0 {
		pause = "pausing " + fmtDur(cfg.Pause) + " between calls"
	}
	fmt.Fprintf(w, "Two-link chain user → role B → role A, %d goroutines calling `Retrieve` on A %s, "+
		"ststest with %s added latency, session lifetimes %s (A) and %s (B); GOMAXPROCS %d, %s.\n\n",
		cfg.Goroutines, pause, fmtDur(cfg.Latency), fmtDur(cfg.Lifetime), fmtDur(cfg.MasterLifetime), runtime.GOMAXPROCS(0), runtime.Version())

	var b strings.Builder
	b.WriteString("| Metric | Target |")
	for _, res := range r.results {
		b.WriteString(" " + providerTitles[res.provider] + " |")
	}
	b.WriteString("\n|---|---|")
	for range r.results {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, rw := range r.rows() {
		b.WriteString("| " + rw.metric + " | " + rw.target + " |")
		for _, res := range r.results {
			c := rw.cells[res.provider]
			v := c.value
			if c.pass != nil {
				if *c.pass {
					v += " PASS"
				} else {
					v += " **FAIL**"
				}
			}
			b.WriteString(" " + v + " |")
		}
		b.WriteString("\n")
	}
	io.WriteString(w, b.String())

	fmt.Fprintln(w)
	fmt.Fprintln(w, "Notes:")
	fmt.Fprintln(w, "- Both providers run with the defaults users get. The SDK's CredentialsCache has ExpiryWindow 0: it refreshes only once the credentials have expired, and every caller waits for that refresh (the chain's two STS calls).")
	fmt.Fprintf(w, "- A cycle is one set of top-link credentials, from the first caller that gets it to the first that gets the next. Latency is per `Retrieve`, to ±6%% (log-linear histogram; the maximum is exact); each goroutine pauses or yields between calls, outside the timed region.\n")
	if cfg.OutageFrac > 0 {
		fmt.Fprintln(w, "- The outage starts at stschain's first background refresh point of the current top-link credentials (a third of their life before expiry, for short sessions) and ends before they expire; the same rule is applied to each provider's own credentials. An SDK cache makes no STS call before expiry, so an outage that ends before expiry does not reach its callers; one that spans the expiry makes them fail until STS is back.")
	}
	for _, res := range r.results {
		for ph, name := range []string{"refresh cycles", "outage", "after the outage"} {
			if res.firstErr[ph] != "" {
				fmt.Fprintf(w, "- %s, first caller error (%s): %s\n", res.provider, name, res.firstErr[ph])
			}
		}
	}
	if r.total > 0 {
		fmt.Fprintf(w, "- Total run time %.1f s.\n", r.total.Seconds())
	}
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
