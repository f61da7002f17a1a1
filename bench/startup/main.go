// Command startup measures how long "stschain credential-process PROFILE"
// takes with a warm session cache, as the AWS CLI runs it before each of
// its commands, beside a Go program that only prints the same JSON (the
// floor: bench/startup/floor) and, with -granted, granted's
// credential-process for the same profile and its own warm cache (and,
// with -also, another build of stschain, to compare two versions).
//
//	go run ./bench/startup [-rounds 200] [-granted PATH] [-also PATH] [-check]
//
// The programs run one after another, round after round, the order
// rotating each round, so that they share the machine's moments of load
// (a paired run): each round gives each program one time, from the
// process's start to its exit, and stschain's ratio to the floor's time
// of the same round. Beside them runs the floor importing awsprofile
// (bench/startup/importsonly): what every program that reads profiles
// with stschain pays to start, the AWS SDK's packages' initialization
// above all. It prints, as a Markdown table, each program's
// median, 10th and 90th percentile, and the median of the rounds' ratios;
// then the package initialization of stschain (GODEBUG=inittrace=1,
// median of 20 runs). With -check it exits 1 when stschain's median ratio
// to the floor is above 2, or stschain is not faster than granted.
//
// It builds stschain and the floor from this module, and starts a fake
// STS (ststest) for the one AssumeRole that fills the caches. granted is
// never built here: give -granted a binary built from its sources. Its
// SDK ignores a profile's endpoint_url, so its first run reaches the fake
// STS through a loopback proxy that stands in for
// sts.us-east-1.amazonaws.com with a certificate of its own, which
// AWS_CA_BUNDLE makes granted trust; the timed runs read granted's cache
// and make no request.
package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stschain/stschain/ststest"
)

const (
	account = "123456789012"
	userKey = "AKIABENCHSTARTUP0001"
	userSec = "bench-startup-secret"
	roleARN = "arn:aws:iam::123456789012:role/bench"
	profile = "bench"
)

// program is one of the programs measured.
type program struct {
	name  string
	argv  []string
	env   []string
	times []time.Duration // one a round
}

// config is what one run does.
type config struct {
	rounds  int
	granted string // granted's binary; "" for none
	also    string // another stschain binary to measure beside; "" for none
	check   bool
}

func main() {
	var cfg config
	flag.IntVar(&cfg.rounds, "rounds", 200, "`n` rounds, each running every program once")
	flag.StringVar(&cfg.granted, "granted", "", "granted's binary, built from its sources (optional)")
	flag.StringVar(&cfg.also, "also", "", "another stschain `binary` (an earlier build, say) to measure beside (optional)")
	flag.BoolVar(&cfg.check, "check", false, "exit 1 when stschain is above 2x the floor, or not faster than granted")
	timeout := flag.Duration("timeout", 10*time.Minute, "deadline of the whole run")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := run(ctx, cfg, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "startup:", err)
		os.Exit(1)
	}
}

