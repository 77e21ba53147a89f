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

// findFixture writes a small, varied data set and returns the store.
//
//	trace 1: shop GET /checkout (300ms, user.id=u1, region=eu) → payments charge (200ms, error)
//	trace 2: shop GET /checkout (50ms, user.id=u2, region=us)
//	trace 3: shop GET /health   (1ms)
//	trace 4: payments refund (90ms, user.id=u1) on resource tier=gold
func findFixture(t *testing.T, open TraceOpener) store.TraceStore {
	s := openStore(t, open)
	shop, pay := Resource("shop"), Resource("payments", str("tier", "gold"))
	t0 := base.Add(-30 * time.Minute)
	charge := span(pay, 1, 2, 1, "charge", t0.Add(10*time.Millisecond), 200*time.Millisecond, str("user.id", "u1"))
	charge.StatusCode = telemetry.StatusError
	write(t, s, "p",
		span(shop, 1, 1, 0, "GET /checkout", t0, 300*time.Millisecond, str("user.id", "u1"), str("region", "eu")),
		charge,
		span(shop, 2, 3, 0, "GET /checkout", t0.Add(time.Minute), 50*time.Millisecond, str("user.id", "u2"), str("region", "us")),
		span(shop, 3, 4, 0, "GET /health", t0.Add(2*time.Minute), time.Millisecond),
	)
	write(t, s, "p", span(pay, 4, 5, 0, "refund", t0.Add(3*time.Minute), 90*time.Millisecond, str("user.id", "u1"),
		telemetry.Attribute{Key: "amount", Value: telemetry.IntValue(1200)}))
	return s
}

func ids(ts []store.TraceSummary) []int {
	var out []int
	for _, x := range ts {
		out = append(out, int(x.TraceID[15]))
	}
	return out
}

func testFindTraces(t *testing.T, open TraceOpener) {
	s := findFixture(t, open)
	f := func(q store.TraceQuery, want ...int) {
		t.Helper()
		got, err := s.FindTraces(context.Background(), "p", q)
		if err != nil {
			t.Fatalf("FindTraces(%+v): %v", q, err)
		}
		if g := ids(got); !slices.Equal(g, want) {
			t.Errorf("FindTraces(%+v) = %v, want %v", q, g, want)
		}
	}
	attr := func(kv ...string) []store.AttributeFilter {
		var out []store.AttributeFilter
		for i := 0; i < len(kv); i += 2 {
			out = append(out, store.AttributeFilter{Key: kv[i], Value: kv[i+1]})
		}
		return out
	}
	f(store.TraceQuery{}, 4, 3, 2, 1)
	f(store.TraceQuery{Service: "shop"}, 3, 2, 1)
	f(store.TraceQuery{Service: "payments"}, 4, 1)
	f(store.TraceQuery{Service: "nope"})
	f(store.TraceQuery{Service: "shop", Operation: "GET /checkout"}, 2, 1)
	f(store.TraceQuery{Operation: "charge"}, 1)
	f(store.TraceQuery{Attributes: attr("user.id", "u1")}, 4, 1)
	f(store.TraceQuery{Service: "shop", Attributes: attr("user.id", "u1")}, 1)
	f(store.TraceQuery{Attributes: attr("user.id", "u1", "region", "eu")}, 1)
	// Both conditions must hold on one span: u2 is in region us.
	f(store.TraceQuery{Attributes: attr("user.id", "u2", "region", "eu")})
	// Resource attributes match too, and numbers match their text form.
	f(store.TraceQuery{Attributes: attr("tier", "gold")}, 4, 1)
	f(store.TraceQuery{Attributes: attr("amount", "1200")}, 4)
	f(store.TraceQuery{Attributes: attr("service.name", "payments", "user.id", "u1")}, 4, 1)
	f(store.TraceQuery{MinDuration: 100 * time.Millisecond}, 1)
	f(store.TraceQuery{MinDuration: 60 * time.Millisecond, MaxDuration: 250 * time.Millisecond}, 4, 1)
	f(store.TraceQuery{MaxDuration: 10 * time.Millisecond}, 3)
	f(store.TraceQuery{ErrorsOnly: true}, 1)
	f(store.TraceQuery{ErrorsOnly: true, Service: "shop"})
	f(store.TraceQuery{Limit: 2}, 4, 3)

	got, err := s.FindTraces(context.Background(), "p", store.TraceQuery{Operation: "charge"})
	if err != nil || len(got) != 1 {
		t.Fatalf("FindTraces: %v %v", got, err)
	}
	sum := got[0]
	if sum.RootService != "shop" || sum.RootOperation != "GET /checkout" || sum.SpanCount != 2 || sum.ErrorCount != 1 ||
		sum.Duration != 300*time.Millisecond || len(sum.Services) != 2 {
		t.Errorf("summary = %+v", sum)
	}
}

