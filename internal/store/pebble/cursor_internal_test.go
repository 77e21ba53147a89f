package pebble

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// TestNewestFirstMatchesBruteForce writes overlapping blocks (writes whose
// spans spread up to maxBlockSpread, in random order, across a midnight)
// and checks that the newest-first walk, which ends at the first block whose
// latest start is below the limit-th hit, returns exactly the traces a scan
// of every span would: the limit traces with the latest matching starts.
func TestNewestFirstMatchesBruteForce(t *testing.T) {
	midnight := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	now := midnight.Add(time.Hour)
	s := openTest(t, t.TempDir(), Options{Now: func() time.Time { return now }})
	ctx := context.Background()
	r := rand.New(rand.NewPCG(7, 8))
	var all []telemetry.Span
	for w := range 300 {
		base := midnight.Add(-2*time.Minute + time.Duration(r.Int64N(int64(4*time.Minute))))
		var batch []telemetry.Span
		for i := range 1 + r.IntN(8) {
			at := base.Add(time.Duration(r.Int64N(int64(maxBlockSpread))))
			sp := testSpan(fmt.Sprint("svc-", r.IntN(3)), fmt.Sprint("op-", r.IntN(2)), w*10+i, at)
			sp.Attributes = []telemetry.Attribute{{Key: "k", Value: telemetry.StringValue(fmt.Sprint(r.IntN(4)))}}
			if r.IntN(4) == 0 && len(all) > 0 { // another span of an earlier trace
				sp.TraceID = all[r.IntN(len(all))].TraceID
			}
			batch = append(batch, sp)
		}
		if err := s.WriteSpans(ctx, "p", batch); err != nil {
			t.Fatal(err)
		}
		all = append(all, batch...)
	}
	queries := []store.TraceQuery{
		{}, {Service: "svc-1"}, {Operation: "op-1"}, {Service: "svc-2", Attributes: []store.AttributeFilter{{Key: "k", Value: "3"}}},
		{Start: midnight.Add(-30 * time.Second), End: midnight.Add(30 * time.Second)},
		{Service: "svc-0", Start: midnight.Add(-time.Minute), End: midnight.Add(-50 * time.Second)},
	}
	for _, q := range queries {
		for _, limit := range []int{1, 3, 20, 1000} {
			q.Limit = limit
			got, err := s.FindTraces(ctx, "p", q)
			if err != nil {
				t.Fatal(err)
			}
			want := bruteNewest(all, q, limit)
			ids := make([]telemetry.TraceID, len(got))
			for i := range got {
				ids[i] = got[i].TraceID
			}
			slices.SortFunc(ids, func(a, b telemetry.TraceID) int { return slices.Compare(a[:], b[:]) })
			if !slices.Equal(ids, want) {
				t.Errorf("FindTraces(%+v): %d traces, want %d\n got %x\nwant %x", q, len(ids), len(want), ids, want)
			}
		}
	}
}

// bruteNewest returns, sorted by ID, the limit traces whose latest span
// matching q starts latest.
func bruteNewest(all []telemetry.Span, q store.TraceQuery, limit int) []telemetry.TraceID {
	latest := map[telemetry.TraceID]int64{}
	for i := range all {
		sp := &all[i]
		if !q.Start.IsZero() && sp.StartUnixNano < q.Start.UnixNano() || !q.End.IsZero() && sp.StartUnixNano > q.End.UnixNano() || !q.Matches(sp) {
			continue
		}
		latest[sp.TraceID] = max(latest[sp.TraceID], sp.StartUnixNano)
	}
	ids := make([]telemetry.TraceID, 0, len(latest))
	for id := range latest {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b telemetry.TraceID) int { return int(latest[b] - latest[a]) })
	ids = ids[:min(limit, len(ids))]
	slices.SortFunc(ids, func(a, b telemetry.TraceID) int { return slices.Compare(a[:], b[:]) })
	return ids
}

