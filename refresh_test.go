package stschain

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain/ststest"
)

func TestRetrieveCachesUntilExpiryWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeSTS("A", time.Hour)
		p := newFake(t, f, staticMaster("alice"), withRole(roleA))
		ctx := context.Background()

		first, err := p.Retrieve(ctx)
		require.NoError(t, err)
		time.Sleep(time.Hour - DefaultExpiryWindow - time.Second)
		again, err := p.Retrieve(ctx)
		require.NoError(t, err)
		assert.Equal(t, first, again, "credentials outside the expiry window are reused")
		assert.Equal(t, 1, f.count())

		time.Sleep(2 * time.Second) // now inside the window
		fresh, err := p.Retrieve(ctx)
		require.NoError(t, err)
		assert.NotEqual(t, first.AccessKeyID, fresh.AccessKeyID)
		assert.Equal(t, 2, f.count())
	})
}

func TestNestedChainRefreshesEachLinkOnItsOwnSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fb := newFakeSTS("B", time.Hour)
		fa := newFakeSTS("A", 15*time.Minute)
		b := newFake(t, fb, staticMaster("alice"), withRole(roleB))
		a := newFake(t, fa, b, withRole(roleA))
		ctx := context.Background()

		// Every 30 s for 90 min, and remember which B key was current at
		// each A call.
		for range 180 {
			_, err := a.Retrieve(ctx)
			require.NoError(t, err)
			time.Sleep(30 * time.Second)
		}
		// A (15 min, 1 min window) refreshes every 14 min: 0, 14, ... 84.
		assert.Len(t, fa.Calls(), 7)
		// B (1 h) refreshed only inside its own window, at 59 min, and
		// only because A needed it.
		bCalls := fb.Calls()
		require.Len(t, bCalls, 2)
		for i, c := range bCalls {
			assert.Equal(t, "AKIAalice", c.signedBy, "B call %d is signed by the user", i)
		}
		for i, c := range fa.Calls() {
			want := bCalls[0].issued
			if i >= 5 { // A's refresh at 70 min comes after B's at 59 min
				want = bCalls[1].issued
			}
			assert.Equal(t, want, c.signedBy, "A call %d is signed by B's current session", i)
		}
	})
}

func TestShortLifetimeIsStillReused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// 30 s credentials against a 1 min window.
		f := newFakeSTS("A", 30*time.Second)
		p := newFake(t, f, staticMaster("alice"), withRole(roleA))
		for range 60 {
			_, err := p.Retrieve(context.Background())
			require.NoError(t, err)
			time.Sleep(time.Second)
		}
		// The window shrinks to 10 s: a refresh every 20 s.
		assert.Equal(t, 3, f.count())
	})
}

func TestConcurrentRetrieveMakesOneCall(t *testing.T) {
	for _, tc := range []struct {
		name string
		warm bool
	}{{"cold", false}, {"expiring", true}} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeSTS("A", time.Hour)
				p := newFake(t, f, staticMaster("alice"), withRole(roleA))
				if tc.warm {
					_, err := p.Retrieve(context.Background())
					require.NoError(t, err)
					time.Sleep(time.Hour - 30*time.Second)
				}
				before := f.count()
				release := f.hang()

				const n = 64
				var wg sync.WaitGroup
				results := make([]aws.Credentials, n)
				for i := range n {
					wg.Go(func() {
						c, err := p.Retrieve(context.Background())
						assert.NoError(t, err)
						results[i] = c
					})
				}
				synctest.Wait() // all 64 wait on the one call
				release()
				wg.Wait()
				assert.Equal(t, before+1, f.count())
				for _, c := range results {
					assert.Equal(t, results[0], c)
				}
			})
		})
	}
}

func TestCachedRetrieveDoesNotAllocate(t *testing.T) {
	p := newFake(t, newFakeSTS("A", time.Hour), staticMaster("alice"), withRole(roleA))
	_, err := p.Retrieve(context.Background())
	require.NoError(t, err)
	ctx := context.Background()
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := p.Retrieve(ctx); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs)
}

