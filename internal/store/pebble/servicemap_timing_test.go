package pebble_test

import (
	"context"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/tracekit-oss/tracekit/internal/loadgen"
	"github.com/tracekit-oss/tracekit/internal/store/pebble"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// benchSpans is how many spans BenchmarkServiceMap24h stores: 10 million
// with TRACEKIT_BENCH_FULL=1, TRACEKIT_BENCH_SPANS when set, else 500,000.
func benchSpans(b *testing.B) int {
	if os.Getenv("TRACEKIT_BENCH_FULL") == "1" {
		return 10_000_000
	}
	if v := os.Getenv("TRACEKIT_BENCH_SPANS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 512 {
			b.Fatalf("TRACEKIT_BENCH_SPANS=%q: give a number of spans of at least 512", v)
		}
		return n
	}
	return 500_000
}

// BenchmarkServiceMap24h reads the service map of the last 24 hours over a
// store holding benchSpans spans spread evenly over them (loadgen's shape:
// traces of 8 spans over 5 services, each with a database attribute, so 20
// service edges and 5 database edges). It reports the latency's p50 and
// p99, the fill rate, and the service map's rows in bytes per span.
func BenchmarkServiceMap24h(b *testing.B) {
	total := benchSpans(b)
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	st, err := pebble.Open(b.TempDir(), pebble.Options{Now: func() time.Time { return now }, CacheSize: 256 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	const batch = 512
	r := rand.New(rand.NewPCG(1, 2))
	res := loadgen.Resources(5)
	templates := make([][]telemetry.Span, 16)
	for i := range templates {
		templates[i] = loadgen.Spans(r, loadgen.Shape{Batch: batch}, now, res)
	}
	batches := total / batch
	step := int64(24*time.Hour-time.Second) / int64(batches)
	from := now.Add(-24 * time.Hour).Add(time.Second).UnixNano()
	spans := make([]telemetry.Span, batch)
	fill := time.Now()
	for i := range batches {
		copy(spans, templates[i%len(templates)])
		shift := from + int64(i)*step - now.UnixNano()
		for j := range spans {
			spans[j].TraceID[0], spans[j].TraceID[1], spans[j].TraceID[2] = byte(i), byte(i>>8), byte(i>>16)
			spans[j].StartUnixNano += shift
			spans[j].EndUnixNano += shift
		}
		if err := st.WriteSpans(context.Background(), "bench", spans); err != nil {
			b.Fatal(err)
		}
	}
	took := time.Since(fill)
	rows, err := pebble.ServiceMapBytes(st)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("filled %d spans over 24 h in %v (%.0f spans/s); service map rows %d bytes on disk, %.2f bytes/span",
		batches*batch, took.Round(time.Millisecond), float64(batches*batch)/took.Seconds(), rows, float64(rows)/float64(batches*batch))

	var lat []time.Duration
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		t0 := time.Now()
		edges, err := st.ServiceMap(ctx, "bench", now.Add(-24*time.Hour), now)
		lat = append(lat, time.Since(t0))
		if err != nil {
			b.Fatal(err)
		}
		if len(edges) != 25 {
			b.Fatalf("%d edges, want 25", len(edges))
		}
	}
	slices.Sort(lat)
	p := func(q float64) float64 {
		return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))].Microseconds()) / 1e3
	}
	b.ReportMetric(p(0.50), "p50-ms")
	b.ReportMetric(p(0.99), "p99-ms")
	b.ReportMetric(float64(rows)/float64(batches*batch), "map-bytes/span")
}

// BenchmarkWriteSpansServiceMap measures what the aggregation costs at
// ingest: batches of 512 spans (10 attributes each) written with the
// service map on and off. "together" has each trace's spans in one batch
// (callers matched in memory); "children-first" writes the traces' server
// spans below their roots in one batch and the roots in the next, so every
// child looks its caller up, leaves a pending record, and its caller's
// write finds it; "parents-first" writes the roots (as client spans) first,
// so that every child finds its caller among the stored spans.
func BenchmarkWriteSpansServiceMap(b *testing.B) {
	for _, shape := range []string{"together", "children-first", "parents-first"} {
		for _, on := range []bool{true, false} {
			name := shape + "/map=on"
			if !on {
				name = shape + "/map=off"
			}
			b.Run(name, func(b *testing.B) {
				st, err := pebble.Open(b.TempDir(), pebble.Options{NoServiceMap: !on})
				if err != nil {
					b.Fatal(err)
				}
				defer st.Close()
				r := rand.New(rand.NewPCG(1, 2))
				spans := loadgen.Spans(r, loadgen.Shape{Batch: 512}, time.Now(), loadgen.Resources(5))
				var roots, rest []telemetry.Span
				for _, sp := range spans {
					if sp.ParentSpanID.IsValid() {
						// loadgen's children are client spans; as the
						// server spans of calls they look up their callers.
						sp.Kind = telemetry.KindServer
						rest = append(rest, sp)
					} else {
						if shape == "parents-first" {
							sp.Kind = telemetry.KindClient
						}
						roots = append(roots, sp)
					}
				}
				ctx := context.Background()
				n := 0
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					write := func(batch []telemetry.Span) {
						for j := range batch {
							batch[j].TraceID[0], batch[j].TraceID[1], batch[j].TraceID[2] = byte(i), byte(i>>8), byte(i>>16)
						}
						if err := st.WriteSpans(ctx, "bench", batch); err != nil {
							b.Fatal(err)
						}
						n += len(batch)
					}
					switch shape {
					case "together":
						write(spans)
					case "children-first":
						write(rest)
						write(roots)
					default:
						write(roots)
						write(rest)
					}
				}
				b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "spans/s")
			})
		}
	}
}
