package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// traceNumbers returns the numbers tid gave the traces of ts.
func traceNumbers(ts []store.TraceSummary) []int {
	var out []int
	for _, x := range ts {
		out = append(out, int(x.TraceID[14])<<8|int(x.TraceID[15]))
	}
	return out
}

// testFindManyServices searches 60 services, each written on its own, whose
// traces interleave in time: a search naming no service must return the
// newest traces across all of them.
func testFindManyServices(t *testing.T, open TraceOpener) {
	s := openStore(t, open)
	const services, perService = 60, 5
	// Trace n starts at base-1h+n*5s; service i has traces i+1, i+61, ...,
	// 300 seconds apart, so each of its spans is an index block of its own.
	for i := 0; i < services; i++ {
		res := Resource(fmt.Sprintf("svc-%02d", i))
		var batch []telemetry.Span
		for j := 0; j < perService; j++ {
			n := j*services + i + 1
			batch = append(batch, span(res, n, n, 0, fmt.Sprintf("op-%d", n%3), base.Add(-time.Hour+time.Duration(n)*5*time.Second),
				time.Millisecond, str("even", fmt.Sprint(n%2 == 0))))
		}
		write(t, s, "p", batch...)
	}
	// And one batch mixing services, as a collector sends them.
	var mixed []telemetry.Span
	for n := 301; n <= 310; n++ {
		mixed = append(mixed, span(Resource(fmt.Sprintf("svc-%02d", n%services)), n, n, 0, "op-mixed",
			base.Add(-time.Hour+time.Duration(n)*5*time.Second), time.Millisecond, str("even", fmt.Sprint(n%2 == 0))))
	}
	write(t, s, "p", mixed...)

	desc := func(from, to, step int) []int {
		var out []int
		for n := from; n >= to; n -= step {
			out = append(out, n)
		}
		return out
	}
	f := func(q store.TraceQuery, want []int) {
		t.Helper()
		got, err := s.FindTraces(context.Background(), "p", q)
		if err != nil {
			t.Fatalf("FindTraces(%+v): %v", q, err)
		}
		if g := traceNumbers(got); !slices.Equal(g, want) {
			t.Errorf("FindTraces(%+v) = %v, want %v", q, g, want)
		}
	}
	f(store.TraceQuery{}, desc(310, 291, 1)) // the default limit, 20
	f(store.TraceQuery{Limit: 7}, desc(310, 304, 1))
	f(store.TraceQuery{Limit: store.MaxLimit}, desc(310, 1, 1))
	f(store.TraceQuery{Limit: 5, Attributes: []store.AttributeFilter{{Key: "even", Value: "true"}}}, desc(310, 302, 2))
	f(store.TraceQuery{Limit: 3, Operation: "op-1"}, []int{298, 295, 292})
	f(store.TraceQuery{Limit: 4, Start: base.Add(-time.Hour + 100*5*time.Second), End: base.Add(-time.Hour + 150*5*time.Second)}, desc(150, 147, 1))
	f(store.TraceQuery{Service: "svc-07"}, []int{307, 248, 188, 128, 68, 8})
	f(store.TraceQuery{Service: "svc-07", Limit: 2}, []int{307, 248})
	f(store.TraceQuery{Service: "svc-60"}, nil)
}

// testFindTraceAcrossBlocks finds a trace twice, in two index blocks, the
// older block holding its later span: the trace must count once, or a
// search stops before a block that holds a newer trace.
func testFindTraceAcrossBlocks(t *testing.T, open TraceOpener) {
	s := openStore(t, open)
	t0 := base.Add(-10 * time.Minute)
	at := func(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }
	const x, y, z, w, v = 1, 2, 3, 4, 5
	// Blocks, by start: b (55s), c (52s), a (50s, holding x's span at 60s),
	// d (45s, holding z at 54s). The newest two traces are x (60s) and z
	// (54s), not y (52s).
	write(t, s, "p", span(Resource("b"), x, 1, 0, "op", at(56), time.Millisecond))
	write(t, s, "p", span(Resource("c"), y, 2, 0, "op", at(52), time.Millisecond))
	write(t, s, "p", span(Resource("a"), w, 3, 0, "op", at(50), time.Millisecond),
		span(Resource("a"), x, 4, 1, "op", at(60), time.Millisecond))
	write(t, s, "p", span(Resource("d"), v, 5, 0, "op", at(45), time.Millisecond),
		span(Resource("d"), z, 6, 0, "op", at(54), time.Millisecond))
	got, err := s.FindTraces(context.Background(), "p", store.TraceQuery{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if g := traceNumbers(got); !slices.Equal(g, []int{x, z}) {
		t.Errorf("FindTraces(limit 2) = %v, want [%d %d]", g, x, z)
	}
}
