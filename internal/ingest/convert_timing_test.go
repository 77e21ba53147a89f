package ingest

import (
	"math/rand/v2"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

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

// BenchmarkDecodeConvert measures what the receiver does with a protobuf
// body of that shape, pre-scan included: decoding it with pdata then
// converting it (the path before decodeWire), and decoding it straight
// from the wire bytes.
func BenchmarkDecodeConvert(b *testing.B) {
	const spans = 500
	td, _ := loadgen.Traces(rand.New(rand.NewPCG(1, 2)), loadgen.Shape{Batch: spans, Attrs: 6, Services: 5, TraceSize: 5}, time.Now())
	body, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		b.Fatal(err)
	}
	lim := DefaultSpanLimits()
	scan := scanLimits{maxValueDepth: lim.MaxValueDepth, maxSpans: DefaultConfig().MaxSpansPerRequest}
	run := func(b *testing.B, decode func([]byte, protoScan) (converted, error)) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			sc, err := scanProto(body, scan)
			if err == nil {
				err = sc.malformed
			}
			if err != nil {
				b.Fatal(err)
			}
			c, err := decode(body, sc)
			if err != nil || len(c.spans) != spans {
				b.Fatalf("decoded %d spans of %d: %v", len(c.spans), spans, err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*spans), "ns/span")
	}
	b.Run("pdata", func(b *testing.B) {
		run(b, func(body []byte, _ protoScan) (converted, error) { return decodePdata(body, lim) })
	})
	b.Run("wire", func(b *testing.B) {
		run(b, func(body []byte, sc protoScan) (converted, error) { return decodeWire(body, sc, lim) })
	})
}