// run measures, writes the table to out and progress to logs, and returns
// an error when a program fails, or -check finds a target missed.
func run(ctx context.Context, cfg config, out, logs io.Writer) error {
	dir, err := os.MkdirTemp("", "stschain-startup-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	fmt.Fprintln(logs, "building stschain and the floor")
	stschainBin, floorBin, importsBin := filepath.Join(dir, "stschain"), filepath.Join(dir, "floor"), filepath.Join(dir, "importsonly")
	for bin, pkg := range map[string]string{stschainBin: "./cmd/stschain", floorBin: "./bench/startup/floor", importsBin: "./bench/startup/importsonly"} {
		if err := build(ctx, bin, pkg); err != nil {
			return err
		}
	}

	srv := ststest.NewServer(ststest.Config{
		AccountID: account,
		Users:     []ststest.User{{Name: "bench", AccessKeyID: userKey, SecretAccessKey: userSec}},
		Roles:     []ststest.Role{{ARN: roleARN, Trust: []string{"arn:aws:iam::" + account + ":user/bench"}, MaxSessionDuration: 12 * time.Hour}},
	})
	defer srv.Close()
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(filepath.Join(home, ".aws"), 0o700); err != nil {
		return err
	}
	// The source profile's keys are in the config file, where granted
	// reads them too.
	configFile := filepath.Join(home, ".aws", "config")
	text := fmt.Sprintf("[profile %s]\nregion = us-east-1\nrole_arn = %s\nsource_profile = keys\nrole_session_name = bench\nendpoint_url = %s\n\n"+
		"[profile keys]\nregion = us-east-1\naws_access_key_id = %s\naws_secret_access_key = %s\n", profile, roleARN, srv.URL, userKey, userSec)
	if err := os.WriteFile(configFile, []byte(text), 0o600); err != nil {
		return err
	}
	env := baseEnv(home, configFile)

	stschain := &program{name: "stschain credential-process", argv: []string{stschainBin, "credential-process", "--profile", profile}, env: env}
	warm, err := output(ctx, stschain)
	if err != nil {
		return fmt.Errorf("warming stschain's cache: %w", err)
	}
	var pc struct {
		AccessKeyID string `json:"AccessKeyId"`
	}
	if err := json.Unmarshal(warm, &pc); err != nil || pc.AccessKeyID == "" {
		return fmt.Errorf("stschain printed no credential_process JSON: %q", warm)
	}
	floor := &program{name: "floor (prints the JSON)", argv: []string{floorBin}, env: append(slices.Clone(env), "FLOOR_OUTPUT="+string(warm))}
	imports := &program{name: "the floor, importing awsprofile", argv: []string{importsBin}, env: floor.env}
	programs := []*program{stschain, floor, imports}

	if cfg.also != "" {
		programs = append(programs, &program{name: "stschain credential-process (-also)", argv: []string{cfg.also, "credential-process", "--profile", profile}, env: env})
	}
	var granted *program
	if cfg.granted != "" {
		if granted, err = warmGranted(ctx, cfg.granted, env, srv.URL, dir); err != nil {
			return err
		}
		programs = append(programs, granted)
	}
	for _, p := range programs {
		again, err := output(ctx, p)
		if err != nil {
			return err
		}
		if !bytes.Contains(again, []byte(`"AccessKeyId"`)) {
			return fmt.Errorf("%s printed no JSON: %q", p.name, again)
		}
	}
	if again, _ := output(ctx, stschain); !bytes.Equal(again, warm) {
		return errors.New("stschain's second run printed other credentials: the cache was not used")
	}
	withCache := 1 // stschain
	if granted != nil {
		withCache++
	}
	if calls := len(srv.Calls(ststest.Call{Action: "AssumeRole"})); calls != withCache {
		return fmt.Errorf("%d AssumeRole calls while warming; want one per program with a cache", calls)
	}

	fmt.Fprintf(logs, "%d rounds of %d programs\n", cfg.rounds, len(programs))
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer devNull.Close()
	for r := range cfg.rounds {
		for i := range programs {
			p := programs[(r+i)%len(programs)]
			d, err := timeRun(ctx, p, devNull)
			if err != nil {
				return err
			}
			p.times = append(p.times, d)
		}
	}
	if n := len(srv.Calls(ststest.Call{Action: "AssumeRole"})); n != withCache {
		return fmt.Errorf("the timed runs called STS (%d AssumeRole calls in all): a cache was cold", n)
	}
	initMS, initBytes, err := initCost(ctx, stschain)
	if err != nil {
		return err
	}
	ratios := make([]float64, cfg.rounds)
	for r := range ratios {
		ratios[r] = float64(stschain.times[r]) / float64(floor.times[r])
	}
	ratio := median(ratios)
	write(out, programs, floor, ratio, initMS, initBytes)

	if cfg.check {
		var missed []string
		if ratio > 2 {
			missed = append(missed, fmt.Sprintf("stschain is %.2fx the floor (target: at most 2x)", ratio))
		}
		if granted != nil && median(durations(stschain.times)) >= median(durations(granted.times)) {
			missed = append(missed, "stschain is not faster than granted")
		}
		if len(missed) > 0 {
			return errors.New(strings.Join(missed, "; "))
		}
	}
	return nil
}

// build builds pkg of this module into bin.
func build(ctx context.Context, bin, pkg string) error {
	gomod, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, pkg)
	cmd.Dir = filepath.Dir(strings.TrimSpace(string(gomod)))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, out)
	}
	return nil
}

// baseEnv is this process's environment without any AWS variable or
// proxy, with HOME and the config file in home.
func baseEnv(home, configFile string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "STSCHAIN_") || strings.HasSuffix(strings.ToUpper(k), "_PROXY") || k == "HOME" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HOME="+home, "AWS_CONFIG_FILE="+configFile,
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, ".aws", "credentials"), "AWS_EC2_METADATA_DISABLED=true")
}

// output runs p once and returns its standard output.
func output(ctx context.Context, p *program) ([]byte, error) {
	cmd := exec.CommandContext(ctx, p.argv[0], p.argv[1:]...)
	cmd.Env = p.env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %s", p.name, err, stderr.String())
	}
	return out, nil
}

// timeRun runs p once, its output to devNull, and returns how long it
// took from start to exit.
func timeRun(ctx context.Context, p *program, devNull *os.File) (time.Duration, error) {
	cmd := exec.CommandContext(ctx, p.argv[0], p.argv[1:]...)
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = devNull, devNull
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", p.name, err)
	}
	return d, nil
}

