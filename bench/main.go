// Command bench measures how stschain.ChainableProvider refreshes a
// two-link role chain (user -> role B -> role A) compared with the AWS
// SDK's aws.CredentialsCache around stscreds.AssumeRoleProvider, both with
// their default options, against one ststest server with added latency. It
// prints a Markdown table with a PASS/FAIL per target.
//
//	go run ./bench [-check] [-cycles 10] [-goroutines 64] [-lifetime 4s] ...
//
// With -check it exits 1 when stschain misses a target. Progress goes to
// stderr, the table to stdout.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

// config is what one run does; the flags set it.
type config struct {
	Cycles         int           // refresh cycles of the top link to measure
	Goroutines     int           // callers of the top link's Retrieve
	Pause          time.Duration // between one caller's Retrieve calls; 0 only yields
	Lifetime       time.Duration // lifetime of role A's sessions (top link)
	MasterLifetime time.Duration // lifetime of role B's sessions
	Latency        time.Duration // added to every STS answer
	Slow           time.Duration // a Retrieve this long counts as a stall
	OutageFrac     float64       // outage length, as a fraction of the life left at its start; 0 skips it
	AfterCycles    int           // refresh cycles to watch once STS is back
	BenchRounds    int           // rounds of the cached Retrieve benchmark; 0 skips it
	Providers      []string      // providerOurs and/or providerSDK, in run order

	// inMemory runs an in-memory ststest server, as a testing/synctest
	// bubble needs, instead of one on loopback.
	inMemory bool
}

func defaultConfig() config {
	return config{
		Cycles:         10,
		Goroutines:     64,
		Lifetime:       4 * time.Second,
		MasterLifetime: 4 * time.Second,
		Latency:        100 * time.Millisecond,
		Slow:           80 * time.Millisecond,
		OutageFrac:     0.6,
		AfterCycles:    2,
		BenchRounds:    3,
		Providers:      []string{providerOurs, providerSDK},
	}
}

func main() {
	cfg := defaultConfig()
	flag.IntVar(&cfg.Cycles, "cycles", cfg.Cycles, "refresh `cycles` of the top link to measure")
	flag.IntVar(&cfg.Goroutines, "goroutines", cfg.Goroutines, "`n` goroutines calling Retrieve")
	flag.DurationVar(&cfg.Pause, "pause", cfg.Pause, "pause between one caller's Retrieve calls (0: none, each caller only yields)")
	flag.DurationVar(&cfg.Lifetime, "lifetime", cfg.Lifetime, "lifetime of role A's (top link) sessions")
	flag.DurationVar(&cfg.MasterLifetime, "master-lifetime", cfg.MasterLifetime, "lifetime of role B's sessions")
	flag.DurationVar(&cfg.Latency, "latency", cfg.Latency, "latency added to every STS answer")
	flag.DurationVar(&cfg.Slow, "slow", cfg.Slow, "a Retrieve at least this long counts as waiting for STS")
	flag.Float64Var(&cfg.OutageFrac, "outage", cfg.OutageFrac, "outage length as a `fraction` of the credentials' life left when it starts (0 skips the outage)")
	flag.IntVar(&cfg.AfterCycles, "after-cycles", cfg.AfterCycles, "refresh `cycles` to watch after the outage")
	flag.IntVar(&cfg.BenchRounds, "bench-rounds", cfg.BenchRounds, "alternating `rounds` of the cached Retrieve benchmark (best kept; 0 skips it)")
	sdk := flag.Bool("sdk", true, "also run the SDK's providers")
	check := flag.Bool("check", false, "exit 1 when stschain misses a target")
	verbose := flag.Bool("v", false, "print refresh events and slow calls to stderr")
	timeout := flag.Duration("timeout", 4*time.Minute, "hard deadline for the whole run")
	flag.Parse()
	if !*sdk {
		cfg.Providers = []string{providerOurs}
	}
	if err := cfg.validate(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}

	// The hard deadline: the context stops the phases; should anything
	// still hang, the timer ends the process.
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	hard := time.AfterFunc(*timeout+10*time.Second, func() {
		fmt.Fprintln(os.Stderr, "bench: hard deadline exceeded, aborting")
		os.Exit(3)
	})
	defer hard.Stop()

	start := time.Now()
	rep, err := run(ctx, cfg, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	rep.total = time.Since(start)
	rep.write(os.Stdout)
	if *verbose {
		rep.writeDetails(os.Stderr)
	}
	if *check && !rep.oursPass() {
		fmt.Fprintln(os.Stderr, "bench: stschain missed a target")
		os.Exit(1)
	}
}

func (c config) validate() error {
	switch {
	case c.Cycles < 1, c.Goroutines < 1, c.AfterCycles < 1:
		return fmt.Errorf("-cycles, -goroutines and -after-cycles must be at least 1")
	case c.Lifetime < time.Second || c.MasterLifetime < time.Second:
		return fmt.Errorf("-lifetime and -master-lifetime must be at least 1s (STS expirations have whole seconds)")
	case c.Latency < 0 || c.Slow <= 0 || c.Pause < 0:
		return fmt.Errorf("-latency and -pause must not be negative and -slow must be positive")
	case c.OutageFrac < 0 || c.OutageFrac >= 1:
		return fmt.Errorf("-outage must be in [0, 1)")
	case c.BenchRounds < 0:
		return fmt.Errorf("-bench-rounds must not be negative")
	}
	return nil
}

// run starts one ststest server and measures each provider in turn.
func run(ctx context.Context, cfg config, logw io.Writer) (*report, error) {
	srv := newServer(cfg)
	defer srv.Close()
	rep := &report{cfg: cfg}
	var cached map[string]benchResult
	if cfg.BenchRounds > 0 {
		fmt.Fprintf(logw, "bench: cached Retrieve, %d rounds ...\n", cfg.BenchRounds)
		var err error
		if cached, err = benchCached(ctx, srv, cfg); err != nil {
			return nil, err
		}
	}
	for _, p := range cfg.Providers {
		srv.ResetCalls()
		res, err := runProvider(ctx, srv, cfg, p, logw)
		if err != nil {
			return nil, err
		}
		if b, ok := cached[p]; ok {
			res.cachedNs, res.cachedAllocs, res.benchRan = b.ns, b.allocs, true
		}
		rep.results = append(rep.results, res)
	}
	return rep, nil
}
