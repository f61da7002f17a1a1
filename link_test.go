package stschain

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/tracing"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain/internal/lockwait"
	"github.com/stschain/stschain/ststest"
)

func TestCacheIsSharedBetweenProviders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cache := newMemCache()
		f := newFakeSTS("A", time.Hour)
		first := newFake(t, f, staticMaster("alice"), withRole(roleA), withCache(cache))
		c1, err := first.Retrieve(context.Background())
		require.NoError(t, err)
		require.Len(t, cache.stores, 1)

		// A second provider (a restarted process) finds the session.
		second := newFake(t, f, staticMaster("alice"), withRole(roleA), withCache(cache))
		c2, err := second.Retrieve(context.Background())
		require.NoError(t, err)
		assert.Equal(t, c1.AccessKeyID, c2.AccessKeyID)
		assert.Equal(t, ProviderName, c2.Source)
		assert.Equal(t, "123456789012", c2.AccountID, "from the cached AssumedRoleUser")
		assert.Equal(t, 1, f.count())

		// Inside the window the cached entry is not good enough.
		time.Sleep(time.Hour - 30*time.Second)
		third := newFake(t, f, staticMaster("alice"), withRole(roleA), withCache(cache))
		c3, err := third.Retrieve(context.Background())
		require.NoError(t, err)
		assert.NotEqual(t, c1.AccessKeyID, c3.AccessKeyID)
		assert.Equal(t, 2, f.count())
		assert.Len(t, cache.stores, 2)
	})
}

func TestCacheLockIsTakenAroundTheCall(t *testing.T) {
	cache := newMemCache()
	f := newFakeSTS("A", time.Hour)
	p := newFake(t, f, staticMaster("alice"), withRole(roleA), withCache(cache))
	_, err := p.Retrieve(context.Background())
	require.NoError(t, err)
	require.Len(t, cache.locks, 1)
	// Loaded before the lock, and again under it.
	assert.Equal(t, []string{cache.locks[0], cache.locks[0]}, cache.loads)
}

func TestUnusableCacheEntryIsAMiss(t *testing.T) {
	cache := newMemCache()
	cache.loadErr = errors.New("corrupt file")
	f := newFakeSTS("A", time.Hour)
	p := newFake(t, f, staticMaster("alice"), withRole(roleA), withCache(cache))
	_, err := p.Retrieve(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 1, f.count())
}

