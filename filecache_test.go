//go:build unix

// FileCache's checks of owners, modes and file types are Unix's; so are
// these tests' FIFOs, devices and processes of another user.

package stschain

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/stschain/stschain/internal/clicache"
	"github.com/stschain/stschain/internal/usertest"
	"golang.org/x/sys/unix"
)

// cliGoldenFile is a cache entry exactly as botocore 1.43.11 (AWS CLI
// 1.45.11) writes it: AssumeRoleCredentialFetcher with a JSONFileCache, fed
// the AssumeRole response of the STS documentation through a before-send
// hook. Note Expiration: the fraction of the response's
// 2030-07-15T23:28:33.359Z is dropped and the zone is written "UTC".
const cliGoldenFile = `{"Credentials": {"AccessKeyId": "ASIAJEXAMPLEXEG2JICEA", "SecretAccessKey": "9drTJvcXLB89EXAMPLELB8923FB892xMFI", "SessionToken": "AQoXdzELDDY//////////wEaoAK1wvxJY12r2IrDFT2IvAzTCn3zHoZ7YNtpiQLF0MqZye/qwjzP2iEXAMPLEbw/m3hsj8VBTkPORGvr9jM5sgP+w9IZWZnU+LWhmg+a5fDi2oTGUYcdg9uexQ4mtCHIHfi4citgqZTgco40Yqr4lIlo4V2b2Dyauk0eYFNebHtYlFVgAUj+7Indz3LU0aTWk1WKIjHmmMCIoTkyYp/k7kUG7moeEYKSitwQIi6Gjn+nyzM+PtoA3685ixzv0R7i5rjQi0YE0lf1oeie3bDiNHncmzosRM6SFiPzSvp6h/32xQuZsjcypmwsPSDtTPYcs0+YN/8BRi2/IcrxSpnWEXAMPLEXSDFTAQAM6Dl9zR0tXoybnlrZIwMLlMi1Kcgo5OytwU=", "Expiration": "2030-07-15T23:28:33UTC", "AccountId": "123456789012"}, "AssumedRoleUser": {"AssumedRoleId": "AROA3XFRBF535PLBIFPI4:s3-access-example", "Arn": "arn:aws:sts::123456789012:assumed-role/demo/s3-access-example"}, "PackedPolicySize": 6, "ResponseMetadata": {"RequestId": "c6104cbe-af31-11e0-8154-cbc7ccf896c7", "HTTPStatusCode": 200, "HTTPHeaders": {"x-amzn-requestid": "c6104cbe-af31-11e0-8154-cbc7ccf896c7", "content-type": "text/xml", "content-length": "1161", "date": "Mon, 15 Jul 2030 22:28:33 GMT"}, "RetryAttempts": 0}}`

const testSecret = "SECRETsecretSECRETsecret"

// privateDir is t.TempDir made 0700: t.TempDir follows the umask, and a
// umask of 002 makes it writable by the group, which NewFileCache refuses
// in the cache directory and above it.
func privateDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o700))
	return dir
}

func newTestFileCache(t *testing.T) *FileCache {
	t.Helper()
	c, err := NewFileCache(privateDir(t))
	require.NoError(t, err)
	return c
}

func writeEntryFile(t *testing.T, c *FileCache, key, content string) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(c.dir.Path(), key+".json"), []byte(content), 0o600))
}

func testEntry(expires time.Time) CacheEntry {
	return CacheEntry{
		Credentials: aws.Credentials{
			AccessKeyID:     "ASIAEXAMPLE",
			SecretAccessKey: testSecret,
			SessionToken:    "TOKEN",
			CanExpire:       true,
			Expires:         expires,
			AccountID:       "123456789012",
		},
		AssumedRoleUser: &types.AssumedRoleUser{
			Arn:           aws.String("arn:aws:sts::123456789012:assumed-role/demo/alice"),
			AssumedRoleId: aws.String("AROAEXAMPLE:alice"),
		},
	}
}

func TestFileCacheRoundTrip(t *testing.T) {
	ctx := context.Background()
	expires := time.Now().Add(time.Hour).Truncate(time.Second).UTC()
	gst := testEntry(expires)
	gst.AssumedRoleUser = nil
	gst.Credentials.AccountID = ""

	tests := []struct {
		name  string
		entry CacheEntry
	}{
		{"assume role", testEntry(expires)},
		{"get session token", gst},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestFileCache(t)
			require.NoError(t, c.Store(ctx, "k1", tt.entry))
			got, ok, err := c.Load(ctx, "k1")
			require.NoError(t, err)
			require.True(t, ok)
			assert.Equal(t, tt.entry, got)
			assert.Empty(t, got.Credentials.Source)

			raw, err := os.ReadFile(filepath.Join(c.dir.Path(), "k1.json"))
			require.NoError(t, err)
			var m map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(raw, &m))
			_, hasUser := m["AssumedRoleUser"]
			assert.Equal(t, tt.entry.AssumedRoleUser != nil, hasUser)
		})
	}

	t.Run("replace", func(t *testing.T) {
		c := newTestFileCache(t)
		e1, e2 := testEntry(expires), testEntry(expires.Add(time.Hour))
		e2.Credentials.AccessKeyID = "ASIASECOND"
		require.NoError(t, c.Store(ctx, "k", e1))
		require.NoError(t, c.Store(ctx, "k", e2))
		got, ok, err := c.Load(ctx, "k")
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, e2, got)
	})

	t.Run("expiry truncated to the second", func(t *testing.T) {
		c := newTestFileCache(t)
		e := testEntry(expires.Add(999 * time.Millisecond))
		require.NoError(t, c.Store(ctx, "k", e))
		got, ok, err := c.Load(ctx, "k")
		require.NoError(t, err)
		require.True(t, ok)
		assert.True(t, got.Credentials.Expires.Equal(expires), "got %v", got.Credentials.Expires)
	})

	t.Run("missing file", func(t *testing.T) {
		c := newTestFileCache(t)
		got, ok, err := c.Load(ctx, "absent")
		require.NoError(t, err)
		assert.False(t, ok)
		assert.Equal(t, CacheEntry{}, got)
	})
}

