package pebble_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tracekit-oss/tracekit/internal/loadgen"
	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/store/pebble"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// BenchmarkFindTracesHot searches the newest 20 traces of a service in a
// store whose benchSpans spans (10 million with TRACEKIT_BENCH_FULL=1) all
// started in the last minute, the shape of a busy service's fresh data
// (issue 15 asks p99 ≤ 20 ms with 3 M): by service only, with a common
// attribute (1 span in 50) and with a rare one (1 in 100,000, which reads
// every block of the service); and a trace by ID. `tracekit bench query --shape hot` measures
// the same while spans keep arriving.
func BenchmarkFindTracesHot(b *testing.B) {
	now := time.Now()
	st, err := pebble.Open(b.TempDir(), pebble.Options{Now: func() time.Time { return now }, NoServiceMap: true, NoSeries: true})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	r := rand.New(rand.NewPCG(1, 2))
	res := loadgen.Resources(5)
	const batch = 512
	n := benchSpans(b) / batch
	var ids []telemetry.TraceID
	for i := range n {
		end := now.Add(-time.Minute + time.Duration(i+1)*time.Minute/time.Duration(n))
		spans := loadgen.Spans(r, loadgen.Shape{Batch: batch, TraceSize: 5, Attrs: 6}, end, res)
		if err := st.WriteSpans(context.Background(), "bench", spans); err != nil {
			b.Fatal(err)
		}
		ids = append(ids, spans[r.IntN(len(spans))].TraceID)
	}
	b.Run("trace-by-id", func(b *testing.B) {
		r := rand.New(rand.NewPCG(3, 4))
		var lat []time.Duration
		b.ReportAllocs()
		for b.Loop() {
			id := ids[r.IntN(len(ids))]
			t0 := time.Now()
			if _, err := st.Trace(context.Background(), "bench", id); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
		}
		reportLatency(b, lat)
	})
	for _, c := range []struct {
		name string
		attr func(*rand.Rand) []store.AttributeFilter
	}{
		{"service", func(*rand.Rand) []store.AttributeFilter { return nil }},
		{"service+tenant", func(r *rand.Rand) []store.AttributeFilter {
			return []store.AttributeFilter{{Key: "tenant.id", Value: fmt.Sprintf("tenant-%d", r.IntN(50))}}
		}},
		{"service+user", func(r *rand.Rand) []store.AttributeFilter {
			return []store.AttributeFilter{{Key: "user.id", Value: fmt.Sprintf("user-%d", r.IntN(100000))}}
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			r := rand.New(rand.NewPCG(3, 4))
			var lat []time.Duration
			b.ReportAllocs()
			for b.Loop() {
				q := store.TraceQuery{Service: fmt.Sprintf("service-%d", r.IntN(5)), Limit: 20, Attributes: c.attr(r)}
				t0 := time.Now()
				if _, err := st.FindTraces(context.Background(), "bench", q); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
			}
			reportLatency(b, lat)
		})
	}
}