// A cache that cannot be written (a read-only ~/.aws in a container, Redis
// down) costs the refresh its lock and store, logged, and nothing else.
func TestCacheFailuresAreLoggedAndTheRefreshGoesOn(t *testing.T) {
	cache := newMemCache()
	cache.lockErr = errors.New("read-only file system")
	cache.storeErr = errors.New("read-only file system")
	var logs strings.Builder
	f := newFakeSTS("A", time.Hour)
	p := newFake(t, f, staticMaster("alice"), withRole(roleA), withCache(cache), func(o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	c, err := p.Retrieve(context.Background())
	require.NoError(t, err)
	assert.Equal(t, issuedKey("A", 1), c.AccessKeyID)
	assert.Len(t, cache.locks, 1)
	assert.Len(t, cache.stores, 1, "the store is still tried")
	assert.Contains(t, logs.String(), "cache lock failed; refreshing without it")
	assert.Contains(t, logs.String(), "storing credentials in cache failed")
}

// After Invalidate the shared cache is skipped until a refresh succeeds: a
// failed one (throttling, a mistyped MFA code) must not use the skip up,
// or the next Retrieve would bring the rejected session back.
func TestInvalidateSkipsTheCacheUntilARefreshSucceeds(t *testing.T) {
	cache := newMemCache()
	f := newFakeSTS("A", time.Hour)
	p := newFake(t, f, staticMaster("alice"), withRole(roleA), withCache(cache))
	rejected, err := p.Retrieve(context.Background())
	require.NoError(t, err)
	p.Invalidate() // STS rejected it
	f.failNext(apiError("Throttling", "Rate exceeded"))
	_, err = p.Retrieve(context.Background())
	require.Error(t, err)
	c, err := p.Retrieve(context.Background())
	require.NoError(t, err)
	assert.NotEqual(t, rejected.AccessKeyID, c.AccessKeyID, "the rejected session is not read back from the cache")
	assert.Equal(t, 3, f.count())
}

// Entries that no STS could have granted this link are refused: another
// account's session planted under the link's key, one that expires later
// than the longest session, or credentials of a shape STS does not issue.
func TestCacheRefusesEntriesTheLinkCouldNotHaveGot(t *testing.T) {
	for _, tc := range []struct {
		name  string
		entry func(now time.Time) CacheEntry
		why   string
	}{
		{"another account", func(now time.Time) CacheEntry {
			return CacheEntry{
				Credentials:     aws.Credentials{AccessKeyID: "ASIAPLANTED00000", SecretAccessKey: "s", SessionToken: "t", CanExpire: true, Expires: now.Add(time.Hour)},
				AssumedRoleUser: &types.AssumedRoleUser{Arn: aws.String("arn:aws:sts::999999999999:assumed-role/A/x"), AssumedRoleId: aws.String("AROA:x")},
			}
		}, "a session of account 999999999999, not of the role's account 123456789012"},
		{"another role", func(now time.Time) CacheEntry {
			return CacheEntry{
				Credentials:     aws.Credentials{AccessKeyID: "ASIAPLANTED00000", SecretAccessKey: "s", SessionToken: "t", CanExpire: true, Expires: now.Add(time.Hour)},
				AssumedRoleUser: &types.AssumedRoleUser{Arn: aws.String("arn:aws:sts::123456789012:assumed-role/Other/x"), AssumedRoleId: aws.String("AROA:x")},
			}
		}, "a session of another role than A"},
		{"no identity", func(now time.Time) CacheEntry {
			return CacheEntry{Credentials: aws.Credentials{AccessKeyID: "ASIAPLANTED00000", SecretAccessKey: "s", SessionToken: "t", CanExpire: true, Expires: now.Add(time.Hour)}}
		}, "has no AssumedRoleUser"},
		{"expires in 2099", func(now time.Time) CacheEntry {
			return CacheEntry{
				Credentials:     aws.Credentials{AccessKeyID: "ASIAPLANTED00000", SecretAccessKey: "s", SessionToken: "t", CanExpire: true, Expires: time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)},
				AssumedRoleUser: &types.AssumedRoleUser{Arn: aws.String("arn:aws:sts::123456789012:assumed-role/A/x"), AssumedRoleId: aws.String("AROA:x")},
			}
		}, "later than STS could have granted"},
		// Any Cache, not only a FileCache, is held to the shapes STS issues.
		{"a command as the token", func(now time.Time) CacheEntry {
			return CacheEntry{
				Credentials:     aws.Credentials{AccessKeyID: "ASIAPLANTED00000", SecretAccessKey: "s", SessionToken: "$(id)", CanExpire: true, Expires: now.Add(time.Hour)},
				AssumedRoleUser: &types.AssumedRoleUser{Arn: aws.String("arn:aws:sts::123456789012:assumed-role/A/x"), AssumedRoleId: aws.String("AROA:x")},
			}
		}, "its SessionToken is not made of the base64 alphabet"},
		{"a short access key", func(now time.Time) CacheEntry {
			return CacheEntry{
				Credentials:     aws.Credentials{AccessKeyID: "ASIAPLANTED", SecretAccessKey: "s", SessionToken: "t", CanExpire: true, Expires: now.Add(time.Hour)},
				AssumedRoleUser: &types.AssumedRoleUser{Arn: aws.String("arn:aws:sts::123456789012:assumed-role/A/x"), AssumedRoleId: aws.String("AROA:x")},
			}
		}, "its AccessKeyId is not an AWS access key ID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cache := newMemCache()
			var logs strings.Builder
			f := newFakeSTS("A", time.Hour)
			p := newFake(t, f, staticMaster("alice"), withRole(roleA), withCache(cache), func(o *Options) {
				o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			})
			cache.entries[p.impl.Load().link.cacheKey] = tc.entry(time.Now())
			c, err := p.Retrieve(context.Background())
			require.NoError(t, err)
			assert.NotContains(t, c.AccessKeyID, "ASIAPLANTED")
			assert.Equal(t, 1, f.count())
			assert.Contains(t, logs.String(), tc.why)
			assert.NotContains(t, logs.String(), "$(id)")
			assert.NotContains(t, logs.String(), fakeSecretPrefix, "no secret in the log")
		})
	}
}

func TestInvalidateSkipsTheCacheOnce(t *testing.T) {
	cache := newMemCache()
	f := newFakeSTS("A", time.Hour)
	p := newFake(t, f, staticMaster("alice"), withRole(roleA), withCache(cache))
	c1, err := p.Retrieve(context.Background())
	require.NoError(t, err)
	p.Invalidate() // e.g. STS rejected c1
	c2, err := p.Retrieve(context.Background())
	require.NoError(t, err)
	assert.NotEqual(t, c1.AccessKeyID, c2.AccessKeyID, "the rejected session is not read back from the cache")
	p.impl.Load().refresh.state.Store(nil) // forget memory only: the cache serves again
	c3, err := p.Retrieve(context.Background())
	require.NoError(t, err)
	assert.Equal(t, c2.AccessKeyID, c3.AccessKeyID)
	assert.Equal(t, 2, f.count())
}