func TestFileCacheWrittenFormat(t *testing.T) {
	c := newTestFileCache(t)
	e := testEntry(time.Date(2030, 7, 15, 23, 28, 33, 359e6, time.FixedZone("CEST", 2*3600)))
	require.NoError(t, c.Store(context.Background(), "k", e))
	raw, err := os.ReadFile(filepath.Join(c.dir.Path(), "k.json"))
	require.NoError(t, err)
	// The shape and Expiration format of cliGoldenFile; botocore reads it
	// with json.load and dateutil's parser.
	assert.JSONEq(t, `{
		"Credentials": {"AccessKeyId": "ASIAEXAMPLE", "SecretAccessKey": "`+testSecret+`", "SessionToken": "TOKEN",
			"Expiration": "2030-07-15T21:28:33UTC", "AccountId": "123456789012"},
		"AssumedRoleUser": {"AssumedRoleId": "AROAEXAMPLE:alice", "Arn": "arn:aws:sts::123456789012:assumed-role/demo/alice"}
	}`, string(raw))
}

func TestFileCacheWritesAccountIDFromARN(t *testing.T) {
	c := newTestFileCache(t)
	e := testEntry(time.Now().Add(time.Hour))
	e.Credentials.AccountID = ""
	require.NoError(t, c.Store(context.Background(), "k", e))
	raw, err := os.ReadFile(filepath.Join(c.dir.Path(), "k.json"))
	require.NoError(t, err)
	var file struct{ Credentials struct{ AccountId string } }
	require.NoError(t, json.Unmarshal(raw, &file))
	assert.Equal(t, "123456789012", file.Credentials.AccountId)
}

func TestFileCacheGoldenCLIFile(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The bubble's clock says 2000: move it to an hour before the
		// entry expires, inside the longest session STS grants.
		time.Sleep(time.Until(time.Date(2030, 7, 15, 22, 28, 33, 0, time.UTC)))
		c := newTestFileCache(t)
		writeEntryFile(t, c, "e47c08d21c659a69bea4c6e27c346fca1fe44bee", cliGoldenFile)
		got, ok, err := c.Load(context.Background(), "e47c08d21c659a69bea4c6e27c346fca1fe44bee")
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, CacheEntry{
			Credentials: aws.Credentials{
				AccessKeyID:     "ASIAJEXAMPLEXEG2JICEA",
				SecretAccessKey: "9drTJvcXLB89EXAMPLELB8923FB892xMFI",
				SessionToken:    "AQoXdzELDDY//////////wEaoAK1wvxJY12r2IrDFT2IvAzTCn3zHoZ7YNtpiQLF0MqZye/qwjzP2iEXAMPLEbw/m3hsj8VBTkPORGvr9jM5sgP+w9IZWZnU+LWhmg+a5fDi2oTGUYcdg9uexQ4mtCHIHfi4citgqZTgco40Yqr4lIlo4V2b2Dyauk0eYFNebHtYlFVgAUj+7Indz3LU0aTWk1WKIjHmmMCIoTkyYp/k7kUG7moeEYKSitwQIi6Gjn+nyzM+PtoA3685ixzv0R7i5rjQi0YE0lf1oeie3bDiNHncmzosRM6SFiPzSvp6h/32xQuZsjcypmwsPSDtTPYcs0+YN/8BRi2/IcrxSpnWEXAMPLEXSDFTAQAM6Dl9zR0tXoybnlrZIwMLlMi1Kcgo5OytwU=",
				CanExpire:       true,
				Expires:         time.Date(2030, 7, 15, 23, 28, 33, 0, time.UTC),
				AccountID:       "123456789012",
			},
			AssumedRoleUser: &types.AssumedRoleUser{
				AssumedRoleId: aws.String("AROA3XFRBF535PLBIFPI4:s3-access-example"),
				Arn:           aws.String("arn:aws:sts::123456789012:assumed-role/demo/s3-access-example"),
			},
		}, got)
	})
}

func TestFileCacheExpired(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		c := newTestFileCache(t)
		require.NoError(t, c.Store(ctx, "k", testEntry(time.Now().Add(10*time.Second))))
		_, ok, err := c.Load(ctx, "k")
		require.NoError(t, err)
		assert.True(t, ok, "fresh entry")

		time.Sleep(10 * time.Second) // now == Expiration
		got, ok, err := c.Load(ctx, "k")
		require.NoError(t, err)
		assert.False(t, ok, "Expiration <= now is a miss")
		assert.Equal(t, CacheEntry{}, got)

		time.Sleep(time.Hour)
		_, ok, err = c.Load(ctx, "k")
		require.NoError(t, err)
		assert.False(t, ok)
	})
}

func TestFileCacheUnusableFiles(t *testing.T) {
	good := `{"Credentials": {"AccessKeyId": "A", "SecretAccessKey": "` + testSecret + `", "SessionToken": "T", "Expiration": "2099-01-01T00:00:00Z"}}`
	tests := []struct {
		name    string
		content string
		wantErr string
	}{
		{"empty file", "", "not valid JSON"},
		{"truncated", good[:len(good)/2], "not valid JSON"},
		{"corrupt", `{"Credentials": {"SecretAccessKey": "` + testSecret + `" x}}`, "not valid JSON (error at byte"},
		{"binary", "\x00\x01" + testSecret, "not valid JSON"},
		{"array", `[1, 2]`, "is a JSON array"},
		{"empty object", `{}`, "no Credentials object"},
		{"null credentials", `{"Credentials": null}`, "no Credentials object"},
		{"credentials not object", `{"Credentials": "` + testSecret + `"}`, "Credentials is a JSON string"},
		{"number key", `{"Credentials": {"AccessKeyId": 5}}`, "AccessKeyId is a JSON number"},
		{"missing keys", `{"Credentials": {"AccessKeyId": "A", "SecretAccessKey": "` + testSecret + `"}}`, "Credentials has no SessionToken, Expiration"},
		{"sso token file", `{"accessToken": "` + testSecret + `", "expiresAt": "2099-01-01T00:00:00Z"}`, "no Credentials object"},
		{"no zone", strings.Replace(good, "00:00:00Z", "00:00:00", 1), "not a date and time with a zone"},
		{"not a date", strings.Replace(good, "2099-01-01T00:00:00Z", "tomorrow", 1), "Credentials.Expiration is not a date and time"},
		{"accounts differ", `{"Credentials": {"AccessKeyId": "A", "SecretAccessKey": "` + testSecret + `", "SessionToken": "T", "Expiration": "2099-01-01T00:00:00Z", "AccountId": "999999999999"},
			"AssumedRoleUser": {"AssumedRoleId": "AROAEXAMPLE:alice", "Arn": "arn:aws:sts::123456789012:assumed-role/demo/alice"}}`, "name different accounts"},
		{"AssumedRoleUser not a session", `{"Credentials": {"AccessKeyId": "A", "SecretAccessKey": "` + testSecret + `", "SessionToken": "T", "Expiration": "2099-01-01T00:00:00Z"},
			"AssumedRoleUser": {"AssumedRoleId": "AROAEXAMPLE:alice", "Arn": "arn:aws:iam::123456789012:user/alice"}}`, "AssumedRoleUser.Arn is not the ARN of an assumed-role session"},
		{"too large", `{"Credentials": {"AccessKeyId": "` + strings.Repeat("A", clicache.MaxFileSize) + `"}}`, "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestFileCache(t)
			writeEntryFile(t, c, "k", tt.content)
			got, ok, err := c.Load(context.Background(), "k")
			require.Error(t, err)
			assert.False(t, ok)
			assert.Equal(t, CacheEntry{}, got)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.NotContains(t, err.Error(), testSecret)
			assert.True(t, strings.HasPrefix(err.Error(), "stschain: "), err.Error())
		})
	}

}

