// Package awsclitest finds the AWS CLI for the interop tests that run it
// against ststest.
package awsclitest

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// RequireEnv names the environment variable that turns a missing or
// unusable AWS CLI from a skip into a failure. CI sets it.
const RequireEnv = "STSCHAIN_REQUIRE_AWS_CLI"

// Require skips t, or fails it when RequireEnv is set, unless an AWS CLI
// that honours AWS_ENDPOINT_URL (v1.29 or later, v2.13 or later) is on
// PATH; it returns the CLI's path. It also skips t in -short mode: each
// run of the AWS CLI starts a Python interpreter.
func Require(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping the AWS CLI interop test in -short mode")
	}
	path, err := find(t)
	if err != nil {
		t.Skipf("skipping the AWS CLI interop test: %v", err)
	}
	return path
}

// Find is Require for a test that can do without the AWS CLI: instead of
// skipping t it logs why there is none and returns false. In -short mode
// it returns false: the test goes on without the CLI's part.
func Find(t testing.TB) (path string, ok bool) {
	t.Helper()
	if testing.Short() {
		t.Log("going on without the AWS CLI in -short mode")
		return "", false
	}
	path, err := find(t)
	if err != nil {
		t.Logf("going on without the AWS CLI: %v", err)
		return "", false
	}
	return path, true
}

// find returns the AWS CLI's path, or why there is none after failing t
// if RequireEnv is set.
func find(t testing.TB) (string, error) {
	t.Helper()
	path, err := check()
	if err != nil && os.Getenv(RequireEnv) != "" {
		t.Fatalf("%v, and %s is set", err, RequireEnv)
	}
	return path, err
}

// HomeEnv returns what the AWS CLI at path needs in its environment,
// beyond PATH, when a test gives it a HOME of its own: a pyenv shim finds
// its installation through PYENV_ROOT, which defaults to a directory of
// HOME.
func HomeEnv(path string) []string {
	if dir := filepath.Dir(path); filepath.Base(dir) == "shims" && os.Getenv("PYENV_ROOT") == "" {
		return []string{"PYENV_ROOT=" + filepath.Dir(dir)}
	}
	return nil
}

// check looks for the AWS CLI and runs "aws --version" once per process:
// a Python start costs about a second on a busy machine.
var check = sync.OnceValues(func() (string, error) {
	path, err := exec.LookPath("aws")
	if err != nil {
		return "", fmt.Errorf("the AWS CLI (aws) is not on PATH")
	}
	path = unshim(path)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--version").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("aws --version failed: %v", err)
	}
	m := regexp.MustCompile(`aws-cli/(\d+)\.(\d+)\.`).FindSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("aws --version printed no version: %q", out)
	}
	major, _ := strconv.Atoi(string(m[1]))
	minor, _ := strconv.Atoi(string(m[2]))
	if (major == 1 && minor < 29) || (major == 2 && minor < 13) || major < 1 {
		return "", fmt.Errorf("the AWS CLI %d.%d predates AWS_ENDPOINT_URL (v1.29, v2.13)", major, minor)
	}
	return path, nil
})

// unshim returns the program that the pyenv shim at path runs, as
// "pyenv which" names it, or path itself when it is no shim or pyenv
// cannot say. A shim starts a shell and pyenv before the CLI: some 0.3 s
// of each of the hundreds of runs of the interop tests.
func unshim(path string) string {
	dir := filepath.Dir(path)
	if filepath.Base(dir) != "shims" {
		return path
	}
	root := cmp.Or(os.Getenv("PYENV_ROOT"), filepath.Dir(dir))
	pyenv, err := exec.LookPath("pyenv")
	if err != nil {
		pyenv = filepath.Join(root, "bin", "pyenv")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, pyenv, "which", filepath.Base(path))
	cmd.Env = append(os.Environ(), "PYENV_ROOT="+root)
	out, err := cmd.Output()
	if err != nil {
		return path
	}
	real := strings.TrimSpace(string(out))
	if st, err := os.Stat(real); err != nil || !filepath.IsAbs(real) || st.IsDir() {
		return path
	}
	return real
}
