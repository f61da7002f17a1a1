// Command pool measures many role providers assumed through one hub, as a
// SaaS backend runs them, beside the AWS SDK's own
// aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sharedClient, role)),
// in one run, against ststest in a child process:
//
//   - memory per provider, N = 100,000 (and stschain.New per provider, at
//     N = 10,000, for comparison);
//   - N = 1,000 while STS throttles above 150 requests a second for two
//     session lifetimes: STS requests per provider per lifetime, and caller
//     errors while unexpired credentials exist;
//   - N = 10,000 under 64 callers: the goroutines beyond the callers', p99
//     Retrieve, the cold start (and its STS calls), and over the lifetime
//     after it the peak STS request rate against the mean.
//
// It prints a Markdown table with a PASS/FAIL per target; -check exits 1 on
// a FAIL. The default run takes about five minutes.
//
//	go run ./bench/pool [-check] [-scenarios memory,throttle,saturation] [-n N] [-lifetime D]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/stschain/stschain"
)

type config struct {
	MemoryN, MemoryNewN int

	ThrottleN        int
	ThrottleLifetime time.Duration
	ThrottleRPS      float64
	ThrottleCallers  int

	SatN        int
	SatLifetime time.Duration
	SatCallers  int
	// SatCalling is how long the callers call after the cold start; zero
	// means SatLifetime, a whole session's refresh cycle.
	SatCalling time.Duration

	MaxConcurrent int // the Pool's MaxConcurrentRefreshes; 0: its default

	Scenarios []string
	Variants  []string // for the throttle and saturation scenarios
}

func defaultConfig() config {
	return config{
		MemoryN: 100_000, MemoryNewN: 10_000,
		ThrottleN: 1000, ThrottleLifetime: 20 * time.Second, ThrottleRPS: 150, ThrottleCallers: 16,
		SatN: 10_000, SatLifetime: 60 * time.Second, SatCallers: 64,
		Scenarios: []string{"memory", "throttle", "saturation"},
		Variants:  []string{variantPool, variantSDK},
	}
}

// goroutineAllowance is the constant of "MaxConcurrentRefreshes plus a
// constant": the HTTP client's connection goroutines (two per idle
// connection, ten connections) and a few timers firing.
const goroutineAllowance = 2*stschain.DefaultMaxConcurrentRefreshes + 10

type report struct {
	cfg        config
	memory     []memoryResult
	throttle   map[string][2]*phase // throttled, after
	throttleR  map[string]*run
	saturation map[string]*phase
	satR       map[string]*run
}

