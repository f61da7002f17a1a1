// Package redistest runs a real redis-server for the tests and benchmarks
// that need one: on 127.0.0.1 and a free port, in a directory of its own,
// without persistence unless asked, stopped by Close (or, for a test, by
// t.Cleanup). It also runs a Redis Cluster ([NewCluster]), a master with
// replicas watched by Sentinels ([NewSentinel]), and a loopback proxy that
// adds latency, stalls and drops connections ([NewProxy]).
package redistest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// RequireEnv names the environment variable that turns a missing
// redis-server from a skip into a failure. CI sets it.
const RequireEnv = "STSCHAIN_REQUIRE_REDIS"

// Binary names.
const (
	serverBinary = "redis-server"
	cliBinary    = "redis-cli"
)

// Tuning.
const (
	// startTimeout bounds the start of one redis-server, up to its first
	// PONG.
	startTimeout = 20 * time.Second
	// startAttempts is how often Start tries another port when the one it
	// picked was taken in the meantime.
	startAttempts = 5
	// pingTimeout bounds one readiness probe; Start probes again until
	// startTimeout.
	pingTimeout = 250 * time.Millisecond
	// cliTimeout bounds one redis-cli run.
	cliTimeout = time.Minute
)

// Options configures a [Server]. The zero value is a server that keeps
// nothing on disk.
type Options struct {
	// Dir is the server's working directory, where SAVE writes DumpFile.
	// Optional: empty means a new temporary directory, removed by Close.
	Dir string
	// Persistence turns rdbcompression off, so that the RDB file a SAVE
	// writes holds every value byte for byte, as a test that searches the
	// file needs. Optional: false leaves compression on. Either way the
	// server has no save points and no append-only file: it writes nothing
	// unless a client runs SAVE or BGSAVE.
	Persistence bool
	// Args are more configuration directives, as redis-server takes them
	// on its command line ("--maxmemory", "10mb"). Optional.
	Args []string

	// sentinel, when not empty, makes the server a Sentinel with this
	// configuration (the port and directory come from Start).
	sentinel string
}

// Server is a running redis-server.
type Server struct {
	// Addr is the address it listens on, 127.0.0.1:PORT.
	Addr string
	// Port is its port.
	Port int
	// Dir is its working directory.
	Dir string

	cmd     *exec.Cmd
	ownDir  bool          // Dir was made by Start and is removed by Close
	log     *syncBuffer   // the server's log (its stdout and stderr)
	exited  chan struct{} // closed once cmd.Wait has returned
	waitErr error         // set before exited is closed

	closeOnce sync.Once
}

// Available reports whether redis-server and redis-cli are on PATH, and if
// not, why.
func Available() error {
	for _, bin := range []string{serverBinary, cliBinary} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("%s is not on PATH (Debian: apt-get install redis-server)", bin)
		}
	}
	return nil
}

// New starts a server for t and stops it in t.Cleanup. When redis-server
// is not available it skips t, or fails it when RequireEnv is set; when it
// is available but does not start, t fails.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	Require(t)
	s, err := Start(opts)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// Require skips t, or fails it when RequireEnv is set, unless
// redis-server and redis-cli are available. It also skips t in -short
// mode: a real server's test runs in real time, and the full run (CI's)
// has them all.
func Require(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping the test against a real Redis in -short mode")
	}
	if err := Available(); err != nil {
		if os.Getenv(RequireEnv) != "" {
			t.Fatalf("%v, and %s is set", err, RequireEnv)
		}
		t.Skipf("skipping the test against a real Redis: %v (set %s=1 to fail instead)", err, RequireEnv)
	}
}

// Start starts a redis-server on 127.0.0.1 and a free port and waits until
// it answers PING. Redis cannot be told to pick a port itself, so Start
// picks one by listening on port 0 and closing, and tries another when a
// different process took it in the meantime. Call Close when done.
func Start(opts Options) (*Server, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	dir, ownDir := opts.Dir, false
	if dir == "" {
		d, err := os.MkdirTemp("", "redistest-")
		if err != nil {
			return nil, fmt.Errorf("redistest: %w", err)
		}
		dir, ownDir = d, true
	}
	var lastErr error
	for range startAttempts {
		port, err := freePort()
		if err != nil {
			lastErr = err
			continue
		}
		s, err := start(dir, port, opts)
		if err == nil {
			s.ownDir = ownDir
			return s, nil
		}
		lastErr = err
		if !errors.Is(err, errPortTaken) {
			break
		}
	}
	if ownDir {
		_ = os.RemoveAll(dir)
	}
	return nil, lastErr
}

