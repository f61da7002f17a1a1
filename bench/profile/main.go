// Command profile measures role chains read from an AWS config file, of
// depths 2, 3 and 5, built by awsprofile.LoadConfig and by the SDK's own
// profile chain (config.LoadDefaultConfig with WithSharedConfigProfile,
// which nests a stscreds.AssumeRoleProvider per link and caches only the
// top one in an aws.CredentialsCache), on the same files and against one
// ststest server with added latency and short session lifetimes. For each
// it counts the STS calls of every link per refresh cycle of the top link,
// and the callers that waited for STS, and prints a Markdown table.
//
//	go run ./bench/profile [-cycles 5] [-latency 100ms] [-top-lifetime 4s] [-inner-lifetime 16s] [-callers 16]
//
// STS writes Expiration in whole seconds, so a session of a few seconds
// may reach the client with up to a second less to live; keep the
// lifetimes several times the latency, or a refresh may not finish within
// the refresh windows, which stschain scales down to the session's life.
//
// Progress goes to stderr, the table to stdout.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/stschain/stschain/awsprofile"
	"github.com/stschain/stschain/ststest"
)

// benchConfig is what one run does; the flags set it.
type benchConfig struct {
	Depths        []int
	Cycles        int           // refresh cycles of the top link to measure
	Callers       int           // goroutines calling Retrieve
	Pause         time.Duration // between one caller's Retrieve calls
	Latency       time.Duration // added to every STS answer
	TopLifetime   time.Duration // sessions of the top role
	InnerLifetime time.Duration // sessions of the other roles
	WaitFrac      float64       // a Retrieve this fraction of Latency or longer waited for STS

	// inMemory runs in-memory ststest servers, which the chains reach
	// through the servers' own client, as a testing/synctest bubble needs;
	// otherwise the servers listen on loopback and the chains use the
	// SDK's default HTTP client.
	inMemory bool
}

func defaultConfig() benchConfig {
	return benchConfig{
		Depths:        []int{2, 3, 5},
		Cycles:        5,
		Callers:       16,
		Pause:         time.Millisecond,
		Latency:       100 * time.Millisecond,
		TopLifetime:   4 * time.Second,
		InnerLifetime: 16 * time.Second,
		WaitFrac:      0.8,
	}
}

const (
	account  = "123456789012"
	userKey  = "AKIABENCHPROFILE0001"
	userSec  = "bench-profile-secret"
	ours     = "awsprofile.LoadConfig"
	sdkChain = "SDK profile chain"
)

func roleARN(depth, i int) string {
	return fmt.Sprintf("arn:aws:iam::%s:role/d%d-r%d", account, depth, i)
}

func topProfile(depth int) string { return fmt.Sprintf("d%d-r%d", depth, depth) }

// writeFiles writes the config and credentials files: for each depth, a
// chain of profiles dD-r1 (from the user's keys) ... dD-rD, every profile
// pointed at url by a services section (the SDK's loader builds its
// AssumeRole clients before it reads endpoint_url, so only a services
// section reaches them).
func writeFiles(dir, url string, depths []int) (cfgFile, credsFile string, err error) {
	var b strings.Builder
	b.WriteString("[services local]\nsts =\n  endpoint_url = " + url + "\n")
	for _, d := range depths {
		for i := 1; i <= d; i++ {
			src := "bench"
			if i > 1 {
				src = fmt.Sprintf("d%d-r%d", d, i-1)
			}
			fmt.Fprintf(&b, "[profile d%d-r%d]\nregion = us-east-1\nservices = local\nrole_arn = %s\nsource_profile = %s\n", d, i, roleARN(d, i), src)
		}
	}
	cfgFile = filepath.Join(dir, "config")
	credsFile = filepath.Join(dir, "credentials")
	if err := os.WriteFile(cfgFile, []byte(b.String()), 0o600); err != nil {
		return "", "", err
	}
	creds := "[bench]\naws_access_key_id = " + userKey + "\naws_secret_access_key = " + userSec + "\n"
	return cfgFile, credsFile, os.WriteFile(credsFile, []byte(creds), 0o600)
}

func newServer(cfg benchConfig) *ststest.Server {
	sc := ststest.Config{
		AccountID: account,
		Users:     []ststest.User{{Name: "bench", AccessKeyID: userKey, SecretAccessKey: userSec}},
	}
	for _, d := range cfg.Depths {
		for i := 1; i <= d; i++ {
			life := cfg.InnerLifetime
			if i == d {
				life = cfg.TopLifetime
			}
			sc.Roles = append(sc.Roles, ststest.Role{ARN: roleARN(d, i), Trust: []string{account}, Lifetime: life})
		}
	}
	newSTS := ststest.NewServer
	if cfg.inMemory {
		newSTS = ststest.NewInMemoryServer
	}
	srv := newSTS(sc)
	srv.SetLatency(cfg.Latency)
	return srv
}

