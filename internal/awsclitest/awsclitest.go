// Package awsclitest finds the AWS CLI for the interop tests that run it
// against ststest.
package awsclitest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// RequireEnv names the environment variable that turns a missing or
// unusable AWS CLI from a skip into a failure. CI sets it.
const RequireEnv = "STSCHAIN_REQUIRE_AWS_CLI"

var versionRe = regexp.MustCompile(`aws-cli/(\d+)\.(\d+)\.`)

// Require skips t, or fails it when RequireEnv is set, unless an AWS CLI
// that honours AWS_ENDPOINT_URL (v1.29 or later, v2.13 or later) is on
// PATH.
func Require(t testing.TB) {
	t.Helper()
	if err := usable(); err != nil {
		if os.Getenv(RequireEnv) != "" {
			t.Fatalf("%v, and %s is set", err, RequireEnv)
		}
		t.Skipf("skipping the AWS CLI interop test: %v", err)
	}
}

func usable() error {
	if _, err := exec.LookPath("aws"); err != nil {
		return fmt.Errorf("the AWS CLI (aws) is not on PATH")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "aws", "--version").CombinedOutput()
	if err != nil {
		return fmt.Errorf("aws --version failed: %v", err)
	}
	m := versionRe.FindSubmatch(out)
	if m == nil {
		return fmt.Errorf("aws --version printed no version: %q", out)
	}
	major, _ := strconv.Atoi(string(m[1]))
	minor, _ := strconv.Atoi(string(m[2]))
	if (major == 1 && minor < 29) || (major == 2 && minor < 13) || major < 1 {
		return fmt.Errorf("the AWS CLI %d.%d predates AWS_ENDPOINT_URL (v1.29, v2.13)", major, minor)
	}
	return nil
}