func TestFileCacheStoreRejectsIncompleteEntries(t *testing.T) {
	c := newTestFileCache(t)
	e := testEntry(time.Time{})
	e.Credentials.SessionToken = ""
	err := c.Store(context.Background(), "k", e)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "SessionToken, Expires")
	assert.NotContains(t, err.Error(), testSecret)
	_, statErr := os.Stat(filepath.Join(c.dir.Path(), "k.json"))
	assert.ErrorIs(t, statErr, os.ErrNotExist)
}

func TestFileCachePermissions(t *testing.T) {
	t.Run("created", func(t *testing.T) {
		dir := filepath.Join(privateDir(t), "a", "cache")
		c, err := NewFileCache(dir)
		require.NoError(t, err)
		fi, err := os.Stat(dir)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm())

		require.NoError(t, c.Store(context.Background(), "k", testEntry(time.Now().Add(time.Hour))))
		fi, err = os.Stat(filepath.Join(dir, "k.json"))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

		unlock, err := c.Lock(context.Background(), "k")
		require.NoError(t, err)
		unlock()
		fi, err = os.Stat(filepath.Join(dir, "k.lock"))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	})
	t.Run("existing dir used as is", func(t *testing.T) {
		dir := privateDir(t)
		require.NoError(t, os.Chmod(dir, 0o750))
		_, err := NewFileCache(dir)
		require.NoError(t, err)
		fi, err := os.Stat(dir)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o750), fi.Mode().Perm())
	})
	t.Run("relative dir made absolute", func(t *testing.T) {
		t.Chdir(privateDir(t))
		c, err := NewFileCache("rel")
		require.NoError(t, err)
		assert.True(t, filepath.IsAbs(c.dir.Path()))
	})
	t.Run("errors", func(t *testing.T) {
		_, err := NewFileCache("")
		assert.ErrorContains(t, err, "dir is empty")
		file := filepath.Join(privateDir(t), "f")
		require.NoError(t, os.WriteFile(file, nil, 0o600))
		_, err = NewFileCache(file)
		assert.Error(t, err)
	})
}

func TestFileCacheAtomicWrite(t *testing.T) {
	ctx := context.Background()
	c := newTestFileCache(t)
	expires := time.Now().Add(time.Hour)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 20 {
				e := testEntry(expires)
				e.Credentials.AccessKeyID = fmt.Sprintf("ASIA%02d%02d", i, j)
				assert.NoError(t, c.Store(ctx, "k", e))
				got, ok, err := c.Load(ctx, "k")
				assert.NoError(t, err, "a reader never sees part of an entry")
				assert.True(t, ok)
				assert.Equal(t, testSecret, got.Credentials.SecretAccessKey)
			}
		})
	}
	wg.Wait()
	entries, err := os.ReadDir(c.dir.Path())
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.Equal(t, []string{"k.json"}, names, "no temporary file left behind")
}

func TestFileCacheKeyValidation(t *testing.T) {
	ctx := context.Background()
	c := newTestFileCache(t)
	for _, key := range []string{"", ".", "..", "../x", "a/b", `a\b`, "a.b", "a b", "k\x00", "é", strings.Repeat("a", 201)} {
		t.Run(fmt.Sprintf("%q", key), func(t *testing.T) {
			_, ok, err := c.Load(ctx, key)
			assert.ErrorContains(t, err, "invalid cache key")
			assert.False(t, ok)
			assert.ErrorContains(t, c.Store(ctx, key, testEntry(time.Now().Add(time.Hour))), "invalid cache key")
			_, err = c.Lock(ctx, key)
			assert.ErrorContains(t, err, "invalid cache key")
		})
	}
	for _, key := range []string{"e47c08d21c659a69bea4c6e27c346fca1fe44bee", "A-b_9", "x"} {
		t.Run(key, func(t *testing.T) {
			require.NoError(t, c.Store(ctx, key, testEntry(time.Now().Add(time.Hour))))
			_, ok, err := c.Load(ctx, key)
			require.NoError(t, err)
			assert.True(t, ok)
		})
	}
}

func TestFileCacheDefaultCLICacheDir(t *testing.T) {
	home := privateDir(t)
	t.Setenv("HOME", home)
	dir, err := DefaultCLICacheDir()
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(home, ".aws", "cli", "cache"), dir)
}

