package ingest

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tracekit-oss/tracekit/internal/loadgen"
)

// BenchmarkConvert measures turning a decoded request of `tracekit bench
// ingest`'s shape (500 spans, 6 attributes each) into our spans.
func BenchmarkConvert(b *testing.B) {
	td, _ := loadgen.Traces(rand.New(rand.NewPCG(1, 2)), loadgen.Shape{Batch: 500, Attrs: 6, Services: 5, TraceSize: 5}, time.Now())
	lim := DefaultSpanLimits()
	b.ReportAllocs()
	for b.Loop() {
		if c := convert(td, lim); len(c.spans) != td.SpanCount() {
			b.Fatalf("converted %d spans of %d", len(c.spans), td.SpanCount())
		}
	}
	b.ReportMetric(float64(b.N*td.SpanCount())/b.Elapsed().Seconds(), "spans/s")
}
