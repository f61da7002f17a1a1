package stschain

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func customerRole(i int) string { return fmt.Sprintf("arn:aws:iam::123456789012:role/customer-%d", i) }

func newTestPool(t *testing.T, f *fakeSTS, fns ...func(*PoolOptions)) *Pool {
	t.Helper()
	p, err := NewPool(aws.Config{Credentials: staticMaster("hub")}, append([]func(*PoolOptions){func(po *PoolOptions) {
		po.Options = []func(*Options){func(o *Options) { o.Client = f; o.DisableJitter = true }}
	}}, fns...)...)
	require.NoError(t, err)
	return p
}

func get(t *testing.T, p *Pool, fns ...func(*Options)) *ChainableProvider {
	t.Helper()
	c, err := p.Get(fns...)
	require.NoError(t, err)
	return c
}

func TestPoolGetReturnsOneProviderPerSessionAndMaster(t *testing.T) {
	f := newFakeSTS("C", 0)
	p := newTestPool(t, f)
	ext := func(id string) func(*Options) { return func(o *Options) { o.ExternalID = id } }
	a := get(t, p, withRole(roleA), ext("customer-a"))
	assert.Same(t, a, get(t, p, withRole(roleA), ext("customer-a")), "the same parameters, the same provider")
	assert.NotSame(t, a, get(t, p, withRole(roleA), ext("customer-b")), "another external ID")
	assert.NotSame(t, a, get(t, p, withRole(roleB), ext("customer-a")), "another role")
	hub := newFake(t, newFakeSTS("H", 0), staticMaster("alice"), withRole(roleB))
	viaHub := get(t, p, withRole(roleA), ext("customer-a"), func(o *Options) { o.MasterCredentials = hub })
	assert.NotSame(t, a, viaHub, "another master")
	assert.Same(t, viaHub, get(t, p, withRole(roleA), ext("customer-a"), func(o *Options) { o.MasterCredentials = hub }))
	// StaticCredentialsProvider values cannot be compared with ==.
	static := func(o *Options) { o.MasterCredentials = credentials.NewStaticCredentialsProvider("AKIAX", "s", "") }
	assert.Same(t, get(t, p, withRole(roleA), static), get(t, p, withRole(roleA), static))
	tags := func(o *Options) { o.Tags = map[string]string{"team": "blue", "env": "prod"} }
	assert.Same(t, get(t, p, withRole(roleA), tags), get(t, p, withRole(roleA), tags))
	assert.Equal(t, 6, p.Len())

	assert.Same(t, a.Client(), viaHub.Client(), "one STS client for the pool")
	assert.Same(t, f, a.Client())
}

func TestPoolGetValidatesAsNewDoes(t *testing.T) {
	p := newTestPool(t, newFakeSTS("C", 0))
	_, err := p.Get(withRole("arn:aws:iam::bad"))
	require.ErrorIs(t, err, ErrInvalidOptions)
	assert.ErrorContains(t, err, "is not an IAM role ARN")
	_, err = p.Get(withRole(roleA), func(o *Options) { o.Client = newFakeSTS("X", 0) })
	require.ErrorIs(t, err, ErrInvalidOptions)
	assert.ErrorContains(t, err, "belong to the pool")
	noMaster, err := NewPool(aws.Config{})
	require.NoError(t, err)
	_, err = noMaster.Get(withRole(roleA))
	assert.ErrorIs(t, err, ErrNoMasterCredentials)

	for _, bad := range []func(*PoolOptions){
		func(po *PoolOptions) { po.MaxConcurrentRefreshes = -1 },
		func(po *PoolOptions) { po.MaxCallsPerSecond = -1 },
		func(po *PoolOptions) {
			po.Options = []func(*Options){func(o *Options) { o.ExpiryWindow = -1 }}
		},
	} {
		_, err := NewPool(aws.Config{}, bad)
		assert.ErrorIs(t, err, ErrInvalidOptions)
	}
}

func TestPoolDropsIdleProviders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeSTS("C", time.Hour)
		p := newTestPool(t, f, func(po *PoolOptions) { po.IdleTimeout = time.Hour })
		idle := get(t, p, withRole(roleA))
		busy := get(t, p, withRole(roleB))
		_, err := idle.Retrieve(context.Background())
		require.NoError(t, err)
		for range 3 * 60 {
			_, err := busy.Retrieve(context.Background())
			require.NoError(t, err)
			time.Sleep(time.Minute)
		}
		assert.Equal(t, 1, p.Len(), "the provider nobody asked for is gone")
		assert.Same(t, busy, get(t, p, withRole(roleB)))
		assert.NotSame(t, idle, get(t, p, withRole(roleA)), "a later Get makes a new one")
		calls := f.count()
		_, err = idle.Retrieve(context.Background()) // a dropped provider still works when asked
		require.NoError(t, err)
		assert.Equal(t, calls+1, f.count())
	})
}

// The client NewPool builds keeps an idle connection for each call that
// may be in flight, and no more.
func TestPoolKeepsAnIdleConnectionPerConcurrentCall(t *testing.T) {
	for _, tc := range []struct {
		concurrent, want int
		httpClient       aws.HTTPClient
	}{
		{0, DefaultMaxConcurrentRefreshes, nil},
		{4, 4, nil}, // fewer than the SDK's default of 10 per host
		{64, 64, awshttp.NewBuildableClient()},
	} {
		p, err := NewPool(aws.Config{HTTPClient: tc.httpClient}, func(po *PoolOptions) { po.MaxConcurrentRefreshes = tc.concurrent })
		require.NoError(t, err)
		client := p.impl.Load().client.(*sts.Client).Options().HTTPClient.(*awshttp.BuildableClient)
		tr := client.GetTransport()
		assert.Equal(t, tc.want, tr.MaxIdleConnsPerHost, "MaxConcurrentRefreshes %d", tc.concurrent)
		assert.Equal(t, tc.want, tr.MaxIdleConns, "MaxConcurrentRefreshes %d", tc.concurrent)
	}
}
