package pebble

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	pdb "github.com/cockroachdb/pebble/v2"

	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// TestComparerRules runs Pebble's checker on the keys whose Split is the
// whole key. Its check of trace keys would fail on purpose: it also wants
// every tail of a prefix to split alike, for synthetic prefixes (ingested
// tables given a new key prefix), which the store does not use, while a
// trace key's split depends on its leading bytes. TestComparerSplitOrder
// checks trace keys against the rules Split must keep.
func TestComparerRules(t *testing.T) {
	po := &pdb.Options{}
	configureTraceLookups(po)
	others := [][]byte{
		{kindTrace}, {kindTrace, 0, 0, 0x4f, 0xb0}, // partition bounds
		serviceKey("bench", "svc"), operationKey("bench", "svc", "GET /"),
		blockKey(nil, kindBlockMeta, 20400, "bench", "svc", 1, 2),
		batchKey(20400, "bench", [16]byte{1}), {kindFeature},
	}
	if err := pdb.CheckComparer(po.Comparer, others, nil); err != nil {
		t.Fatal(err)
	}
}

// TestComparerSplitOrder checks Split's rules (pebble's base.Split) and
// ImmediateSuccessor on random keys of every shape, cut anywhere, in
// bytewise order: a key's prefix sorts no later than the next key's, keys of
// one prefix are ordered by their suffixes, and the successor of a prefix
// is the least prefix after it.
func TestComparerSplitOrder(t *testing.T) {
	po := &pdb.Options{}
	configureTraceLookups(po)
	c := po.Comparer
	r := rand.New(rand.NewPCG(3, 4))
	var keys [][]byte
	for range 800 {
		var id [16]byte
		for i := range id {
			id[i] = byte(r.IntN(3)) * 0x7f // 0, 0x7f, 0xfe: carries and near-misses
		}
		project := []string{"a", "ab", "bench"}[r.IntN(3)]
		k := traceKeyPrefix(nil, uint32(r.IntN(3)), project, id[:])
		k = appendSeq(k, uint64(r.IntN(4))<<56|uint64(r.IntN(3)))
		switch r.IntN(4) {
		case 0:
			k = k[:r.IntN(len(k)+1)] // bounds and partial keys
		case 1:
			k = blockKey(nil, kindBlockMeta, uint32(r.IntN(3)), project, "s", 1, 2)
		}
		keys = append(keys, k)
	}
	slices.SortFunc(keys, bytes.Compare)
	prefix := func(k []byte) []byte { return k[:c.Split(k)] }
	for i, k := range keys {
		p := prefix(k)
		if !bytes.HasPrefix(k, p) || bytes.Compare(p, k) > 0 {
			t.Fatalf("prefix %x of %x", p, k)
		}
		if i > 0 {
			prev := keys[i-1]
			switch pp := prefix(prev); {
			case bytes.Compare(pp, p) > 0:
				t.Fatalf("prefix of %x sorts after prefix of the next key %x", prev, k)
			case bytes.Equal(pp, p) && c.ComparePointSuffixes(prev[len(pp):], k[len(p):]) != c.Compare(prev, k):
				t.Fatalf("keys %x and %x of one prefix: their suffixes compare unlike the keys", prev, k)
			}
		}
		if c.Split(p) != len(p) {
			t.Fatalf("prefix %x of %x splits again at %d", p, k, c.Split(p))
		}
		succ := c.ImmediateSuccessor(nil, p)
		if c.Split(succ) != len(succ) || bytes.Compare(succ, p) <= 0 {
			t.Fatalf("successor %x of prefix %x is not a greater prefix", succ, p)
		}
		for _, o := range keys {
			// Only p's own keys lie between p and its successor, and
			// every one of them is.
			between := bytes.Compare(o, p) >= 0 && bytes.Compare(o, succ) < 0
			if own := bytes.Equal(prefix(o), p); between != own {
				t.Fatalf("key %x: between prefix %x and its successor %x: %v, has that prefix: %v", o, p, succ, between, own)
			}
		}
	}
}