func TestCachedRetrieveDoesNotWaitForARunningRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeSTS("A", time.Hour)
		p := newFake(t, f, staticMaster("alice"), withRole(roleA))
		cached, err := p.Retrieve(context.Background())
		require.NoError(t, err)

		release := f.hang()
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, err := p.Refresh(context.Background())
			assert.NoError(t, err)
		}()
		synctest.Wait() // Refresh is inside its STS call
		got, err := p.Retrieve(context.Background())
		require.NoError(t, err)
		assert.Equal(t, cached, got)
		release()
		<-done
		got, err = p.Retrieve(context.Background())
		require.NoError(t, err)
		assert.NotEqual(t, cached.AccessKeyID, got.AccessKeyID, "Refresh replaced the cached credentials")
	})
}

func TestCallerContextEndsWaitButNotTheRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeSTS("A", time.Hour)
		release := f.hang()
		p := newFake(t, f, staticMaster("alice"), withRole(roleA))

		impatient, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() {
			_, err := p.Retrieve(impatient)
			errc <- err
		}()
		patient := make(chan aws.Credentials, 1)
		go func() {
			c, err := p.Retrieve(context.Background())
			assert.NoError(t, err)
			patient <- c
		}()
		synctest.Wait()
		cancel()
		err := <-errc // returns while STS is still blocked
		require.Error(t, err)
		assert.ErrorIs(t, err, context.Canceled)
		assert.Contains(t, err.Error(), roleA)

		release()
		c := <-patient
		assert.Equal(t, issuedKey("A", 1), c.AccessKeyID)
		assert.Equal(t, 1, f.count())
	})
}

func TestRefreshForcesACallAndInvalidateDropsCache(t *testing.T) {
	f := newFakeSTS("A", time.Hour)
	p := newFake(t, f, staticMaster("alice"), withRole(roleA))
	ctx := context.Background()
	c1, err := p.Retrieve(ctx)
	require.NoError(t, err)
	c2, err := p.Refresh(ctx)
	require.NoError(t, err)
	assert.NotEqual(t, c1.AccessKeyID, c2.AccessKeyID)
	c3, err := p.Retrieve(ctx)
	require.NoError(t, err)
	assert.Equal(t, c2, c3)

	p.Invalidate()
	c4, err := p.Retrieve(ctx)
	require.NoError(t, err)
	assert.Equal(t, issuedKey("A", 3), c4.AccessKeyID)
	assert.Equal(t, 3, f.count())
}

func TestPrefetchRefreshesInBackground(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeSTS("A", time.Hour)
		var events []RefreshEvent
		var mu sync.Mutex
		p := newFake(t, f, staticMaster("alice"), withRole(roleA), func(o *Options) {
			o.PrefetchWindow = 0 // default: 15 min for a one-hour session
			o.OnRefresh = func(ev RefreshEvent) {
				mu.Lock()
				defer mu.Unlock()
				events = append(events, ev)
			}
		})
		ctx := context.Background()
		old, err := p.Retrieve(ctx)
		require.NoError(t, err)

		// STS hangs from here: the refresh at the prefetch point, started
		// by the provider's timer, waits.
		release := f.hang()
		time.Sleep(time.Hour - advisoryMedium + time.Second)
		for range 100 {
			c, err := p.Retrieve(ctx) // returns at once though STS is blocked
			require.NoError(t, err)
			assert.Equal(t, old, c)
		}
		synctest.Wait()
		release()
		synctest.Wait() // the background refresh ends, and its goroutine
		c, err := p.Retrieve(ctx)
		require.NoError(t, err)
		assert.Equal(t, issuedKey("A", 2), c.AccessKeyID)
		assert.Equal(t, 2, f.count(), "one background refresh for 100 callers")
		mu.Lock()
		defer mu.Unlock()
		require.Len(t, events, 2)
		assert.False(t, events[0].Background, "the first fetch had a caller waiting")
		assert.True(t, events[1].Background)
		assert.Equal(t, RefreshOK, events[1].Outcome)
		assert.Equal(t, roleA, events[1].Link)
	})
}

