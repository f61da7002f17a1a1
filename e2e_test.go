package stschain_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/stschain/stschain"
	"github.com/stschain/stschain/ststest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// Idle keep-alive connections of the SDK's HTTP clients.
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
	)
}

const (
	account   = "123456789012"
	e2eRoleA  = "arn:aws:iam::" + account + ":role/A"
	e2eRoleB  = "arn:aws:iam::" + account + ":role/B"
	e2eAdmin  = "arn:aws:iam::" + account + ":role/Admin"
	aliceARN  = "arn:aws:iam::" + account + ":user/alice"
	totpKey   = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	aliceKey  = "AKIAALICEEXAMPLE01"
	aliceSKey = "alice-secret-key"
)

// mfaSerials holds each test's MFA device, by *testing.T.
var (
	mfaSerials   sync.Map
	mfaSerialSeq atomic.Int64
)

// mfaSerial is alice's MFA device in the test's server: one per test run,
// for the tests that send fixed codes (the AWS CLI interop tests): the
// process's CodeGuard sends no code twice for one device within its time
// step, and tests repeat within seconds under -count. Tests that take
// codes from srv.TokenCode need no device of their own.
func mfaSerial(t *testing.T) string {
	name := fmt.Sprintf("arn:aws:iam::%s:mfa/%s-%d", account, strings.ReplaceAll(t.Name(), "/", "_"), mfaSerialSeq.Add(1))
	v, _ := mfaSerials.LoadOrStore(t, name)
	return v.(string)
}

// aliceMFA is alice's device in the in-memory servers.
const aliceMFA = "arn:aws:iam::" + account + ":mfa/alice"

// memServer returns an in-memory fake STS with e2eServer's users and
// roles, for a test running in a synctest bubble (create it inside the
// bubble).
func memServer(t *testing.T, lifeA, lifeB time.Duration) *ststest.Server {
	t.Helper()
	srv := ststest.NewInMemoryServer(e2eConfig(aliceMFA, lifeA, lifeB))
	t.Cleanup(srv.Close)
	return srv
}

func e2eConfig(serial string, lifeA, lifeB time.Duration, codes ...string) ststest.Config {
	return ststest.Config{
		AccountID: account,
		Users: []ststest.User{{Name: "alice", AccessKeyID: aliceKey, SecretAccessKey: aliceSKey,
			MFASerial: serial, TOTPSecret: totpKey, MFACodes: codes}},
		Roles: []ststest.Role{
			{ARN: e2eRoleB, Trust: []string{aliceARN}, Lifetime: lifeB, MaxSessionDuration: 12 * time.Hour},
			{ARN: e2eRoleA, Trust: []string{e2eRoleB}, Lifetime: lifeA, MaxSessionDuration: 12 * time.Hour},
			{ARN: e2eAdmin, Trust: []string{aliceARN}, RequireMFA: true},
		},
	}
}

// e2eServer starts a fake STS with alice (an MFA device taking TOTP codes
// and the one-time codes given), role B trusting alice, role A trusting B,
// and Admin trusting alice with MFA required.
func e2eServer(t *testing.T, lifeA, lifeB time.Duration, codes ...string) *ststest.Server {
	t.Helper()
	srv := ststest.NewServer(e2eConfig(mfaSerial(t), lifeA, lifeB, codes...))
	t.Cleanup(srv.Close)
	return srv
}

func mustNew(t *testing.T, cfg aws.Config, optFns ...func(*stschain.Options)) *stschain.ChainableProvider {
	t.Helper()
	p, err := stschain.New(cfg, optFns...)
	require.NoError(t, err)
	return p
}

func role(arn string) func(*stschain.Options) {
	return func(o *stschain.Options) { o.RoleARN = arn; o.RoleSessionName = "e2e" }
}

