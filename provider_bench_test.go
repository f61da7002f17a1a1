package stschain

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"

	"github.com/stschain/stschain/internal/metricstest"
)

// BenchmarkCachedRetrieve compares the cached Retrieve of a ChainableProvider
// with the SDK's aws.CredentialsCache around stscreds.AssumeRoleProvider, on
// the same fake STS client, and with a MeterProvider, which a cached
// Retrieve never reaches.
func BenchmarkCachedRetrieve(b *testing.B) {
	ours, err := New(aws.Config{}, func(o *Options) {
		o.RoleARN = roleA
		o.Client = newFakeSTS("A", time.Hour)
		o.MasterCredentials = staticMaster("alice")
	})
	if err != nil {
		b.Fatal(err)
	}
	metered, err := New(aws.Config{}, func(o *Options) {
		o.RoleARN = roleA
		o.Client = newFakeSTS("A", time.Hour)
		o.MasterCredentials = staticMaster("alice")
		o.MeterProvider = &metricstest.Provider{}
	})
	if err != nil {
		b.Fatal(err)
	}
	sdk := aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(newFakeSTS("A", time.Hour), roleA),
		func(o *aws.CredentialsCacheOptions) { o.ExpiryWindow = DefaultExpiryWindow })

	for _, bc := range []struct {
		name string
		p    aws.CredentialsProvider
	}{{"provider=stschain", ours}, {"provider=stschain-metered", metered}, {"provider=sdk", sdk}} {
		ctx := context.Background()
		if _, err := bc.p.Retrieve(ctx); err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.p.Retrieve(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(bc.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := bc.p.Retrieve(ctx); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