func TestSessionTokenCacheKeyDependsOnTheUser(t *testing.T) {
	cache := newMemCache()
	f := newFakeSTS("S", time.Hour)
	alice := newFake(t, f, staticMaster("alice"), withCache(cache))
	bob := newFake(t, f, staticMaster("bob"), withCache(cache))
	ca, err := alice.Retrieve(context.Background())
	require.NoError(t, err)
	cb, err := bob.Retrieve(context.Background())
	require.NoError(t, err)
	assert.NotEqual(t, ca.AccessKeyID, cb.AccessKeyID, "two users never share a session")
	assert.Equal(t, 2, f.count())
	require.Len(t, cache.stores, 2)
	assert.NotEqual(t, cache.stores[0], cache.stores[1])
	for _, k := range cache.stores {
		assert.NotContains(t, k, "alice")
		assert.NotContains(t, k, "bob")
	}
}

func TestCacheEntryWithoutExpiryIsRefused(t *testing.T) {
	cache := newMemCache()
	f := newFakeSTS("A", time.Hour)
	p := newFake(t, f, staticMaster("alice"), withRole(roleA), withCache(cache))
	cache.entries[p.impl.Load().link.cacheKey] = CacheEntry{Credentials: aws.Credentials{AccessKeyID: "ASIAFOREVER00000", SecretAccessKey: "s", SessionToken: "t"}}
	c, err := p.Retrieve(context.Background())
	require.NoError(t, err)
	assert.NotEqual(t, "ASIAFOREVER00000", c.AccessKeyID, "STS sessions expire: one that does not is no STS session")
	assert.Equal(t, 1, f.count())
}

func TestRefreshBypassesTheCache(t *testing.T) {
	cache := newMemCache()
	f := newFakeSTS("A", time.Hour)
	p := newFake(t, f, staticMaster("alice"), withRole(roleA), withCache(cache))
	c1, err := p.Retrieve(context.Background())
	require.NoError(t, err)
	c2, err := p.Refresh(context.Background())
	require.NoError(t, err)
	assert.NotEqual(t, c1.AccessKeyID, c2.AccessKeyID)
	assert.Equal(t, 2, f.count())
	require.Len(t, cache.stores, 2, "the forced result is stored for others")
}

func TestBackgroundRefreshDoesNotReloadItsOwnEntry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cache := newMemCache()
		f := newFakeSTS("A", time.Hour)
		p := newFake(t, f, staticMaster("alice"), withRole(roleA), withCache(cache), func(o *Options) {
			o.PrefetchWindow = 0
			o.DisableJitter = false
		})
		_, err := p.Retrieve(context.Background())
		require.NoError(t, err)
		for range 20 { // many draws of the jittered refresh point
			_, err := p.Refresh(context.Background()) // a session from now
			require.NoError(t, err)
			_, err = p.Retrieve(context.Background())
			require.NoError(t, err)
			before := f.count()
			time.Sleep(53 * time.Minute)              // past every jittered refresh point (45 to 52 min)
			_, err = p.Retrieve(context.Background()) // inside the prefetch window
			require.NoError(t, err)
			synctest.Wait()
			require.Equal(t, before+1, f.count(), "the refresh called STS instead of reloading the entry being replaced")
			s := p.impl.Load().refresh.state.Load()
			assert.Equal(t, s.creds.Expires.Add(-DefaultExpiryWindow), s.waitAt, "full windows, not ones shrunk to the entry's remaining life")
		}
	})
}

func TestCacheLoadedEntryKeepsFullWindows(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cache := newMemCache()
		f := newFakeSTS("A", time.Hour)
		first := newFake(t, f, staticMaster("alice"), withRole(roleA), withCache(cache), func(o *Options) { o.PrefetchWindow = 0 })
		_, err := first.Retrieve(context.Background())
		require.NoError(t, err)
		time.Sleep(40 * time.Minute) // 20 minutes left: still outside the 15 min window
		second := newFake(t, f, staticMaster("alice"), withRole(roleA), withCache(cache), func(o *Options) { o.PrefetchWindow = 0 })
		c, err := second.Retrieve(context.Background())
		require.NoError(t, err)
		assert.Equal(t, 1, f.count())
		s := second.impl.Load().refresh.state.Load()
		assert.Equal(t, c.Expires.Add(-advisoryWindow(time.Hour)), s.prefetchAt, "the window of the session the link asks for, an hour")
		assert.Equal(t, c.Expires.Add(-DefaultExpiryWindow), s.waitAt)
	})
}

