package stschain

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/stschain/stschain/internal/clicache"
)

// cliGoldenFile is a cache entry exactly as botocore 1.43.11 (AWS CLI
// 1.45.11) writes it: AssumeRoleCredentialFetcher with a JSONFileCache, fed
// the AssumeRole response of the STS documentation through a before-send
// hook. Note Expiration: the fraction of the response's
// 2030-07-15T23:28:33.359Z is dropped and the zone is written "UTC".
const cliGoldenFile = `{"Credentials": {"AccessKeyId": "ASIAJEXAMPLEXEG2JICEA", "SecretAccessKey": "9drTJvcXLB89EXAMPLELB8923FB892xMFI", "SessionToken": "AQoXdzELDDY//////////wEaoAK1wvxJY12r2IrDFT2IvAzTCn3zHoZ7YNtpiQLF0MqZye/qwjzP2iEXAMPLEbw/m3hsj8VBTkPORGvr9jM5sgP+w9IZWZnU+LWhmg+a5fDi2oTGUYcdg9uexQ4mtCHIHfi4citgqZTgco40Yqr4lIlo4V2b2Dyauk0eYFNebHtYlFVgAUj+7Indz3LU0aTWk1WKIjHmmMCIoTkyYp/k7kUG7moeEYKSitwQIi6Gjn+nyzM+PtoA3685ixzv0R7i5rjQi0YE0lf1oeie3bDiNHncmzosRM6SFiPzSvp6h/32xQuZsjcypmwsPSDtTPYcs0+YN/8BRi2/IcrxSpnWEXAMPLEXSDFTAQAM6Dl9zR0tXoybnlrZIwMLlMi1Kcgo5OytwU=", "Expiration": "2030-07-15T23:28:33UTC", "AccountId": "123456789012"}, "AssumedRoleUser": {"AssumedRoleId": "AROA3XFRBF535PLBIFPI4:s3-access-example", "Arn": "arn:aws:sts::123456789012:assumed-role/demo/s3-access-example"}, "PackedPolicySize": 6, "ResponseMetadata": {"RequestId": "c6104cbe-af31-11e0-8154-cbc7ccf896c7", "HTTPStatusCode": 200, "HTTPHeaders": {"x-amzn-requestid": "c6104cbe-af31-11e0-8154-cbc7ccf896c7", "content-type": "text/xml", "content-length": "1161", "date": "Mon, 15 Jul 2030 22:28:33 GMT"}, "RetryAttempts": 0}}`

const testSecret = "SECRETsecretSECRETsecret"

func newTestFileCache(t *testing.T) *FileCache {
	t.Helper()
	c, err := NewFileCache(t.TempDir())
	require.NoError(t, err)
	return c
}

func writeEntryFile(t *testing.T, c *FileCache, key, content string) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(c.dir, key+".json"), []byte(content), 0o600))
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

			raw, err := os.ReadFile(filepath.Join(c.dir, "k1.json"))
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
	raw, err := os.ReadFile(filepath.Join(c.dir, "k.json"))
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
	raw, err := os.ReadFile(filepath.Join(c.dir, "k.json"))
	require.NoError(t, err)
	var file struct{ Credentials struct{ AccountId string } }
	require.NoError(t, json.Unmarshal(raw, &file))
	assert.Equal(t, "123456789012", file.Credentials.AccountId)
}

func TestFileCacheGoldenCLIFile(t *testing.T) {
	synctest.Test(t, func(t *testing.T) { // the bubble's clock says 2000, so the 2030 entry is fresh
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

	t.Run("directory in the way", func(t *testing.T) {
		c := newTestFileCache(t)
		require.NoError(t, os.Mkdir(filepath.Join(c.dir, "k.json"), 0o700))
		_, ok, err := c.Load(context.Background(), "k")
		require.Error(t, err)
		assert.False(t, ok)
	})
}

func TestFileCacheStoreRejectsIncompleteEntries(t *testing.T) {
	c := newTestFileCache(t)
	e := testEntry(time.Time{})
	e.Credentials.SessionToken = ""
	err := c.Store(context.Background(), "k", e)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "SessionToken, Expires")
	assert.NotContains(t, err.Error(), testSecret)
	_, statErr := os.Stat(filepath.Join(c.dir, "k.json"))
	assert.ErrorIs(t, statErr, os.ErrNotExist)
}

func TestFileCachePermissions(t *testing.T) {
	t.Run("created", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "a", "cache")
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
		dir := t.TempDir()
		require.NoError(t, os.Chmod(dir, 0o750))
		_, err := NewFileCache(dir)
		require.NoError(t, err)
		fi, err := os.Stat(dir)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o750), fi.Mode().Perm())
	})
	t.Run("relative dir made absolute", func(t *testing.T) {
		t.Chdir(t.TempDir())
		c, err := NewFileCache("rel")
		require.NoError(t, err)
		assert.True(t, filepath.IsAbs(c.dir))
	})
	t.Run("errors", func(t *testing.T) {
		_, err := NewFileCache("")
		assert.ErrorContains(t, err, "dir is empty")
		file := filepath.Join(t.TempDir(), "f")
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
	entries, err := os.ReadDir(c.dir)
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
	home := t.TempDir()
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
			dir := t.TempDir()
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
		assert.Less(t, time.Since(start), 2*fileCacheLockRetry)

		ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err = c.Lock(ctx, "k")
		assert.ErrorIs(t, err, context.DeadlineExceeded)
	})
}

// TestFileCacheLockHelperProcess is the child of
// TestFileCacheLockDeadProcess: it takes the lock, says so and waits to be
// killed. It does nothing in a normal run.
func TestFileCacheLockHelperProcess(t *testing.T) {
	dir := os.Getenv("STSCHAIN_TEST_LOCK_DIR")
	if dir == "" {
		t.Skip("helper process only")
	}
	c, err := NewFileCache(dir)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(2)
	}
	if _, err := c.Lock(context.Background(), "k"); err != nil {
		fmt.Println("error:", err)
		os.Exit(2)
	}
	fmt.Println("locked")
	time.Sleep(time.Hour)
	os.Exit(0)
}

func TestFileCacheLockDeadProcess(t *testing.T) {
	dir := t.TempDir()
	c, err := NewFileCache(dir)
	require.NoError(t, err)

	cmd := exec.Command(os.Args[0], "-test.run=^TestFileCacheLockHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "STSCHAIN_TEST_LOCK_DIR="+dir)
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
