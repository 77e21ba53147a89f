package pebble_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/store/pebble"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// call returns a client span of caller and the server span of callee
// below it, in trace n.
func call(n int, caller, callee string, at time.Time) (client, server telemetry.Span) {
	tid := telemetry.TraceID{0x5e, byte(n >> 16), byte(n >> 8), byte(n)}
	res := func(s string) *telemetry.Resource {
		return &telemetry.Resource{ServiceName: s, Attributes: []telemetry.Attribute{{Key: "service.name", Value: telemetry.StringValue(s)}}}
	}
	client = telemetry.Span{TraceID: tid, SpanID: telemetry.SpanID{1}, Name: "call", Kind: telemetry.KindClient,
		StartUnixNano: at.UnixNano(), EndUnixNano: at.Add(20 * time.Millisecond).UnixNano(), Resource: res(caller),
		Attributes: []telemetry.Attribute{{Key: "server.address", Value: telemetry.StringValue(callee + ".internal")}}}
	server = telemetry.Span{TraceID: tid, SpanID: telemetry.SpanID{2}, ParentSpanID: client.SpanID, Name: "serve", Kind: telemetry.KindServer,
		StartUnixNano: at.UnixNano(), EndUnixNano: at.Add(10 * time.Millisecond).UnixNano(), Resource: res(callee)}
	return client, server
}

func openMapStore(t *testing.T, dir string, opts pebble.Options) *pebble.Store {
	t.Helper()
	st, err := pebble.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() }) // a test may have closed it
	return st
}

func edgesOf(t *testing.T, st *pebble.Store, from, to time.Time) map[string]int64 {
	t.Helper()
	got, err := st.ServiceMap(context.Background(), "p", from, to)
	if err != nil {
		t.Fatalf("ServiceMap: %v", err)
	}
	out := map[string]int64{}
	for _, e := range got {
		out[fmt.Sprintf("%s→%s(%s)", e.Caller, e.Callee, e.CalleeKind)] = e.Calls
	}
	return out
}

func writeSpans(t *testing.T, st *pebble.Store, spans ...telemetry.Span) {
	t.Helper()
	if err := st.WriteSpans(context.Background(), "p", spans); err != nil {
		t.Fatalf("WriteSpans: %v", err)
	}
}

// TestServiceMapAcrossRestart: a child waiting for its caller, and the
// caller waiting for a child, are both found after the store reopens.
func TestServiceMapAcrossRestart(t *testing.T) {
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	dir := t.TempDir()
	st := openMapStore(t, dir, pebble.Options{Now: clock})
	c1, s1 := call(1, "a", "b", now.Add(-time.Minute))
	c2, s2 := call(2, "a", "c", now.Add(-time.Minute))
	writeSpans(t, st, s1) // child first
	writeSpans(t, st, c2) // caller first: counted as a call to c.internal for now
	if got := edgesOf(t, st, now.Add(-time.Hour), now); len(got) != 1 || got["a→c.internal(external)"] != 1 {
		t.Fatalf("before restart: %v", got)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	now = now.Add(30 * time.Minute)
	st = openMapStore(t, dir, pebble.Options{Now: clock})
	writeSpans(t, st, c1)
	writeSpans(t, st, s2)
	want := map[string]int64{"a→b(service)": 1, "a→c(service)": 1}
	if got := edgesOf(t, st, now.Add(-time.Hour), now); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after restart: %v, want %v", got, want)
	}
}

// TestServiceMapForgetsOldHalves: halves of a call arriving more than two
// hours apart are not matched, and the records waiting for them are
// dropped.
func TestServiceMapForgetsOldHalves(t *testing.T) {
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	st := openMapStore(t, t.TempDir(), pebble.Options{Now: func() time.Time { return now }})
	c, s := call(1, "a", "b", now)
	writeSpans(t, st, s)
	now = now.Add(150 * time.Minute)
	writeSpans(t, st, c)
	if got := edgesOf(t, st, now.Add(-24*time.Hour), now); len(got) != 1 || got["a→b.internal(external)"] != 1 {
		t.Fatalf("edges: %v, want only the leaf call", got)
	}
}

