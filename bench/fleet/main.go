// Command fleet measures how a fleet of processes shares STS sessions
// through Redis with package rediscache, as a SaaS would: W worker
// processes, each with N ChainableProviders, one per customer role
// (assumed with an external ID from one hub role, itself assumed from a
// user), calling Retrieve on all of them continuously over several
// refresh rounds. One real redis-server and one fake STS (ststest) serve
// them on loopback. Midway the program kills redis-server and watches the
// fleet go on without it.
//
//	go run ./bench/fleet [-check] [-workers 8] [-roles 200] [-lifetime 24s] ...
//
// It prints a Markdown table with a PASS/FAIL per target to stdout,
// progress to stderr; with -check it exits 1 when a target is missed.
// redis-server and redis-cli must be on PATH.
//
// The program re-executes itself as the workers (STSCHAIN_FLEET_WORKER set
// in their environment); each reads its configuration, and the sealing
// key, from its standard input.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

// workerEnv marks a worker process.
const workerEnv = "STSCHAIN_FLEET_WORKER"

// config is what one run does; the flags set it.
type config struct {
	Workers      int           // worker processes (W)
	Roles        int           // customer roles, one provider each per worker (N)
	Lifetime     time.Duration // customer sessions' lifetime (ststest Role.Lifetime)
	Prefetch     time.Duration // the providers' PrefetchWindow
	Expiry       time.Duration // the providers' ExpiryWindow
	Rounds       int           // refresh rounds with Redis
	OutageRounds int           // refresh rounds after redis-server is killed; 0 skips the outage
	Callers      int           // goroutines per worker calling Retrieve
	Pause        time.Duration // each caller's pause between two sweeps over all providers
}

func defaultConfig() config {
	return config{
		Workers:      8,
		Roles:        200,
		Lifetime:     24 * time.Second,
		Prefetch:     8 * time.Second,
		Expiry:       2 * time.Second,
		Rounds:       4,
		OutageRounds: 2,
		Callers:      4,
		Pause:        2 * time.Millisecond,
	}
}

func (c config) validate() error {
	switch {
	case c.Workers < 1 || c.Roles < 1 || c.Callers < 1:
		return fmt.Errorf("-workers, -roles and -callers must be at least 1")
	case c.Rounds < 1 || c.OutageRounds < 0:
		return fmt.Errorf("-rounds must be at least 1 and -outage-rounds not negative")
	case c.Expiry <= 0 || c.Prefetch <= c.Expiry:
		return fmt.Errorf("want 0 < -expiry < -prefetch")
	case c.Lifetime%time.Second != 0 || c.Lifetime < 3*c.Prefetch:
		// A session read from Redis is judged by the session length the
		// provider asks for (STS's default hour), so its windows do not
		// shrink: the next refresh must come after the jittered ones of
		// this round.
		return fmt.Errorf("-lifetime must be whole seconds and at least 3 × -prefetch")
	case c.Pause < 0:
		return fmt.Errorf("-pause must not be negative")
	}
	return nil
}

// cycle is about how long a round lasts: a session lives Lifetime and is
// refreshed Prefetch before it expires.
func (c config) cycle() time.Duration { return c.Lifetime - c.Prefetch }

func main() {
	if os.Getenv(workerEnv) != "" {
		os.Exit(workerMain(os.Stdin, os.Stdout, os.Stderr))
	}
	cfg := defaultConfig()
	flag.IntVar(&cfg.Workers, "workers", cfg.Workers, "worker `processes` (W)")
	flag.IntVar(&cfg.Roles, "roles", cfg.Roles, "customer `roles` (N): each worker has one provider per role")
	flag.DurationVar(&cfg.Lifetime, "lifetime", cfg.Lifetime, "lifetime of the customer roles' sessions")
	flag.DurationVar(&cfg.Prefetch, "prefetch", cfg.Prefetch, "the providers' PrefetchWindow")
	flag.DurationVar(&cfg.Expiry, "expiry", cfg.Expiry, "the providers' ExpiryWindow")
	flag.IntVar(&cfg.Rounds, "rounds", cfg.Rounds, "refresh `rounds` with Redis")
	flag.IntVar(&cfg.OutageRounds, "outage-rounds", cfg.OutageRounds, "refresh `rounds` after redis-server is killed (0: no outage)")
	flag.IntVar(&cfg.Callers, "callers", cfg.Callers, "`goroutines` per worker calling Retrieve on every provider")
	flag.DurationVar(&cfg.Pause, "pause", cfg.Pause, "each caller's pause between sweeps over the providers")
	check := flag.Bool("check", false, "exit 1 when a target is missed")
	timeout := flag.Duration("timeout", 6*time.Minute, "hard deadline for the whole run")
	flag.Parse()
	if err := cfg.validate(); err != nil {
		fmt.Fprintln(os.Stderr, "fleet:", err)
		os.Exit(2)
	}

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	hard := time.AfterFunc(*timeout+10*time.Second, func() {
		fmt.Fprintln(os.Stderr, "fleet: hard deadline exceeded, aborting")
		os.Exit(3)
	})
	defer hard.Stop()

	rep, err := run(ctx, cfg, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fleet:", err)
		os.Exit(2)
	}
	rep.write(os.Stdout)
	if *check && !rep.pass() {
		fmt.Fprintln(os.Stderr, "fleet: a target was missed")
		os.Exit(1)
	}
}

// logf writes one progress line.
func logf(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, "fleet: "+format+"\n", args...)
}