func main() {
	if os.Getenv(serverEnv) != "" {
		serve()
	}
	cfg := defaultConfig()
	check := flag.Bool("check", false, "exit 1 when a target is missed")
	scenarios := flag.String("scenarios", strings.Join(cfg.Scenarios, ","), "comma-separated `list` of memory, throttle, saturation")
	flag.IntVar(&cfg.SatN, "n", cfg.SatN, "providers of the saturation scenario")
	flag.DurationVar(&cfg.SatLifetime, "lifetime", cfg.SatLifetime, "session lifetime of the saturation scenario")
	flag.IntVar(&cfg.MaxConcurrent, "max-concurrent", 0, "the Pool's MaxConcurrentRefreshes (0: its default)")
	variants := flag.String("variants", strings.Join(cfg.Variants, ","), "comma-separated `list` of the variants of the throttle and saturation scenarios: "+variantPool+", "+variantNew+", "+variantSDK)
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of this process to `file`")
	flag.Parse()
	cfg.Variants = strings.Split(*variants, ",")
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench/pool:", err)
			os.Exit(2)
		}
		_ = pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	cfg.Scenarios = strings.Split(*scenarios, ",")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	rep, err := measure(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/pool:", err)
		os.Exit(1)
	}
	if failed := rep.write(os.Stdout); failed && *check {
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func (cfg config) satCalling() time.Duration {
	if cfg.SatCalling == 0 {
		return cfg.SatLifetime
	}
	return cfg.SatCalling
}

func (cfg config) poolOptions(po *stschain.PoolOptions) {
	po.MaxConcurrentRefreshes = cfg.MaxConcurrent
}

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func measure(ctx context.Context, cfg config) (*report, error) {
	rep := &report{cfg: cfg, throttle: map[string][2]*phase{}, throttleR: map[string]*run{}, saturation: map[string]*phase{}, satR: map[string]*run{}}
	dir, err := os.MkdirTemp("", "stschain-bench-pool-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	if has(cfg.Scenarios, "memory") {
		for _, v := range []struct {
			variant string
			n       int
		}{{variantPool, cfg.MemoryN}, {variantSDK, cfg.MemoryN}, {variantNew, cfg.MemoryNewN}} {
			logf("memory: %d providers, %s", v.n, v.variant)
			m, err := measureMemory(v.variant, v.n)
			if err != nil {
				return nil, err
			}
			rep.memory = append(rep.memory, m)
		}
	}
	if has(cfg.Scenarios, "throttle") {
		for _, v := range cfg.Variants {
			logf("throttle: %d providers, %s: cold start, then %v throttled above %.0f/s, then %v free", cfg.ThrottleN, v, 2*cfg.ThrottleLifetime, cfg.ThrottleRPS, cfg.ThrottleLifetime)
			r, err := newRun(ctx, dir, v, cfg.ThrottleN, cfg.ThrottleLifetime, cfg.poolOptions)
			if err != nil {
				return nil, err
			}
			if err := r.coldStartWith(ctx, cfg.ThrottleCallers); err != nil {
				r.close()
				return nil, err
			}
			if _, err := r.srv.throttle(cfg.ThrottleRPS); err != nil {
				r.close()
				return nil, err
			}
			throttled := r.callFor(ctx, cfg.ThrottleCallers, 2*cfg.ThrottleLifetime)
			if _, err := r.srv.throttle(0); err != nil {
				r.close()
				return nil, err
			}
			after := r.callFor(ctx, cfg.ThrottleCallers, cfg.ThrottleLifetime)
			r.close()
			rep.throttle[v], rep.throttleR[v] = [2]*phase{throttled, after}, r
		}
	}
	if has(cfg.Scenarios, "saturation") {
		for _, v := range cfg.Variants {
			logf("saturation: %d providers, %s: cold start with %d callers, then %v of calls", cfg.SatN, v, cfg.SatCallers, cfg.satCalling())
			r, err := newRun(ctx, dir, v, cfg.SatN, cfg.SatLifetime, cfg.poolOptions)
			if err != nil {
				return nil, err
			}
			if err := r.coldStartWith(ctx, cfg.SatCallers); err != nil {
				r.close()
				return nil, err
			}
			ph := r.callFor(ctx, cfg.SatCallers, cfg.satCalling())
			r.close()
			rep.saturation[v], rep.satR[v] = ph, r
		}
	}
	return rep, nil
}

func pass(ok bool) string {
	if ok {
		return "PASS"
	}
	return "**FAIL**"
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.1f µs", float64(d)/float64(time.Microsecond))
}

// write prints the table and reports whether a target was missed.
func (rep *report) write(w io.Writer) (failed bool) {
	cfg := rep.cfg
	check := func(ok bool) string {
		if !ok {
			failed = true
		}
		return pass(ok)
	}
	fmt.Fprintf(w, "Customer roles assumed through one hub role, against ststest in a child process; %s, %d CPUs, GOMAXPROCS %d.\n\n",
		runtime.Version(), runtime.NumCPU(), runtime.GOMAXPROCS(0))
	fmt.Fprintln(w, "| Metric | Target | "+strings.Join(append([]string{}, cfg.Variants...), " | ")+" |")
	fmt.Fprintln(w, "|---|---|"+strings.Repeat("---|", len(cfg.Variants)))
	row := func(metric, target string, cells ...string) {
		fmt.Fprintf(w, "| %s | %s | %s |\n", metric, target, strings.Join(cells, " | "))
	}
	cellsFor := func(f func(v string) string) []string {
		var out []string
		for _, v := range cfg.Variants {
			out = append(out, f(v))
		}
		return out
	}
	if len(rep.memory) > 0 {
		for _, m := range rep.memory {
			if m.variant == variantNew {
				fmt.Fprintf(w, "| memory per provider, %s (N = %d, for comparison) | | %.0f B |%s\n", m.variant, m.n, m.perProvB, strings.Repeat(" |", len(cfg.Variants)-1))
			}
		}
		row(fmt.Sprintf("memory per provider (N = %d, before any Retrieve)", cfg.MemoryN), "Pool ≤ 600 B", cellsFor(func(v string) string {
			for _, m := range rep.memory {
				if m.variant == v {
					s := fmt.Sprintf("%.0f B", m.perProvB)
					if v == variantPool {
						s += " " + check(m.perProvB <= 600)
					}
					return s
				}
			}
			return ""
		})...)
	}
	if len(rep.throttle) > 0 {
		lifetimes := 2.0
		row(fmt.Sprintf("STS requests per provider per lifetime (N = %d, throttled above %.0f/s for two %v lifetimes)", cfg.ThrottleN, cfg.ThrottleRPS, cfg.ThrottleLifetime),
			"Pool ≤ 2", cellsFor(func(v string) string {
				ph := rep.throttle[v][0]
				per := float64(ph.requests) / float64(cfg.ThrottleN) / lifetimes
				s := fmt.Sprintf("%.2f (%d requests, peak %d/s)", per, ph.requests, peakOf(ph))
				if v == variantPool {
					s += " " + check(per <= 2)
				}
				return s
			})...)
		row("caller errors while unexpired credentials existed (throttled / after)", "Pool 0", cellsFor(func(v string) string {
			t, a := rep.throttle[v][0], rep.throttle[v][1]
			s := fmt.Sprintf("%d / %d", t.errsValid, a.errsValid)
			if v == variantPool {
				s += " " + check(t.errsValid+a.errsValid == 0)
			}
			return s
		})...)
		row("caller errors in all (throttled / after)", "", cellsFor(func(v string) string {
			t, a := rep.throttle[v][0], rep.throttle[v][1]
			return fmt.Sprintf("%d of %d / %d of %d", t.errs, t.calls, a.errs, a.calls)
		})...)
	}
	if len(rep.saturation) > 0 {
		n := cfg.SatN
		row(fmt.Sprintf("cold start, %d providers by %d callers", n, cfg.SatCallers), "Pool ≥ 2× faster than the SDK",
			cellsFor(func(v string) string {
				r := rep.satR[v]
				s := fmt.Sprintf("%s, %d STS calls (%d requests)", fmtDur(r.coldStart), r.coldCalls, r.coldRequests)
				if v == variantPool {
					if sdk, ok := rep.satR[variantSDK]; ok {
						s += fmt.Sprintf(" (%.1f×) %s", sdk.coldStart.Seconds()/r.coldStart.Seconds(), check(2*r.coldStart <= sdk.coldStart))
					}
					s += fmt.Sprintf("; N + 1 calls %s", check(r.coldCalls == int64(n+1)))
				}
				return s
			})...)
		row(fmt.Sprintf("goroutines beyond the %d callers, at most", cfg.SatCallers), fmt.Sprintf("Pool ≤ %d + %d", stschain.DefaultMaxConcurrentRefreshes, goroutineAllowance),
			cellsFor(func(v string) string {
				g := rep.saturation[v].goroutines
				s := fmt.Sprint(g)
				if v == variantPool {
					s += " " + check(g <= stschain.DefaultMaxConcurrentRefreshes+goroutineAllowance)
				}
				return s
			})...)
		row("Retrieve p50 / p99 / max", "Pool p99 < 1 ms", cellsFor(func(v string) string {
			h := &rep.saturation[v].hist
			s := fmt.Sprintf("%s / %s / %s", fmtDur(h.quantile(0.5)), fmtDur(h.quantile(0.99)), fmtDur(h.max))
			if v == variantPool {
				s += " " + check(h.quantile(0.99) < time.Millisecond)
			}
			return s
		})...)
		row(fmt.Sprintf("STS requests per second over the %v after the cold start: peak / mean", cfg.satCalling()), "Pool peak ≤ 3× mean",
			cellsFor(func(v string) string {
				peak, mean := rep.saturation[v].waves()
				s := fmt.Sprintf("%d / %.1f", peak, mean)
				if v == variantPool {
					s += " " + check(float64(peak) <= 3*mean)
				}
				return s
			})...)
		row("caller errors", "Pool 0", cellsFor(func(v string) string {
			ph := rep.saturation[v]
			s := fmt.Sprintf("%d of %d", ph.errs, ph.calls)
			if v == variantPool {
				s += " " + check(ph.errs == 0)
			}
			return s
		})...)
	}
	return failed
}

func peakOf(ph *phase) int64 {
	peak, _ := ph.waves()
	return peak
}
