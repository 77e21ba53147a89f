package pebble

import (
	"context"
	"encoding/binary"
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

// TestIndexMigratedFromEarliestStartKeys opens data whose block metas are
// keyed by their earliest start, as versions before the latest-start index
// wrote them, with or without their project index: Open must rewrite them
// once, so that searches find what they found before.
func TestIndexMigratedFromEarliestStartKeys(t *testing.T) {
	for _, withProjectIndex := range []bool{true, false} {
		t.Run(fmt.Sprint("project index ", withProjectIndex), func(t *testing.T) {
			dir := t.TempDir()
			base := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
			opts := Options{Now: func() time.Time { return base }}
			s, err := Open(dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			for i := 1; i <= 40; i++ {
				// Two days, eight services, blocks of two spans 3 s apart.
				at := base.Add(-time.Duration(i) * 45 * time.Minute)
				spans := []telemetry.Span{testSpan(fmt.Sprint("svc-", i%8), "op", i, at), testSpan(fmt.Sprint("svc-", i%8), "op", 100+i, at.Add(3*time.Second))}
				if err := s.WriteSpans(ctx, "p", spans); err != nil {
					t.Fatal(err)
				}
			}
			queries := []store.TraceQuery{{Limit: 100}, {Limit: 7}, {Service: "svc-3", Limit: 100}, {Service: "svc-3", Limit: 2}}
			want := make([][]store.TraceSummary, len(queries))
			for i, q := range queries {
				if want[i], err = s.FindTraces(ctx, "p", q); err != nil || len(want[i]) == 0 {
					t.Fatalf("FindTraces(%+v) = %d traces, %v", q, len(want[i]), err)
				}
			}
			writeEarliestStartIndex(t, s, withProjectIndex)
			if got, err := s.FindTraces(ctx, "p", queries[0]); err != nil || len(got) != 0 {
				t.Fatalf("with the old keys only: %d traces, %v; want none", len(got), err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}

			s = openTest(t, dir, opts)
			for i, q := range queries {
				got, err := s.FindTraces(ctx, "p", q)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.EqualFunc(got, want[i], func(a, b store.TraceSummary) bool { return a.TraceID == b.TraceID && a.Start.Equal(b.Start) }) {
					t.Errorf("FindTraces(%+v) after migrating: %d traces, want %d", q, len(got), len(want[i]))
				}
			}
			for _, kind := range []byte{kindOldBlockMeta, kindOldProjectBlock} {
				if n := countKind(t, s, kind); n != 0 {
					t.Errorf("%d keys of kind %c left after migrating", n, kind)
				}
			}
			if _, closer, err := s.db.Get(featureLatestIndex); err != nil {
				t.Errorf("feature marker not written: %v", err)
			} else {
				closer.Close()
			}
		})
	}
}

// writeEarliestStartIndex turns s's block metas into what versions before
// the latest-start index wrote: metas of version 1 keyed by their earliest
// start (kindOldBlockMeta) and, if withProjectIndex, their project index
// (kindOldProjectBlock); it drops the new keys and the feature marker.
func writeEarliestStartIndex(t *testing.T, s *Store, withProjectIndex bool) {
	t.Helper()
	it, err := s.db.NewIter(&pdb.IterOptions{LowerBound: []byte{kindBlockMeta}, UpperBound: []byte{kindBlockMeta + 1}})
	if err != nil {
		t.Fatal(err)
	}
	b := s.db.NewBatch()
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		lp := int(k[5])
		ls := int(k[6+lp])
		tail := k[7+lp+ls:]
		var m blockMeta
		if err := decodeMeta(&m, int64(binary.BigEndian.Uint64(tail)), it.Value()); err != nil {
			t.Fatal(err)
		}
		// Version 1: no shortest duration.
		e := enc{}
		e.byte1(codecVersion)
		e.uvarint(uint64(m.maxStart - m.minStart))
		e.uvarint(uint64(m.rows))
		e.uvarint(uint64(m.maxDuration))
		e.byte1(map[bool]byte{true: 1}[m.hasError])
		e.byte1(m.view.k)
		e.uvarint(uint64(len(m.view.words) / 8))
		e.raw(m.view.words)
		d, project, service, seq := binary.BigEndian.Uint32(k[1:5]), string(k[6:6+lp]), string(k[7+lp:7+lp+ls]), binary.BigEndian.Uint64(tail[8:])
		old := blockKey(nil, kindOldBlockMeta, d, project, service, m.minStart, seq)
		if err := b.Set(old, e.b, nil); err != nil {
			t.Fatal(err)
		}
		if withProjectIndex {
			pk := projectBlockKey(nil, d, project, m.minStart, seq)
			pk[0] = kindOldProjectBlock
			var pv enc
			encodeProjectBlock(&pv, service, e.b)
			if err := b.Set(pk, pv.b, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []byte{kindBlockMeta, kindProjectBlock} {
		if err := b.DeleteRange([]byte{kind}, []byte{kind + 1}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Delete(featureLatestIndex, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(pdb.Sync); err != nil {
		t.Fatal(err)
	}
}

func countKind(t *testing.T, s *Store, kind byte) int {
	t.Helper()
	it, err := s.db.NewIter(&pdb.IterOptions{LowerBound: []byte{kind}, UpperBound: []byte{kind + 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		n++
	}
	return n
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