func TestFileCacheLockExclusion(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		c := newTestFileCache(t)
		var holders, maxHolders, total atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 5 {
					unlock, err := c.Lock(ctx, "k")
					if !assert.NoError(t, err) {
						return
					}
					n := holders.Add(1)
					for {
						m := maxHolders.Load()
						if n <= m || maxHolders.CompareAndSwap(m, n) {
							break
						}
					}
					time.Sleep(5 * time.Millisecond) // hold it while others try
					total.Add(1)
					holders.Add(-1)
					unlock()
				}
			})
		}
		wg.Wait()
		assert.EqualValues(t, 1, maxHolders.Load(), "two goroutines held the lock at once")
		assert.EqualValues(t, 40, total.Load())
	})

	t.Run("keys are independent", func(t *testing.T) {
		c := newTestFileCache(t)
		u1, err := c.Lock(context.Background(), "a")
		require.NoError(t, err)
		defer u1()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		u2, err := c.Lock(ctx, "b")
		require.NoError(t, err)
		u2()
	})

	t.Run("two caches on one dir exclude each other", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			dir := privateDir(t)
			c1, err := NewFileCache(dir)
			require.NoError(t, err)
			c2, err := NewFileCache(dir)
			require.NoError(t, err)
			unlock, err := c1.Lock(context.Background(), "k")
			require.NoError(t, err)
			var released atomic.Bool
			done := make(chan struct{})
			go func() {
				defer close(done)
				u, err := c2.Lock(context.Background(), "k")
				if assert.NoError(t, err) {
					assert.True(t, released.Load(), "second Lock returned while the first was held")
					u()
				}
			}()
			time.Sleep(time.Second)
			released.Store(true)
			unlock()
			unlock() // a second call does nothing
			<-done
		})
	})
}

func TestFileCacheLockContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newTestFileCache(t)
		unlock, err := c.Lock(context.Background(), "k")
		require.NoError(t, err)
		defer unlock()

		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() {
			_, err := c.Lock(ctx, "k")
			errc <- err
		}()
		time.Sleep(time.Second)
		synctest.Wait()
		select {
		case err := <-errc:
			t.Fatalf("Lock returned while the lock was held: %v", err)
		default:
		}
		start := time.Now()
		cancel()
		err = <-errc
		assert.ErrorIs(t, err, context.Canceled)
		assert.Less(t, time.Since(start), 2*clicache.LockRetry)

		ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err = c.Lock(ctx, "k")
		assert.ErrorIs(t, err, context.DeadlineExceeded)
	})
}

// TestFileCacheHelperProcess is the child process of the tests that need
// one: STSCHAIN_TEST_HELPER says what it does, in the directory
// STSCHAIN_TEST_DIR. It does nothing in a normal run.
func TestFileCacheHelperProcess(t *testing.T) {
	role, dir := os.Getenv("STSCHAIN_TEST_HELPER"), os.Getenv("STSCHAIN_TEST_DIR")
	if role == "" {
		t.Skip("helper process only")
	}
	var err error
	switch role {
	case "lock": // take the lock, say so and wait to be killed
		var c *FileCache
		if c, err = NewFileCache(dir); err == nil {
			if _, err = c.Lock(context.Background(), "k"); err == nil {
				fmt.Println("locked")
				time.Sleep(time.Hour)
			}
		}
	case "plant":
		err = plantFiles(dir, os.Getenv("STSCHAIN_TEST_TARGET"))
	case "read-only":
		var out []byte
		if out, err = json.Marshal(readOnlyScenario(dir)); err == nil {
			fmt.Println(string(out))
		}
	default:
		err = fmt.Errorf("unknown helper %q", role)
	}
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(2)
	}
	os.Exit(0)
}

func TestFileCacheLockDeadProcess(t *testing.T) {
	dir := privateDir(t)
	c, err := NewFileCache(dir)
	require.NoError(t, err)

	cmd := exec.Command(os.Args[0], "-test.run=^TestFileCacheHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "STSCHAIN_TEST_HELPER=lock", "STSCHAIN_TEST_DIR="+dir)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	killed := false
	t.Cleanup(func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "locked\n", line)

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = c.Lock(ctx, "k")
	require.ErrorIs(t, err, context.DeadlineExceeded, "the child holds the lock")

	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait() // "signal: killed"
	killed = true

	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	unlock, err := c.Lock(ctx, "k")
	require.NoError(t, err, "the dead child's lock is released")
	unlock()
}

func otherUser(t *testing.T) (uid, gid int) { return usertest.Other(t) }

func publicTempDir(t *testing.T) string { return usertest.PublicTempDir(t) }

// asOtherUser runs this test binary's TestFileCacheHelperProcess as uid and
// gid, with env added to the environment, and returns what it printed. A
// helper that fails or has not ended after a minute fails t.
func asOtherUser(t *testing.T, uid, gid int, env ...string) string {
	t.Helper()
	// Copy the binary where the other user can run it.
	self, err := os.Executable()
	require.NoError(t, err)
	exe := filepath.Join(publicTempDir(t), "stschain.test")
	data, err := os.ReadFile(self)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(exe, data, 0o755))

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "-test.run=^TestFileCacheHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "helper as uid %d: %s", uid, out)
	return string(out)
}

// promptly runs fn and fails t if it has not returned within a generous
// bound: what it guards against is blocking for ever, on a FIFO say, not
// slowness.
func promptly(t *testing.T, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s blocked", what)
	}
}

// cliFile is a cache file as the AWS CLI writes it, expiring at expires,
// with an AssumedRoleUser of account when account is not empty.
func cliFile(expires time.Time, account string) string {
	s := `{"Credentials": {"AccessKeyId": "ASIAPLANTED", "SecretAccessKey": "` + testSecret + `", "SessionToken": "TOKEN", "Expiration": "` +
		expires.UTC().Format("2006-01-02T15:04:05UTC") + `"}`
	if account != "" {
		s += `, "AssumedRoleUser": {"AssumedRoleId": "AROAEXAMPLE:s", "Arn": "arn:aws:sts::` + account + `:assumed-role/demo/s"}`
	}
	return s + "}"
}

// plantFiles is what another user does to a cache directory they can
// write: a session of their own, a link to it, a FIFO, and lock files that
// are a link to target and a FIFO.
func plantFiles(dir, target string) error {
	for _, step := range []func() error{
		func() error {
			return os.WriteFile(filepath.Join(dir, "session.json"), []byte(cliFile(time.Now().Add(time.Hour), "999999999999")), 0o644)
		},
		func() error { return os.Symlink("session.json", filepath.Join(dir, "link.json")) },
		func() error { return unix.Mkfifo(filepath.Join(dir, "fifo.json"), 0o666) },
		func() error { return os.Symlink(target, filepath.Join(dir, "link.lock")) },
		func() error { return unix.Mkfifo(filepath.Join(dir, "fifo.lock"), 0o666) },
	} {
		if err := step(); err != nil {
			return err
		}
	}
	fmt.Println("planted")
	return nil
}