func TestFailedRefreshKeepsValidCredentialsAndBacksOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeSTS("A", time.Hour)
		p := newFake(t, f, staticMaster("alice"), withRole(roleA))
		ctx := context.Background()
		old, err := p.Retrieve(ctx)
		require.NoError(t, err)

		// STS is down from inside the expiry window until after Expires.
		time.Sleep(time.Hour - 50*time.Second)
		outage := make([]error, 1000)
		for i := range outage {
			outage[i] = apiError("ServiceUnavailable", "down")
		}
		f.failNext(outage...)
		for range 4900 { // every 10 ms until 1 s before Expires
			c, err := p.Retrieve(ctx)
			require.NoError(t, err, "valid credentials hide the outage")
			require.Equal(t, old, c)
			time.Sleep(10 * time.Millisecond)
		}
		synctest.Wait()
		calls := f.count() - 1
		assert.Greater(t, calls, 2, "it keeps trying")
		assert.Less(t, calls, 40, "attempts back off: not one per Retrieve")

		time.Sleep(2 * time.Second) // past Expires
		_, err = p.Retrieve(ctx)
		require.Error(t, err, "expired credentials turn the failure into an error")
		var ae smithy.APIError
		assert.ErrorAs(t, err, &ae)

		// STS is back: the attempts after expiry back off, but the next
		// comes within maxBackoff.
		f.mu.Lock()
		f.failures = nil
		f.mu.Unlock()
		back := time.Now()
		for {
			c, err := p.Retrieve(ctx)
			if err == nil {
				assert.NotEqual(t, old.AccessKeyID, c.AccessKeyID)
				break
			}
			assert.ErrorAs(t, err, &ae, "a caller in the pause gets the last failure")
			require.Less(t, time.Since(back), maxBackoff, "the next attempt comes within maxBackoff")
			time.Sleep(time.Second)
		}
	})
}

func TestRefreshReturnsItsFailure(t *testing.T) {
	f := newFakeSTS("A", time.Hour)
	p := newFake(t, f, staticMaster("alice"), withRole(roleA))
	old, err := p.Retrieve(context.Background())
	require.NoError(t, err)
	f.failNext(apiError("Throttling", "slow down"))
	_, err = p.Refresh(context.Background())
	require.Error(t, err)
	c, err := p.Retrieve(context.Background())
	require.NoError(t, err)
	assert.Equal(t, old, c, "the valid credentials stay cached")
}

func TestLoggerGetsOneLinePerRefreshAndNoSecret(t *testing.T) {
	var logs bytes.Buffer
	f := newFakeSTS("A", time.Hour)
	p := newFake(t, f, staticMaster("alice"), withRole(roleA), func(o *Options) {
		o.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	_, err := p.Retrieve(context.Background())
	require.NoError(t, err)
	f.failNext(apiError("AccessDenied", "no"))
	_, err = p.Refresh(context.Background())
	require.Error(t, err)

	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	require.Len(t, lines, 2)
	assert.Contains(t, lines[0], `"link":"`+roleA+`"`)
	assert.Contains(t, lines[0], `"outcome":"ok"`)
	assert.Contains(t, lines[0], `"expires"`)
	assert.Contains(t, lines[0], `"latency"`)
	assert.Contains(t, lines[1], `"level":"WARN"`)
	assert.Contains(t, lines[1], "AccessDenied")
	for _, secret := range []string{fakeSecretPrefix, fakeTokenPrefix, "secret-of-alice"} {
		assert.NotContains(t, logs.String(), secret)
	}
}

func TestRefreshJoinsARunningBackgroundRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeSTS("A", time.Hour)
		p := newFake(t, f, staticMaster("alice"), withRole(roleA), func(o *Options) { o.PrefetchWindow = 0 })
		_, err := p.Retrieve(context.Background())
		require.NoError(t, err)
		release := f.hang()
		time.Sleep(time.Hour - advisoryMedium + time.Second) // the background refresh starts
		_, err = p.Retrieve(context.Background())
		require.NoError(t, err)
		synctest.Wait()

		done := make(chan aws.Credentials)
		go func() {
			c, err := p.Refresh(context.Background())
			assert.NoError(t, err)
			done <- c
		}()
		synctest.Wait()
		release()
		c := <-done
		assert.Equal(t, issuedKey("A", 2), c.AccessKeyID)
		synctest.Wait()
		assert.Equal(t, 2, f.count(), "one STS call for both")
	})
}