// TestServiceMapRetention: dropping a day's spans drops its calls.
func TestServiceMapRetention(t *testing.T) {
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	st := openMapStore(t, t.TempDir(), pebble.Options{Now: func() time.Time { return now }})
	c, s := call(1, "a", "b", now.Add(-25*time.Hour))
	writeSpans(t, st, c, s)
	c, s = call(2, "a", "b", now.Add(-time.Hour))
	writeSpans(t, st, c, s)
	if got := edgesOf(t, st, now.Add(-48*time.Hour), now); got["a→b(service)"] != 2 {
		t.Fatalf("before retention: %v", got)
	}
	if err := st.DeleteSpansBefore(context.Background(), now.Add(-12*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := edgesOf(t, st, now.Add(-48*time.Hour), now); got["a→b(service)"] != 1 {
		t.Fatalf("after retention: %v, want the newer call only", got)
	}
}

// TestServiceMapConcurrentHalves writes the two halves of many calls from
// two goroutines at once: each call is counted exactly once.
func TestServiceMapConcurrentHalves(t *testing.T) {
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	st := openMapStore(t, t.TempDir(), pebble.Options{Now: func() time.Time { return now }})
	const n = 200
	var wg sync.WaitGroup
	var failed atomic.Value
	for side := range 2 {
		wg.Go(func() {
			for i := range n {
				c, s := call(i, "a", "b", now.Add(-time.Minute))
				sp := c
				if side == 1 {
					sp = s
				}
				if err := st.WriteSpans(context.Background(), "p", []telemetry.Span{sp}); err != nil {
					failed.Store(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		t.Fatal(err)
	}
	if got := edgesOf(t, st, now.Add(-time.Hour), now); len(got) != 1 || got["a→b(service)"] != n {
		t.Fatalf("edges: %v, want %d calls a→b only", got, n)
	}
}

// TestServiceMapOff: with the aggregation off, ServiceMap says so.
func TestServiceMapOff(t *testing.T) {
	st := openMapStore(t, t.TempDir(), pebble.Options{NoServiceMap: true})
	c, s := call(1, "a", "b", time.Now())
	writeSpans(t, st, c, s)
	if _, err := st.ServiceMap(context.Background(), "p", time.Now().Add(-time.Hour), time.Now()); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("ServiceMap with the map off: %v, want errors.ErrUnsupported", err)
	}
	var _ store.ServiceMapReader = st
}

// TestServiceMapManyWritesOfARow: a row written by more batches than it
// keeps merge operands for (then folded into one value) counts each call
// once, before and after the store reopens.
func TestServiceMapManyWritesOfARow(t *testing.T) {
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	dir := t.TempDir()
	st := openMapStore(t, dir, pebble.Options{Now: clock})
	const n = 100
	for i := range n {
		c, s := call(i, "a", "b", now.Add(-time.Minute))
		writeSpans(t, st, c, s)
	}
	if got := edgesOf(t, st, now.Add(-time.Hour), now); len(got) != 1 || got["a→b(service)"] != n {
		t.Fatalf("edges: %v, want %d calls a→b only", got, n)
	}
	if got := edgesOf(t, st, now.Add(-3*time.Hour), now); len(got) != 1 || got["a→b(service)"] != n {
		t.Fatalf("edges from the hour rows: %v, want %d calls a→b only", got, n)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = openMapStore(t, dir, pebble.Options{Now: clock})
	for i := n; i < 2*n; i++ {
		c, s := call(i, "a", "b", now.Add(-time.Minute))
		writeSpans(t, st, c, s)
	}
	if got := edgesOf(t, st, now.Add(-3*time.Hour), now); len(got) != 1 || got["a→b(service)"] != 2*n {
		t.Fatalf("edges after reopening: %v, want %d calls a→b only", got, 2*n)
	}
}

// TestServiceMapParentFoundInTraceRecords: a child arriving after its
// parent finds it in the trace's stored records, whatever the parent's
// kind, across midnight, and a client span's leaf call is taken back once
// however many of its children arrive, in one batch or several.
func TestServiceMapParentFoundInTraceRecords(t *testing.T) {
	now := time.Date(2026, 11, 20, 0, 30, 0, 0, time.UTC)
	st := openMapStore(t, t.TempDir(), pebble.Options{Now: func() time.Time { return now }})

	// A server span calling another service's server span directly, no
	// client span between: parent first.
	p, c := call(1, "a", "b", now.Add(-time.Minute))
	p.Kind, p.Attributes = telemetry.KindServer, nil
	writeSpans(t, st, p)
	writeSpans(t, st, c)

	// A client span started before midnight, its child after.
	p2, c2 := call(2, "a", "c", now.Add(-35*time.Minute))
	c2.StartUnixNano = now.Add(-20 * time.Minute).UnixNano()
	c2.EndUnixNano = c2.StartUnixNano + int64(10*time.Millisecond)
	writeSpans(t, st, p2)
	writeSpans(t, st, c2)

	// A client span naming d.internal, then three children in d in two
	// batches: one call to d.internal taken back, three calls to d.
	p3, c3 := call(3, "a", "d", now.Add(-time.Minute))
	writeSpans(t, st, p3)
	if got := edgesOf(t, st, now.Add(-2*time.Hour), now); got["a→d.internal(external)"] != 1 {
		t.Fatalf("before its children: %v, want a call to d.internal", got)
	}
	more := func(id byte) telemetry.Span {
		x := c3
		x.SpanID = telemetry.SpanID{id}
		return x
	}
	writeSpans(t, st, c3, more(7))
	writeSpans(t, st, more(8))

	want := map[string]int64{"a→b(service)": 1, "a→c(service)": 1, "a→d(service)": 3}
	if got := edgesOf(t, st, now.Add(-2*time.Hour), now); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("edges: %v, want %v", got, want)
	}
}

// TestServiceMapWritesNoCallerRecords: client spans waiting for children
// in other services add nothing to the store but their trace records.
func TestServiceMapWritesNoCallerRecords(t *testing.T) {
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	st := openMapStore(t, t.TempDir(), pebble.Options{Now: func() time.Time { return now }})
	for i := range 1000 {
		c, _ := call(i, "a", "b", now.Add(-time.Minute))
		c.Attributes = nil // no leaf: no edge row either
		writeSpans(t, st, c)
	}
	n, err := pebble.CallRecords(st)
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d call records, want none", n)
	}
}

// TestServiceMapParentLookupIsBounded: a trace of more records than a
// lookup reads (a client decides how many) costs the lookup no more; a
// child whose parent lies beyond waits for it as if it came first.
func TestServiceMapParentLookupIsBounded(t *testing.T) {
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	st := openMapStore(t, t.TempDir(), pebble.Options{Now: func() time.Time { return now }})
	c, s := call(1, "a", "b", now.Add(-time.Minute))
	for i := range 300 { // 300 records of the trace before the caller's
		x := c
		x.SpanID = telemetry.SpanID{9, byte(i >> 8), byte(i)}
		x.Kind, x.Attributes = telemetry.KindInternal, nil
		writeSpans(t, st, x)
	}
	writeSpans(t, st, c)
	writeSpans(t, st, s)
	n, err := pebble.CallRecords(st)
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("%d call records, want the child's pending record: its parent lies past the records a lookup reads", n)
	}
}