func TestFileCacheDirectoryChecks(t *testing.T) {
	mkdir := func(t *testing.T, path string, mode os.FileMode) string {
		t.Helper()
		require.NoError(t, os.Mkdir(path, 0o700))
		require.NoError(t, os.Chmod(path, mode)) // beyond the umask
		return path
	}
	chown := func(t *testing.T, path string) int {
		t.Helper()
		uid, gid := otherUser(t)
		require.NoError(t, os.Lchown(path, uid, gid))
		return uid
	}
	euid := strconv.Itoa(os.Geteuid())

	tests := []struct {
		name string
		// setup returns the dir to pass and the words the error must hold
		// (none when NewFileCache must succeed).
		setup func(t *testing.T, tmp string) (dir string, wantErr []string)
	}{
		{"own, 0700", func(t *testing.T, tmp string) (string, []string) {
			return mkdir(t, filepath.Join(tmp, "c"), 0o700), nil
		}},
		{"own, readable by others", func(t *testing.T, tmp string) (string, []string) {
			return mkdir(t, filepath.Join(tmp, "c"), 0o755), nil
		}},
		{"writable by group", func(t *testing.T, tmp string) (string, []string) {
			d := mkdir(t, filepath.Join(tmp, "c"), 0o770)
			return d, []string{"the cache directory " + d + " is not safe: it (mode 0770) is writable by group or others", "(chmod go-w " + d + ")"}
		}},
		{"writable by others, as the AWS CLI makes it under umask 000", func(t *testing.T, tmp string) (string, []string) {
			d := mkdir(t, filepath.Join(tmp, "c"), 0o777)
			return d, []string{"it (mode 0777) is writable by group or others", "could plant credentials", "(chmod go-w " + d + ")"}
		}},
		{"another user's", func(t *testing.T, tmp string) (string, []string) {
			d := mkdir(t, filepath.Join(tmp, "c"), 0o700)
			uid := chown(t, d)
			return d, []string{"the cache directory " + d + " belongs to uid " + strconv.Itoa(uid) + ", not to uid " + euid, "chown " + euid + " " + d}
		}},
		{"below a directory others can write", func(t *testing.T, tmp string) (string, []string) {
			p := mkdir(t, filepath.Join(tmp, "p"), 0o777)
			d := mkdir(t, filepath.Join(p, "c"), 0o700)
			return d, []string{"the cache directory " + d + " is not safe: " + p + " (mode 0777) is writable by group or others", "put a directory of theirs in its place", "(chmod go-w " + p + ")"}
		}},
		{"all three writable by the group, as the AWS CLI leaves them under umask 002", func(t *testing.T, tmp string) (string, []string) {
			aws := mkdir(t, filepath.Join(tmp, ".aws"), 0o775)
			cli := mkdir(t, filepath.Join(aws, "cli"), 0o775)
			d := mkdir(t, filepath.Join(cli, "cache"), 0o775)
			return d, []string{"it (mode 0775), " + cli + " (mode 0775) and " + aws + " (mode 0775) are writable by group or others", "(chmod go-w " + d + " " + cli + " " + aws + ")"}
		}},
		{"missing, to be made below a directory others can write", func(t *testing.T, tmp string) (string, []string) {
			p := mkdir(t, filepath.Join(tmp, "p"), 0o777)
			return filepath.Join(p, "a", "c"), []string{p + " (mode 0777) is writable by group or others"}
		}},
		{"below a sticky directory others can write, as /tmp", func(t *testing.T, tmp string) (string, []string) {
			p := mkdir(t, filepath.Join(tmp, "p"), 0o777|os.ModeSticky)
			return mkdir(t, filepath.Join(p, "c"), 0o700), nil
		}},
		{"below another user's directory", func(t *testing.T, tmp string) (string, []string) {
			p := mkdir(t, filepath.Join(tmp, "p"), 0o755)
			d := mkdir(t, filepath.Join(p, "c"), 0o700)
			uid := chown(t, p)
			return d, []string{p + ", above the cache directory " + d + ", belongs to uid " + strconv.Itoa(uid) + ", neither to uid " + euid + " who runs this program nor to root"}
		}},
		{"symbolic link to another user's directory", func(t *testing.T, tmp string) (string, []string) {
			d := mkdir(t, filepath.Join(tmp, "c"), 0o700)
			uid := chown(t, d)
			link := filepath.Join(tmp, "link")
			require.NoError(t, os.Symlink(d, link))
			return link, []string{"the cache directory " + d + " belongs to uid " + strconv.Itoa(uid)}
		}},
		{"symbolic link to a directory others can write", func(t *testing.T, tmp string) (string, []string) {
			d := mkdir(t, filepath.Join(tmp, "c"), 0o777)
			link := filepath.Join(tmp, "link")
			require.NoError(t, os.Symlink(d, link))
			return link, []string{"the cache directory " + d + " is not safe: it (mode 0777)"}
		}},
		{"symbolic link to a directory of one's own", func(t *testing.T, tmp string) (string, []string) {
			d := mkdir(t, filepath.Join(tmp, "c"), 0o700)
			link := filepath.Join(tmp, "link")
			require.NoError(t, os.Symlink(d, link))
			return link, nil
		}},
		{"a file", func(t *testing.T, tmp string) (string, []string) {
			f := filepath.Join(tmp, "f")
			require.NoError(t, os.WriteFile(f, nil, 0o600))
			return f, []string{"not a directory"}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmp, err := filepath.EvalSymlinks(privateDir(t))
			require.NoError(t, err)
			dir, wantErr := tt.setup(t, tmp)
			before, _ := os.Lstat(dir)
			c, err := NewFileCache(dir)
			if wantErr == nil {
				require.NoError(t, err)
				real, err := filepath.EvalSymlinks(dir)
				require.NoError(t, err)
				assert.Equal(t, real, c.dir.Path())
				return
			}
			require.Error(t, err)
			assert.Nil(t, c)
			assert.True(t, strings.HasPrefix(err.Error(), "stschain: NewFileCache: "), err.Error())
			for _, w := range wantErr {
				assert.Contains(t, err.Error(), w)
			}
			if after, _ := os.Lstat(dir); before != nil {
				assert.Equal(t, before.Mode(), after.Mode(), "no permission was changed")
			}
		})
	}

	t.Run("a link changed later does not move the cache", func(t *testing.T) {
		tmp := privateDir(t)
		first, second := filepath.Join(tmp, "first"), filepath.Join(tmp, "second")
		require.NoError(t, os.Mkdir(first, 0o700))
		require.NoError(t, os.Mkdir(second, 0o700))
		link := filepath.Join(tmp, "link")
		require.NoError(t, os.Symlink(first, link))
		c, err := NewFileCache(link)
		require.NoError(t, err)

		require.NoError(t, os.Remove(link))
		require.NoError(t, os.Symlink(second, link))
		require.NoError(t, c.Store(context.Background(), "k", testEntry(time.Now().Add(time.Hour))))
		_, err = os.Stat(filepath.Join(first, "k.json"))
		assert.NoError(t, err, "stored where the link led when the cache was made")
		_, err = os.Stat(filepath.Join(second, "k.json"))
		assert.ErrorIs(t, err, os.ErrNotExist)
	})
}

