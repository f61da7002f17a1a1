package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/stschain/stschain/ststest"
	"golang.org/x/time/rate"
)

// The fake STS runs in a child process (this program, started again with
// serverEnv set), so that its goroutines and memory are not counted for
// the providers measured here. It adds one thing to ststest: above a rate
// set at run time (POST /throttle?rps=N, 0 for none), it answers 400
// Throttling, as STS does above an account's request quota.

const serverEnv = "STSCHAIN_BENCH_POOL_SERVER"

// throttler wraps the fake STS with a request-rate limit, and counts the
// requests it gets, per second since the last POST /stats.
type throttler struct {
	next      http.Handler
	limiter   atomic.Pointer[rate.Limiter] // nil: no limit
	throttled atomic.Int64
	stats     atomic.Pointer[stats]
}

type stats struct {
	start     time.Time
	total     atomic.Int64 // requests
	ok        atomic.Int64 // requests answered 200
	perSecond [3600]atomic.Int64
}

// statusWriter remembers the status of an answer.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

func (t *throttler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/stats" {
		if r.Method == http.MethodPost {
			t.stats.Store(&stats{start: time.Now()})
			return
		}
		st := t.stats.Load()
		out := struct {
			Total, OK int64
			PerSecond []int64
		}{}
		if st != nil {
			out.Total, out.OK = st.total.Load(), st.ok.Load()
			for i := range int(time.Since(st.start) / time.Second) {
				if i < len(st.perSecond) {
					out.PerSecond = append(out.PerSecond, st.perSecond[i].Load())
				}
			}
		}
		_ = json.NewEncoder(w).Encode(out)
		return
	}
	if st := t.stats.Load(); st != nil && r.URL.Path != "/throttle" {
		st.total.Add(1)
		if i := int(time.Since(st.start) / time.Second); i < len(st.perSecond) {
			st.perSecond[i].Add(1)
		}
	}
	if r.URL.Path == "/throttle" && r.Method == http.MethodPost {
		rps, err := strconv.ParseFloat(r.URL.Query().Get("rps"), 64)
		if err != nil || rps < 0 {
			http.Error(w, "want rps=N", http.StatusBadRequest)
			return
		}
		if rps == 0 {
			t.limiter.Store(nil)
		} else {
			t.limiter.Store(rate.NewLimiter(rate.Limit(rps), max(1, int(rps/10))))
		}
		fmt.Fprintln(w, t.throttled.Load())
		return
	}
	if l := t.limiter.Load(); l != nil && !l.Allow() {
		t.throttled.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>00000000-0000-4000-8000-000000000000</RequestId></ErrorResponse>`)
		return
	}
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	t.next.ServeHTTP(sw, r)
	if st := t.stats.Load(); st != nil && sw.status == http.StatusOK && r.URL.Path != "/throttle" {
		st.ok.Add(1)
	}
}

// serve is the child process: it reads the Config from the file named by
// serverEnv, serves it on 127.0.0.1 and prints "LISTEN URL" on stdout,
// until its standard input closes (the parent is gone).
func serve() {
	data, err := os.ReadFile(os.Getenv(serverEnv))
	if err == nil {
		var cfg ststest.Config
		if cfg, err = ststest.ParseConfig(data); err == nil {
			srv := ststest.NewUnstartedServer(cfg)
			t := &throttler{next: srv}
			srv.HTTPServer.Handler = t
			srv.Start()
			fmt.Printf("LISTEN %s\n", srv.URL)
			_, _ = io.Copy(io.Discard, os.Stdin)
			srv.Close()
			os.Exit(0)
		}
	}
	fmt.Fprintln(os.Stderr, "bench/pool server:", err)
	os.Exit(2)
}

// stsProcess is a running child server.
type stsProcess struct {
	URL   string
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

// startServer starts the child server for cfg.
func startServer(ctx context.Context, dir string, cfg jsonConfig) (*stsProcess, error) {
	data, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "sts.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return nil, err
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), serverEnv+"="+path)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "LISTEN ") {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("the STS server did not start (%q): %v", line, err)
	}
	return &stsProcess{URL: strings.TrimSpace(strings.TrimPrefix(line, "LISTEN ")), cmd: cmd, stdin: stdin}, nil
}

// throttle sets the server's request-rate limit; 0 removes it. It returns
// how many requests the server throttled so far.
func (p *stsProcess) throttle(rps float64) (int64, error) {
	resp, err := http.Post(p.URL+"/throttle?rps="+strconv.FormatFloat(rps, 'f', -1, 64), "text/plain", nil)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return strconv.ParseInt(strings.TrimSpace(string(body)), 10, 64)
}

// resetStats starts counting the requests the server gets afresh.
func (p *stsProcess) resetStats() error {
	resp, err := http.Post(p.URL+"/stats", "text/plain", nil)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

// serverStats are the requests the server got since resetStats.
type serverStats struct {
	Total     int64   // requests
	OK        int64   // requests answered 200: the calls that succeeded
	PerSecond []int64 // requests per whole second
}

func (p *stsProcess) readStats() (serverStats, error) {
	var out serverStats
	resp, err := http.Get(p.URL + "/stats")
	if err != nil {
		return out, err
	}
	defer resp.Body.Close()
	err = json.NewDecoder(resp.Body).Decode(&out)
	return out, err
}

func (p *stsProcess) stop() {
	_ = p.stdin.Close()
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}

// Addr is the server's host:port.
func (p *stsProcess) Addr() string {
	host := strings.TrimPrefix(p.URL, "http://")
	if _, _, err := net.SplitHostPort(host); err != nil {
		return ""
	}
	return host
}