func TestFreshAssumeRoleEntryLeavesTheMasterAlone(t *testing.T) {
	cache := newMemCache()
	fb, fa := newFakeSTS("B", time.Hour), newFakeSTS("A", time.Hour)
	b := newFake(t, fb, staticMaster("alice"), withRole(roleB))
	a := newFake(t, fa, b, withRole(roleA), withCache(cache))
	_, err := a.Retrieve(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, fb.count())

	// A restart: new providers, the same cache.
	fb2 := newFakeSTS("B", time.Hour)
	b2 := newFake(t, fb2, staticMaster("alice"), withRole(roleB))
	a2 := newFake(t, fa, b2, withRole(roleA), withCache(cache))
	_, err = a2.Retrieve(context.Background())
	require.NoError(t, err)
	assert.Zero(t, fb2.count(), "no STS call (and no MFA prompt) below a fresh cached link")
	assert.Equal(t, 1, fa.count())
}

func TestRoleChainingCapKeepsTheCacheKey(t *testing.T) {
	cache := newMemCache()
	f := newFakeSTS("A", time.Hour)
	f.failNext(apiError("ValidationError", "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."))
	p := newFake(t, f, staticMaster("alice"), withRole(roleA), withCache(cache), func(o *Options) { o.Duration = 4 * time.Hour })
	_, err := p.Retrieve(context.Background())
	require.NoError(t, err)
	_, err = p.Refresh(context.Background())
	require.NoError(t, err)
	require.Len(t, cache.stores, 2)
	assert.Equal(t, cache.stores[0], cache.stores[1], "capped or not, one key for every process")
}

func TestCacheOnGetSessionTokenNeedsAMaster(t *testing.T) {
	_, err := New(aws.Config{}, withCache(newMemCache()), func(o *Options) { o.Client = newFakeSTS("S", 0) })
	require.ErrorIs(t, err, ErrInvalidOptions)
	assert.Contains(t, err.Error(), "master")
}

func TestThreeLinkChainSignsEachLinkWithTheOneBelow(t *testing.T) {
	fc := newFakeSTS("C", time.Hour)
	fb := newFakeSTS("B", time.Hour)
	fa := newFakeSTS("A", time.Hour)
	c := newFake(t, fc, staticMaster("alice"))
	b := newFake(t, fb, c, withRole(roleB))
	a := newFake(t, fa, b, withRole(roleA))

	creds, err := a.Retrieve(context.Background())
	require.NoError(t, err)
	assert.Equal(t, issuedKey("A", 1), creds.AccessKeyID)
	assert.Equal(t, "AKIAalice", fc.Calls()[0].signedBy)
	assert.Equal(t, issuedKey("C", 1), fb.Calls()[0].signedBy)
	assert.Equal(t, issuedKey("B", 1), fa.Calls()[0].signedBy)
	assert.Equal(t, "GetSessionToken", fc.Calls()[0].action)
}