// TestOpenStoreWrittenBeforeSplit opens a store written with Pebble's
// default comparer and no filters, as every store was before the trace key
// split: its traces read whole, in its tables, in its write-ahead log and
// after new records of the same traces join them.
func TestOpenStoreWrittenBeforeSplit(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }

	// Spans as the store writes them, over three days, copied key by key
	// into a database with the options of the old code.
	var spans []telemetry.Span
	for i := range 60 {
		sp := testSpan("svc", "op", i%20, now.Add(-time.Duration(i%3)*day-time.Duration(i)*time.Minute))
		sp.SpanID[1] = byte(i)
		spans = append(spans, sp)
	}
	src := openTest(t, t.TempDir(), Options{Now: clock})
	if err := src.WriteSpans(ctx, "p", spans); err != nil {
		t.Fatal(err)
	}
	old := t.TempDir()
	db, err := pdb.Open(old, &pdb.Options{Logger: pebbleLogger{src.guard}}) // default comparer, no filters
	if err != nil {
		t.Fatal(err)
	}
	it, err := src.db.NewIter(nil)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		if err := db.Set(it.Key(), it.Value(), pdb.NoSync); err != nil {
			t.Fatal(err)
		}
		if n++; n == 40 { // the rest stays in the log
			if err := db.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := errors.Join(it.Close(), db.Close()); err != nil {
		t.Fatal(err)
	}
	if n <= 40 {
		t.Fatalf("copied %d keys, want more than 40 so that some stay in the log", n)
	}

	s, err := Open(old, Options{Now: clock})
	if err != nil {
		t.Fatalf("open a store written with the default comparer: %v", err)
	}
	defer s.Close()
	want := func(tid telemetry.TraceID, extra int) {
		t.Helper()
		got, err := s.Trace(ctx, "p", tid)
		if err != nil {
			t.Fatalf("trace %s: %v", tid, err)
		}
		if len(got) != 3+extra {
			t.Fatalf("trace %s: %d spans, want %d", tid, len(got), 3+extra)
		}
	}
	for i := range 20 {
		want(spans[i].TraceID, 0)
	}
	// New records of old traces, in new tables, next to the old ones.
	more := []telemetry.Span{testSpan("svc", "op", 1, now), testSpan("svc", "op", 2, now.Add(-2*day))}
	if err := s.WriteSpans(ctx, "p", more); err != nil {
		t.Fatal(err)
	}
	if err := s.db.Flush(); err != nil {
		t.Fatal(err)
	}
	want(more[0].TraceID, 1)
	if err := s.db.Compact(ctx, []byte{0}, []byte{0xff}, false); err != nil {
		t.Fatal(err)
	}
	want(more[1].TraceID, 1)
	if got, err := s.FindTraces(ctx, "p", store.TraceQuery{Service: "svc", Limit: 100}); err != nil || len(got) != 20 {
		t.Fatalf("find traces: %d, %v; want 20", len(got), err)
	}
}

// TestTraceRangeDeletion checks that a trace dropped by a range deletion in
// a newer table than its spans' stays gone for the prefix seek: Pebble cuts
// the deletion to the prefix and its successor.
func TestTraceRangeDeletion(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	for _, flush := range []bool{false, true} {
		s := openTest(t, t.TempDir(), Options{Now: func() time.Time { return now }})
		sp := testSpan("svc", "op", 1, now.Add(-day))
		if err := s.WriteSpans(ctx, "p", []telemetry.Span{sp}); err != nil {
			t.Fatal(err)
		}
		if err := s.db.Flush(); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Trace(ctx, "p", sp.TraceID); err != nil {
			t.Fatalf("before the deletion: %v", err)
		}
		last := dayOf(now.UnixNano())
		if err := s.db.DeleteRange([]byte{kindTrace}, traceKeyPrefix(nil, last, "", nil)[:5], pdb.Sync); err != nil {
			t.Fatal(err)
		}
		if flush {
			if err := s.db.Flush(); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := s.Trace(ctx, "p", sp.TraceID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("deleted trace (tombstone flushed: %v): %d spans, %v; want not found", flush, len(got), err)
		}
	}
}

// TestTraceRangeDeletionWithinTrace deletes the middle one of a trace's
// three records, a range inside the trace's prefix, so that the prefix
// seek meets the deletion's bounds between the trace's own keys.
func TestTraceRangeDeletionWithinTrace(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	for _, flush := range []bool{false, true} {
		s := openTest(t, t.TempDir(), Options{Now: func() time.Time { return now }})
		for i := range 3 {
			sp := testSpan("svc", "op", 1, now.Add(-time.Duration(i)*time.Minute))
			sp.SpanID[1] = byte(i)
			if err := s.WriteSpans(ctx, "p", []telemetry.Span{sp}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.db.Flush(); err != nil {
			t.Fatal(err)
		}
		tid := testSpan("svc", "op", 1, now).TraceID
		var keys [][]byte
		it, err := s.db.NewIter(&pdb.IterOptions{LowerBound: []byte{kindTrace}, UpperBound: []byte{kindTrace + 1}})
		if err != nil {
			t.Fatal(err)
		}
		for ok := it.First(); ok; ok = it.Next() {
			keys = append(keys, slices.Clone(it.Key()))
		}
		if err := it.Close(); err != nil {
			t.Fatal(err)
		}
		if len(keys) != 3 {
			t.Fatalf("%d trace records, want 3", len(keys))
		}
		if err := s.db.DeleteRange(keys[1], append(slices.Clone(keys[1]), 0), pdb.Sync); err != nil {
			t.Fatal(err)
		}
		if flush {
			if err := s.db.Flush(); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := s.Trace(ctx, "p", tid); err != nil || len(got) != 2 {
			t.Fatalf("trace with its middle record deleted (tombstone flushed: %v): %d spans, %v; want 2", flush, len(got), err)
		}
	}
}
