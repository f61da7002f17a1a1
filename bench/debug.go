package main

import (
	"fmt"
	"io"
	"time"
)

// writeDetails prints, for each provider, the refresh events and the slow
// calls against the generations, for -v.
func (r *report) writeDetails(w io.Writer) {
	for _, res := range r.results {
		if len(res.gens) == 0 {
			continue
		}
		t0 := res.gens[0].firstSeen
		at := func(t time.Time) string { return fmt.Sprintf("%8.3fs", t.Sub(t0).Seconds()) }
		fmt.Fprintf(w, "== %s: generations\n", res.provider)
		for i, g := range res.gens {
			fmt.Fprintf(w, "  gen %2d first seen %s, expires %s (life %.3fs)\n", i, at(g.firstSeen), at(g.expires), g.expires.Sub(g.firstSeen).Seconds())
		}
		if res.outage.ran {
			fmt.Fprintf(w, "  outage %s .. %s\n", at(res.outage.start), at(res.outage.back))
		}
		fmt.Fprintf(w, "== %s: refresh events\n", res.provider)
		for _, e := range res.events {
			fmt.Fprintf(w, "  %s %-45s %-20s bg=%-5v lat=%v err=%v\n", at(e.at), e.ev.Link, e.ev.Outcome, e.ev.Background, e.ev.Latency.Round(time.Millisecond), e.ev.Err != nil)
		}
		fmt.Fprintf(w, "== %s: slow calls (%d)\n", res.provider, len(res.slow))
		for i, s := range res.slow {
			if i >= 40 {
				fmt.Fprintf(w, "  ...\n")
				break
			}
			fmt.Fprintf(w, "  start %s end %s latency %v\n", at(s.end.Add(-s.latency)), at(s.end), s.latency.Round(time.Microsecond))
		}
	}
}
