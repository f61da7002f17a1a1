package stschain

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
		assert.Equal(t, "ASIAA1", c.AccessKeyID)
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
	assert.Equal(t, "ASIAA3", c4.AccessKeyID)
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
		assert.Equal(t, "ASIAA2", c.AccessKeyID)
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
	for _, secret := range []string{"secret-", "token-", "secret-of-alice"} {
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
		assert.Equal(t, "ASIAA2", c.AccessKeyID)
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
