// Command fleet measures how a fleet of processes shares STS sessions
// through Redis with package rediscache, as a SaaS would: W worker
// processes, each with N ChainableProviders, one per customer role
// (assumed with an external ID from one hub role, itself assumed from a
// user), calling Retrieve on all of them continuously over several
// refresh rounds, against a fake STS (ststest) on loopback. It runs the
// fleet against each store of -redis in turn:
//
//   - none: no shared cache; every worker calls STS for every role (the
//     figures to compare with);
//
//   - single: one redis-server, killed midway (the fleet goes on without
//     it);
//
//   - cluster: a Redis Cluster of 3 masters and 3 replicas
//     (redis-cli --cluster create), a master of which is killed midway
//     (a replica takes over).
//
//     go run ./bench/fleet [-check] [-redis none,single,cluster] [-workers 32] [-roles 1000] ...
//
// It prints a Markdown table per store with a PASS/FAIL per target, then
// one table comparing them, to stdout; progress to stderr. With -check it
// exits 1 when a target is missed. redis-server and redis-cli must be on
// PATH.
//
// The program re-executes itself as the workers (STSCHAIN_FLEET_WORKER set
// in their environment); each reads its configuration, and the sealing
// key, from its standard input. Each worker's Redis client is a
// redis.UniversalClient built from the store's addresses: a Client for one
// server, a ClusterClient for a Cluster.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// workerEnv marks a worker process.
const workerEnv = "STSCHAIN_FLEET_WORKER"

// Stores a run can use.
const (
	storeNone    = "none"
	storeSingle  = "single"
	storeCluster = "cluster"
)

// config is what one run does; the flags set it.
type config struct {
	Workers      int           // worker processes (W)
	Roles        int           // customer roles, one provider each per worker (N)
	Lifetime     time.Duration // customer sessions' lifetime (ststest Role.Lifetime)
	Prefetch     time.Duration // the providers' PrefetchWindow
	Expiry       time.Duration // the providers' ExpiryWindow
	Rounds       int           // refresh rounds with the store
	OutageRounds int           // refresh rounds after a server is killed; 0 skips the outage
	Callers      int           // goroutines per worker calling Retrieve
	Pause        time.Duration // each caller's pause between two sweeps over all providers
	Stores       []string      // the stores to run against, in turn
	RedisTimeout time.Duration // rediscache's Options.Timeout; 0 for its default
	PoolSize     int           // go-redis's PoolSize; 0 for its default
}

func defaultConfig() config {
	return config{
		Workers:      32,
		Roles:        1000,
		Lifetime:     90 * time.Second,
		Prefetch:     12 * time.Second,
		Expiry:       5 * time.Second,
		Rounds:       3,
		OutageRounds: 1,
		Callers:      1,
		Pause:        20 * time.Millisecond,
		Stores:       []string{storeNone, storeSingle, storeCluster},
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
	case c.Lifetime/10-time.Second <= (c.Prefetch-c.Expiry)/2:
		// The worker whose first refresh is spread earliest (a tenth of
		// the session in) stores a session that is newer than the first
		// by that much, less a second (STS gives expiries in whole
		// seconds). The other workers judge the first session by the hour
		// they ask for and do not spread their first refresh: they start
		// it up to half the jitter span ((prefetch - expiry) / 2) past
		// their prefetch point, and take the stored session only if it is
		// still before its own. Real sessions last what the provider asks
		// for, and every worker spreads alike.
		return fmt.Errorf("-lifetime / 10 - 1s must exceed (-prefetch - -expiry) / 2, so that a session refreshed early is still fresh for the other workers")
	case c.Pause < 0 || c.RedisTimeout < 0 || c.PoolSize < 0:
		return fmt.Errorf("-pause, -redis-timeout and -pool-size must not be negative")
	case len(c.Stores) == 0:
		return fmt.Errorf("-redis names no store")
	}
	for _, s := range c.Stores {
		if s != storeNone && s != storeSingle && s != storeCluster {
			return fmt.Errorf("-redis: unknown store %q; want none, single or cluster", s)
		}
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
	flag.IntVar(&cfg.Rounds, "rounds", cfg.Rounds, "refresh `rounds` with the store")
	flag.IntVar(&cfg.OutageRounds, "outage-rounds", cfg.OutageRounds, "refresh `rounds` after a server is killed (0: no outage)")
	flag.IntVar(&cfg.Callers, "callers", cfg.Callers, "`goroutines` per worker calling Retrieve on every provider")
	flag.DurationVar(&cfg.Pause, "pause", cfg.Pause, "each caller's pause between sweeps over the providers")
	flag.DurationVar(&cfg.RedisTimeout, "redis-timeout", 0, "rediscache's Options.Timeout (0: its default, 1s)")
	flag.IntVar(&cfg.PoolSize, "pool-size", 0, "each worker's go-redis PoolSize (0: go-redis's default, 10 per CPU)")
	stores := flag.String("redis", strings.Join(cfg.Stores, ","), "the `stores` to run against, in turn: none, single, cluster")
	check := flag.Bool("check", false, "exit 1 when a target is missed")
	timeout := flag.Duration("timeout", time.Hour, "hard deadline for the whole run")
	flag.Parse()
	cfg.Stores = strings.Split(*stores, ",")
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

	var results []*result
	pass := true
	for _, store := range cfg.Stores {
		rep, err := run(ctx, cfg, store, os.Stderr)
		if err != nil {
			fmt.Fprintf(os.Stderr, "fleet: %s: %v\n", store, err)
			os.Exit(2)
		}
		rep.write(os.Stdout)
		fmt.Fprintln(os.Stdout)
		results = append(results, rep)
		pass = pass && rep.pass()
	}
	if len(results) > 1 {
		writeComparison(os.Stdout, results)
	}
	if *check && !pass {
		fmt.Fprintln(os.Stderr, "fleet: a target was missed")
		os.Exit(1)
	}
}

// logf writes one progress line.
func logf(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, "fleet: "+format+"\n", args...)
}