// Invalidate while a refresh is under way drops the current credentials
// and joins that refresh: its new credentials serve the caller, and its
// failure is the caller's, never the invalidated credentials.
func TestInvalidateDuringARefresh(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fails bool
		calls int
	}{{"succeeds", false, 2}, {"fails", true, 3}} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeSTS("A", time.Hour)
				p := newFake(t, f, staticMaster("alice"), withRole(roleA), func(o *Options) { o.PrefetchWindow = 0 })
				old, err := p.Retrieve(context.Background())
				require.NoError(t, err)

				// A background refresh is under way.
				release := f.hang()
				if tc.fails {
					f.failNext(apiError("ServiceUnavailable", "down"))
				}
				time.Sleep(time.Hour - advisoryMedium + time.Second)
				_, err = p.Retrieve(context.Background())
				require.NoError(t, err)
				synctest.Wait()

				p.Invalidate() // say the old credentials were rejected
				type result struct {
					creds aws.Credentials
					err   error
				}
				joined := make(chan result)
				go func() {
					c, err := p.Retrieve(context.Background())
					joined <- result{c, err}
				}()
				synctest.Wait() // waiting for the refresh under way
				release()
				got := <-joined
				if tc.fails {
					var ae smithy.APIError
					assert.ErrorAs(t, got.err, &ae, "the refresh's failure, not the invalidated credentials")
				} else {
					require.NoError(t, got.err)
					assert.NotEqual(t, old.AccessKeyID, got.creds.AccessKeyID)
				}
				c, err := p.Retrieve(context.Background())
				require.NoError(t, err)
				assert.NotEqual(t, old.AccessKeyID, c.AccessKeyID, "the invalidated credentials do not come back")
				assert.Equal(t, tc.calls, f.count(), "the Invalidate cost no call of its own")
			})
		})
	}
}

func TestCredentialsArrivingDueAreNotRefreshedOnEveryRetrieve(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// STS's clock is behind ours: the sessions arrive with 50 ms left,
		// inside every window.
		f := newFakeSTS("A", 50*time.Millisecond)
		p := newFake(t, f, staticMaster("alice"), withRole(roleA))
		for range 100 {
			_, err := p.Retrieve(context.Background())
			require.NoError(t, err)
			time.Sleep(time.Millisecond)
		}
		assert.LessOrEqual(t, f.count(), 3, "used until they expire, not refreshed on every Retrieve")
	})
}

// The fake STS of the tests below, in memory for a synctest bubble: alice,
// and the roles given, trusting alice unless they say otherwise.
const aliceARN = "arn:aws:iam::123456789012:user/alice"

func memSTS(t *testing.T, roles ...ststest.Role) *ststest.Server {
	t.Helper()
	for i := range roles {
		if roles[i].Trust == nil {
			roles[i].Trust = []string{aliceARN}
		}
	}
	srv := ststest.NewInMemoryServer(ststest.Config{
		AccountID: "123456789012",
		Users:     []ststest.User{{Name: "alice", AccessKeyID: "AKIAALICE00000000001", SecretAccessKey: "alice-secret"}},
		Roles:     roles,
	})
	t.Cleanup(srv.Close)
	return srv
}

// callers runs n goroutines that call Retrieve every interval until
// until, each call bounded by timeout, and counts the calls that failed
// and the credentials handed out at or after their expiry.
func callers(p aws.CredentialsProvider, n int, interval, timeout time.Duration, until time.Time) (failed, expired int) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for time.Now().Before(until) {
				ctx, cancel := context.WithTimeout(context.Background(), timeout)
				c, err := p.Retrieve(ctx)
				cancel()
				mu.Lock()
				if err != nil {
					failed++
				} else if !time.Now().Before(c.Expires) {
					expired++
				}
				mu.Unlock()
				time.Sleep(interval)
			}
		})
	}
	wg.Wait()
	return failed, expired
}

// A refresh attempt that hangs (a connection STS never answers) at the
// prefetch point ends well inside the window, and the next attempt, once
// STS answers again a minute later, replaces the credentials: no caller
// fails, none gets expired credentials. (The attempt used to wait out a
// 5-minute timeout, the whole window, and the callers inside the expiry
// window joined it until the credentials expired.)
func TestHungAttemptEndsInsideItsWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := memSTS(t, ststest.Role{ARN: roleA})
		p, err := New(srv.AWSConfig("alice"), withRole(roleA), func(o *Options) {
			o.PrefetchWindow = 5 * time.Minute
			o.DisableJitter = true
		})
		require.NoError(t, err)
		first, err := p.Retrieve(context.Background())
		require.NoError(t, err)

		time.Sleep(time.Until(first.Expires.Add(-5*time.Minute - time.Second)))
		srv.SetLatency(24 * time.Hour) // requests from now hang
		go func() {
			time.Sleep(time.Minute)
			srv.SetLatency(0) // STS answers again; the hung request stays hung
		}()
		failed, expired := callers(p, 20, 10*time.Second, 30*time.Second, first.Expires.Add(2*time.Minute))
		assert.Zero(t, failed, "callers that failed")
		assert.Zero(t, expired, "expired credentials handed out")
		// The first session, the hung request (which the server answered
		// once its client had gone) and the replacement.
		assert.Len(t, srv.Calls(ststest.Call{Action: "AssumeRole"}), 3)
		c, err := p.Retrieve(context.Background())
		require.NoError(t, err)
		assert.NotEqual(t, first.AccessKeyID, c.AccessKeyID)
	})
}