func TestFileCacheLoadRefusesUntrustedFiles(t *testing.T) {
	valid := cliFile(time.Now().Add(time.Hour), "123456789012")
	writeValid := func(t *testing.T, path string, mode os.FileMode) {
		t.Helper()
		require.NoError(t, os.WriteFile(path, []byte(valid), 0o600))
		require.NoError(t, os.Chmod(path, mode))
	}
	tests := []struct {
		name    string
		plant   func(t *testing.T, path, outside string)
		wantErr string
	}{
		{"symbolic link to a valid entry", func(t *testing.T, path, outside string) {
			writeValid(t, outside, 0o600)
			require.NoError(t, os.Symlink(outside, path))
		}, "is a symbolic link, not a regular file"},
		{"dangling symbolic link", func(t *testing.T, path, outside string) {
			require.NoError(t, os.Symlink(outside, path))
		}, "is a symbolic link"},
		{"FIFO", func(t *testing.T, path, _ string) {
			require.NoError(t, unix.Mkfifo(path, 0o600))
		}, "is a named pipe (FIFO), not a regular file"},
		{"directory", func(t *testing.T, path, _ string) {
			require.NoError(t, os.Mkdir(path, 0o700))
		}, "is a directory"},
		{"socket", func(t *testing.T, path, _ string) {
			l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
			require.NoError(t, err)
			l.SetUnlinkOnClose(false)
			require.NoError(t, l.Close())
		}, "is a socket"},
		{"character device", func(t *testing.T, path, _ string) {
			// /dev/null's numbers on Linux; elsewhere whatever they name.
			if out, err := exec.Command("mknod", "-m", "600", path, "c", "1", "3").CombinedOutput(); err != nil {
				t.Skipf("skipping: cannot make a device node here: %v: %s", err, out)
			}
		}, "is a character device"},
		{"writable by group", func(t *testing.T, path, _ string) { writeValid(t, path, 0o620) }, "is writable by group or others (mode 0620)"},
		{"writable by others", func(t *testing.T, path, _ string) { writeValid(t, path, 0o602) }, "is writable by group or others (mode 0602)"},
		{"a second hard link", func(t *testing.T, path, outside string) {
			writeValid(t, outside, 0o600)
			require.NoError(t, os.Link(outside, path))
		}, "has 2 hard links"},
		{"another user's", func(t *testing.T, path, _ string) {
			uid, gid := otherUser(t)
			writeValid(t, path, 0o600)
			require.NoError(t, os.Chown(path, uid, gid))
		}, "belongs to uid 61"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestFileCache(t)
			path := filepath.Join(c.dir.Path(), "k.json")
			tt.plant(t, path, filepath.Join(privateDir(t), "outside.json"))
			var (
				got CacheEntry
				ok  bool
				err error
			)
			promptly(t, "Load", func() { got, ok, err = c.Load(context.Background(), "k") })
			require.Error(t, err)
			assert.False(t, ok)
			assert.Equal(t, CacheEntry{}, got)
			assert.Contains(t, err.Error(), "stschain: reading cache entry: "+path+" ")
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.NotContains(t, err.Error(), testSecret)
		})
	}

	t.Run("the same file, trusted", func(t *testing.T) {
		c := newTestFileCache(t)
		writeValid(t, filepath.Join(c.dir.Path(), "k.json"), 0o644)
		_, ok, err := c.Load(context.Background(), "k")
		require.NoError(t, err)
		assert.True(t, ok)
	})
}

func TestFileCacheLockRefusesUntrustedFiles(t *testing.T) {
	tests := []struct {
		name    string
		plant   func(t *testing.T, path, outside string)
		wantErr string
	}{
		{"symbolic link to a file it would create", func(t *testing.T, path, outside string) {
			require.NoError(t, os.Symlink(outside, path))
		}, "is a symbolic link, not a regular file"},
		{"symbolic link to an existing file", func(t *testing.T, path, outside string) {
			require.NoError(t, os.WriteFile(outside, nil, 0o600))
			require.NoError(t, os.Symlink(outside, path))
		}, "is a symbolic link"},
		{"FIFO", func(t *testing.T, path, _ string) {
			require.NoError(t, unix.Mkfifo(path, 0o600))
		}, "is a named pipe (FIFO)"},
		{"directory", func(t *testing.T, path, _ string) {
			require.NoError(t, os.Mkdir(path, 0o700))
		}, "is a directory"},
		{"writable by others", func(t *testing.T, path, _ string) {
			require.NoError(t, os.WriteFile(path, nil, 0o600))
			require.NoError(t, os.Chmod(path, 0o666))
		}, "is writable by group or others (mode 0666)"},
		{"another user's", func(t *testing.T, path, _ string) {
			uid, gid := otherUser(t)
			require.NoError(t, os.WriteFile(path, nil, 0o600))
			require.NoError(t, os.Chown(path, uid, gid))
		}, "belongs to uid 61"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestFileCache(t)
			path := filepath.Join(c.dir.Path(), "k.lock")
			outsideDir := privateDir(t)
			outside := filepath.Join(outsideDir, "target")
			tt.plant(t, path, outside)
			before, err := os.ReadDir(outsideDir)
			require.NoError(t, err)
			var unlock func()
			promptly(t, "Lock", func() { unlock, err = c.Lock(context.Background(), "k") })
			require.Error(t, err)
			assert.Nil(t, unlock)
			assert.Contains(t, err.Error(), "stschain: locking cache key: "+path+" ")
			assert.Contains(t, err.Error(), tt.wantErr)
			after, err := os.ReadDir(outsideDir)
			require.NoError(t, err)
			assert.Equal(t, before, after, "nothing created or changed outside the cache directory")
		})
	}
}

