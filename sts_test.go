package stschain

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestThreeLinkChainSignsEachLinkWithTheOneBelow(t *testing.T) {
	fc := newFakeSTS("C", time.Hour)
	fb := newFakeSTS("B", time.Hour)
	fa := newFakeSTS("A", time.Hour)
	c := newFake(t, fc, staticMaster("alice"))
	b := newFake(t, fb, c, withRole(roleB))
	a := newFake(t, fa, b, withRole(roleA))

	creds, err := a.Retrieve(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "ASIAA1", creds.AccessKeyID)
	assert.Equal(t, "AKIAalice", fc.Calls()[0].signedBy)
	assert.Equal(t, "ASIAC1", fb.Calls()[0].signedBy)
	assert.Equal(t, "ASIAB1", fa.Calls()[0].signedBy)
	assert.Equal(t, "GetSessionToken", fc.Calls()[0].action)
}

func TestFailedCallNamesLinkAndIsNotCached(t *testing.T) {
	for _, tc := range []struct {
		name string
		role string
		op   string
	}{
		{"AssumeRole", roleA, "AssumeRole"},
		{"GetSessionToken", "", "GetSessionToken"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeSTS("A", time.Hour)
			f.failNext(apiError("AccessDenied", "not authorized"))
			p := newFake(t, f, staticMaster("alice"), withRole(tc.role))

			_, err := p.Retrieve(context.Background())
			require.Error(t, err)
			link := tc.role
			if link == "" {
				link = GetSessionTokenLink
			}
			assert.Contains(t, err.Error(), link)
			assert.Contains(t, err.Error(), tc.op)
			assert.True(t, strings.HasPrefix(err.Error(), "stschain: "), err.Error())
			var ae smithy.APIError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, "AccessDenied", ae.ErrorCode())

			c, err := p.Retrieve(context.Background())
			require.NoError(t, err, "the next Retrieve tries again")
			assert.Equal(t, "ASIAA2", c.AccessKeyID)
		})
	}
}

func TestReturnedCredentialsDescribeThemselves(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeSTS("A", time.Hour)
		role := newFake(t, f, staticMaster("alice"), withRole(roleA))
		c, err := role.Retrieve(context.Background())
		require.NoError(t, err)
		assert.True(t, c.CanExpire)
		assert.Equal(t, time.Now().Add(time.Hour), c.Expires)
		assert.Equal(t, ProviderName, c.Source)
		assert.Equal(t, "123456789012", c.AccountID)

		gst := newFake(t, newFakeSTS("S", time.Hour), staticMaster("alice"))
		c, err = gst.Retrieve(context.Background())
		require.NoError(t, err)
		assert.True(t, c.CanExpire)
		assert.Equal(t, ProviderName, c.Source)
		assert.Empty(t, c.AccountID, "GetSessionToken does not tell the account")
	})
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
			assert.Equal(t, "ASIAA2", c.AccessKeyID)
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
		assert.Equal(t, "ASIAA3", c.AccessKeyID)
		assert.Equal(t, "ASIAB2", fa.Calls()[2].signedBy, "B fetched a new session for the retry")
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

var errBoom = errors.New("boom")

func TestMasterFailureIsWrapped(t *testing.T) {
	f := newFakeSTS("A", time.Hour)
	p := newFake(t, f, errProvider{errBoom}, withRole(roleA))
	_, err := p.Retrieve(context.Background())
	require.ErrorIs(t, err, errBoom)
	assert.Contains(t, err.Error(), roleA)
	assert.Contains(t, err.Error(), "master credentials")
	assert.Zero(t, f.count())
}

func TestAssumeRoleSendsEveryOptionSet(t *testing.T) {
	var got *sts.AssumeRoleInput
	f := newFakeSTS("A", time.Hour)
	f.inspect = func(in any) { got = in.(*sts.AssumeRoleInput) }
	codes := 0
	p := newFake(t, f, staticMaster("alice"), func(o *Options) {
		*o = Options{
			RoleARN: roleA, RoleSessionName: "deploy", Duration: 2 * time.Hour, ExternalID: "ext-1",
			Policy: `{"Version":"2012-10-17"}`, PolicyARNs: []string{"arn:aws:iam::aws:policy/ReadOnlyAccess"},
			Tags: map[string]string{"team": "core", "env": "prod"}, TransitiveTagKeys: []string{"team"},
			SourceIdentity: "alice", SerialNumber: deviceOf(t),
			TokenCode: func(_ context.Context, serial string) (string, error) {
				codes++
				return fmt.Sprintf("%06d", codes), nil
			},
			Client: f, MasterCredentials: staticMaster("alice"),
		}
	})
	_, err := p.Retrieve(context.Background())
	require.NoError(t, err)
	want := &sts.AssumeRoleInput{
		RoleArn: aws.String(roleA), RoleSessionName: aws.String("deploy"), DurationSeconds: aws.Int32(7200),
		ExternalId: aws.String("ext-1"), Policy: aws.String(`{"Version":"2012-10-17"}`),
		PolicyArns:        []types.PolicyDescriptorType{{Arn: aws.String("arn:aws:iam::aws:policy/ReadOnlyAccess")}},
		Tags:              []types.Tag{{Key: aws.String("env"), Value: aws.String("prod")}, {Key: aws.String("team"), Value: aws.String("core")}},
		TransitiveTagKeys: []string{"team"}, SourceIdentity: aws.String("alice"),
		SerialNumber: aws.String(deviceOf(t)), TokenCode: aws.String("000001"),
	}
	assert.Equal(t, want, got)
}

