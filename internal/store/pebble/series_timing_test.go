package pebble_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/tracekit-oss/tracekit/internal/loadgen"
	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/store/pebble"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// fillDay stores total spans (loadgen's shape: traces of 8 spans over 5
// services and 8 operations) spread evenly over the 24 hours before now,
// and logs the fill rate and the bytes the RED series rows take per span.
func fillDay(b *testing.B, st *pebble.Store, now time.Time, total int) {
	b.Helper()
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
	rows, err := pebble.SeriesBytes(st)
	if err != nil {
		b.Fatal(err)
	}
	n := float64(batches * batch)
	b.Logf("filled %d spans over 24 h in %v (%.0f spans/s); RED series rows %d bytes on disk, %.2f bytes/span",
		batches*batch, took.Round(time.Millisecond), n/took.Seconds(), rows, float64(rows)/n)
	b.ReportMetric(float64(rows)/n, "series-bytes/span")
}

// reportLatency reports the p50 and p99 of lat in milliseconds.
func reportLatency(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	p := func(q float64) float64 {
		return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))].Microseconds()) / 1e3
	}
	b.ReportMetric(p(0.50), "p50-ms")
	b.ReportMetric(p(0.99), "p99-ms")
}

// BenchmarkREDSeries24h reads a service's RED series over the last 24
// hours from a store holding benchSpans spans spread over them (10 million
// with TRACEKIT_BENCH_FULL=1), at the steps a chart asks for: 1 min (the
// 1 min rows, 1,440 of them), 5 min (the automatic step of a day) and
// 10 s for the last hour (the 10 s rows). It reports p50 and p99.
func BenchmarkREDSeries24h(b *testing.B) {
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	st, err := pebble.Open(b.TempDir(), pebble.Options{Now: func() time.Time { return now }, CacheSize: 256 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	fillDay(b, st, now, benchSpans(b))
	ctx := context.Background()
	for _, c := range []struct {
		name      string
		op        string
		span, stp time.Duration
	}{
		{"service/24h/1m", "", 24 * time.Hour, time.Minute},
		{"service/24h/5m", "", 24 * time.Hour, 5 * time.Minute},
		{"operation/24h/1m", "db.Query", 24 * time.Hour, time.Minute},
		{"service/1h/10s", "", time.Hour, 10 * time.Second},
	} {
		b.Run(c.name, func(b *testing.B) {
			var lat []time.Duration
			b.ReportAllocs()
			for b.Loop() {
				t0 := time.Now()
				ps, err := st.REDSeries(ctx, "bench", "service-1", c.op, now.Add(-c.span), now, c.stp)
				lat = append(lat, time.Since(t0))
				if err != nil {
					b.Fatal(err)
				}
				if want := int(c.span / c.stp); len(ps) != want || total(ps) == 0 {
					b.Fatalf("%d points, want %d, not empty", len(ps), want)
				}
			}
			reportLatency(b, lat)
		})
	}
}

// BenchmarkWriteSpansSeries measures what the aggregation costs at ingest:
// batches of 512 spans (10 attributes each, loadgen's shape) written with
// the RED series on and off, the service map on in both.
func BenchmarkWriteSpansSeries(b *testing.B) {
	for _, on := range []bool{true, false} {
		name := "series=on"
		if !on {
			name = "series=off"
		}
		b.Run(name, func(b *testing.B) {
			st, err := pebble.Open(b.TempDir(), pebble.Options{NoSeries: !on})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			r := rand.New(rand.NewPCG(1, 2))
			spans := loadgen.Spans(r, loadgen.Shape{Batch: 512}, time.Now(), loadgen.Resources(5))
			ctx := context.Background()
			n := 0
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				for j := range spans {
					spans[j].TraceID[0], spans[j].TraceID[1], spans[j].TraceID[2] = byte(i), byte(i>>8), byte(i>>16)
				}
				if err := st.WriteSpans(ctx, "bench", spans); err != nil {
					b.Fatal(err)
				}
				n += len(spans)
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "spans/s")
		})
	}
}

// BenchmarkFindTracePoints10k lists the points of 10,000 traces from a
// store holding 1,600 batches of 512 spans (102,400 traces) over an hour:
// a search of every trace, and one of a service.
func BenchmarkFindTracePoints10k(b *testing.B) {
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	st, err := pebble.Open(b.TempDir(), pebble.Options{Now: func() time.Time { return now }, CacheSize: 256 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	r := rand.New(rand.NewPCG(1, 2))
	res := loadgen.Resources(5)
	for i := range 1600 {
		spans := loadgen.Spans(r, loadgen.Shape{Batch: 512}, now.Add(-time.Duration(1600-i)*2*time.Second), res)
		if err := st.WriteSpans(context.Background(), "bench", spans); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	for _, c := range []struct {
		name string
		q    store.TraceQuery
	}{
		{"all", store.TraceQuery{}},
		{"service", store.TraceQuery{Service: "service-1"}},
	} {
		b.Run(c.name, func(b *testing.B) {
			c.q.Start, c.q.End = now.Add(-time.Hour), now
			var lat []time.Duration
			b.ReportAllocs()
			for b.Loop() {
				t0 := time.Now()
				ps, err := st.FindTracePoints(ctx, "bench", c.q, 10_000)
				lat = append(lat, time.Since(t0))
				if err != nil {
					b.Fatal(err)
				}
				if len(ps) != 10_000 {
					b.Fatalf("%d points, want 10000", len(ps))
				}
			}
			reportLatency(b, lat)
		})
	}
}

func total(ps []store.REDPoint) (n int64) {
	for _, p := range ps {
		n += p.Count
	}
	return n
}