func testFindNewestFirst(t *testing.T, open TraceOpener) {
	s := openStore(t, open)
	res := Resource("api")
	// 300 traces in 30 writes, written out of order, over 50 minutes.
	for w := 0; w < 30; w++ {
		var batch []telemetry.Span
		for i := 0; i < 10; i++ {
			n := (w*7)%30*10 + i
			batch = append(batch, span(res, n+1, n+1, 0, "op", base.Add(-time.Hour+time.Duration(n)*10*time.Second), time.Millisecond,
				str("parity", fmt.Sprint(n%2))))
		}
		write(t, s, "p", batch...)
	}
	got, err := s.FindTraces(context.Background(), "p", store.TraceQuery{Limit: 5, Attributes: []store.AttributeFilter{{Key: "parity", Value: "1"}}})
	if err != nil {
		t.Fatal(err)
	}
	var starts []time.Time
	for _, g := range got {
		starts = append(starts, g.Start)
	}
	want := []time.Time{}
	for n := 299; len(want) < 5; n -= 2 {
		want = append(want, base.Add(-time.Hour+time.Duration(n)*10*time.Second))
	}
	if !slices.EqualFunc(starts, want, time.Time.Equal) {
		t.Errorf("starts = %v\nwant %v", starts, want)
	}
}

func testFindTimeRange(t *testing.T, open TraceOpener) {
	s := findFixture(t, open)
	t0 := base.Add(-30 * time.Minute)
	f := func(start, end time.Time, want ...int) {
		t.Helper()
		got, err := s.FindTraces(context.Background(), "p", store.TraceQuery{Start: start, End: end})
		if err != nil {
			t.Fatal(err)
		}
		if g := ids(got); !slices.Equal(g, want) {
			t.Errorf("[%v, %v] = %v, want %v", start.Sub(t0), end.Sub(t0), g, want)
		}
	}
	f(t0.Add(30*time.Second), t0.Add(150*time.Second), 3, 2)
	f(t0.Add(-time.Hour), t0.Add(-time.Minute))
	f(t0, t0, 1)
	f(t0.Add(3*time.Minute), base, 4)
}

func testServicesAndOperations(t *testing.T, open TraceOpener) {
	s := findFixture(t, open)
	ctx := context.Background()
	svcs, err := s.Services(ctx, "p")
	if err != nil || !slices.Equal(svcs, []string{"payments", "shop"}) {
		t.Errorf("Services = %v, %v", svcs, err)
	}
	ops, err := s.Operations(ctx, "p", "shop")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range ops {
		names = append(names, o.Name)
	}
	if !slices.Equal(names, []string{"GET /checkout", "GET /health"}) || ops[0].Kind != telemetry.KindServer {
		t.Errorf("Operations = %+v", ops)
	}
	if ops, err := s.Operations(ctx, "p", "nope"); err != nil || len(ops) != 0 {
		t.Errorf("Operations(nope) = %v, %v", ops, err)
	}
}
