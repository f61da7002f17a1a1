package stschain

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/stschain/stschain/internal/clicache"
	"github.com/stschain/stschain/internal/credcheck"
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
func privateDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o700))
	return dir
}

func newTestFileCache(t testing.TB) *FileCache {
	t.Helper()
	c, err := NewFileCache(privateDir(t))
	require.NoError(t, err)
	return c
}

func writeEntryFile(t testing.TB, c *FileCache, key, content string) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(c.dir.Path(), key+".json"), []byte(content), 0o600))
}

func testEntry(expires time.Time) CacheEntry {
	return CacheEntry{
		Credentials: aws.Credentials{
			AccessKeyID:     "ASIAEXAMPLE00001",
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
		e2.Credentials.AccessKeyID = "ASIASECOND000001"
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
		"Credentials": {"AccessKeyId": "ASIAEXAMPLE00001", "SecretAccessKey": "`+testSecret+`", "SessionToken": "TOKEN",
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
	good := `{"Credentials": {"AccessKeyId": "ASIAEXAMPLE00001", "SecretAccessKey": "` + testSecret + `", "SessionToken": "T", "Expiration": "2099-01-01T00:00:00Z"}}`
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
		{"missing keys", `{"Credentials": {"AccessKeyId": "ASIAEXAMPLE00001", "SecretAccessKey": "` + testSecret + `"}}`, "Credentials has no SessionToken, Expiration"},
		{"sso token file", `{"accessToken": "` + testSecret + `", "expiresAt": "2099-01-01T00:00:00Z"}`, "no Credentials object"},
		{"no zone", strings.Replace(good, "00:00:00Z", "00:00:00", 1), "not a date and time with a zone"},
		{"not a date", strings.Replace(good, "2099-01-01T00:00:00Z", "tomorrow", 1), "Credentials.Expiration is not a date and time"},
		{"accounts differ", `{"Credentials": {"AccessKeyId": "ASIAEXAMPLE00001", "SecretAccessKey": "` + testSecret + `", "SessionToken": "T", "Expiration": "2099-01-01T00:00:00Z", "AccountId": "999999999999"},
			"AssumedRoleUser": {"AssumedRoleId": "AROAEXAMPLE:alice", "Arn": "arn:aws:sts::123456789012:assumed-role/demo/alice"}}`, "name different accounts"},
		{"AssumedRoleUser not a session", `{"Credentials": {"AccessKeyId": "ASIAEXAMPLE00001", "SecretAccessKey": "` + testSecret + `", "SessionToken": "T", "Expiration": "2099-01-01T00:00:00Z"},
			"AssumedRoleUser": {"AssumedRoleId": "AROAEXAMPLE:alice", "Arn": "arn:aws:iam::123456789012:user/alice"}}`, "AssumedRoleUser.Arn is not the ARN of an assumed-role session"},
		{"too large", `{"Credentials": {"AccessKeyId": "` + strings.Repeat("A", clicache.MaxFileSize) + `"}}`, "larger than"},
		// Values that a shell or an HTTP header would interpret.
		{"command in key ID", strings.Replace(good, "ASIAEXAMPLE00001", "ASIA$(id)EXAMPLE1", 1), "Credentials.AccessKeyId is not an AWS access key ID"},
		{"short key ID", strings.Replace(good, "ASIAEXAMPLE00001", "ASIAEXAMPLE", 1), "Credentials.AccessKeyId is not an AWS access key ID"},
		{"semicolon in secret", strings.Replace(good, testSecret, testSecret+";id", 1), "Credentials.SecretAccessKey is not made of the base64 alphabet"},
		{"newline in token", strings.Replace(good, `"T"`, `"T\nexport X=1"`, 1), "Credentials.SessionToken is not made of the base64 alphabet"},
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
			if tt.name != "too large" { // which is not read
				assert.ErrorIs(t, err, ErrMalformedResponse, "the file's content is at fault")
			}
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

func TestFileCacheDefaultCLICacheDir(t *testing.T) {
	home := privateDir(t)
	t.Setenv("HOME", home)
	t.Setenv("USERPROFILE", home) // os.UserHomeDir's on Windows
	dir, err := DefaultCLICacheDir()
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(home, ".aws", "cli", "cache"), dir)
}

// cliFile is a cache file as the AWS CLI writes it, expiring at expires,
// with an AssumedRoleUser of account when account is not empty.
func cliFile(expires time.Time, account string) string {
	s := `{"Credentials": {"AccessKeyId": "ASIAPLANTED00000", "SecretAccessKey": "` + testSecret + `", "SessionToken": "TOKEN", "Expiration": "` +
		expires.UTC().Format("2006-01-02T15:04:05UTC") + `"}`
	if account != "" {
		s += `, "AssumedRoleUser": {"AssumedRoleId": "AROAEXAMPLE:s", "Arn": "arn:aws:sts::` + account + `:assumed-role/demo/s"}`
	}
	return s + "}"
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
				assert.Equal(t, "ASIAPLANTED00000", got.Credentials.AccessKeyID, tt.name)
				continue
			}
			assert.False(t, ok, tt.name)
			assert.Equal(t, CacheEntry{}, got, tt.name)
			if assert.Error(t, err, tt.name) {
				assert.Contains(t, err.Error(), tt.wantErr, tt.name)
				assert.NotContains(t, err.Error(), testSecret)
				assert.ErrorIs(t, err, ErrMalformedResponse, tt.name)
			}
		}
	})
}

