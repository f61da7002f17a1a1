package awsprofile_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain"
	"github.com/stschain/stschain/awsprofile"
	"github.com/stschain/stschain/ststest"
)

// countingProcess writes a credential_process script into e.dir that
// appends a line to e.dir/count each time it runs and prints a session
// of bob's (from GetSessionToken) with its Expiration, or the long-term
// keys of user ("alice" or "bob") when user is not empty. It returns the
// command.
func (e *env) countingProcess(user string) string {
	t := e.t
	doc := map[string]any{"Version": 1, "AccessKeyId": bobKey, "SecretAccessKey": bobSec}
	if user == "alice" {
		doc = map[string]any{"Version": 1, "AccessKeyId": aliceKey, "SecretAccessKey": aliceSec}
	}
	if user == "" {
		out, err := sts.NewFromConfig(e.srv.AWSConfig("bob")).GetSessionToken(context.Background(), &sts.GetSessionTokenInput{})
		require.NoError(t, err)
		e.srv.ResetCalls()
		c := out.Credentials
		doc = map[string]any{"Version": 1, "AccessKeyId": aws.ToString(c.AccessKeyId), "SecretAccessKey": aws.ToString(c.SecretAccessKey),
			"SessionToken": aws.ToString(c.SessionToken), "Expiration": aws.ToTime(c.Expiration).UTC().Format(time.RFC3339)}
	}
	b, err := json.Marshal(doc)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(e.dir, "creds.json"), b, 0o600))
	script := filepath.Join(e.dir, "proc.sh")
	require.NoError(t, os.WriteFile(script, []byte("#!/bin/sh\necho run >> '"+e.dir+"/count'\ncat '"+e.dir+"/creds.json'\n"), 0o700))
	return script
}

// runs is how many times the counting process ran.
func (e *env) runs() int {
	b, err := os.ReadFile(filepath.Join(e.dir, "count"))
	if os.IsNotExist(err) {
		return 0
	}
	require.NoError(e.t, err)
	return strings.Count(string(b), "\n")
}

const processRoleConfig = `
[profile proc]
credential_process = {{process}}
[profile top]
role_arn = arn:aws:iam::123456789012:role/top
source_profile = proc
`

// With a Cache, a credential_process's session is kept for the chains of
// other loads (other processes): the process runs once per lifetime.
// Long-term keys are not cached.
func TestProcessRootCached(t *testing.T) {
	t.Parallel()
	for _, longTerm := range []bool{false, true} {
		t.Run(fmt.Sprintf("longTerm=%v", longTerm), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, ststest.Role{ARN: roleARN("top")})
			cache, err := stschain.NewFileCache(filepath.Join(e.dir, "cache"))
			require.NoError(t, err)
			config := strings.ReplaceAll(processRoleConfig, "{{process}}", e.countingProcess(map[bool]string{true: "bob"}[longTerm]))
			for range 3 {
				retrieve(t, "proc", e.opts(config, "", func(o *awsprofile.Options) { o.Cache = cache }))
			}
			want := 1
			if longTerm {
				want = 3
			}
			assert.Equal(t, want, e.runs())
		})
	}
}

// A cached root entry that the root could not have granted (one expiring
// later than its longest session) is not taken.
func TestProcessRootCacheRefusesLongEntries(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cache := &mapCache{}
	config := strings.ReplaceAll(processRoleConfig, "{{process}}", e.countingProcess(""))
	opts := e.opts(config, "", func(o *awsprofile.Options) { o.Cache = cache })
	retrieve(t, "proc", opts)
	require.Len(t, cache.entries, 1)
	for k, v := range cache.entries {
		v.Credentials.Expires = time.Now().Add(40 * time.Hour)
		cache.entries[k] = v
	}
	retrieve(t, "proc", opts)
	assert.Equal(t, 2, e.runs())
}

// mapCache is a stschain.Cache in memory, without locks.
type mapCache struct {
	mu      sync.Mutex
	entries map[string]stschain.CacheEntry
}

func (c *mapCache) Load(_ context.Context, key string) (stschain.CacheEntry, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	return e, ok, nil
}

func (c *mapCache) Store(_ context.Context, key string, e stschain.CacheEntry) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[string]stschain.CacheEntry{}
	}
	c.entries[key] = e
	return nil
}

// childEnv names the variables of a child process of
// TestProcessRootOncePerLifetimeAcrossProcesses.
const childEnv = "AWSPROFILE_TEST_CHILD"

// childMain loads the profile the parent names with a FileCache, and
// prints the access key of its credentials. It reads its settings from
// AWSPROFILE_TEST_CHILD: profile, config file, cache directory and
// endpoint, tab-separated.
func childMain() int {
	parts := strings.Split(os.Getenv(childEnv), "\t")
	profile, configFile, cacheDir, endpoint := parts[0], parts[1], parts[2], parts[3]
	cache, err := stschain.NewFileCache(cacheDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx := context.Background()
	cfg, err := awsprofile.LoadConfig(ctx, profile, func(o *awsprofile.Options) {
		o.ConfigFiles, o.CredentialsFiles = []string{configFile}, []string{}
		o.Cache = cache
		o.LoadOptions = []func(*config.LoadOptions) error{config.WithBaseEndpoint(endpoint), config.WithRegion("us-east-1")}
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	c, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(c.AccessKeyID)
	return 0
}

// Many processes loading a role over one credential_process root at once
// run the process once and assume the role once: the root's session and
// the role's are each fetched under the cache's lock by one of them, and
// taken from the cache by the others.
func TestProcessRootOncePerLifetimeAcrossProcesses(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ststest.Role{ARN: roleARN("top")})
	cf, _ := e.files(strings.ReplaceAll(processRoleConfig, "{{process}}", e.countingProcess("")), "")
	cacheDir := filepath.Join(e.dir, "cache")
	const n = 8
	outs := make([]string, n)
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for i := range n {
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"="+strings.Join([]string{"top", cf, cacheDir, e.url}, "\t"))
		var stderr strings.Builder
		cmd.Stderr = &stderr
		wg.Go(func() {
			out, err := cmd.Output()
			assert.NoError(t, err, "child %d: %s", i, stderr.String())
			outs[i] = strings.TrimSpace(string(out))
		})
	}
	wg.Wait()
	assert.Equal(t, 1, e.runs(), "the credential_process ran once")
	assumed := e.srv.Calls(ststest.Call{Action: "AssumeRole"})
	require.Len(t, assumed, 1, "the role was assumed once")
	for i, out := range outs {
		assert.Equal(t, assumed[0].IssuedAccessKeyID, out, "child %d has the one session", i)
	}
}