func TestMasterRecoveryAfterRejectedCredentials(t *testing.T) {
	for _, code := range []string{"ExpiredToken", "InvalidClientTokenId"} {
		t.Run(code, func(t *testing.T) {
			master := &countingProvider{
				creds: aws.Credentials{AccessKeyID: "ASIAold", SecretAccessKey: "s", SessionToken: "t"},
				next:  []aws.Credentials{{AccessKeyID: "ASIAnew", SecretAccessKey: "s", SessionToken: "t"}},
			}
			f := newFakeSTS("A", time.Hour)
			f.failNext(apiError(code, "rejected"))
			p := newFake(t, f, master, withRole(roleA))
			c, err := p.Retrieve(context.Background())
			require.NoError(t, err)
			assert.Equal(t, issuedKey("A", 2), c.AccessKeyID)
			calls := f.Calls()
			require.Len(t, calls, 2)
			assert.Equal(t, "ASIAold", calls[0].signedBy)
			assert.Equal(t, "ASIAnew", calls[1].signedBy)
			assert.Equal(t, 1, master.invalidated)
		})
	}
	t.Run("master without Invalidate", func(t *testing.T) {
		f := newFakeSTS("A", time.Hour)
		f.failNext(apiError("ExpiredToken", "expired"))
		p := newFake(t, f, staticMaster("alice"), withRole(roleA))
		_, err := p.Retrieve(context.Background())
		require.Error(t, err)
		assert.Equal(t, 1, f.count())
	})
	t.Run("retried once only", func(t *testing.T) {
		master := &countingProvider{
			creds: aws.Credentials{AccessKeyID: "ASIAold", SecretAccessKey: "s", SessionToken: "t"},
			next: []aws.Credentials{
				{AccessKeyID: "ASIAnew", SecretAccessKey: "s", SessionToken: "t"},
				{AccessKeyID: "ASIAnewer", SecretAccessKey: "s", SessionToken: "t"},
			},
		}
		f := newFakeSTS("A", time.Hour)
		f.failNext(apiError("ExpiredToken", "expired"), apiError("ExpiredToken", "expired"))
		p := newFake(t, f, master, withRole(roleA))
		_, err := p.Retrieve(context.Background())
		require.Error(t, err)
		assert.Equal(t, 2, f.count())
		assert.Equal(t, 1, master.invalidated)
	})
	t.Run("unchanged master is not retried", func(t *testing.T) {
		// An aws.CredentialsCache around static keys hands back the same
		// keys after Invalidate: a retry would fail the same way, and ask
		// for another MFA code.
		codes := 0
		f := newFakeSTS("A", time.Hour)
		f.failNext(apiError("InvalidClientTokenId", "bad key"))
		p := newFake(t, f, aws.NewCredentialsCache(staticMaster("alice")), withRole(roleA), func(o *Options) {
			o.SerialNumber = deviceOf(t)
			o.TokenCode = func(context.Context, string) (string, error) {
				codes++
				return fmt.Sprintf("%06d", codes), nil
			}
		})
		_, err := p.Retrieve(context.Background())
		var ae smithy.APIError
		require.ErrorAs(t, err, &ae)
		assert.Equal(t, "InvalidClientTokenId", ae.ErrorCode())
		assert.Equal(t, 1, f.count())
		assert.Equal(t, 1, codes)
	})
	t.Run("retry reuses the MFA code STS did not take", func(t *testing.T) {
		master := &countingProvider{
			creds: aws.Credentials{AccessKeyID: "ASIAold", SecretAccessKey: "s", SessionToken: "t"},
			next:  []aws.Credentials{{AccessKeyID: "ASIAnew", SecretAccessKey: "s", SessionToken: "t"}},
		}
		codes := 0
		var sent []string
		f := newFakeSTS("A", time.Hour)
		f.inspect = func(in any) { sent = append(sent, aws.ToString(in.(*sts.AssumeRoleInput).TokenCode)) }
		f.failNext(apiError("ExpiredToken", "expired"))
		p := newFake(t, f, master, withRole(roleA), func(o *Options) {
			o.SerialNumber = deviceOf(t)
			o.TokenCode = func(context.Context, string) (string, error) {
				codes++
				return fmt.Sprintf("%06d", codes), nil
			}
		})
		_, err := p.Retrieve(context.Background())
		require.NoError(t, err)
		assert.Equal(t, 1, codes, "asked once")
		assert.Equal(t, []string{"000001", "000001"}, sent)
	})
	t.Run("chain: middle link invalidated", func(t *testing.T) {
		fb := newFakeSTS("B", time.Hour)
		b := newFake(t, fb, staticMaster("alice"), withRole(roleB))
		fa := newFakeSTS("A", time.Hour)
		a := newFake(t, fa, b, withRole(roleA))
		_, err := a.Retrieve(context.Background())
		require.NoError(t, err)
		fa.failNext(apiError("InvalidClientTokenId", "revoked"))
		c, err := a.Refresh(context.Background())
		require.NoError(t, err)
		assert.Equal(t, issuedKey("A", 3), c.AccessKeyID)
		assert.Equal(t, issuedKey("B", 2), fa.Calls()[2].signedBy, "B fetched a new session for the retry")
	})
}

