// Package clidriver runs the AWS CLI's own code for tests that compare
// stschain with it call by call: the awscli package (the CLI's
// clidriver, with the botocore it imports), in one long-lived Python
// process that serves one request after another. Starting the aws command
// takes half a second; a request here takes a few tens of milliseconds,
// which makes a differential test of hundreds of cases fast, while every
// request still goes through the CLI's argument parsing, session, config
// loading, credential chain and caches.
//
// Each request has an environment of its own, which is the whole of the
// Python process's environment for the run: HOME (and the CLI's caches
// under it: ~/.aws/cli/cache, ~/.aws/sso/cache), AWS_CONFIG_FILE,
// AWS_ENDPOINT_URL ... A run prompts for no MFA code on a terminal: the
// codes of the request answer botocore's prompts, in order.
package clidriver

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/stschain/stschain/internal/awsclitest"
)

//go:embed driver.py
var driverSource string

// Driver is one Python process running the AWS CLI's code. Its methods
// are safe for concurrent use; requests run one at a time.
type Driver struct {
	mu     sync.Mutex
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Reader
	stderr *bytes.Buffer
	home   string // the process's own HOME, removed by Close
	broken error  // set when a request failed in a way that leaves the process unusable
}

// Request is one run of the AWS CLI.
type Request struct {
	// Env is the whole environment of the run. HOME is required.
	Env map[string]string
	// Args are the CLI's arguments, without "aws".
	Args []string
	// MFACodes answer botocore's MFA prompts, in order; a prompt beyond
	// them fails the run.
	MFACodes []string
	// SSOCache gives the CLI's SSO provider the CLI's own cache
	// (~/.aws/cli/cache), as the AWS CLI v2 does; the v1 keeps only
	// assume-role and web identity sessions there.
	SSOCache bool
}

// Result is what a run did.
type Result struct {
	RC             int    // the CLI's exit code
	Stdout, Stderr string // what it printed
	Prompts        int    // how many MFA codes it asked for
}

// Start starts a Driver for the AWS CLI on PATH, stopped when t ends. It
// skips t (or fails it, when awsclitest.RequireEnv is set) unless the CLI
// on PATH is the AWS CLI v1, 1.29 or later, whose Python code an
// interpreter on this machine imports. Like awsclitest.Require, it skips
// t in -short mode.
func Start(t testing.TB) *Driver {
	t.Helper()
	skipShort(t)
	d, err := New()
	if err != nil {
		skip(t, err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// shared is the Driver of Shared.
var shared struct {
	once sync.Once
	d    *Driver
	err  error
}

// Shared is Start for a Driver shared by the tests of a package, started
// by the first of them: call CloseShared from TestMain after m.Run.
func Shared(t testing.TB) *Driver {
	t.Helper()
	skipShort(t)
	shared.once.Do(func() { shared.d, shared.err = New() })
	if shared.err != nil {
		skip(t, shared.err)
	}
	return shared.d
}

// CloseShared stops the Driver of Shared, if it was started.
func CloseShared() {
	if shared.d != nil {
		_ = shared.d.Close()
	}
}

// skipShort skips t in -short mode: the differential tests run the AWS
// CLI's code hundreds of times.
func skipShort(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping the AWS CLI interop test in -short mode")
	}
}

func skip(t testing.TB, err error) {
	t.Helper()
	if os.Getenv(awsclitest.RequireEnv) != "" {
		t.Fatalf("%v, and %s is set", err, awsclitest.RequireEnv)
	}
	t.Skipf("skipping the AWS CLI test: %v", err)
}

// New starts a Driver for the AWS CLI on PATH.
func New() (*Driver, error) {
	python, err := interpreter()
	if err != nil {
		return nil, err
	}
	d := &Driver{stderr: &bytes.Buffer{}}
	d.cmd = exec.Command(python, "-c", driverSource)
	home, err := os.MkdirTemp("", "clidriver-")
	if err != nil {
		return nil, err
	}
	d.home = home
	d.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home}
	d.cmd.Stderr = d.stderr
	if d.in, err = d.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := d.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	d.out = bufio.NewReaderSize(stdout, 1<<20)
	if err := d.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", python, err)
	}
	return d, nil
}