// TestSearchNamesTracesAcrossColumnBlocks writes one batch larger than a
// column block, so that the index rows of its one service name traces in
// several column blocks' trace ID lists, and checks that searches and the
// scatter return every trace under its own ID.
func TestSearchNamesTracesAcrossColumnBlocks(t *testing.T) {
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	s := openTest(t, t.TempDir(), Options{Now: func() time.Time { return now }})
	ctx := context.Background()
	r := rand.New(rand.NewPCG(3, 4))
	const traces = 1500 // of 3 spans: 4,500 spans, 3 column blocks
	var all []telemetry.Span
	for tr := range traces {
		mix := byte(r.Uint32())
		for i := range 3 {
			sp := testSpan("svc", fmt.Sprint("op-", i), tr, now.Add(-time.Duration(r.Int64N(int64(5*time.Second)))))
			sp.TraceID[1] = mix // traces' IDs not in the order of their starts
			sp.SpanID[1] = byte(i)
			if i > 0 {
				sp.ParentSpanID = all[len(all)-i].SpanID
			}
			all = append(all, sp)
		}
	}
	if err := s.WriteSpans(ctx, "p", all); err != nil {
		t.Fatal(err)
	}

	// The test is only worth its name if a rows record names several lists.
	most := 0
	if err := s.scan(ctx, []byte{kindBlockRows}, func(k, v []byte) error {
		br, err := decodeRows(0, v)
		if err != nil {
			return err
		}
		most = max(most, len(br.lists))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if most < 2 {
		t.Fatalf("no rows record names more than %d column blocks", most)
	}

	for _, q := range []store.TraceQuery{{Service: "svc"}, {Operation: "op-2"}, {}} {
		q.Limit = store.MaxLimit
		got, err := s.FindTraces(ctx, "p", q)
		if err != nil {
			t.Fatal(err)
		}
		ids := make([]telemetry.TraceID, len(got))
		for i := range got {
			ids[i] = got[i].TraceID
		}
		slices.SortFunc(ids, func(a, b telemetry.TraceID) int { return slices.Compare(a[:], b[:]) })
		if want := bruteNewest(all, q, q.Limit); !slices.Equal(ids, want) {
			t.Errorf("FindTraces(%+v): %d traces, want %d", q, len(ids), len(want))
		}
	}
	points, err := s.FindTracePoints(ctx, "p", store.TraceQuery{Service: "svc"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	roots := map[telemetry.TraceID]telemetry.Span{}
	for _, sp := range all {
		if !sp.ParentSpanID.IsValid() {
			roots[sp.TraceID] = sp
		}
	}
	if len(points) != traces {
		t.Fatalf("%d points, want %d", len(points), traces)
	}
	for _, p := range points {
		root, ok := roots[p.TraceID]
		if !ok {
			t.Fatalf("point of trace %v, which was not written", p.TraceID)
		}
		if p.RootOperation != root.Name || p.Start.UnixNano() != root.StartUnixNano {
			t.Fatalf("point of trace %v: root %s at %d, want %s at %d", p.TraceID, p.RootOperation, p.Start.UnixNano(), root.Name, root.StartUnixNano)
		}
		delete(roots, p.TraceID)
	}
}

// TestSearchSkipsRowsWithoutTraceIDs: retention drops a day's trace ID
// lists after its index; a search that read the rows before they went
// finds no trace there, and no error.
func TestSearchSkipsRowsWithoutTraceIDs(t *testing.T) {
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	s := openTest(t, t.TempDir(), Options{Now: func() time.Time { return now }})
	ctx := context.Background()
	if err := s.WriteSpans(ctx, "p", []telemetry.Span{testSpan("svc", "op", 1, now), testSpan("svc", "op", 2, now)}); err != nil {
		t.Fatal(err)
	}
	got, err := s.FindTraces(ctx, "p", store.TraceQuery{Service: "svc"})
	if err != nil || len(got) != 2 {
		t.Fatalf("before: %d traces, %v; want 2", len(got), err)
	}
	if err := s.db.DeleteRange([]byte{kindTraceIDs}, []byte{kindTraceIDs + 1}, nil); err != nil {
		t.Fatal(err)
	}
	got, err = s.FindTraces(ctx, "p", store.TraceQuery{Service: "svc"})
	if err != nil || len(got) != 0 {
		t.Fatalf("FindTraces: %d traces, %v; want none and no error", len(got), err)
	}
	points, err := s.FindTracePoints(ctx, "p", store.TraceQuery{}, 0)
	if err != nil || len(points) != 0 {
		t.Fatalf("FindTracePoints: %d points, %v; want none and no error", len(points), err)
	}
}

// TestRetentionDropsEveryRecordOfTheDay: DeleteSpansBefore leaves no record
// of a dropped day, of any kind a write of spans sets (the trace ID lists
// included), and keeps those of the days after.
func TestRetentionDropsEveryRecordOfTheDay(t *testing.T) {
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	s := openTest(t, t.TempDir(), Options{Now: func() time.Time { return now }})
	ctx := context.Background()
	for i, at := range []time.Time{now.Add(-3 * day), now} {
		if err := s.WriteSpans(ctx, "p", []telemetry.Span{testSpan("svc", "op", i, at)}); err != nil {
			t.Fatal(err)
		}
	}
	kinds := []byte{kindTrace, kindSpanBlock, kindTraceIDs, kindBlockMeta, kindBlockRows, kindProjectBlock, kindBatch}
	count := func() (old, kept map[string]int) {
		old, kept = map[string]int{}, map[string]int{}
		for _, k := range kinds {
			if err := s.scan(ctx, []byte{k}, func(key, _ []byte) error {
				if dayOfKey(key) < dayOf(now.UnixNano()) {
					old[string(k)]++
				} else {
					kept[string(k)]++
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		return old, kept
	}
	if old, kept := count(); len(old) != len(kinds) || len(kept) != len(kinds) {
		t.Fatalf("before: records of the old day by kind %v, of today %v; want every kind in both", old, kept)
	}
	if err := s.DeleteSpansBefore(ctx, now.Add(-day)); err != nil {
		t.Fatal(err)
	}
	if old, kept := count(); len(old) != 0 || len(kept) != len(kinds) {
		t.Fatalf("after: records of the old day by kind %v, of today %v; want none, and every kind", old, kept)
	}
}
