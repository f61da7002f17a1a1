//go:build unix

package credserver_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain/credserver"
)

// helperEnv, when set, makes the test binary serve fixedCreds on a server
// of its own (see serveHelper) instead of running the tests.
const helperEnv = "CREDSERVER_TEST_HELPER"

// helperFiles is the helper's limit of open files: far fewer than the
// connections of the attack, as a process's limit is far lower than what
// another user can open.
const helperFiles = 256

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(serveHelper())
	}
	os.Exit(m.Run())
}

// serveHelper starts a server of fixedCreds with at most helperFiles open
// files, prints its Env one entry a line and "ready", and serves until its
// standard input closes, printing how many files it has open for each
// line it reads there.
func serveHelper() int {
	var lim syscall.Rlimit
	err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	if err == nil {
		lim.Cur = helperFiles
		err = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	if err != nil {
		fmt.Println("error: limiting open files:", err)
		return 1
	}
	s, err := credserver.Start(&countingProvider{creds: fixedCreds()})
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	defer s.Close()
	for _, kv := range s.Env() {
		fmt.Println(kv)
	}
	fmt.Println("ready")
	for sc := bufio.NewScanner(os.Stdin); sc.Scan(); {
		fds, _ := os.ReadDir("/dev/fd")
		fmt.Println(len(fds))
	}
	return 0
}

// helper is serveHelper's process.
type helper struct {
	uri, tok string
	stdin    io.Writer
	stdout   *bufio.Scanner
}

// openFiles returns how many files the helper has open.
func (h *helper) openFiles(t *testing.T) int {
	t.Helper()
	_, err := io.WriteString(h.stdin, "count\n")
	require.NoError(t, err)
	require.True(t, h.stdout.Scan())
	n, err := strconv.Atoi(h.stdout.Text())
	require.NoError(t, err, h.stdout.Text())
	return n
}

// startHelper runs serveHelper in a new process.
func startHelper(t *testing.T) *helper {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { stdin.Close(); _ = cmd.Wait() })
	h := &helper{stdin: stdin, stdout: bufio.NewScanner(stdout)}
	for h.stdout.Scan() && h.stdout.Text() != "ready" {
		k, v, _ := strings.Cut(h.stdout.Text(), "=")
		switch k {
		case credserver.FullURIEnv:
			h.uri = v
		case credserver.AuthTokenEnv:
			h.tok = v
		default:
			t.Fatalf("helper: %s", h.stdout.Text())
		}
	}
	require.NotEmpty(t, h.uri, "the helper did not start")
	return h
}

// raiseFileLimit makes sure this process may open n more files.
func raiseFileLimit(t *testing.T, n uint64) {
	t.Helper()
	var lim syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim))
	if lim.Cur >= n+256 {
		return
	}
	if lim.Max < n+256 {
		t.Skipf("skipping: the hard limit of open files (%d) is below the %d the attack needs", lim.Max, n+256)
	}
	old := lim.Cur
	lim.Cur = n + 256
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim))
	t.Cleanup(func() { lim.Cur = old; _ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim) })
}

// TestIdleConnectionsDoNotStarveTheChild opens thousands of idle
// connections to a server without the token, as another local user can,
// far more than the server's process may have files open: the child
// still gets 20 of 20 fetches, each on a new connection, and the server
// keeps at most 128 of the idle connections open.
func TestIdleConnectionsDoNotStarveTheChild(t *testing.T) {
	const idle, fetches = 3000, 20
	raiseFileLimit(t, idle)
	h := startHelper(t)
	uri, tok := h.uri, h.tok
	u, err := url.Parse(uri)
	require.NoError(t, err)

	conns := make([]net.Conn, 0, idle)
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for range idle {
		c, err := net.DialTimeout("tcp", u.Host, time.Minute)
		require.NoError(t, err)
		conns = append(conns, c)
	}

	got := 0
	for i := range fetches {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		p := endpointcreds.New(uri, func(o *endpointcreds.Options) {
			o.AuthorizationToken = tok
			o.HTTPClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		})
		c, err := p.Retrieve(ctx)
		cancel()
		if assert.NoError(t, err, "fetch %d", i) && assert.Equal(t, fixedCreds().AccessKeyID, c.AccessKeyID) {
			got++
		}
	}
	assert.Equal(t, fetches, got, "fetches answered")

	// The server closed all but the youngest of the idle connections
	// (and those older than its header timeout); its other files are the
	// runtime's, the listener and its standard streams, a dozen.
	files := h.openFiles(t)
	assert.LessOrEqual(t, files, 128+32, "files the server has open")
	open := 0
	for _, c := range conns {
		require.NoError(t, c.SetReadDeadline(time.Now().Add(time.Millisecond)))
		if _, err := c.Read(make([]byte, 1)); errors.Is(err, os.ErrDeadlineExceeded) {
			open++
		}
	}
	t.Logf("the server has %d files open; %d of %d idle connections look open from here", files, open, idle)
}

var _ aws.CredentialsProvider = (*countingProvider)(nil)