// result is one provider's run at one depth.
type result struct {
	depth    int
	provider string
	perLink  []int // AssumeRole calls per link, bottom first, after the warm-up
	cycles   int   // the top link's calls
	calls    int   // Retrieve calls
	waits    int   // Retrieve calls of WaitFrac × Latency or longer
	errs     int
	firstErr error
	p50, p99 time.Duration
	max      time.Duration
	elapsed  time.Duration
}

// load builds the chain of depth's top profile with provider; client,
// when not nil, sends its requests.
func load(ctx context.Context, provider string, client aws.HTTPClient, cfgFile, credsFile string, depth int) (aws.CredentialsProvider, error) {
	files := []func(*config.LoadOptions) error{
		config.WithSharedConfigFiles([]string{cfgFile}),
		config.WithSharedCredentialsFiles([]string{credsFile}),
	}
	if client != nil {
		files = append(files, config.WithHTTPClient(client))
	}
	switch provider {
	case ours:
		cfg, err := awsprofile.LoadConfig(ctx, topProfile(depth), func(o *awsprofile.Options) { o.LoadOptions = files })
		return cfg.Credentials, err
	case sdkChain:
		cfg, err := config.LoadDefaultConfig(ctx, append(files, config.WithSharedConfigProfile(topProfile(depth)))...)
		return cfg.Credentials, err
	}
	return nil, fmt.Errorf("unknown provider %q", provider)
}