// initCost returns the median, over 20 runs, of the time and memory that
// package initialization takes in p (GODEBUG=inittrace=1).
func initCost(ctx context.Context, p *program) (ms, bytes float64, err error) {
	var times, sizes []float64
	for range 20 {
		cmd := exec.CommandContext(ctx, p.argv[0], p.argv[1:]...)
		cmd.Env = append(slices.Clone(p.env), "GODEBUG=inittrace=1")
		trace, err := cmd.CombinedOutput()
		if err != nil {
			return 0, 0, fmt.Errorf("%s with inittrace: %w", p.name, err)
		}
		var t, b float64
		for _, line := range strings.Split(string(trace), "\n") {
			// init PKG @T ms, C ms clock, B bytes, A allocs
			f := strings.Fields(line)
			if len(f) >= 9 && f[0] == "init" && f[6] == "clock," && f[8] == "bytes," {
				c, _ := strconv.ParseFloat(f[4], 64)
				n, _ := strconv.ParseFloat(f[7], 64)
				t, b = t+c, b+n
			}
		}
		times, sizes = append(times, t), append(sizes, b)
	}
	return median(times), median(sizes), nil
}

// write prints the table.
func write(out io.Writer, programs []*program, floor *program, ratio, initMS, initBytes float64) {
	fmt.Fprintf(out, "| program | median | p10 | p90 | median ratio to the floor, paired |\n|---|---|---|---|---|\n")
	for _, p := range programs {
		d := durations(p.times)
		r := "1"
		if p != floor {
			rs := make([]float64, len(p.times))
			for i := range rs {
				rs[i] = float64(p.times[i]) / float64(floor.times[i])
			}
			r = fmt.Sprintf("%.2f", median(rs))
		}
		fmt.Fprintf(out, "| %s | %s | %s | %s | %s |\n", p.name, ms(median(d)), ms(percentile(d, 10)), ms(percentile(d, 90)), r)
	}
	fmt.Fprintf(out, "\n%d rounds; stschain at %.2fx the floor; its package initialization %.2f ms, %.0f KB (median of 20 runs).\n",
		len(floor.times), ratio, initMS, initBytes/1024)
}

func durations(ts []time.Duration) []float64 {
	out := make([]float64, len(ts))
	for i, t := range ts {
		out[i] = float64(t)
	}
	return out
}

func ms(ns float64) string { return fmt.Sprintf("%.2f ms", ns/1e6) }

func median(v []float64) float64 { return percentile(v, 50) }

// percentile returns the p-th percentile of v (nearest rank).
func percentile(v []float64, p int) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	i := max(0, min(len(s)-1, (p*len(s)+99)/100-1))
	return s[i]
}

// warmGranted fills granted's cache for the profile: its first run
// reaches the fake STS at stsURL through a proxy that stands in for STS's
// endpoint. It returns granted, ready to time.
func warmGranted(ctx context.Context, bin string, env []string, stsURL, dir string) (*program, error) {
	target, err := url.Parse(stsURL)
	if err != nil {
		return nil, err
	}
	proxy, caFile, err := startProxy(target, dir)
	if err != nil {
		return nil, err
	}
	defer proxy.Close()
	p := &program{name: "granted credential-process", argv: []string{bin, "credential-process", "--profile", profile},
		env: append(slices.Clone(env), "HTTPS_PROXY=http://"+proxy.Addr().String(), "AWS_CA_BUNDLE="+caFile)}
	first, err := output(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("warming granted's cache: %w", err)
	}
	second, err := output(ctx, p)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(first, second) {
		return nil, errors.New("granted's second run printed other credentials: it has no cache here")
	}
	return p, nil
}

// startProxy starts an HTTPS proxy on loopback that answers every CONNECT
// itself, with a certificate for STS's names, and hands the requests to
// target; caFile holds the certificate, for AWS_CA_BUNDLE.
func startProxy(target *url.URL, dir string) (net.Listener, string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "bench/startup STS stand-in"},
		DNSNames:              []string{"sts.amazonaws.com", "sts.us-east-1.amazonaws.com"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, "", err
	}
	caFile := filepath.Join(dir, "sts-ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return nil, "", err
	}
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	conns := &chanListener{conns: make(chan net.Conn), closed: make(chan struct{})}
	// The requests keep their Host, which their signatures cover.
	go func() { _ = http.Serve(conns, httputil.NewSingleHostReverseProxy(target)) }()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	connect := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
			return
		}
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		if _, err := io.WriteString(conn, "HTTP/1.1 200 Connection Established\r\n\r\n"); err != nil {
			conn.Close()
			return
		}
		select {
		case conns.conns <- tls.Server(conn, tlsCfg):
		case <-conns.closed:
			conn.Close()
		}
	})
	go func() { _ = http.Serve(ln, connect) }()
	return closer{ln, conns}, caFile, nil
}

// chanListener is a net.Listener of the connections sent on conns.
type chanListener struct {
	conns     chan net.Conn
	closed    chan struct{}
	closeOnce sync.Once
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// closer is the proxy's listener, whose Close also closes the listener of
// the connections it hands on.
type closer struct {
	net.Listener
	inner *chanListener
}

func (c closer) Close() error {
	return cmp.Or(c.Listener.Close(), c.inner.Close())
}
