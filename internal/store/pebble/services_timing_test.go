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
)

// BenchmarkFindTracesAnyService measures a search naming no service (the
// trace list's first page: last hour, limit 20) over 102,400 spans of the
// last hour spread evenly over N services. Its cost must not grow with N:
// it walks the project index, not one iterator per service.
func BenchmarkFindTracesAnyService(b *testing.B) {
	for _, n := range []int{10, 1_000, 20_000} {
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			now := time.Now()
			st, err := pebble.Open(b.TempDir(), pebble.Options{Now: func() time.Time { return now }, MaxServices: n})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			r := rand.New(rand.NewPCG(1, 2))
			res := loadgen.Resources(n)
			const batches, batch = 200, 512
			for i := 0; i < batches; i++ {
				spans := loadgen.Spans(r, loadgen.Shape{Batch: batch}, now.Add(-time.Duration(batches-i)*18*time.Second), res)
				for j := range spans {
					spans[j].Resource = res[(i*batch+j)%n]
				}
				if err := st.WriteSpans(context.Background(), "bench", spans); err != nil {
					b.Fatal(err)
				}
			}
			if got, err := st.Services(context.Background(), "bench"); err != nil || len(got) != n {
				b.Fatalf("Services = %d, %v; want %d", len(got), err, n)
			}
			q := store.TraceQuery{Start: now.Add(-time.Hour), End: now, Limit: 20}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				got, err := st.FindTraces(context.Background(), "bench", q)
				if err != nil {
					b.Fatal(err)
				}
				if len(got) != q.Limit {
					b.Fatalf("found %d traces, want %d", len(got), q.Limit)
				}
			}
		})
	}
}