// measure runs cfg.Callers callers against provider's chain of depth
// until its top link has refreshed cfg.Cycles times after the warm-up.
func measure(ctx context.Context, cfg benchConfig, srv *ststest.Server, cfgFile, credsFile string, depth int, provider string) (*result, error) {
	var client aws.HTTPClient
	if cfg.inMemory {
		client = srv.Client()
	}
	p, err := load(ctx, provider, client, cfgFile, credsFile, depth)
	if err != nil {
		return nil, fmt.Errorf("%s: loading: %w", provider, err)
	}
	// Warm up: the first Retrieve fetches every link; it is not counted.
	if _, err := p.Retrieve(ctx); err != nil {
		return nil, fmt.Errorf("%s: first Retrieve: %w", provider, err)
	}
	srv.ResetCalls()
	res := &result{depth: depth, provider: provider}
	top := roleARN(depth, depth)

	var stop atomic.Bool
	lat := make([][]time.Duration, cfg.Callers)
	errs := make([]int, cfg.Callers)
	firstErrs := make([]error, cfg.Callers)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range cfg.Callers {
		wg.Go(func() {
			for !stop.Load() {
				t0 := time.Now()
				_, err := p.Retrieve(ctx)
				lat[i] = append(lat[i], time.Since(t0))
				if err != nil {
					errs[i]++
					if firstErrs[i] == nil {
						firstErrs[i] = err
					}
				}
				time.Sleep(cfg.Pause)
			}
		})
	}
	for len(srv.Calls(ststest.Call{Action: "AssumeRole"})) == 0 || countRole(srv, top) < cfg.Cycles {
		if ctx.Err() != nil {
			stop.Store(true)
			wg.Wait()
			return nil, fmt.Errorf("%s depth %d: %w", provider, depth, ctx.Err())
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Let the refresh that made the last cycle finish, then count.
	time.Sleep(time.Duration(depth+1) * cfg.Latency)
	stop.Store(true)
	wg.Wait()
	res.elapsed = time.Since(start)

	for i := 1; i <= depth; i++ {
		res.perLink = append(res.perLink, countRole(srv, roleARN(depth, i)))
	}
	res.cycles = res.perLink[depth-1]
	var all []time.Duration
	for i := range lat {
		all = append(all, lat[i]...)
		res.errs += errs[i]
		if res.firstErr == nil {
			res.firstErr = firstErrs[i]
		}
	}
	slices.Sort(all)
	res.calls = len(all)
	threshold := time.Duration(cfg.WaitFrac * float64(cfg.Latency))
	for _, d := range all {
		if d >= threshold {
			res.waits++
		}
	}
	if n := len(all); n > 0 {
		res.p50, res.p99, res.max = all[n/2], all[min(n-1, n*99/100)], all[n-1]
	}
	return res, nil
}

func countRole(srv *ststest.Server, role string) int {
	n := 0
	for _, c := range srv.Calls(ststest.Call{Action: "AssumeRole"}) {
		if c.RoleARN == role && c.Status == 200 {
			n++
		}
	}
	return n
}

// run measures every depth with both providers, each against a server of
// its own, so that no chain's calls are counted for another (a chain whose
// callers stopped still refreshes ahead once).
func run(ctx context.Context, cfg benchConfig, logw io.Writer) ([]*result, error) {
	dir, err := os.MkdirTemp("", "stschain-bench-profile-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	var out []*result
	for _, d := range cfg.Depths {
		for _, p := range []string{ours, sdkChain} {
			fmt.Fprintf(logw, "bench/profile: depth %d, %s: %d callers, %d top-link cycles ...\n", d, p, cfg.Callers, cfg.Cycles)
			res, err := measureOn(ctx, cfg, dir, d, p)
			if err != nil {
				return nil, err
			}
			out = append(out, res)
		}
	}
	return out, nil
}

// measureOn runs measure against a new server and files of its own.
func measureOn(ctx context.Context, cfg benchConfig, dir string, depth int, provider string) (*result, error) {
	srv := newServer(cfg)
	defer srv.Close()
	sub, err := os.MkdirTemp(dir, "run-")
	if err != nil {
		return nil, err
	}
	cfgFile, credsFile, err := writeFiles(sub, srv.URL, cfg.Depths)
	if err != nil {
		return nil, err
	}
	return measure(ctx, cfg, srv, cfgFile, credsFile, depth, provider)
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.1f µs", float64(d)/float64(time.Microsecond))
}

// write prints the table.
func write(w io.Writer, cfg benchConfig, results []*result) {
	fmt.Fprintf(w, "Role chains from one AWS config file against ststest (latency %v per STS call; top role sessions %v, the others %v; %d callers, each calling Retrieve every %v; %d top-link cycles after a warm-up). A caller waited when its Retrieve took %.0f%% of the latency or more.\n\n",
		cfg.Latency, cfg.TopLifetime, cfg.InnerLifetime, cfg.Callers, cfg.Pause, cfg.Cycles, cfg.WaitFrac*100)
	fmt.Fprintln(w, "| depth | chain | STS calls per top-link cycle, link 1 … top | callers that waited | Retrieve p50 | p99 | max | caller errors |")
	fmt.Fprintln(w, "|---:|---|---|---:|---:|---:|---:|---:|")
	for _, r := range results {
		per := make([]string, len(r.perLink))
		for i, n := range r.perLink {
			per[i] = fmt.Sprintf("%.2f", float64(n)/float64(max(r.cycles, 1)))
		}
		fmt.Fprintf(w, "| %d | %s | %s | %d of %d | %s | %s | %s | %d |\n", r.depth, r.provider, strings.Join(per, " / "),
			r.waits, r.calls, fmtDur(r.p50), fmtDur(r.p99), fmtDur(r.max), r.errs)
	}
	fmt.Fprintf(w, "\n%s, %s/%s, %d CPUs.\n", runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
}

func main() {
	cfg := defaultConfig()
	flag.IntVar(&cfg.Cycles, "cycles", cfg.Cycles, "refresh `cycles` of the top link to measure per chain")
	flag.IntVar(&cfg.Callers, "callers", cfg.Callers, "`n` goroutines calling Retrieve")
	flag.DurationVar(&cfg.Pause, "pause", cfg.Pause, "pause between one caller's Retrieve calls")
	flag.DurationVar(&cfg.Latency, "latency", cfg.Latency, "latency added to every STS answer")
	flag.DurationVar(&cfg.TopLifetime, "top-lifetime", cfg.TopLifetime, "lifetime of the top role's sessions")
	flag.DurationVar(&cfg.InnerLifetime, "inner-lifetime", cfg.InnerLifetime, "lifetime of the other roles' sessions")
	timeout := flag.Duration("timeout", 5*time.Minute, "deadline for the whole run")
	flag.Parse()
	if cfg.Cycles < 1 || cfg.Callers < 1 || cfg.TopLifetime < time.Second || cfg.InnerLifetime < time.Second || cfg.Latency <= 0 {
		fmt.Fprintln(os.Stderr, "bench/profile: -cycles and -callers must be at least 1, the lifetimes at least 1s, -latency positive")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	results, err := run(ctx, cfg, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/profile:", err)
		os.Exit(1)
	}
	write(os.Stdout, cfg, results)
}