// Invalidations coalesce, as in the SDK's aws.CredentialsCache: a hundred
// callers that each invalidate and retrieve within 100 ms, while one STS
// call takes 200 ms, cost one call.
func TestInvalidationsCoalesce(t *testing.T) {
	for _, tc := range []struct {
		name string
		make func(t *testing.T, f *fakeSTS) interface {
			aws.CredentialsProvider
			Invalidate()
		}
	}{
		{"provider=stschain", func(t *testing.T, f *fakeSTS) interface {
			aws.CredentialsProvider
			Invalidate()
		} {
			return newFake(t, f, staticMaster("alice"), withRole(roleA))
		}},
		{"provider=sdk", func(_ *testing.T, f *fakeSTS) interface {
			aws.CredentialsProvider
			Invalidate()
		} {
			return aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(f, roleA))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeSTS("A", time.Hour)
				f.latency = 200 * time.Millisecond
				p := tc.make(t, f)
				old, err := p.Retrieve(context.Background())
				require.NoError(t, err)
				var wg sync.WaitGroup
				for i := range 100 {
					wg.Go(func() {
						time.Sleep(time.Duration(i) * time.Millisecond)
						p.Invalidate() // the credentials were refused
						c, err := p.Retrieve(context.Background())
						assert.NoError(t, err)
						assert.NotEqual(t, old.AccessKeyID, c.AccessKeyID)
					})
				}
				wg.Wait()
				assert.Equal(t, 2, f.count(), "one call for a hundred invalidations")
			})
		})
	}
}

// Once the credentials have expired, an outage costs a bounded number of
// attempts, shared by every caller: the callers in a pause get the last
// failure at once, wrapped, without an STS call; and the first attempt
// after STS is back comes within maxBackoff. (Every caller used to start
// an attempt of its own: hundreds a minute.)
func TestAttemptsWithoutCredentialsBackOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := memSTS(t, ststest.Role{ARN: roleA})
		cfg := srv.AWSConfig("alice")
		cfg.Retryer = func() aws.Retryer { return aws.NopRetryer{} } // an STS request per attempt
		p, err := New(cfg, withRole(roleA), func(o *Options) { o.DisableJitter = true })
		require.NoError(t, err)
		first, err := p.Retrieve(context.Background())
		require.NoError(t, err)

		// STS is down from before the advisory window until ten minutes
		// after the credentials expired.
		time.Sleep(time.Until(first.Expires.Add(-20 * time.Minute)))
		srv.SetOutage("", 503, "ServiceUnavailable")
		failed, expired := callers(p, 20, time.Second, 5*time.Second, first.Expires)
		assert.Zero(t, failed, "errors while unexpired credentials existed")
		assert.Zero(t, expired)
		before := len(srv.Calls())
		assert.Less(t, before, 25, "STS requests before expiry")

		time.Sleep(time.Until(first.Expires))
		failed, expired = callers(p, 20, time.Second, 5*time.Second, first.Expires.Add(10*time.Minute))
		assert.Positive(t, failed)
		assert.Zero(t, expired)
		after := len(srv.Calls()) - before
		assert.Less(t, after, 25, "STS requests in the ten minutes after expiry")
		t.Logf("STS requests in the outage: %d before expiry, %d in the ten minutes after", before, after)

		// A caller in the pause after the last failure gets it at once. (The
		// first call may be due an attempt; the second, at the same
		// moment, is in a pause either way.)
		_, err = p.Retrieve(context.Background())
		require.Error(t, err)
		calls := len(srv.Calls())
		_, err = p.Retrieve(context.Background())
		require.Error(t, err)
		assert.Equal(t, calls, len(srv.Calls()), "no STS request for a caller in the pause")
		var ae smithy.APIError
		require.ErrorAs(t, err, &ae)
		assert.Equal(t, "ServiceUnavailable", ae.ErrorCode())
		assert.Contains(t, err.Error(), "no valid credentials")
		assert.Contains(t, err.Error(), roleA)

		srv.EndOutage()
		back := time.Now()
		for {
			c, err := p.Retrieve(context.Background())
			if err == nil {
				assert.NotEqual(t, first.AccessKeyID, c.AccessKeyID)
				break
			}
			require.Less(t, time.Since(back), maxBackoff, "an attempt within maxBackoff of STS coming back")
			time.Sleep(time.Second)
		}
	})
}

