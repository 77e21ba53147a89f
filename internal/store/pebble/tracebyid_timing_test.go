package pebble_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/tracekit-oss/tracekit/internal/loadgen"
	"github.com/tracekit-oss/tracekit/internal/store/pebble"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// BenchmarkTraceByID10M reads whole traces by ID from a store holding
// benchSpans spans (10 million with TRACEKIT_BENCH_FULL=1) in loadgen's
// shape (batches of 512 spans, traces of 8 spans over 5 services, 10
// attributes each), spread evenly over the 30 days that retention keeps, so
// that every lookup meets 30 day partitions. It reports the latency's p50
// and p99 and the fill rate. Each lookup picks a stored trace at random.
// Lookups start once the fill's compactions have settled.
func BenchmarkTraceByID10M(b *testing.B) {
	total := benchSpans(b)
	const retention = 30 * 24 * time.Hour
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	st, err := pebble.Open(b.TempDir(), pebble.Options{Now: func() time.Time { return now }, Retention: retention})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	const batch, traceSize = 512, 8
	r := rand.New(rand.NewPCG(1, 2))
	res := loadgen.Resources(5)
	templates := make([][]telemetry.Span, 16)
	for i := range templates {
		templates[i] = loadgen.Spans(r, loadgen.Shape{Batch: batch, TraceSize: traceSize}, now, res)
	}
	batches := total / batch
	span := retention - time.Hour // every start inside what retention keeps
	step := int64(span) / int64(batches)
	from := now.Add(-span).UnixNano()
	spans := make([]telemetry.Span, batch)
	traceOf := func(i, j int) telemetry.TraceID {
		id := templates[i%len(templates)][j].TraceID
		id[0], id[1], id[2] = byte(i), byte(i>>8), byte(i>>16)
		return id
	}
	ctx := context.Background()
	fill := time.Now()
	for i := range batches {
		copy(spans, templates[i%len(templates)])
		shift := from + int64(i)*step - now.UnixNano()
		for j := range spans {
			spans[j].TraceID = traceOf(i, j)
			spans[j].StartUnixNano += shift
			spans[j].EndUnixNano += shift
		}
		if err := st.WriteSpans(ctx, "bench", spans); err != nil {
			b.Fatal(err)
		}
	}
	took := time.Since(fill)
	b.Logf("filled %d spans over 30 days in %v (%.0f spans/s)",
		batches*batch, took.Round(time.Millisecond), float64(batches*batch)/took.Seconds())

	if testing.Verbose() {
		b.Logf("LSM after the fill:\n%s", pebble.LSMShape(st))
	}
	// A store of 10 M spans is read mostly when its compactions have caught
	// up; right after a fill at full speed every lookup also meets dozens of
	// L0 tables and competes with the compactions for the 2 cores. Wait for
	// them (at most 10 minutes: settled at two polls in a row, as one
	// compaction may start as the last ends), and say how long it took.
	// The wait shapes the figures: on the 2-core test VM the kernel (DAMON)
	// drops file pages left untouched for a minute, so that after a long
	// wait every block cache miss reads the disk.
	wait := time.Now()
	for polls := 0; polls < 2 && time.Since(wait) < 10*time.Minute; {
		time.Sleep(time.Second)
		if polls++; !pebble.Settled(st) {
			polls = 0
		}
	}
	b.Logf("compactions settled %v after the fill: %v", time.Since(wait).Round(time.Second), pebble.Settled(st))
	if testing.Verbose() {
		b.Logf("LSM measured on:\n%s", pebble.LSMShape(st))
	}
	var lat []time.Duration
	b.ReportAllocs()
	for b.Loop() {
		id := traceOf(r.IntN(batches), r.IntN(batch))
		t0 := time.Now()
		got, err := st.Trace(ctx, "bench", id)
		lat = append(lat, time.Since(t0))
		if err != nil {
			b.Fatal(err)
		}
		if len(got) != traceSize {
			b.Fatalf("trace %s: %d spans, want %d", id, len(got), traceSize)
		}
	}
	slices.Sort(lat)
	p := func(q float64) float64 {
		return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))].Microseconds()) / 1e3
	}
	b.ReportMetric(p(0.50), "p50-ms")
	b.ReportMetric(p(0.99), "p99-ms")
}