func TestRoleChainingDurationFallsBackToOneHour(t *testing.T) {
	var logs bytes.Buffer
	f := newFakeSTS("A", time.Hour)
	f.failNext(apiError("ValidationError", "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."))
	p := newFake(t, f, staticMaster("alice"), withRole(roleA), func(o *Options) {
		o.Duration = 4 * time.Hour
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	_, err := p.Retrieve(context.Background())
	require.NoError(t, err)
	_, err = p.Refresh(context.Background())
	require.NoError(t, err)
	var durations []int32
	for _, c := range f.Calls() {
		durations = append(durations, aws.ToInt32(c.input.(*sts.AssumeRoleInput).DurationSeconds))
	}
	assert.Equal(t, []int32{4 * 3600, 3600, 3600}, durations)
	assert.Contains(t, logs.String(), "level=WARN")
	assert.Contains(t, logs.String(), "role chaining")
}

func TestGetSessionTokenRefusesSessionCredentials(t *testing.T) {
	f := newFakeSTS("S", time.Hour)
	master := credentials.NewStaticCredentialsProvider("ASIAsession", "secret", "token")
	p := newFake(t, f, master)
	_, err := p.Retrieve(context.Background())
	require.ErrorIs(t, err, ErrLongTermCredentialsRequired)
	assert.Contains(t, err.Error(), GetSessionTokenLink)
	assert.Zero(t, f.count(), "STS is not called")
}

func TestMasterFailureIsWrapped(t *testing.T) {
	f := newFakeSTS("A", time.Hour)
	p := newFake(t, f, errProvider{errBoom}, withRole(roleA))
	_, err := p.Retrieve(context.Background())
	require.ErrorIs(t, err, errBoom)
	assert.Contains(t, err.Error(), roleA)
	assert.Contains(t, err.Error(), "master credentials")
	assert.Zero(t, f.count())
}

func TestTokenCodeIsCalledBeforeEveryCall(t *testing.T) {
	var calls atomic.Int32
	var serials []string
	f := newFakeSTS("A", time.Hour)
	var sent []string
	f.inspect = func(in any) { sent = append(sent, aws.ToString(in.(*sts.AssumeRoleInput).TokenCode)) }
	p := newFake(t, f, staticMaster("alice"), withRole(roleA), func(o *Options) {
		o.SerialNumber = deviceOf(t)
		o.TokenCode = func(_ context.Context, serial string) (string, error) {
			serials = append(serials, serial)
			return fmt.Sprintf("%06d", calls.Add(1)), nil
		}
	})
	for range 3 {
		_, err := p.Refresh(context.Background())
		require.NoError(t, err)
	}
	assert.Equal(t, []string{deviceOf(t), deviceOf(t), deviceOf(t)}, serials)
	assert.Equal(t, []string{"000001", "000002", "000003"}, sent)
}

func TestTokenCodeFailure(t *testing.T) {
	errNoDevice := errors.New("no device attached")
	f := newFakeSTS("A", time.Hour)
	p := newFake(t, f, staticMaster("alice"), withRole(roleA), func(o *Options) {
		o.SerialNumber = mfaARN
		o.TokenCode = func(context.Context, string) (string, error) { return "", errNoDevice }
	})
	_, err := p.Retrieve(context.Background())
	require.ErrorIs(t, err, errNoDevice)
	assert.Contains(t, err.Error(), "MFA token")
	assert.Contains(t, err.Error(), roleA)
	assert.Zero(t, f.count())
}

func TestTokenCodeWithoutSerialNumberIsNeverCalled(t *testing.T) {
	f := newFakeSTS("A", time.Hour)
	p := newFake(t, f, staticMaster("alice"), withRole(roleA), func(o *Options) {
		o.TokenCode = func(context.Context, string) (string, error) {
			t.Error("TokenCode called without SerialNumber")
			return "", nil
		}
	})
	_, err := p.Retrieve(context.Background())
	require.NoError(t, err)
	_, err = p.Refresh(context.Background())
	require.NoError(t, err)
}

// A code STS refuses (mistyped, or from a device whose clock drifted) is
// asked for again, with the reason, up to three codes for one call.
func TestRefusedTokenCodeIsAskedForAgain(t *testing.T) {
	refused := apiError("AccessDenied", "MultiFactorAuthentication failed with invalid MFA one time pass code. ")
	codes := []string{"111111", "222222", "333333", "444444"}
	for _, tc := range []struct {
		name     string
		refusals int
		wantErr  bool
	}{{"one refusal", 1, false}, {"two refusals", 2, false}, {"three refusals", 3, true}} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeSTS("A", time.Hour)
			for range tc.refusals {
				f.failNext(refused)
			}
			var asked []string
			p := newFake(t, f, staticMaster("alice"), withRole(roleA), func(o *Options) {
				o.SerialNumber, o.CodeGuard = mfaARN, new(CodeGuard)
				o.TokenCode = func(ctx context.Context, _ string) (string, error) {
					asked = append(asked, tokenCodeRetryReason(ctx))
					return codes[len(asked)-1], nil
				}
			})
			_, err := p.Retrieve(context.Background())
			if tc.wantErr {
				require.Error(t, err)
				var ae smithy.APIError
				require.ErrorAs(t, err, &ae)
				assert.Len(t, asked, 3, "three codes in all")
				return
			}
			require.NoError(t, err)
			require.Len(t, asked, tc.refusals+1)
			assert.Empty(t, asked[0])
			for _, reason := range asked[1:] {
				assert.Equal(t, "STS refused the MFA code for "+mfaARN+"; enter the current code", reason)
			}
			for i, c := range f.Calls() {
				assert.Equal(t, codes[i], aws.ToString(c.input.(*sts.AssumeRoleInput).TokenCode))
			}
		})
	}
}