// refreshLog records the refresh events of a provider with their times.
type refreshLog struct {
	mu     sync.Mutex
	events []RefreshEvent
	at     []time.Time
}

func (l *refreshLog) option(o *Options) {
	o.OnRefresh = func(ev RefreshEvent) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.events, l.at = append(l.events, ev), append(l.at, time.Now())
	}
}

func (l *refreshLog) get() ([]RefreshEvent, []time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.events), slices.Clone(l.at)
}

// The 2026 refresh rules, through the engine, in fake time.
func TestRefreshRules2026(t *testing.T) {
	// The advisory window is chosen from each set's lifetime: the
	// background refresh comes exactly there (no jitter), while callers
	// keep the current credentials at once.
	t.Run("advisory window from the lifetime", func(t *testing.T) {
		for _, tc := range []struct{ life, window time.Duration }{
			{15 * time.Minute, 5 * time.Minute},
			{20 * time.Minute, 5 * time.Minute},
			{45 * time.Minute, 15 * time.Minute},
			{89 * time.Minute, 15 * time.Minute},
			{90 * time.Minute, 60 * time.Minute},
			{12 * time.Hour, 60 * time.Minute},
		} {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeSTS("A", tc.life)
				var log refreshLog
				p := newFake(t, f, staticMaster("alice"), withRole(roleA), func(o *Options) { o.PrefetchWindow = 0 }, log.option)
				first, err := p.Retrieve(context.Background())
				require.NoError(t, err)
				time.Sleep(tc.life - tc.window - time.Second)
				_, err = p.Retrieve(context.Background())
				require.NoError(t, err)
				assert.Equal(t, 1, f.count(), "life %v: not before the advisory window", tc.life)
				time.Sleep(time.Second)
				synctest.Wait()
				assert.Equal(t, 2, f.count(), "life %v: the background refresh at the advisory window", tc.life)
				c, err := p.Retrieve(context.Background())
				require.NoError(t, err)
				assert.NotEqual(t, first.AccessKeyID, c.AccessKeyID)
				events, _ := log.get()
				require.Len(t, events, 2)
				assert.True(t, events[1].Background, "no caller waited")
			})
		}
	})

	// The window is fixed for a set: a failed refresh keeps the set and its
	// windows, and the next set's window follows its own lifetime.
	t.Run("fixed for a set, recomputed after a success", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newFakeSTS("A", 2*time.Hour)
			p := newFake(t, f, staticMaster("alice"), withRole(roleA), func(o *Options) { o.PrefetchWindow = 0 })
			first, err := p.Retrieve(context.Background())
			require.NoError(t, err)
			s := p.impl.Load().refresh.state.Load()
			assert.Equal(t, first.Expires.Add(-time.Hour), s.prefetchAt, "a 2-hour set: 60 minutes")

			f.failNext(apiError("ServiceUnavailable", "down"))
			f.mu.Lock()
			f.lifetime = 30 * time.Minute // the next sets are shorter
			f.mu.Unlock()
			time.Sleep(time.Hour + time.Second)
			synctest.Wait()
			failed := p.impl.Load().refresh.state.Load()
			assert.Equal(t, 1, failed.failures)
			assert.Equal(t, s.prefetchAt, failed.prefetchAt, "the set keeps its windows")
			assert.Equal(t, s.waitAt, failed.waitAt)

			time.Sleep(10 * time.Minute) // the retry, 5 to 10 minutes later
			synctest.Wait()
			next := p.impl.Load().refresh.state.Load()
			require.NotEqual(t, first.AccessKeyID, next.creds.AccessKeyID)
			assert.Equal(t, next.creds.Expires.Add(-15*time.Minute), next.prefetchAt, "a 30-minute set: 15 minutes")
		})
	})

	// During an outage, the attempts in the advisory window come 5 to 10
	// minutes apart, the last at the mandatory window; inside it they back
	// off within the time left; callers never fail nor wait.
	t.Run("retries after failures", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newFakeSTS("A", time.Hour)
			var log refreshLog
			p := newFake(t, f, staticMaster("alice"), withRole(roleA), func(o *Options) { o.PrefetchWindow = 0 }, log.option)
			first, err := p.Retrieve(context.Background())
			require.NoError(t, err)
			outage := make([]error, 100)
			for i := range outage {
				outage[i] = apiError("ServiceUnavailable", "down")
			}
			f.failNext(outage...)
			failed, expired := callers(p, 4, 10*time.Second, time.Millisecond, first.Expires.Add(-time.Second))
			assert.Zero(t, failed, "callers that failed or waited")
			assert.Zero(t, expired)

			events, at := log.get()
			advisory, mandatory := first.Expires.Add(-15*time.Minute), first.Expires.Add(-time.Minute)
			require.GreaterOrEqual(t, len(events), 4)
			assert.Equal(t, advisory, at[1], "the first attempt at the advisory window")
			for i := 2; i < len(at); i++ {
				assert.Equal(t, RefreshFailedKept, events[i].Outcome)
				gap := at[i].Sub(at[i-1])
				switch {
				case at[i-1].Before(mandatory):
					ok := gap >= failedRetryMin && gap < failedRetryMax || at[i].Equal(mandatory)
					assert.True(t, ok, "attempt %d, %v after the last: 5 to 10 minutes, or at the mandatory window", i, gap)
				default:
					assert.GreaterOrEqual(t, gap, time.Second, "attempt %d inside the mandatory window", i)
				}
				assert.False(t, at[i].After(first.Expires), "attempt %d", i)
			}
			assert.Contains(t, at, mandatory, "an attempt at the mandatory window")
		})
	})

	// Inside the mandatory window, credentials nobody took in the
	// advisory window make the caller wait for new ones.
	t.Run("callers wait inside the mandatory window", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newFakeSTS("A", time.Hour)
			f.latency = time.Second
			var log refreshLog
			p := newFake(t, f, staticMaster("alice"), withRole(roleA), func(o *Options) { o.PrefetchWindow = 0 }, log.option)
			first, err := p.Retrieve(context.Background())
			require.NoError(t, err)
			p.impl.Load().refresh.use.Store(0) // as if nobody had taken them: no refresh ahead
			time.Sleep(time.Until(first.Expires.Add(-30 * time.Second)))
			start := time.Now()
			c, err := p.Retrieve(context.Background())
			require.NoError(t, err)
			assert.Equal(t, time.Second, time.Since(start), "the caller waited for STS")
			assert.NotEqual(t, first.AccessKeyID, c.AccessKeyID)
			events, _ := log.get()
			require.Len(t, events, 2)
			assert.False(t, events[1].Background)
		})
	})

	// An explicit PrefetchWindow wins over the lifetime's.
	t.Run("explicit window", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newFakeSTS("A", 12*time.Hour)
			p := newFake(t, f, staticMaster("alice"), withRole(roleA), func(o *Options) { o.PrefetchWindow = 10 * time.Minute })
			first, err := p.Retrieve(context.Background())
			require.NoError(t, err)
			time.Sleep(time.Until(first.Expires.Add(-10*time.Minute - time.Second)))
			synctest.Wait()
			assert.Equal(t, 1, f.count())
			time.Sleep(time.Second)
			synctest.Wait()
			assert.Equal(t, 2, f.count())
		})
	})

	// Test sessions of seconds shrink the windows in proportion and are
	// still reused for two thirds of their life.
	t.Run("short sessions", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newFakeSTS("A", 9*time.Second)
			p := newFake(t, f, staticMaster("alice"), withRole(roleA), func(o *Options) { o.PrefetchWindow = 0 })
			for range 90 { // 90 s: ten 9-second sessions, each replaced 3 s before it expires
				_, err := p.Retrieve(context.Background())
				require.NoError(t, err)
				time.Sleep(time.Second)
			}
			assert.InDelta(t, 15, f.count(), 1, "a session every 6 seconds")
		})
	})
}

