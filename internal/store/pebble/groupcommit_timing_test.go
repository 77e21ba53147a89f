package pebble_test

import (
	"context"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tracekit-oss/tracekit/internal/loadgen"
	"github.com/tracekit-oss/tracekit/internal/store/pebble"
)

// BenchmarkWriteSpansSyncParallel measures appending batches of 500 spans
// with 6 attributes from 4 writers at once, every write fsynced, as
// `tracekit server --fsync` takes `tracekit bench ingest`'s requests: the
// case group commit is for.
func BenchmarkWriteSpansSyncParallel(b *testing.B) {
	st, err := pebble.Open(b.TempDir(), pebble.Options{Sync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	res := loadgen.Resources(5)
	var next atomic.Uint64
	b.SetParallelism(2) // 4 writers on 2 cores
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := rand.New(rand.NewPCG(next.Add(1), 2))
		spans := loadgen.Spans(r, loadgen.Shape{Batch: 500, Attrs: 6}, time.Now(), res)
		for pb.Next() {
			n := next.Add(1)
			for j := range spans {
				spans[j].TraceID[0], spans[j].TraceID[1], spans[j].TraceID[2] = byte(n), byte(n>>8), byte(n>>16)
			}
			if err := st.WriteSpans(context.Background(), "bench", spans); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(float64(b.N*500)/b.Elapsed().Seconds(), "spans/s")
}