// A hub shared by many links, whose session STS refuses (revoked), is
// re-assumed once, not once per link that finds it refused: each link
// drops only the hub session it saw refused.
func TestSharedMasterRecoversOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const hubRole = "arn:aws:iam::123456789012:role/hub"
		roles := []ststest.Role{{ARN: hubRole}}
		for i := range 50 {
			roles = append(roles, ststest.Role{ARN: customerRole(i), Trust: []string{hubRole}})
		}
		srv := memSTS(t, roles...)
		hub, err := New(srv.AWSConfig("alice"), withRole(hubRole))
		require.NoError(t, err)
		links := make([]*ChainableProvider, 50)
		for i := range links {
			links[i], err = New(srv.AWSConfig("alice"), withRole(customerRole(i)), func(o *Options) { o.MasterCredentials = hub })
			require.NoError(t, err)
			_, err = links[i].Retrieve(context.Background())
			require.NoError(t, err)
		}
		hubSession, err := hub.Retrieve(context.Background())
		require.NoError(t, err)
		srv.Revoke(hubSession.AccessKeyID)
		// Every link signs with the revoked session before the first
		// refusal comes back.
		srv.SetLatency(100 * time.Millisecond)

		var wg sync.WaitGroup
		for _, l := range links {
			wg.Go(func() {
				_, err := l.Refresh(context.Background())
				assert.NoError(t, err)
			})
		}
		wg.Wait()
		assert.Equal(t, 2, len(srv.Calls(ststest.Call{Action: "AssumeRole", RoleARN: hubRole})), "the hub's first session and one more")
		refused := srv.Calls(ststest.Call{ErrorCode: "InvalidClientTokenId"})
		assert.LessOrEqual(t, len(refused), 50, "each link found the revoked session refused at most once")
	})
}

// roleAEntry is a well-formed cache entry of a session of role A.
func roleAEntry(keyID string, expires time.Time) CacheEntry {
	return CacheEntry{
		Credentials:     aws.Credentials{AccessKeyID: keyID, SecretAccessKey: "s", SessionToken: "t", CanExpire: true, Expires: expires},
		AssumedRoleUser: &types.AssumedRoleUser{Arn: aws.String("arn:aws:sts::123456789012:assumed-role/A/x"), AssumedRoleId: aws.String("AROA:x")},
	}
}

// A peer sharing the cache can store an older session under the link's
// key (one that was revoked, say): an entry expiring before the
// credentials the link has had is not taken, whether they are still
// current or were dropped, and a newer one is.
func TestCacheEntryOlderThanTheLinksIsRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		cache := newMemCache()
		var logs strings.Builder
		f := newFakeSTS("A", time.Hour)
		p := newFake(t, f, staticMaster("alice"), withRole(roleA), withCache(cache), func(o *Options) {
			o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		})
		current, err := p.Retrieve(ctx)
		require.NoError(t, err)
		link := &p.impl.Load().link

		// Twenty minutes on, a Pool's spread first refresh, say: the
		// planted session is fresh, but older than the current one.
		time.Sleep(20 * time.Minute)
		cache.entries[link.cacheKey] = roleAEntry("ASIAOLDER0000001", current.Expires.Add(-10*time.Minute))
		for _, req := range []fetchRequest{{current: current}, {}} {
			got, err := link.fetch(ctx, req)
			require.NoError(t, err)
			assert.NotEqual(t, "ASIAOLDER0000001", got.creds.AccessKeyID)
			assert.False(t, got.fromCache)
			cache.entries[link.cacheKey] = roleAEntry("ASIAOLDER0000001", current.Expires.Add(-10*time.Minute))
		}
		assert.Equal(t, 3, f.count(), "each refusal cost an STS call")
		assert.Contains(t, logs.String(), "before the credentials the link already had")
		assert.Contains(t, logs.String(), "it is an older session")

		newer := roleAEntry("ASIANEWER0000001", time.Now().Add(2*time.Hour))
		cache.entries[link.cacheKey] = newer
		got, err := link.fetch(ctx, fetchRequest{current: current})
		require.NoError(t, err)
		assert.Equal(t, "ASIANEWER0000001", got.creds.AccessKeyID, "a newer session is taken")
		assert.Equal(t, 3, f.count())
	})
}

// A link stops waiting for another holder's cache lock by package
// lockwait's rule, with the engine's own expiry window: for short sessions
// the engine shrinks the windows, and the wait ends where callers start
// waiting, at the shrunk window, not ExpiryWindow before expiry (which
// would have kept them waiting on the lock until the credentials
// expired). Before there are credentials, the wait is lockwait.Bound.
func TestLockWaitEndsAtTheEnginesExpiryWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		var logs syncBuffer // the background refresh writes while the test reads
		f := newFakeSTS("A", 30*time.Second)
		p := newFake(t, f, staticMaster("alice"), withRole(roleA), withCache(blockingLocker{newMemCache()}), func(o *Options) {
			o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			o.PrefetchWindow = 0 // the advisory windows
		})
		start := time.Now()
		first, err := p.Retrieve(ctx)
		require.NoError(t, err)
		assert.Equal(t, lockwait.Bound, time.Since(start), "no credentials: the bound")
		assert.Contains(t, logs.String(), "which another holder kept "+lockwait.ReasonBound)

		// Sessions of 30 s: windows of 5 minutes and 1 minute, shrunk to
		// 10 s and 2 s. The background refresh starts 10 s before expiry,
		// finds the lock held, and stops waiting 2 s before expiry.
		waitAt := p.impl.Load().refresh.state.Load().waitAt
		require.Equal(t, first.Expires.Add(-2*time.Second), waitAt)
		time.Sleep(time.Until(waitAt) - time.Millisecond)
		synctest.Wait()
		assert.Equal(t, 1, f.count(), "waiting for the lock")
		time.Sleep(time.Millisecond)
		synctest.Wait()
		assert.Equal(t, 2, f.count(), "called STS at the engine's expiry window")
		assert.Contains(t, logs.String(), "which another holder kept "+lockwait.ReasonWindow)
		c, err := p.Retrieve(ctx)
		require.NoError(t, err)
		assert.NotEqual(t, first.AccessKeyID, c.AccessKeyID, "callers got the new credentials")
	})
}