// Close stops the Python process and waits for it.
func (d *Driver) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	_ = d.in.Close()
	err := d.cmd.Wait()
	_ = os.RemoveAll(d.home)
	return err
}

// interpreter is findInterpreter, once per process.
var interpreter = sync.OnceValues(findInterpreter)

// findInterpreter returns a Python interpreter that imports the awscli of
// the aws command on PATH (the script's own interpreter, else python3),
// provided that is the AWS CLI v1 from 1.29 on, which reads
// AWS_ENDPOINT_URL.
func findInterpreter() (string, error) {
	aws, err := exec.LookPath("aws")
	if err != nil {
		return "", errors.New("the AWS CLI (aws) is not on PATH")
	}
	out, err := exec.Command(aws, "--version").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("aws --version: %v", err)
	}
	version := strings.TrimSpace(string(out))
	var major, minor int
	if _, err := fmt.Sscanf(version, "aws-cli/%d.%d.", &major, &minor); err != nil || major != 1 || minor < 29 {
		return "", fmt.Errorf("%s is %q: the differential test drives the Python code of the AWS CLI v1, 1.29 or later", aws, version)
	}
	var candidates []string
	if f, err := os.Open(aws); err == nil {
		line, _ := bufio.NewReader(io.LimitReader(f, 4096)).ReadString('\n')
		f.Close()
		if fields := strings.Fields(strings.TrimPrefix(line, "#!")); strings.HasPrefix(line, "#!") && len(fields) > 0 && strings.Contains(line, "python") {
			candidates = append(candidates, fields[len(fields)-1], fields[0])
		}
	}
	for _, python := range append(candidates, "python3") {
		out, err := exec.Command(python, "-c", "import sys, awscli, botocore; print('aws-cli/' + awscli.__version__, sys.executable)").Output()
		cli, executable, ok := strings.Cut(strings.TrimSpace(string(out)), " ")
		if err == nil && ok && strings.HasPrefix(version, cli+" ") {
			return executable, nil
		}
	}
	return "", fmt.Errorf("no Python interpreter imports the awscli of %s (%s)", aws, version)
}

// Run runs the CLI once. An error means the driver failed, not the CLI:
// a CLI that fails is a Result with a non-zero RC.
func (d *Driver) Run(ctx context.Context, r Request) (Result, error) {
	if r.Env["HOME"] == "" {
		return Result{}, errors.New("clidriver: the request's Env has no HOME")
	}
	line, err := json.Marshal(map[string]any{"env": r.Env, "args": r.Args, "mfa": r.MFACodes, "sso_cache": r.SSOCache})
	if err != nil {
		return Result{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.broken != nil {
		return Result{}, d.broken
	}
	type answer struct {
		res Result
		err error
	}
	done := make(chan answer, 1)
	go func() {
		if _, err := d.in.Write(append(line, '\n')); err != nil {
			done <- answer{err: err}
			return
		}
		b, err := d.out.ReadBytes('\n')
		if err != nil {
			done <- answer{err: fmt.Errorf("reading the driver's answer: %w (its stderr: %s)", err, d.stderr.String())}
			return
		}
		var res struct {
			RC      int    `json:"rc"`
			Stdout  string `json:"stdout"`
			Stderr  string `json:"stderr"`
			Prompts int    `json:"prompts"`
		}
		if err := json.Unmarshal(b, &res); err != nil {
			done <- answer{err: fmt.Errorf("the driver's answer %q: %w", b, err)}
			return
		}
		done <- answer{res: Result{RC: res.RC, Stdout: res.Stdout, Stderr: res.Stderr, Prompts: res.Prompts}}
	}()
	select {
	case a := <-done:
		if a.err != nil {
			d.broken = a.err
		}
		return a.res, a.err
	case <-ctx.Done():
		d.broken = fmt.Errorf("clidriver: a run did not finish: %w", ctx.Err())
		_ = d.cmd.Process.Kill()
		return Result{}, d.broken
	}
}