func TestMinimalInputs(t *testing.T) {
	t.Run("AssumeRole generates a valid session name and leaves the duration to STS", func(t *testing.T) {
		f := newFakeSTS("A", time.Hour)
		var got *sts.AssumeRoleInput
		f.inspect = func(in any) { got = in.(*sts.AssumeRoleInput) }
		_, err := newFake(t, f, staticMaster("alice"), withRole(roleA)).Retrieve(context.Background())
		require.NoError(t, err)
		assert.Regexp(t, sessionNameRe, aws.ToString(got.RoleSessionName))
		assert.Nil(t, got.DurationSeconds)
		assert.Nil(t, got.SerialNumber)
		assert.Nil(t, got.TokenCode)
		assert.Nil(t, got.ExternalId)
	})
	t.Run("GetSessionToken sends Duration, SerialNumber and TokenCode only", func(t *testing.T) {
		f := newFakeSTS("S", time.Hour)
		var got *sts.GetSessionTokenInput
		f.inspect = func(in any) { got = in.(*sts.GetSessionTokenInput) }
		_, err := newFake(t, f, staticMaster("alice"), func(o *Options) {
			o.Duration = 36 * time.Hour
			o.SerialNumber = deviceOf(t)
			o.TokenCode = fixedCode
		}).Retrieve(context.Background())
		require.NoError(t, err)
		assert.Equal(t, &sts.GetSessionTokenInput{
			DurationSeconds: aws.Int32(36 * 3600), SerialNumber: aws.String(deviceOf(t)), TokenCode: aws.String("123456"),
		}, got)
	})
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

// An STS answer that lacks a part, or expires at once, is an error that
// says what was missing, and nothing of it is kept or cached.
func TestMalformedAnswersAreErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mangle func(*types.Credentials) *types.Credentials
		want   string
	}{
		{"no credentials", func(*types.Credentials) *types.Credentials { return nil }, "no Credentials"},
		{"empty access key", func(c *types.Credentials) *types.Credentials { c.AccessKeyId = aws.String(""); return c }, "Credentials has no AccessKeyId"},
		{"no secret key", func(c *types.Credentials) *types.Credentials { c.SecretAccessKey = nil; return c }, "Credentials has no SecretAccessKey"},
		{"no session token", func(c *types.Credentials) *types.Credentials { c.SessionToken = aws.String(""); return c }, "Credentials has no SessionToken"},
		{"no expiration", func(c *types.Credentials) *types.Credentials { c.Expiration = nil; return c }, "Credentials has no Expiration"},
		{"zero expiration", func(c *types.Credentials) *types.Credentials { c.Expiration = &time.Time{}; return c }, "Credentials has no Expiration"},
		{"past expiration", func(c *types.Credentials) *types.Credentials {
			c.Expiration = aws.Time(time.Now().Add(-time.Minute))
			return c
		}, "expired at"},
		{"all of it", func(c *types.Credentials) *types.Credentials { return &types.Credentials{} }, "Credentials has no AccessKeyId, SecretAccessKey, SessionToken, Expiration"},
	} {
		for _, role := range []string{roleA, ""} {
			t.Run(tc.name+"/"+linkName(role), func(t *testing.T) {
				cache := newMemCache()
				f := newFakeSTS("A", time.Hour)
				f.mangle = tc.mangle
				p := newFake(t, f, staticMaster("alice"), withRole(role), withCache(cache))
				_, err := p.Retrieve(context.Background())
				require.ErrorIs(t, err, ErrMalformedResponse)
				assert.ErrorContains(t, err, tc.want)
				assert.ErrorContains(t, err, "stschain: "+linkName(role)+": ")
				assert.Empty(t, cache.stores, "nothing is cached")
				f.mangle = nil
				c, err := p.Retrieve(context.Background())
				require.NoError(t, err, "nothing was kept: the next Retrieve calls STS")
				assert.True(t, c.HasKeys())
				assert.Equal(t, 2, f.count())
			})
		}
	}
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