// blockingLocker is a Cache whose locks are held by someone else for
// ever, as a Redis lock planted without an expiry is.
type blockingLocker struct{ *memCache }

func (blockingLocker) Lock(ctx context.Context, _ string) (func(), error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// A lock held for ever costs a refresh lockwait.Bound, then one STS call
// without the lock; the log says why, without blaming the store.
func TestLockHeldForEverIsWaitedForBriefly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs strings.Builder
		f := newFakeSTS("A", time.Hour)
		p := newFake(t, f, staticMaster("alice"), withRole(roleA), withCache(blockingLocker{newMemCache()}), func(o *Options) {
			o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		})
		start := time.Now()
		_, err := p.Retrieve(context.Background())
		require.NoError(t, err)
		assert.Equal(t, lockwait.Bound, time.Since(start), "the bubble's clock: no real time passes")
		assert.Equal(t, 1, f.count())
		assert.Contains(t, logs.String(), "stopped waiting for the cache lock, which another holder kept "+lockwait.ReasonBound+"; refreshing without it")
		assert.NotContains(t, logs.String(), "TTL")
	})
}

// testTracerProvider records the spans its tracers start.
type testTracerProvider struct {
	mu     sync.Mutex
	scopes []string
	spans  []*testSpan
}

func (p *testTracerProvider) Tracer(scope string, _ ...tracing.TracerOption) tracing.Tracer {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.scopes = append(p.scopes, scope)
	return testTracer{p}
}

func (p *testTracerProvider) recorded() []testSpan {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []testSpan
	for _, s := range p.spans {
		out = append(out, *s)
	}
	return out
}

type testTracer struct{ p *testTracerProvider }

func (t testTracer) StartSpan(ctx context.Context, name string, opts ...tracing.SpanOption) (context.Context, tracing.Span) {
	var o tracing.SpanOptions
	for _, fn := range opts {
		fn(&o)
	}
	s := &testSpan{name: name, props: maps.Clone(o.Properties.Values())}
	if s.props == nil {
		s.props = map[any]any{}
	}
	t.p.mu.Lock()
	defer t.p.mu.Unlock()
	t.p.spans = append(t.p.spans, s)
	return tracing.WithSpan(ctx, s), s
}

type testSpan struct {
	name   string
	props  map[any]any
	status tracing.SpanStatus
	ended  bool
}

func (s *testSpan) Name() string                            { return s.name }
func (s *testSpan) Context() tracing.SpanContext            { return tracing.SpanContext{} }
func (s *testSpan) AddEvent(string, ...tracing.EventOption) {}
func (s *testSpan) SetStatus(st tracing.SpanStatus)         { s.status = st }
func (s *testSpan) SetProperty(k, v any)                    { s.props[k] = v }
func (s *testSpan) End()                                    { s.ended = true }

// Each fetch of new credentials is a span of Options.TracerProvider,
// saying which link and how it ended.
func TestRefreshSpans(t *testing.T) {
	tp := &testTracerProvider{}
	f := newFakeSTS("A", time.Hour)
	p := newFake(t, f, staticMaster("alice"), withRole(roleA), func(o *Options) { o.TracerProvider = tp })
	_, err := p.Retrieve(context.Background())
	require.NoError(t, err)
	f.failNext(apiError("AccessDenied", "not allowed"))
	p.Invalidate()
	_, err = p.Retrieve(context.Background())
	require.Error(t, err)

	assert.Equal(t, []string{"github.com/stschain/stschain"}, tp.scopes)
	spans := tp.recorded()
	require.Len(t, spans, 2)
	assert.Equal(t, testSpan{name: "stschain.refresh", props: map[any]any{"stschain.link": roleA, "stschain.outcome": "ok"},
		status: tracing.SpanStatusOK, ended: true}, spans[0])
	assert.Equal(t, "error", spans[1].props["stschain.outcome"])
	assert.Contains(t, spans[1].props["error.message"], "AccessDenied: not allowed")
	assert.Equal(t, tracing.SpanStatusError, spans[1].status)
	assert.True(t, spans[1].ended)
}
