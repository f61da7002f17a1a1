package main

import (
	"math/bits"
	"time"
)

// histogram counts durations in log-linear buckets: 16 buckets per power of
// two, so a percentile read from it is at most 1/16 (6.25 %) above the true
// value. It is not safe for concurrent use; each caller goroutine owns one
// per phase, and they are merged at the end.
type histogram struct {
	counts [histBuckets]uint64
	n      uint64
	max    time.Duration
}

const (
	histSubBits = 4
	histSub     = 1 << histSubBits
	histBuckets = (64 - histSubBits + 1) * histSub
)

func bucketOf(d time.Duration) int {
	v := uint64(max(d, 0))
	if v < histSub {
		return int(v)
	}
	msb := bits.Len64(v) - 1 // >= histSubBits
	sub := (v >> (msb - histSubBits)) & (histSub - 1)
	return (msb-histSubBits+1)*histSub + int(sub)
}

// upperBound is the largest duration that falls in bucket i.
func upperBound(i int) time.Duration {
	if i < histSub {
		return time.Duration(i)
	}
	msb := i/histSub + histSubBits - 1
	sub := uint64(i % histSub)
	lo := (histSub + sub) << (msb - histSubBits)
	return time.Duration(lo + 1<<(msb-histSubBits) - 1)
}

func (h *histogram) record(d time.Duration) {
	h.counts[bucketOf(d)]++
	h.n++
	if d > h.max {
		h.max = d
	}
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// quantile returns the upper bound of the bucket holding the q-quantile
// (0 < q <= 1), capped at the exact maximum.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q * float64(h.n))
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(upperBound(i), h.max)
		}
	}
	return h.max
}
