package stschain

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain/ststest"
)

// An STS answer's Expiration is moved onto the host's clock by the skew
// its Date header shows, and only then: by the upper end of what the
// header allows (a second more), so that no correction makes credentials
// outlive their real expiry.
func TestExpirationOnTheHostClock(t *testing.T) {
	for _, tc := range []struct {
		name   string
		offset time.Duration // STS's clock minus the host's
		want   time.Duration // the credentials' life on the host's clock
	}{
		{"clocks agree", 0, time.Hour},
		{"host behind", 10 * time.Minute, time.Hour - time.Second},
		{"host ahead", -2 * time.Hour, time.Hour - time.Second},
		{"host a little behind", 3 * time.Second, time.Hour - time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := memSTS(t, ststest.Role{ARN: roleA})
				srv.SetClockOffset(tc.offset)
				p, err := New(srv.AWSConfig("alice"), withRole(roleA))
				require.NoError(t, err)
				c, err := p.Retrieve(context.Background())
				require.NoError(t, err)
				assert.Equal(t, tc.want, time.Until(c.Expires))
			})
		})
	}
}

// stsAccepts reports whether STS takes c: whether a call signed with them
// succeeds.
func stsAccepts(t *testing.T, srv *ststest.Server, c aws.Credentials) bool {
	cfg := srv.AWSConfig("alice")
	cfg.Credentials = credentials.StaticCredentialsProvider{Value: c}
	_, err := sts.NewFromConfig(cfg).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	return err == nil
}

// A host clock 10 minutes behind STS's: the provider never hands out
// credentials STS has expired (it used to, for the last 9 minutes of each
// session), and replaces them in their advisory window on STS's clock.
func TestHostClockBehindSTS(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := memSTS(t, ststest.Role{ARN: roleA, MaxSessionDuration: 12 * time.Hour})
		srv.SetClockOffset(10 * time.Minute)
		p, err := New(srv.AWSConfig("alice"), withRole(roleA), func(o *Options) {
			o.Duration, o.DisableJitter = 3*time.Hour, true
		})
		require.NoError(t, err)
		refused := 0
		for range 7 * 60 { // seven hours, a call a minute
			c, err := p.Retrieve(context.Background())
			require.NoError(t, err)
			if !stsAccepts(t, srv, c) {
				refused++
			}
			time.Sleep(time.Minute)
		}
		assert.Zero(t, refused, "credentials handed out that STS refused")
		// A session every two hours: three, less their 60-minute advisory
		// window, on STS's clock.
		assert.Len(t, srv.Calls(ststest.Call{Action: "AssumeRole"}), 4)
	})
}

// A host clock two hours ahead of STS's, more than a session: every
// answer used to arrive expired, and every Retrieve failed with an STS
// call. On the host's clock they live their hour.
func TestHostClockAheadOfSTS(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := memSTS(t, ststest.Role{ARN: roleA})
		srv.SetClockOffset(-2 * time.Hour)
		p, err := New(srv.AWSConfig("alice"), withRole(roleA), func(o *Options) { o.DisableJitter = true })
		require.NoError(t, err)
		for range 30 {
			c, err := p.Retrieve(context.Background())
			require.NoError(t, err)
			assert.True(t, stsAccepts(t, srv, c))
			time.Sleep(time.Minute)
		}
		assert.Len(t, srv.Calls(ststest.Call{Action: "AssumeRole"}), 1)
	})
}