// FileCache's errors say which operation failed, once prefixed, around
// the directory's own, and keep the cause: the directory's checks are
// internal/clicache's, tested there.
func TestFileCacheErrorsSayWhatFailed(t *testing.T) {
	_, err := NewFileCache("")
	assert.EqualError(t, err, "stschain: NewFileCache: dir is empty; pass the cache directory, for example from DefaultCLICacheDir")
	file := filepath.Join(privateDir(t), "f")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	_, err = NewFileCache(file)
	assert.ErrorContains(t, err, "stschain: NewFileCache: ")

	ctx := context.Background()
	c := newTestFileCache(t)
	_, _, err = c.Load(ctx, "../k")
	assert.ErrorContains(t, err, "stschain: reading cache entry: invalid cache key")
	assert.ErrorContains(t, c.Store(ctx, "../k", testEntry(time.Now().Add(time.Hour))), "stschain: writing cache entry: invalid cache key")
	_, err = c.Lock(ctx, "../k")
	assert.ErrorContains(t, err, "stschain: locking cache key: invalid cache key")

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	_, ok, err := c.Load(canceled, "k")
	assert.False(t, ok)
	assert.ErrorIs(t, err, context.Canceled)
	assert.ErrorIs(t, c.Store(canceled, "k", testEntry(time.Now().Add(time.Hour))), context.Canceled)
	_, err = c.Lock(canceled, "k")
	assert.ErrorIs(t, err, context.Canceled)
	assert.EqualError(t, err, "stschain: locking cache key: context canceled")
}

func TestFileCacheLock(t *testing.T) {
	c := newTestFileCache(t)
	ctx := context.Background()
	unlock, err := c.Lock(ctx, "k")
	require.NoError(t, err)
	held, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err = c.Lock(held, "k")
	assert.ErrorIs(t, err, context.DeadlineExceeded, "the lock is held")
	unlock()
	unlock, err = c.Lock(ctx, "k")
	require.NoError(t, err, "and free once released")
	unlock()
}

// FuzzFileCacheLoad feeds Load arbitrary files. Nothing may panic; what it
// takes has the shapes STS issues and an expiry STS could grant; and a
// file it refuses for its content is an error wrapping
// ErrMalformedResponse that holds no part of the seeds' secret. The seeds
// are those added here and the corpus in testdata/fuzz/FuzzFileCacheLoad.
func FuzzFileCacheLoad(f *testing.F) {
	in := time.Now().Add(time.Hour)
	f.Add([]byte(cliGoldenFile))
	f.Add([]byte(cliFile(in, "123456789012")))
	f.Add([]byte(cliFile(in, "")))
	f.Add([]byte(strings.Replace(cliFile(in, ""), "ASIAPLANTED00000", "ASIA$(id)PLANTED", 1)))
	f.Add([]byte(strings.Replace(cliFile(in, ""), testSecret, testSecret+"`id`", 1)))
	f.Add([]byte(cliFile(time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC), "")))
	c := newTestFileCache(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		writeEntryFile(t, c, "k", string(data))
		e, ok, err := c.Load(context.Background(), "k")
		switch {
		case err != nil:
			if !errors.Is(err, ErrMalformedResponse) {
				t.Fatalf("a refusal without ErrMalformedResponse: %v", err)
			}
			for i := 0; i+12 <= len(testSecret); i++ {
				if strings.Contains(err.Error(), testSecret[i:i+12]) {
					t.Fatalf("the error holds part of a secret: %v", err)
				}
			}
		case ok:
			cr := e.Credentials
			if err := credcheck.Check(cr.AccessKeyID, cr.SecretAccessKey, cr.SessionToken); err != nil {
				t.Fatalf("took credentials of another shape: %v", err)
			}
			if cr.Expires.After(time.Now().Add(36*time.Hour + fileCacheClockSkew)) {
				t.Fatalf("took an expiry STS cannot grant: %v", cr.Expires)
			}
		}
	})
}
