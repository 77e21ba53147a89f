package store

import (
	"math"
	"sync"
	"time"
)

// Quantiles returns the nearest-rank estimates of the quantiles qs (each in
// [0, 1]), in the order given, as DurationSketch.Quantiles does; it walks
// the array, so reading many sums (a chart's buckets) builds no map.
func (s *DenseSketch) Quantiles(qs ...float64) []time.Duration {
	out := make([]time.Duration, len(qs))
	s.ReadQuantiles(out, qs...)
	return out
}

// ReadQuantiles sets out[i] to the estimate of the quantile qs[i], as
// Quantiles returns it, without allocating. Quantiles asked for in
// ascending order are read in one walk of the array.
func (s *DenseSketch) ReadQuantiles(out []time.Duration, qs ...float64) {
	// seen counts the durations up to bucket j, the zero ones included.
	j, seen := 0, s.zero
	for i, q := range qs {
		out[i] = 0
		if s.n <= 0 {
			continue
		}
		if i > 0 && q < qs[i-1] {
			j, seen = 0, s.zero
		}
		rank := max(1, min(int64(math.Ceil(q*float64(s.n))), s.n))
		if rank <= s.zero {
			continue
		}
		// Skip four buckets at a time while none is negative (so that
		// none of their sums reaches rank before the last), then one.
		for c := s.counts; j+4 <= len(c); j += 4 {
			c0, c1, c2, c3 := c[j], c[j+1], c[j+2], c[j+3]
			sum := c0 + c1 + c2 + c3
			if c0|c1|c2|c3 < 0 || seen+sum >= rank {
				break
			}
			seen += sum
		}
		for ; j < len(s.counts); j++ {
			if seen+s.counts[j] >= rank {
				out[i] = bucketValue(s.lo + int32(j))
				break
			}
			seen += s.counts[j]
		}
	}
}

// Reset empties the sketch but keeps its array's capacity, so that summing
// sketches after it allocates nothing once the array has grown to hold
// their buckets; a sum's array then covers its own buckets only, and
// reading its quantiles walks those.
func (s *DenseSketch) Reset() {
	s.counts = s.counts[:0]
	s.zero, s.n, s.lo = 0, 0, 0
}

// bucketValue is the estimate of the durations in bucket k, which holds
// (gamma^(k-1), gamma^k]: its centre by relative error, 2*gamma^k/(gamma+1).
// It is read from a table: a chart reads three per bucket it draws.
func bucketValue(k int32) time.Duration {
	if t := bucketValues(); k >= 0 && int(k) < len(t) {
		return t[k]
	}
	return computeBucketValue(k)
}

// bucketValues holds bucketValue of every bucket a duration can fall in,
// computed once when first read.
var bucketValues = sync.OnceValue(func() []time.Duration {
	t := make([]time.Duration, maxSketchIndex+1)
	for k := range t {
		t[k] = computeBucketValue(int32(k))
	}
	return t
})

func computeBucketValue(k int32) time.Duration {
	return time.Duration(math.Round(2 * math.Pow(sketchGamma, float64(k)) / (sketchGamma + 1)))
}