// A chain whose sessions live seconds keeps every link fresh, and each
// AssumeRole of A is signed with B's session of the moment.
func TestE2EChainRefreshesEveryLink(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := memServer(t, 3*time.Second, 6*time.Second)
		cfg := srv.AWSConfig("alice")
		b := mustNew(t, cfg, role(e2eRoleB))
		a := mustNew(t, cfg, role(e2eRoleA), func(o *stschain.Options) { o.MasterCredentials = b })

		seen := map[string]bool{}
		for range 1000 { // 20 s
			c, err := a.Retrieve(context.Background())
			require.NoError(t, err)
			require.True(t, time.Now().Before(c.Expires), "never expired credentials")
			seen[c.AccessKeyID] = true
			time.Sleep(20 * time.Millisecond)
		}
		assert.GreaterOrEqual(t, len(seen), 6, "A went through a session every 3 s")

		bIssued := map[string]bool{}
		for _, c := range srv.Calls(ststest.Call{Action: "AssumeRole", RoleARN: e2eRoleB}) {
			assert.Equal(t, 200, c.Status)
			assert.Equal(t, aliceKey, c.CallerAccessKeyID)
			bIssued[c.IssuedAccessKeyID] = true
		}
		assert.GreaterOrEqual(t, len(bIssued), 3, "B refreshed too")
		for _, c := range srv.Calls(ststest.Call{Action: "AssumeRole", RoleARN: e2eRoleA}) {
			assert.Equal(t, 200, c.Status, "no call was signed with an expired session")
			assert.True(t, bIssued[c.CallerAccessKeyID], "A is signed by a session of B")
		}
		// A sessions issued = A keys seen, or one more when a refresh ahead
		// was under way at the end.
		assert.LessOrEqual(t, len(srv.Calls(ststest.Call{Action: "AssumeRole", RoleARN: e2eRoleA}))-len(seen), 1)
	})
}

func TestE2EMFASessionThenRoleRequiringMFA(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := memServer(t, 0, 0)
		cfg := srv.AWSConfig("alice")

		// Without MFA the role refuses.
		_, err := mustNew(t, cfg, role(e2eAdmin)).Retrieve(context.Background())
		var ae smithy.APIError
		require.ErrorAs(t, err, &ae)
		assert.Equal(t, "AccessDenied", ae.ErrorCode())

		session := mustNew(t, cfg, func(o *stschain.Options) {
			o.Duration = 12 * time.Hour
			o.SerialNumber = aliceMFA
			o.TokenCode = srv.TokenCode
		})
		admin := mustNew(t, cfg, role(e2eAdmin), func(o *stschain.Options) { o.MasterCredentials = session })
		cfg.Credentials = admin
		id, err := sts.NewFromConfig(cfg).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
		require.NoError(t, err)
		assert.Equal(t, "arn:aws:sts::"+account+":assumed-role/Admin/e2e", aws.ToString(id.Arn))

		gst := srv.Calls(ststest.Call{Action: "GetSessionToken"})
		require.Len(t, gst, 1)
		assert.Equal(t, aliceMFA, gst[0].SerialNumber)
		assert.NotEmpty(t, gst[0].TokenCode)
	})
}

func TestE2EMFAOnAssumeRole(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := memServer(t, 0, 0)
		p := mustNew(t, srv.AWSConfig("alice"), role(e2eAdmin), func(o *stschain.Options) {
			o.SerialNumber = aliceMFA
			o.TokenCode = func(ctx context.Context, serial string) (string, error) {
				return totp.GenerateCode(totpKey, srv.Now())
			}
			o.CodeGuard = new(stschain.CodeGuard) // a TOTP code repeats within its step, run after run
		})
		c, err := p.Retrieve(context.Background())
		require.NoError(t, err)
		assert.Equal(t, account, c.AccountID)
	})
}

// A code STS refuses (mistyped) is asked for again: the next one works.
func TestE2ERefusedMFACodeIsAskedForAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := memServer(t, 0, 0)
		var asked int
		p := mustNew(t, srv.AWSConfig("alice"), role(e2eAdmin), func(o *stschain.Options) {
			o.SerialNumber = aliceMFA
			o.TokenCode = func(ctx context.Context, serial string) (string, error) {
				if asked++; asked == 1 {
					return "000000", nil // a typo
				}
				return srv.TokenCode(ctx, serial)
			}
		})
		_, err := p.Retrieve(context.Background())
		require.NoError(t, err)
		assert.Equal(t, 2, asked)
		calls := srv.Calls(ststest.Call{Action: "AssumeRole"})
		require.Len(t, calls, 2)
		assert.Equal(t, "AccessDenied", calls[0].ErrorCode)
		assert.Equal(t, 200, calls[1].Status)
	})
}

