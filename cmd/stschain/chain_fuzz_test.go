package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stschain/stschain"
)

// Flags FuzzBuildChain adds to its profile, one bit each.
const (
	fuzzRoleARN = 1 << iota
	fuzzSessionDuration
	fuzzMFASerial
)

// FuzzBuildChain builds the chain of any config and credentials file, for
// any profile name, with or without a --role-arn, --session-duration and
// --mfa-serial on top: nothing panics, a chain that is built has a
// provider, and a chain that is not is a usage error (exit 2) or a
// credential error (exit 1) whose line is printable. Its seeds, in
// testdata/fuzz/FuzzBuildChain (each kind of root, with and without the
// flags; loops; escapes in names and values; a web identity profile
// without a role, which once left the chain without a provider), run
// with every go test.
//
// Inputs naming a process (credential_process, mfa_process) are skipped:
// building such a chain may run it.
func FuzzBuildChain(f *testing.F) {
	dir := f.TempDir()
	for _, k := range awsEnvNames {
		f.Setenv(k, "")
		os.Unsetenv(k)
	}
	f.Setenv("HOME", dir)
	f.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	configFile, credentialsFile := filepath.Join(dir, "config"), filepath.Join(dir, "credentials")
	f.Setenv("AWS_CONFIG_FILE", configFile)
	f.Setenv("AWS_SHARED_CREDENTIALS_FILE", credentialsFile)

	f.Fuzz(func(t *testing.T, config, credentials, profile string, flags uint8) {
		if strings.Contains(strings.ToLower(config+credentials), "process") {
			t.Skip("building the chain may run the process")
		}
		if err := os.WriteFile(configFile, []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(credentialsFile, []byte(credentials), 0o600); err != nil {
			t.Fatal(err)
		}
		fl := &chainFlags{profile: profile, noCache: true, endpointURL: "http://127.0.0.1:1"}
		if flags&fuzzRoleARN != 0 {
			fl.roleARNs = stringList{roleB}
		}
		if flags&fuzzSessionDuration != 0 {
			fl.sessionDuration = durationFlag(time.Hour)
		}
		if flags&fuzzMFASerial != 0 {
			fl.mfaSerial = "arn:aws:iam::123456789012:mfa/alice"
			fl.mfaToken = "123456"
		}
		var stderr strings.Builder
		inv := &invocation{cmd: execCommand(), stdin: strings.NewReader(""), stdout: &stderr, stderr: &stderr, env: os.Getenv}
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		c, err := buildChain(ctx, inv, fl)
		if err == nil {
			if c.provider == nil {
				t.Fatal("a chain without a provider")
			}
			return
		}
		if !errors.As(err, new(*usageError)) && !errors.As(err, new(*cmdError)) && !errors.As(err, new(*stschain.Error)) {
			t.Fatalf("neither a usage nor a credential error: %T %v", err, err)
		}
		line := flat(err)
		if line == "" || printable(line) != line || strings.ContainsAny(line, "\n\x00\x1b") {
			t.Fatalf("the error's line is not printable: %q", line)
		}
	})
}
