package pebble

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	pdb "github.com/cockroachdb/pebble/v2"

	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

func openTest(t *testing.T, dir string, opts Options) *Store {
	t.Helper()
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func testSpan(service, name string, trace int, start time.Time) telemetry.Span {
	var tid telemetry.TraceID
	tid[0], tid[14], tid[15] = 1, byte(trace>>8), byte(trace)
	var sid telemetry.SpanID
	sid[0], sid[6], sid[7] = 1, byte(trace>>8), byte(trace)
	return telemetry.Span{
		TraceID: tid, SpanID: sid, Name: name, Kind: telemetry.KindServer,
		StartUnixNano: start.UnixNano(), EndUnixNano: start.Add(time.Millisecond).UnixNano(),
		Resource: &telemetry.Resource{ServiceName: service},
	}
}

// TestNamesGivenBackWhenWriteFails checks that a write that does not commit
// gives back the slots it reserved, and that a name two writes reserve
// together stays counted when one of them commits.
func TestNamesGivenBackWhenWriteFails(t *testing.T) {
	s := openTest(t, t.TempDir(), Options{MaxServices: 2})
	n := s.names
	now := time.Now()
	admit := func(spans ...telemetry.Span) *admission {
		t.Helper()
		b := s.db.NewBatch()
		t.Cleanup(func() { b.Close() })
		a, err := n.admit(b, "p", spans)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	a := admit(testSpan("x", "op", 1, now), testSpan("y", "op", 2, now))
	if a.nRefused != 0 || n.projects["p"].services != 2 {
		t.Fatalf("admit: %d refused, %d services counted", a.nRefused, n.projects["p"].services)
	}
	if got := admit(testSpan("z", "op", 3, now)); got.nRefused != 1 {
		t.Fatalf("a third service while two are reserved: %d refused, want 1", got.nRefused)
	}
	n.settle(a, false)
	if c := n.projects["p"].services; c != 0 || len(n.pending) != 0 {
		t.Fatalf("after a failed write: %d services counted, %d names pending; want none", c, len(n.pending))
	}

	// Two writes carry the new service x; the first fails, the second commits.
	first := admit(testSpan("x", "op", 4, now))
	second := admit(testSpan("x", "op", 5, now))
	n.settle(first, false)
	n.settle(second, true)
	if c := n.projects["p"].services; c != 1 {
		t.Fatalf("after one of two writes committed: %d services counted, want 1", c)
	}
	if _, ok := n.known[string(serviceKey("p", "x"))]; !ok {
		t.Errorf("service x not remembered as stored")
	}
	n.settle(second, false) // settling twice changes nothing
	if c := n.projects["p"].services; c != 1 {
		t.Fatalf("after settling twice: %d services counted, want 1", c)
	}
}

// TestNameCacheBounded checks that the cache of stored names does not grow
// past its size, and that names it forgot are still found on disk.
func TestNameCacheBounded(t *testing.T) {
	const names, cacheSize = 3000, 500
	s := openTest(t, t.TempDir(), Options{MaxOperations: names})
	s.names.cacheSize = cacheSize
	ctx := context.Background()
	now := time.Now()
	batch := make([]telemetry.Span, 0, 256)
	for i := 0; i < names; i++ {
		batch = append(batch, testSpan("svc", fmt.Sprint("op-", i), i, now))
		if len(batch) == cap(batch) {
			if err := s.WriteSpans(ctx, "p", batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if err := s.WriteSpans(ctx, "p", batch); err != nil {
		t.Fatal(err)
	}
	if len(s.names.known) > cacheSize {
		t.Errorf("%d names cached, want at most %d", len(s.names.known), cacheSize)
	}
	// Writing every name again adds none.
	before := s.names.projects["p"].ops["svc"]
	for i := 0; i < names; i += 7 {
		if err := s.WriteSpans(ctx, "p", []telemetry.Span{testSpan("svc", fmt.Sprint("op-", i), i, now)}); err != nil {
			t.Fatal(err)
		}
	}
	if after := s.names.projects["p"].ops["svc"]; after != before || before != names {
		t.Errorf("operations counted %d, then %d after writing known names again; want %d", before, after, names)
	}
}

// TestProjectIndexBuiltForOlderData opens data written without the project
// index (as before it existed): Open must build it, so that a search naming
// no service finds what it found before.
func TestProjectIndexBuiltForOlderData(t *testing.T) {
	dir := t.TempDir()
	base := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	opts := Options{Now: func() time.Time { return base }}
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := 1; i <= 40; i++ {
		// Two days, eight services.
		at := base.Add(-time.Duration(i) * 45 * time.Minute)
		if err := s.WriteSpans(ctx, "p", []telemetry.Span{testSpan(fmt.Sprint("svc-", i%8), "op", i, at)}); err != nil {
			t.Fatal(err)
		}
	}
	q := store.TraceQuery{Limit: 100}
	want, err := s.FindTraces(ctx, "p", q)
	if err != nil || len(want) != 40 {
		t.Fatalf("FindTraces = %d traces, %v; want 40", len(want), err)
	}
	if err := s.db.DeleteRange([]byte{kindProjectBlock}, []byte{kindProjectBlock + 1}, pdb.Sync); err != nil {
		t.Fatal(err)
	}
	if err := s.db.Delete(featureProjectIndex, pdb.Sync); err != nil {
		t.Fatal(err)
	}
	if got, err := s.FindTraces(ctx, "p", q); err != nil || len(got) != 0 {
		t.Fatalf("without the project index: %d traces, %v; want none", len(got), err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openTest(t, dir, opts)
	got, err := s.FindTraces(ctx, "p", q)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(got, want, func(a, b store.TraceSummary) bool { return a.TraceID == b.TraceID && a.Start.Equal(b.Start) }) {
		t.Errorf("after rebuilding the project index: %d traces, want %d", len(got), len(want))
	}
	if _, closer, err := s.db.Get(featureProjectIndex); err != nil {
		t.Errorf("feature marker not written: %v", err)
	} else {
		closer.Close()
	}
}

// TestRetentionDropsProjectIndex checks that dropping a day partition drops
// its project index keys too.
func TestRetentionDropsProjectIndex(t *testing.T) {
	base := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	s := openTest(t, t.TempDir(), Options{Now: func() time.Time { return base }})
	ctx := context.Background()
	old, recent := base.Add(-10*day), base.Add(-time.Minute)
	if err := s.WriteSpans(ctx, "p", []telemetry.Span{testSpan("a", "op", 1, old), testSpan("b", "op", 2, recent)}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSpansBefore(ctx, base.Add(-5*day)); err != nil {
		t.Fatal(err)
	}
	it, err := s.db.NewIter(&pdb.IterOptions{LowerBound: []byte{kindProjectBlock}, UpperBound: []byte{kindProjectBlock + 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var days []uint32
	for ok := it.First(); ok; ok = it.Next() {
		days = append(days, dayOfKey(it.Key()))
	}
	if !slices.Equal(days, []uint32{dayOf(recent.UnixNano())}) {
		t.Errorf("project index days after retention = %v, want only %d", days, dayOf(recent.UnixNano()))
	}
	if _, err := s.Trace(ctx, "p", testSpan("a", "op", 1, old).TraceID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("old trace: %v, want ErrNotFound", err)
	}
}