func TestFileCacheStoreReplacesPlantedFiles(t *testing.T) {
	tests := []struct {
		name  string
		plant func(t *testing.T, path, outside string)
	}{
		{"symbolic link", func(t *testing.T, path, outside string) { require.NoError(t, os.Symlink(outside, path)) }},
		{"FIFO", func(t *testing.T, path, _ string) { require.NoError(t, unix.Mkfifo(path, 0o600)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			c := newTestFileCache(t)
			outside := filepath.Join(privateDir(t), "victim")
			require.NoError(t, os.WriteFile(outside, []byte("original"), 0o600))
			tt.plant(t, filepath.Join(c.dir.Path(), "k.json"), outside)
			e := testEntry(time.Now().Add(time.Hour))
			promptly(t, "Store", func() { require.NoError(t, c.Store(ctx, "k", e)) })
			data, err := os.ReadFile(outside)
			require.NoError(t, err)
			assert.Equal(t, "original", string(data), "nothing written through the link")
			got, ok, err := c.Load(ctx, "k")
			require.NoError(t, err)
			require.True(t, ok)
			assert.Equal(t, e.Credentials.AccessKeyID, got.Credentials.AccessKeyID)
		})
	}
}

func TestFileCacheHonoursContext(t *testing.T) {
	c := newTestFileCache(t)
	require.NoError(t, c.Store(context.Background(), "k", testEntry(time.Now().Add(time.Hour))))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	_, ok, err := c.Load(ctx, "k")
	assert.ErrorIs(t, err, context.Canceled)
	assert.False(t, ok)
	assert.ErrorIs(t, c.Store(ctx, "new", testEntry(time.Now().Add(time.Hour))), context.Canceled)
	unlock, err := c.Lock(ctx, "new")
	assert.ErrorIs(t, err, context.Canceled)
	assert.Nil(t, unlock)

	entries, err := os.ReadDir(c.dir.Path())
	require.NoError(t, err)
	require.Len(t, entries, 1, "neither Store nor Lock made a file")
	assert.Equal(t, "k.json", entries[0].Name())
}

func TestFileCacheLifetimeBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newTestFileCache(t)
		now := time.Now()
		year2099 := time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC).Sub(now)
		tests := []struct {
			name    string
			account string // "" for an entry without AssumedRoleUser
			in      time.Duration
			wantErr string // "" for a hit
		}{
			{"AssumeRole, 12 h", "123456789012", 12 * time.Hour, ""},
			{"AssumeRole, 12 h and the clock skew allowed", "123456789012", 12*time.Hour + fileCacheClockSkew, ""},
			{"AssumeRole, a second more", "123456789012", 12*time.Hour + fileCacheClockSkew + time.Second, "STS grants AssumeRole sessions of 12h0m0s at most"},
			{"AssumeRole, 2099", "123456789012", year2099, "it expires at 2099-01-01T00:00:00Z"},
			{"GetSessionToken, 36 h", "", 36 * time.Hour, ""},
			{"GetSessionToken, 36 h and the clock skew allowed", "", 36*time.Hour + fileCacheClockSkew, ""},
			{"GetSessionToken, a second more", "", 36*time.Hour + fileCacheClockSkew + time.Second, "STS grants GetSessionToken sessions of 36h0m0s at most"},
			{"GetSessionToken, 2099", "", year2099, "more than 36h0m0s from now"},
		}
		for _, tt := range tests {
			writeEntryFile(t, c, "k", cliFile(now.Add(tt.in), tt.account))
			got, ok, err := c.Load(context.Background(), "k")
			if tt.wantErr == "" {
				assert.NoError(t, err, tt.name)
				assert.True(t, ok, tt.name)
				assert.Equal(t, "ASIAPLANTED", got.Credentials.AccessKeyID, tt.name)
				continue
			}
			assert.False(t, ok, tt.name)
			assert.Equal(t, CacheEntry{}, got, tt.name)
			if assert.Error(t, err, tt.name) {
				assert.Contains(t, err.Error(), tt.wantErr, tt.name)
				assert.NotContains(t, err.Error(), testSecret)
			}
		}
	})
}

func TestFileCacheSweepsStaleTempFiles(t *testing.T) {
	dir := privateDir(t)
	old := time.Now().Add(-2 * time.Minute)
	plant := func(name string, stale bool) string {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, []byte(cliFile(time.Now().Add(time.Hour), "")), 0o600))
		if stale {
			require.NoError(t, os.Chtimes(path, old, old))
		}
		return path
	}
	staleTemp := plant(".k.json.123.tmp", true)
	freshTemp := plant(".k.json.456.tmp", false)
	kept := []string{
		freshTemp,
		plant(".k.json.tmp", true),     // not a name Store makes
		plant("k.json.789.tmp", true),  // not hidden: not Store's
		plant(".k.lock.789.tmp", true), // Store makes no temporary lock files
		plant("k.json", true),          // an entry, however old
	}
	link := filepath.Join(dir, ".l.json.1.tmp")
	require.NoError(t, os.Symlink(staleTemp, link))
	kept = append(kept, link)
	if os.Geteuid() == 0 {
		uid, gid := otherUser(t)
		foreign := plant(".f.json.1.tmp", true)
		require.NoError(t, os.Chown(foreign, uid, gid))
		kept = append(kept, foreign) // not this user's
	}

	c, err := NewFileCache(dir)
	require.NoError(t, err)
	_, err = os.Lstat(staleTemp)
	assert.ErrorIs(t, err, os.ErrNotExist, "NewFileCache removes a stale temporary file")
	for _, p := range kept {
		_, err := os.Lstat(p)
		assert.NoError(t, err, "%s is kept", filepath.Base(p))
	}

	// The fresh one may be a Store's at work; once stale, Store sweeps it.
	require.NoError(t, os.Chtimes(freshTemp, old, old))
	require.NoError(t, c.Store(context.Background(), "other", testEntry(time.Now().Add(time.Hour))))
	_, err = os.Lstat(freshTemp)
	assert.ErrorIs(t, err, os.ErrNotExist, "Store removes a stale temporary file")
	for _, p := range kept[1:] {
		_, err := os.Lstat(p)
		assert.NoError(t, err, "%s is kept", filepath.Base(p))
	}
}

