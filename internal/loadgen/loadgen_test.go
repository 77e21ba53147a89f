package loadgen

import (
	"context"
	"math"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

func TestQuerySmall(t *testing.T) {
	res, err := Query(context.Background(), QueryConfig{Spans: 20_000, Over: 2 * time.Hour, Queries: 20})
	if err != nil {
		t.Fatal(err)
	}
	if res.Spans != 19968 || res.BytesPerSpan <= 0 || res.TraceByID.P50 <= 0 || res.SearchCommon.P50 <= 0 {
		t.Errorf("result = %+v", res)
	}
	if s := res.String(); !strings.Contains(s, "trace by ID") || !strings.Contains(s, "bytes on disk per span") {
		t.Errorf("report = %s", s)
	}
}

// TestQueryHotSmall runs the hot shape small: searches and lookups while a
// writer adds spans, every figure measured.
func TestQueryHotSmall(t *testing.T) {
	res, err := QueryHot(context.Background(), HotConfig{Spans: 20_000, Over: 10 * time.Second, Rate: 20_000, Queries: 20, Pause: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Spans != 19968 || res.IngestSpansPerS <= 0 || res.TraceByID.P50 <= 0 || res.SearchService.P50 <= 0 ||
		res.SearchCommon.P50 <= 0 || res.SearchRare.P50 <= 0 || res.SchedWait.Count == 0 || res.Pause != time.Millisecond {
		t.Errorf("result = %+v", res)
	}
	if s := res.String(); !strings.Contains(s, "service only") || !strings.Contains(s, "arrive") || !strings.Contains(s, "waiting for a CPU") {
		t.Errorf("report = %s", s)
	}
}

// TestSchedWaitQuantiles checks the quantiles of the difference of two
// readings of a latency histogram, bucket upper bounds.
func TestSchedWaitQuantiles(t *testing.T) {
	buckets := []float64{0, 1e-6, 1e-3, 1e-2, math.Inf(1)}
	at := func(counts ...uint64) schedSample {
		return schedSample{h: &metrics.Float64Histogram{Counts: counts, Buckets: buckets}}
	}
	before := at(5, 5, 5, 5)
	// Since then: 90 waits under 1 µs, 9 under 1 ms, 1 of 10 ms or more.
	w := at(95, 14, 5, 6).since(before)
	want := SchedWait{Count: 100, P50: time.Microsecond, P99: time.Millisecond, Max: 10 * time.Millisecond}
	if w != want {
		t.Errorf("since = %+v, want %+v", w, want)
	}
	if w := at(5, 5, 5, 5).since(before); w != (SchedWait{}) {
		t.Errorf("no waits: %+v", w)
	}
	if w := at(1, 2).since(before); w != (SchedWait{}) {
		t.Errorf("mismatched readings: %+v", w)
	}
}

func TestPayloadIDsRewritable(t *testing.T) {
	ps, err := preparePayloads(2, Shape{Batch: 64, TraceSize: 8})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		// 8 traces, each ID written once per span.
		if p.spans != 64 || len(p.offsets) != 64 {
			t.Errorf("spans %d, id offsets %d; want 64 and 64", p.spans, len(p.offsets))
		}
	}
}

// TestPayloadDistinct: a distinct send gives every span a new ID, keeps
// each child's parent its root's (new) ID, and moves every time by the
// shift; a plain send changes trace IDs alone.
func TestPayloadDistinct(t *testing.T) {
	ps, err := preparePayloads(1, Shape{Batch: 64, TraceSize: 8, Attrs: 6})
	if err != nil {
		t.Fatal(err)
	}
	p := &ps[0]
	spansOf := func(body []byte) []ptrace.Span {
		req := ptraceotlp.NewExportRequest()
		if err := req.UnmarshalProto(body); err != nil {
			t.Fatal(err)
		}
		var out []ptrace.Span
		for _, rs := range req.Traces().ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, sp := range ss.Spans().All() {
					out = append(out, sp)
				}
			}
		}
		return out
	}
	before := spansOf(p.body)
	const shift = 5 * time.Second
	for _, distinct := range []bool{false, true} {
		buf := append([]byte(nil), p.body...)
		p.patch(buf, 0x1234, distinct, shift)
		after := spansOf(buf)
		if len(after) != len(before) || len(after) != 64 {
			t.Fatalf("distinct %v: %d spans after, %d before", distinct, len(after), len(before))
		}
		roots := map[pcommon.TraceID]pcommon.SpanID{}
		for i, sp := range after {
			old := before[i]
			if sp.TraceID() == old.TraceID() {
				t.Errorf("distinct %v: span %d kept its trace ID", distinct, i)
			}
			if changed := sp.SpanID() != old.SpanID(); changed != distinct {
				t.Errorf("distinct %v: span %d's ID changed: %v", distinct, i, changed)
			}
			want := time.Duration(0)
			if distinct {
				want = shift
			}
			if d := sp.StartTimestamp().AsTime().Sub(old.StartTimestamp().AsTime()); d != want {
				t.Errorf("distinct %v: span %d's start moved %v, want %v", distinct, i, d, want)
			}
			if d := sp.EndTimestamp().AsTime().Sub(old.EndTimestamp().AsTime()); d != want {
				t.Errorf("distinct %v: span %d's end moved %v, want %v", distinct, i, d, want)
			}
			if sp.ParentSpanID().IsEmpty() {
				roots[sp.TraceID()] = sp.SpanID()
			}
		}
		for i, sp := range after {
			if !sp.ParentSpanID().IsEmpty() && sp.ParentSpanID() != roots[sp.TraceID()] {
				t.Errorf("distinct %v: span %d's parent %v is not its root %v", distinct, i, sp.ParentSpanID(), roots[sp.TraceID()])
			}
		}
	}
}
