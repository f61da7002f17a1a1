package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stschain/stschain/ststest"
)

// benchResult is the best cached-Retrieve round of one provider.
type benchResult struct {
	ns     float64
	allocs float64
}

// benchCached measures Retrieve of each provider's top link on warm
// credentials (roles with STS's default lifetime, far from any refresh
// window), alternating providers for cfg.BenchRounds rounds and keeping
// each one's fastest.
func benchCached(ctx context.Context, srv *ststest.Server, cfg config) (map[string]benchResult, error) {
	tops := map[string]aws.CredentialsProvider{}
	for _, p := range cfg.Providers {
		top, err := newChain(srv, p, cachedRoleB, cachedRoleA, nil)
		if err != nil {
			return nil, err
		}
		if _, err := top.Retrieve(ctx); err != nil {
			return nil, fmt.Errorf("%s: warming up: %w", p, err)
		}
		tops[p] = top
	}
	out := map[string]benchResult{}
	for range cfg.BenchRounds {
		for _, p := range cfg.Providers {
			top := tops[p]
			var failed atomic.Value
			r := testing.Benchmark(func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := top.Retrieve(ctx); err != nil {
						failed.Store(err)
						return
					}
				}
			})
			if err, ok := failed.Load().(error); ok {
				return nil, fmt.Errorf("%s: cached Retrieve: %w", p, err)
			}
			if r.N == 0 {
				return nil, fmt.Errorf("%s: cached Retrieve benchmark did not run", p)
			}
			ns := float64(r.T.Nanoseconds()) / float64(r.N)
			allocs := float64(r.MemAllocs) / float64(r.N)
			if best, ok := out[p]; !ok || ns < best.ns {
				out[p] = benchResult{ns: ns, allocs: max(allocs, best.allocs)}
			} else {
				best.allocs = max(best.allocs, allocs)
				out[p] = best
			}
		}
	}
	return out, nil
}