// readOnlyResult is what a FileCache did in a directory it cannot write.
type readOnlyResult struct {
	NewErr          string
	LoadOK          bool
	LoadErr         string
	LoadedKeyID     string
	LockErr         string
	LockExistingErr string
	StoreErr        string
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// readOnlyScenario uses the read-only cache directory dir, which holds the
// entry and the lock file of key "k". It waits for nothing with a deadline:
// whoever runs it bounds it.
func readOnlyScenario(dir string) readOnlyResult {
	ctx := context.Background()
	var r readOnlyResult
	c, err := NewFileCache(dir)
	if err != nil {
		r.NewErr = err.Error()
		return r
	}
	e, ok, err := c.Load(ctx, "k")
	r.LoadOK, r.LoadErr, r.LoadedKeyID = ok, errString(err), e.Credentials.AccessKeyID
	unlock, err := c.Lock(ctx, "new")
	r.LockErr = errString(err)
	if unlock != nil {
		unlock()
	}
	unlock, err = c.Lock(ctx, "k")
	r.LockExistingErr = errString(err)
	if unlock != nil {
		unlock()
	}
	r.StoreErr = errString(c.Store(ctx, "new", testEntry(time.Now().Add(time.Hour))))
	return r
}

func TestFileCacheReadOnlyDirectory(t *testing.T) {
	prepare := func(t *testing.T, dir string) {
		t.Helper()
		c, err := NewFileCache(dir)
		require.NoError(t, err)
		require.NoError(t, c.Store(context.Background(), "k", testEntry(time.Now().Add(time.Hour))))
		unlock, err := c.Lock(context.Background(), "k")
		require.NoError(t, err)
		unlock()
	}
	var r readOnlyResult
	if os.Geteuid() != 0 {
		dir := filepath.Join(privateDir(t), "cache")
		prepare(t, dir)
		require.NoError(t, os.Chmod(dir, 0o500))
		t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
		promptly(t, "the read-only cache", func() { r = readOnlyScenario(dir) })
	} else {
		// Root ignores permissions: the cache's user is another one.
		uid, gid := otherUser(t)
		dir := filepath.Join(publicTempDir(t), "cache")
		prepare(t, dir)
		for _, p := range []string{dir, filepath.Join(dir, "k.json"), filepath.Join(dir, "k.lock")} {
			require.NoError(t, os.Chown(p, uid, gid))
		}
		require.NoError(t, os.Chmod(dir, 0o500))
		out := asOtherUser(t, uid, gid, "STSCHAIN_TEST_HELPER=read-only", "STSCHAIN_TEST_DIR="+dir)
		require.NoError(t, json.Unmarshal([]byte(out), &r), out)
	}
	assert.Empty(t, r.NewErr)
	assert.True(t, r.LoadOK, "Load works")
	assert.Empty(t, r.LoadErr)
	assert.Equal(t, "ASIAEXAMPLE", r.LoadedKeyID)
	assert.Contains(t, r.LockErr, "stschain: locking cache key: ")
	assert.Contains(t, r.LockErr, "permission denied (the cache directory is read-only for this user)")
	assert.Empty(t, r.LockExistingErr, "a lock file already there still locks")
	assert.Contains(t, r.StoreErr, "stschain: writing cache entry: ")
	assert.Contains(t, r.StoreErr, "permission denied (the cache directory is read-only for this user)")
}

// Another user plants files in a cache directory that was left writable by
// all: the cache refuses the directory until the user fixes it, and then
// uses none of their files.
func TestFileCacheAnotherUserPlantsFiles(t *testing.T) {
	uid, gid := otherUser(t)
	base := publicTempDir(t)
	dir := filepath.Join(base, "cache")
	require.NoError(t, os.Mkdir(dir, 0o700))
	require.NoError(t, os.Chmod(dir, 0o777))
	mine := filepath.Join(base, "mine")
	require.NoError(t, os.Mkdir(mine, 0o700)) // the other user cannot write here
	target := filepath.Join(mine, "created")
	out := asOtherUser(t, uid, gid, "STSCHAIN_TEST_HELPER=plant", "STSCHAIN_TEST_DIR="+dir, "STSCHAIN_TEST_TARGET="+target)
	require.Equal(t, "planted\n", out)

	_, err := NewFileCache(dir)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "writable by group or others")
	assert.Contains(t, err.Error(), "chmod go-w "+dir)
	require.NoError(t, os.Chmod(dir, 0o755)) // as the error says
	c, err := NewFileCache(dir)
	require.NoError(t, err)

	ctx := context.Background()
	for key, want := range map[string]string{
		"session": "belongs to uid " + strconv.Itoa(uid),
		"link":    "is a symbolic link",
		"fifo":    "is a named pipe (FIFO)",
	} {
		var ok bool
		promptly(t, "Load "+key, func() { _, ok, err = c.Load(ctx, key) })
		assert.False(t, ok, key)
		assert.ErrorContains(t, err, want, key)
	}
	for key, want := range map[string]string{
		"link": "is a symbolic link",
		"fifo": "is a named pipe (FIFO)",
	} {
		var unlock func()
		promptly(t, "Lock "+key, func() { unlock, err = c.Lock(ctx, key) })
		assert.Nil(t, unlock, key)
		assert.ErrorContains(t, err, want, key)
	}
	_, err = os.Lstat(target)
	assert.ErrorIs(t, err, os.ErrNotExist, "the planted lock link made nothing where it points")

	// Storing replaces their file with the user's own.
	e := testEntry(time.Now().Add(time.Hour))
	require.NoError(t, c.Store(ctx, "session", e))
	got, ok, err := c.Load(ctx, "session")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, e.Credentials.AccessKeyID, got.Credentials.AccessKeyID)
}
