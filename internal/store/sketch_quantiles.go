package store

import (
	"math"
	"time"
)

// Quantiles returns the nearest-rank estimates of the quantiles qs (each in
// [0, 1]), in the order given, as DurationSketch.Quantiles does; it walks
// the array, so reading many sums (a chart's buckets) builds no map.
func (s *DenseSketch) Quantiles(qs ...float64) []time.Duration {
	out := make([]time.Duration, len(qs))
	if s.n <= 0 {
		return out
	}
	for i, q := range qs {
		rank := max(1, min(int64(math.Ceil(q*float64(s.n))), s.n))
		seen := s.zero
		if rank <= seen {
			continue
		}
		for j, c := range s.counts {
			if seen += c; seen >= rank {
				out[i] = bucketValue(s.lo + int32(j))
				break
			}
		}
	}
	return out
}

// Reset empties the sketch but keeps the range of buckets it has seen, so
// that summing sketches of similar durations after it neither allocates
// nor grows the array; an array larger than the buckets of every duration
// (about 3,000) is dropped.
func (s *DenseSketch) Reset() {
	if cap(s.counts) > 4096 {
		s.counts, s.lo = nil, 0
	}
	clear(s.counts)
	s.zero, s.n = 0, 0
}

// bucketValue is the estimate of the durations in bucket k, which holds
// (gamma^(k-1), gamma^k]: its centre by relative error, 2*gamma^k/(gamma+1).
func bucketValue(k int32) time.Duration {
	return time.Duration(math.Round(2 * math.Pow(sketchGamma, float64(k)) / (sketchGamma + 1)))
}