var errPortTaken = errors.New("port already in use")

func freePort() (int, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("redistest: finding a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func start(dir string, port int, opts Options) (*Server, error) {
	args := []string{
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--dir", dir,
		"--daemonize", "no",
		"--logfile", "",
		"--loglevel", "warning",
	}
	if opts.sentinel != "" {
		// A Sentinel rewrites its configuration file: give it its own.
		conf := filepath.Join(dir, fmt.Sprintf("sentinel-%d.conf", port))
		if err := os.WriteFile(conf, []byte(opts.sentinel), 0o600); err != nil {
			return nil, fmt.Errorf("redistest: %w", err)
		}
		args = append([]string{conf, "--sentinel"}, args...)
	} else {
		args = append(args, "--dbfilename", "dump.rdb", "--save", "", "--appendonly", "no",
			// A replica syncs at once, not after 5 s of waiting for others.
			"--repl-diskless-sync-delay", "0")
	}
	if opts.Persistence {
		args = append(args, "--rdbcompression", "no")
	}
	args = append(args, opts.Args...)
	s := &Server{
		Addr:   net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		Port:   port,
		Dir:    dir,
		log:    &syncBuffer{},
		exited: make(chan struct{}),
	}
	s.cmd = exec.Command(serverBinary, args...)
	s.cmd.Dir = dir
	s.cmd.Stdout = s.log
	s.cmd.Stderr = s.log
	s.cmd.SysProcAttr = sysProcAttr()
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("redistest: starting %s: %w", serverBinary, err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()
	if err := s.waitReady(); err != nil {
		s.kill()
		return nil, err
	}
	return s, nil
}

// waitReady waits until the server answers PING, or fails when it exits
// first.
func (s *Server) waitReady() error {
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-s.exited:
			log := s.log.String()
			if strings.Contains(log, "Address already in use") {
				return fmt.Errorf("redistest: %s: %w", s.Addr, errPortTaken)
			}
			return fmt.Errorf("redistest: %s exited before answering (%v); its log:\n%s", serverBinary, s.waitErr, log)
		default:
		}
		if err := s.ping(); err == nil {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
		if time.Now().After(deadline) {
			return fmt.Errorf("redistest: %s did not answer PING on %s within %v; its log:\n%s", serverBinary, s.Addr, startTimeout, s.log.String())
		}
	}
}

func (s *Server) ping() error {
	conn, err := net.DialTimeout("tcp4", s.Addr, pingTimeout)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(pingTimeout))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

// DumpFile is where SAVE writes the RDB file when Options.Persistence is
// set.
func (s *Server) DumpFile() string { return filepath.Join(s.Dir, "dump.rdb") }

// Log returns what the server logged so far.
func (s *Server) Log() string { return s.log.String() }

// Kill stops the server at once with SIGKILL, as a crash would, and waits
// for it to exit. Clients see their connections reset and new ones
// refused. Kill may be called more than once, and before Close.
func (s *Server) Kill() { s.kill() }

func (s *Server) kill() {
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Kill() // a process Pause stopped dies of SIGKILL too
	<-s.exited
}

// Close kills the server, waits for it, and removes its directory when
// Start made it. Close may be called more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.kill()
		if s.ownDir {
			_ = os.RemoveAll(s.Dir)
		}
	})
}

// CLI runs redis-cli against the server with args, stdin as its standard
// input (nil for none), and returns its standard output. redis-cli prints
// values raw when its output is not a terminal, as here.
func (s *Server) CLI(ctx context.Context, stdin []byte, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, cliTimeout)
	defer cancel()
	host, port, _ := net.SplitHostPort(s.Addr)
	cmd := exec.CommandContext(ctx, cliBinary, append([]string{"-h", host, "-p", port}, args...)...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("redistest: %s %s: %w: %s", cliBinary, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a child's
// stdout and stderr and reads of its content.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer // guarded by mu
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
