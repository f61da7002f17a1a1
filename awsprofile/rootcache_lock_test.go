package awsprofile

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain"
	"github.com/stschain/stschain/internal/lockwait"
)

// heldLockCache is a shared Cache with no entry whose locks another
// holder keeps for ever, as a hung process or a lock planted without an
// expiry does.
type heldLockCache struct{}

func (heldLockCache) Load(context.Context, string) (stschain.CacheEntry, bool, error) {
	return stschain.CacheEntry{}, false, nil
}

func (heldLockCache) Store(context.Context, string, stschain.CacheEntry) error { return nil }

func (heldLockCache) Lock(ctx context.Context, _ string) (func(), error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// countingRoot returns a session living an hour, counting its calls.
type countingRoot struct{ calls atomic.Int32 }

func (r *countingRoot) Retrieve(context.Context) (aws.Credentials, error) {
	r.calls.Add(1)
	return aws.Credentials{AccessKeyID: "ASIAROOTSESSION00001", SecretAccessKey: "s", SessionToken: "t",
		CanExpire: true, Expires: time.Now().Add(time.Hour)}, nil
}

// lockedBuffer is a log buffer safe for the writes of several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// A shared root waits for a lock another holder keeps as long as a link
// would (package lockwait), then asks the root itself: a refresh's bound,
// a prompt's for a credential_process, and no later than the credentials
// it returned last expire. It used to wait as long as its caller's
// context, for ever under an aws.CredentialsCache.
func TestSharedRootLockWaitIsBounded(t *testing.T) {
	for _, tc := range []struct {
		name        string
		interactive bool
		want        time.Duration
		why         string
	}{
		{"SSO", false, lockwait.Bound, lockwait.ReasonBound},
		{"credential_process", true, lockwait.BoundInteractive, lockwait.ReasonBoundInteractive},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var logs lockedBuffer
				root := &countingRoot{}
				r := &sharedRoot{p: root, cache: heldLockCache{}, key: "key", longest: time.Hour, interactive: tc.interactive,
					logger: slog.New(slog.NewTextHandler(&logs, nil))}
				start := time.Now()
				first, err := r.Retrieve(context.Background())
				require.NoError(t, err)
				assert.Equal(t, tc.want, time.Since(start), "the bubble's clock: no real time passes")
				assert.Equal(t, int32(1), root.calls.Load())
				assert.Contains(t, logs.String(), "stopped waiting for the cache lock, which another holder kept "+tc.why+"; asking the root without it")

				// Four seconds before the last credentials expire (inside
				// the window of the aws.CredentialsCache that asks), the
				// wait ends as they expire.
				time.Sleep(time.Until(first.Expires.Add(-4 * time.Second)))
				start = time.Now()
				_, err = r.Retrieve(context.Background())
				require.NoError(t, err)
				assert.Equal(t, 4*time.Second, time.Since(start))
				assert.Equal(t, int32(2), root.calls.Load())
				assert.Contains(t, logs.String(), "which another holder kept "+lockwait.ReasonExpired)
			})
		})
	}
}

// A credential_process may prompt (aws-vault's MFA, a browser sign-in), so
// the processes sharing its session wait for it as long as for a prompt;
// an SSO root does not prompt.
func TestSharedRootOfAProcessMayPrompt(t *testing.T) {
	l := &loader{o: Options{Cache: heldLockCache{}}}
	assert.True(t, l.shared(&processRoot{}, "key", time.Hour).(*sharedRoot).interactive)
	assert.False(t, l.shared(&countingRoot{}, "key", time.Hour).(*sharedRoot).interactive)
}

// A root whose credentials are not shared is not wrapped at all.
func TestSharedRootNeedsACache(t *testing.T) {
	p := credentials.NewStaticCredentialsProvider("AKIAEXAMPLE000000001", "s", "")
	assert.Equal(t, aws.CredentialsProvider(p), (&loader{}).shared(p, "key", time.Hour))
}
