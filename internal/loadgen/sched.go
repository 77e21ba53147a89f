package loadgen

import (
	"fmt"
	"math"
	"runtime/metrics"
	"time"
)

// schedLatencies reads the runtime's histogram of how long goroutines
// waited, runnable, for a CPU. The difference of two readings tells whether
// a query's tail was spent searching or waiting for its turn.
const schedLatencies = "/sched/latencies:seconds"

type schedSample struct{ h *metrics.Float64Histogram }

func readSched() schedSample {
	s := []metrics.Sample{{Name: schedLatencies}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64Histogram {
		return schedSample{}
	}
	h := s[0].Value.Float64Histogram()
	return schedSample{h: &metrics.Float64Histogram{Counts: append([]uint64(nil), h.Counts...), Buckets: h.Buckets}}
}

// SchedWait summarizes scheduling latency over an interval: the quantiles
// of the time a goroutine that became runnable waited to run.
type SchedWait struct {
	Count         uint64
	P50, P99, Max time.Duration // upper bounds of the histogram buckets
}

// since returns the waits between an earlier reading and s.
func (s schedSample) since(earlier schedSample) SchedWait {
	if s.h == nil || earlier.h == nil || len(s.h.Counts) != len(earlier.h.Counts) {
		return SchedWait{}
	}
	counts := make([]uint64, len(s.h.Counts))
	var total uint64
	for i := range counts {
		counts[i] = s.h.Counts[i] - earlier.h.Counts[i]
		total += counts[i]
	}
	w := SchedWait{Count: total}
	if total == 0 {
		return w
	}
	bound := func(i int) time.Duration {
		ub := s.h.Buckets[i+1]
		if math.IsInf(ub, 1) {
			ub = s.h.Buckets[i]
		}
		return time.Duration(ub * float64(time.Second))
	}
	var seen uint64
	for i, c := range counts {
		if c == 0 {
			continue
		}
		seen += c
		if w.P50 == 0 && seen*2 >= total {
			w.P50 = bound(i)
		}
		if w.P99 == 0 && seen*100 >= total*99 {
			w.P99 = bound(i)
		}
		w.Max = bound(i)
	}
	return w
}

func (w SchedWait) String() string {
	r := func(d time.Duration) time.Duration { return d.Round(time.Microsecond) }
	return fmt.Sprintf("p50 %s  p99 %s  max %s (%d waits)", r(w.P50), r(w.P99), r(w.Max), w.Count)
}