// An outage that starts inside the refresh windows and ends before the
// credentials expire is invisible to callers.
func TestE2EOutageInsideWindowsCausesNoErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := memServer(t, 0, 6*time.Second)
		var mu sync.Mutex
		var events []stschain.RefreshEvent
		p := mustNew(t, srv.AWSConfig("alice"), role(e2eRoleB), func(o *stschain.Options) {
			o.DisableJitter = true
			o.OnRefresh = func(ev stschain.RefreshEvent) {
				mu.Lock()
				defer mu.Unlock()
				events = append(events, ev)
			}
			o.STSOptions = []func(*sts.Options){func(o *sts.Options) { o.RetryMaxAttempts = 1 }}
		})
		first, err := p.Retrieve(context.Background())
		require.NoError(t, err)
		srv.FailNext("AssumeRole", 2, 503, "ServiceUnavailable")

		for c := first; c.AccessKeyID == first.AccessKeyID; {
			c, err = p.Retrieve(context.Background())
			require.NoError(t, err, "callers never see the outage")
			require.True(t, time.Now().Before(c.Expires), "callers never get expired credentials")
			time.Sleep(10 * time.Millisecond)
		}
		calls := srv.Calls(ststest.Call{Action: "AssumeRole", RoleARN: e2eRoleB})
		require.Len(t, calls, 4, "the first call, two refused during the outage, one after it")
		assert.Equal(t, []int{200, 503, 503, 200}, []int{calls[0].Status, calls[1].Status, calls[2].Status, calls[3].Status})
		mu.Lock()
		defer mu.Unlock()
		require.Len(t, events, 4)
		assert.Equal(t, stschain.RefreshFailedKept, events[1].Outcome)
		assert.True(t, events[1].Background)
		assert.Equal(t, stschain.RefreshOK, events[3].Outcome)
	})
}

// A middle link that STS no longer accepts, revoked or expired early (the
// server's clock moved on), is recovered: A's call is refused, B is
// invalidated and fetches a new session, and A is retried once with it.
func TestE2EBrokenMiddleLinkRecovers(t *testing.T) {
	for _, tc := range []struct {
		name      string
		code      string
		breakLink func(srv *ststest.Server, bKey string)
	}{
		{"revoked", "InvalidClientTokenId", func(srv *ststest.Server, bKey string) { srv.Revoke(bKey) }},
		{"expired", "ExpiredToken", func(srv *ststest.Server, _ string) { srv.Advance(2 * time.Hour) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := memServer(t, 0, 0)
				cfg := srv.AWSConfig("alice")
				b := mustNew(t, cfg, role(e2eRoleB))
				a := mustNew(t, cfg, role(e2eRoleA), func(o *stschain.Options) { o.MasterCredentials = b })
				_, err := a.Retrieve(context.Background())
				require.NoError(t, err)

				oldB := srv.Calls(ststest.Call{Action: "AssumeRole", RoleARN: e2eRoleB})[0].IssuedAccessKeyID
				tc.breakLink(srv, oldB)
				_, err = a.Refresh(context.Background())
				require.NoError(t, err)

				calls := srv.Calls(ststest.Call{Action: "AssumeRole", RoleARN: e2eRoleA})
				require.Len(t, calls, 3)
				assert.Equal(t, tc.code, calls[1].ErrorCode)
				assert.Equal(t, oldB, calls[1].CallerAccessKeyID)
				newB := srv.Calls(ststest.Call{Action: "AssumeRole", RoleARN: e2eRoleB})[1].IssuedAccessKeyID
				assert.Equal(t, newB, calls[2].CallerAccessKeyID)
				assert.Equal(t, 200, calls[2].Status)
			})
		})
	}
}

func TestE2ERoleChainingFallsBackToOneHour(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := memServer(t, 0, 0)
		cfg := srv.AWSConfig("alice")
		b := mustNew(t, cfg, role(e2eRoleB))
		a := mustNew(t, cfg, role(e2eRoleA), func(o *stschain.Options) {
			o.MasterCredentials = b
			o.Duration = 2 * time.Hour
		})
		c, err := a.Retrieve(context.Background())
		require.NoError(t, err)
		calls := srv.Calls(ststest.Call{Action: "AssumeRole", RoleARN: e2eRoleA})
		require.Len(t, calls, 2)
		assert.Equal(t, "ValidationError", calls[0].ErrorCode)
		assert.Equal(t, []int{7200, 3600}, []int{calls[0].DurationSeconds, calls[1].DurationSeconds})
		assert.WithinDuration(t, srv.Now().Add(time.Hour), c.Expires, 5*time.Second)
	})
}

func TestE2EUnknownRoleNamesTheLink(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := memServer(t, 0, 0)
		cfg := srv.AWSConfig("alice")
		b := mustNew(t, cfg, role("arn:aws:iam::"+account+":role/Nope"))
		a := mustNew(t, cfg, role(e2eRoleA), func(o *stschain.Options) { o.MasterCredentials = b })
		_, err := a.Retrieve(context.Background())
		require.Error(t, err)
		assert.Contains(t, err.Error(), "stschain: "+e2eRoleA+" -> arn:aws:iam::"+account+":role/Nope: AssumeRole: ")
		var ae smithy.APIError
		require.True(t, errors.As(err, &ae))
		assert.Equal(t, "AccessDenied", ae.ErrorCode())
	})
}
