package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stschain/stschain"
	"github.com/stschain/stschain/internal/fleettest"
	"github.com/stschain/stschain/rediscache"
)

// Phases of a run. A worker counts each event in the phase current when it
// happens; the parent moves the workers on with "phase N" lines.
const (
	phaseWarmup = iota // every provider's first Retrieve, cold cache
	phaseRedis         // refresh rounds with the store
	phaseOutage        // a server killed
	numPhases
)

// workerConfig is the first line a worker reads on its standard input.
type workerConfig struct {
	Index        int
	STSURL       string
	Store        string   // storeNone, storeSingle or storeCluster
	RedisAddrs   []string // the server, or the cluster's nodes
	Key          []byte   // the sealing key (JSON: base64)
	Roles        int
	Prefetch     time.Duration
	Expiry       time.Duration
	Callers      int
	Pause        time.Duration
	WarmupBudget time.Duration
	RedisTimeout time.Duration
	PoolSize     int
}

// workerReport is the last line a worker writes on its standard output.
type workerReport struct {
	Index  int
	Phases [numPhases]fleettest.Stats
	// Refreshes are, per customer role, its provider's successful
	// refreshes, first fetch included (fleettest.Host.Refreshes).
	Refreshes map[string][]fleettest.Refresh
}

// newClient is the Redis client of a worker: a Client for one server, a
// ClusterClient for a Cluster (redis.UniversalOptions cannot set the
// cluster's ClusterStateReloadInterval), with the settings the rediscache
// documentation advises: a dead server is reported at once, a dropped
// connection is tried again once, and a failover is seen within seconds,
// not go-redis's minute.
func newClient(store string, addrs []string, poolSize int) redis.UniversalClient {
	if store == storeCluster {
		return redis.NewClusterClient(&redis.ClusterOptions{
			Addrs:                      addrs,
			DialerRetries:              1,
			MaxRetries:                 1,
			ClusterStateReloadInterval: 2 * time.Second,
			PoolSize:                   poolSize,
		})
	}
	return redis.NewClient(&redis.Options{Addr: addrs[0], DialerRetries: 1, MaxRetries: 1, PoolSize: poolSize})
}

// Commands a worker reads, one a line, after its configuration:
//
//   - "phase N": count what happens from now on in phase N (a worker
//     moves to phaseRedis by itself when its warm-up is done);
//   - "progress": write "progress " and a fleettest.Progress in JSON;
//   - "stop": stop calling Retrieve, and write "stopped";
//   - "report" (or the end of its input): write the workerReport, and exit.
const progressPrefix = "progress "

// workerMain runs a worker: it reads its workerConfig, builds the
// providers, fetches every one once, writes "ready", calls Retrieve until
// "stop", and answers the commands until "report".
func workerMain(stdin io.Reader, stdout, stderr io.Writer) int {
	// go-redis logs its failed dials process-wide; an outage makes many.
	redis.SetLogger(quietRedisLogger{})
	in := bufio.NewScanner(stdin)
	in.Buffer(make([]byte, 0, 1<<20), 1<<24)
	if !in.Scan() {
		fmt.Fprintln(stderr, "fleet worker: no configuration on standard input")
		return 2
	}
	var cfg workerConfig
	if err := json.Unmarshal(in.Bytes(), &cfg); err != nil {
		fmt.Fprintln(stderr, "fleet worker: configuration:", err)
		return 2
	}
	var cache stschain.Cache
	if cfg.Store != storeNone {
		rdb := newClient(cfg.Store, cfg.RedisAddrs, cfg.PoolSize)
		defer rdb.Close()
		c, err := rediscache.New(rdb, cfg.Key, func(o *rediscache.Options) { o.Timeout = cfg.RedisTimeout })
		if err != nil {
			fmt.Fprintf(stderr, "fleet worker %d: %v\n", cfg.Index, err)
			return 2
		}
		cache = c
	}
	clear(cfg.Key)
	h, err := fleettest.NewHost(fleettest.HostConfig{
		STSURL: cfg.STSURL, AccessKeyID: fleettest.UserKeyID, SecretKey: fleettest.UserSecret, HubRole: fleettest.HubRole,
		Customers: fleettest.Customers(cfg.Roles), Cache: cache, Prefetch: cfg.Prefetch, Expiry: cfg.Expiry,
		Callers: cfg.Callers, Pause: cfg.Pause, Phases: numPhases,
	})
	if err != nil {
		fmt.Fprintf(stderr, "fleet worker %d: %v\n", cfg.Index, err)
		return 2
	}

	ctx, cancel := context.WithTimeout(context.Background(), cfg.WarmupBudget)
	h.Warmup(ctx)
	cancel()
	// What happens from here on is with the store, however long the
	// other workers' warm-up takes.
	h.SetPhase(phaseRedis)
	fmt.Fprintln(stdout, "ready")

	h.Start()
commands:
	for in.Scan() {
		line := in.Text()
		switch line {
		case "report":
			break commands
		case "stop":
			h.Stop()
			fmt.Fprintln(stdout, "stopped")
		case "progress":
			b, err := json.Marshal(h.Progress())
			if err != nil {
				fmt.Fprintln(stderr, "fleet worker:", err)
				return 1
			}
			fmt.Fprintln(stdout, progressPrefix+string(b))
		}
		if n, ok := strings.CutPrefix(line, "phase "); ok {
			if p, err := strconv.Atoi(n); err == nil && p >= 0 && p < numPhases {
				h.SetPhase(p)
			}
		}
	}
	h.Stop()

	rep := workerReport{Index: cfg.Index, Refreshes: h.Refreshes()}
	for i := range rep.Phases {
		rep.Phases[i] = h.Stats(i)
	}
	out, err := json.Marshal(rep)
	if err != nil {
		fmt.Fprintln(stderr, "fleet worker:", err)
		return 1
	}
	fmt.Fprintln(stdout, string(out))
	return 0
}

type quietRedisLogger struct{}

func (quietRedisLogger) Printf(context.Context, string, ...any) {}
