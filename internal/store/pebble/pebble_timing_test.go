package pebble_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tracekit-oss/tracekit/internal/loadgen"
	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/store/pebble"
)

// BenchmarkWriteSpans measures appending batches of 512 spans with 10
// attributes each, the shape `tracekit bench ingest` sends.
func BenchmarkWriteSpans(b *testing.B) {
	st, err := pebble.Open(b.TempDir(), pebble.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	r := rand.New(rand.NewPCG(1, 2))
	res := loadgen.Resources(5)
	spans := loadgen.Spans(r, loadgen.Shape{Batch: 512}, time.Now(), res)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range spans {
			spans[j].TraceID[0] = byte(i)
			spans[j].TraceID[1] = byte(i >> 8)
		}
		if err := st.WriteSpans(context.Background(), "bench", spans); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(spans))/b.Elapsed().Seconds(), "spans/s")
}

// BenchmarkFindTraces measures a service + attribute search over 200,000
// stored spans in a one-hour window.
func BenchmarkFindTraces(b *testing.B) {
	st, err := pebble.Open(b.TempDir(), pebble.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	r := rand.New(rand.NewPCG(1, 2))
	res := loadgen.Resources(5)
	now := time.Now()
	for i := 0; i < 400; i++ {
		spans := loadgen.Spans(r, loadgen.Shape{Batch: 512}, now.Add(-time.Duration(400-i)*9*time.Second), res)
		if err := st.WriteSpans(context.Background(), "bench", spans); err != nil {
			b.Fatal(err)
		}
	}
	q := store.TraceQuery{Service: "service-1", Start: now.Add(-time.Hour), End: now, Limit: 20,
		Attributes: []store.AttributeFilter{{Key: "tenant.id", Value: "tenant-7"}}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := st.FindTraces(context.Background(), "bench", q); err != nil {
			b.Fatal(err)
		}
	}
}
