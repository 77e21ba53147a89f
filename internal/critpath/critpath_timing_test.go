//go:build unix

package critpath_test

import (
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/tracekit-oss/tracekit/internal/critpath"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// BenchmarkCriticalPath10k computes the path of a 10,000-span trace, listed
// in random order. The budget is 20 ms. Beside ns/op (wall time) it
// prints cpu-ms/op, the process's CPU time per path, which a busy shared
// machine inflates far less. Run:
//
//	go test -run '^$' -bench CriticalPath10k -benchmem ./internal/critpath
func BenchmarkCriticalPath10k(b *testing.B) {
	spans := requestTrace(rand.New(rand.NewPCG(10, 0)))
	var p critpath.Path
	b.ReportAllocs()
	cpu := cpuTime(b)
	for b.Loop() {
		p = critpath.Compute(spans)
	}
	b.ReportMetric(float64(cpuTime(b)-cpu)/float64(b.N)/1e6, "cpu-ms/op")
	b.ReportMetric(float64(len(p.Segments)), "segments")
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// requestTrace is a trace of 10,001 spans, a batch job: a root of 10 s, 100
// requests one after the other below it, each making 33 rounds of three
// parallel calls, the calls' times jittered and now and then skewed or
// outliving their request.
func requestTrace(rng *rand.Rand) []telemetry.Span {
	const ms = int64(time.Millisecond)
	spans := make([]telemetry.Span, 0, 10_001)
	add := func(parent telemetry.SpanID, start, end int64) telemetry.SpanID {
		id := idOf(len(spans))
		spans = append(spans, telemetry.Span{SpanID: id, ParentSpanID: parent, StartUnixNano: start, EndUnixNano: end})
		return id
	}
	root := add(telemetry.SpanID{}, 0, 10_000*ms)
	for r := range int64(100) {
		at := r*100*ms + rng.Int64N(5*ms)
		req := add(root, at, at+95*ms)
		for round := range int64(33) {
			t0 := at + ms + round*2800*1000
			for range 3 {
				start := t0 + rng.Int64N(200_000) - 20_000
				end := start + 2_000_000 + rng.Int64N(600_000)
				if rng.IntN(50) == 0 {
					end += 100 * ms // async
				}
				add(req, start, end)
			}
		}
	}
	rng.Shuffle(len(spans), func(a, b int) { spans[a], spans[b] = spans[b], spans[a] })
	return spans
}

// TestBenchmarkTrace keeps the benchmark honest: its trace is large and
// its path long, not a root and leaves in the root's shadow.
func TestBenchmarkTrace(t *testing.T) {
	spans := requestTrace(rand.New(rand.NewPCG(10, 0)))
	if len(spans) != 10_001 {
		t.Fatalf("%d spans", len(spans))
	}
	p := critpath.Compute(spans)
	checkPath(t, spans, p)
	if len(p.Segments) < 2000 {
		t.Errorf("the benchmark's path has %d segments", len(p.Segments))
	}
}