// fleetCache is a Cache and CacheLocker that the hosts of a simulated
// fleet share, as they would share Redis: a lock per key, on a channel,
// which a synctest bubble waits on durably.
type fleetCache struct {
	mu      sync.Mutex
	entries map[string]CacheEntry    // guarded by mu
	locks   map[string]chan struct{} // guarded by mu
}

func newFleetCache() *fleetCache {
	return &fleetCache{entries: map[string]CacheEntry{}, locks: map[string]chan struct{}{}}
}

func (c *fleetCache) Load(_ context.Context, key string) (CacheEntry, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	return e, ok, nil
}

func (c *fleetCache) Store(_ context.Context, key string, e CacheEntry) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries[key] = e
	return nil
}

func (c *fleetCache) Lock(ctx context.Context, key string) (func(), error) {
	c.mu.Lock()
	lock, ok := c.locks[key]
	if !ok {
		lock = make(chan struct{}, 1)
		c.locks[key] = lock
	}
	c.mu.Unlock()
	select {
	case lock <- struct{}{}:
		return func() { <-lock }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// A fleet started together, W hosts with a provider per role each (N
// roles) and the defaults, its callers taking every provider's
// credentials every few minutes for six hours: its STS calls after the
// cold start, counted per 2-minute bucket (a thirtieth of a session),
// peak at most at three times their mean, whether the hosts share their
// sessions through a cache (one call per role and refresh) or not (one
// per host, role and refresh). Refreshes all at once would put a
// session's worth of calls in one bucket, some twenty times the mean; the
// fleets are as small as keeps the chance spread of their buckets well
// under three times (at most 2.2 times in 40 runs).
func TestFleetRefreshesAreSpread(t *testing.T) {
	const (
		run    = 6 * time.Hour
		bucket = 2 * time.Minute
	)
	for _, fleet := range []struct {
		shared       bool
		hosts, roles int
	}{
		{shared: true, hosts: 4, roles: 500},
		{shared: false, hosts: 4, roles: 250}, // 1000 sessions, as 4 × 250 shared would be
	} {
		shared, hosts, roles := fleet.shared, fleet.hosts, fleet.roles
		t.Run(fmt.Sprintf("shared=%t", shared), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeSTS("R", time.Hour)
				var calls []time.Duration // since start; guarded by f.mu
				start := time.Now()
				f.inspect = func(any) { calls = append(calls, time.Since(start)) }
				cache := newFleetCache()
				var wg sync.WaitGroup
				for range hosts {
					providers := make([]*ChainableProvider, roles)
					for i := range providers {
						var err error
						providers[i], err = New(aws.Config{}, withRole(customerRole(i)), func(o *Options) {
							o.Client, o.MasterCredentials = f, staticMaster("hub")
							if shared {
								o.Cache = cache
							}
						})
						require.NoError(t, err)
					}
					wg.Go(func() {
						for time.Since(start) < run {
							for _, p := range providers {
								c, err := p.Retrieve(context.Background())
								if assert.NoError(t, err) {
									assert.True(t, time.Now().Before(c.Expires))
								}
							}
							time.Sleep(5 * time.Minute)
						}
					})
				}
				wg.Wait()
				synctest.Wait()

				f.mu.Lock()
				defer f.mu.Unlock()
				perBucket := make([]int, run/bucket)
				total := 0
				for _, at := range calls {
					if i := int(at / bucket); i > 0 && i < len(perBucket) { // after the cold start
						perBucket[i]++
						total++
					}
				}
				mean := float64(total) / float64(len(perBucket)-1)
				peak := slices.Max(perBucket)
				sessions := roles // a session per role, or per host and role
				if !shared {
					sessions *= hosts
				}
				want := int(time.Duration(sessions) * (run - bucket) / (45 * time.Minute)) // a refresh per session at most every 45 minutes
				assert.LessOrEqual(t, total, want, "STS calls")
				assert.LessOrEqual(t, float64(peak), 3*mean, "the peak against the mean")
				t.Logf("%d hosts × %d roles, shared=%t: %d STS calls after the cold start; per %v: mean %.1f, peak %d (%.2f × the mean)",
					hosts, roles, shared, total, bucket, mean, peak, float64(peak)/mean)
			})
		})
	}
}
