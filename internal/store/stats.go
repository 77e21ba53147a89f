package store

import (
	"context"
	"math"
	"slices"
	"time"

	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// OperationStats sums up spans over a time range: those of one operation of
// one service, or, when Operation is "", the service's entry spans (spans
// of server or consumer kind, and root spans), which stand for the requests
// the service handled.
type OperationStats struct {
	Service   string
	Operation string
	// Kind is the operation's span kind (unspecified for a service row).
	Kind   telemetry.SpanKind
	Count  int64
	Errors int64
	// P50, P95 and P99 are nearest-rank percentiles of the spans' durations,
	// exact or within 1% (backends may use a sketch).
	P50, P95, P99 time.Duration
}

// SpanStatsReader computes request rate, error rate and latency
// percentiles. It is optional: callers find it by type assertion.
type SpanStatsReader interface {
	// OperationStats covers every span of the project whose start lies in
	// [start, end]: one row per service and operation, and one per service
	// (Operation ""), sorted by service, then operation.
	OperationStats(ctx context.Context, project string, start, end time.Time) ([]OperationStats, error)
}

// sketchGamma is the ratio between neighbouring buckets of a
// DurationSketch: estimates are within (gamma-1)/(gamma+1), about 0.5%.
const sketchGamma = 1.01

var logGamma = math.Log(sketchGamma)

// DurationSketch estimates percentiles of durations in constant memory per
// distinct magnitude (a DDSketch with logarithmic buckets). The zero value
// is ready to use.
type DurationSketch struct {
	zero   int64
	counts map[int32]int64
	n      int64
}

// Add records one duration.
func (s *DurationSketch) Add(d time.Duration) { s.AddN(d, 1) }

// Count returns how many durations were added.
func (s *DurationSketch) Count() int64 { return s.n }

// Quantiles returns the nearest-rank estimates of the quantiles qs (each in
// [0, 1]), in the order given.
func (s *DurationSketch) Quantiles(qs ...float64) []time.Duration {
	out := make([]time.Duration, len(qs))
	if s.n == 0 {
		return out
	}
	keys := make([]int32, 0, len(s.counts))
	for k := range s.counts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, q := range qs {
		rank := int64(math.Ceil(q * float64(s.n)))
		rank = max(1, min(rank, s.n))
		seen := s.zero
		if rank <= seen {
			continue
		}
		for _, k := range keys {
			seen += s.counts[k]
			if seen >= rank {
				out[i] = bucketValue(k)
				break
			}
		}
	}
	return out
}
