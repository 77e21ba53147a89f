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
