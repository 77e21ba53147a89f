package pebble

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"
	"time"

	pdb "github.com/cockroachdb/pebble/v2"

	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// seriesSpans returns n root spans of service api, operation op, starting
// at at, every third failed, lasting 1 ms, 2 ms and so on, in traces from
// trace on.
func seriesSpans(trace, n int, op string, at time.Time) []telemetry.Span {
	res := &telemetry.Resource{ServiceName: "api", Attributes: []telemetry.Attribute{{Key: "service.name", Value: telemetry.StringValue("api")}}}
	spans := make([]telemetry.Span, n)
	for i := range spans {
		k := trace + i
		sp := &spans[i]
		sp.TraceID = telemetry.TraceID{0x7e, byte(k >> 16), byte(k >> 8), byte(k)}
		sp.SpanID = telemetry.SpanID{1}
		sp.Name, sp.Kind, sp.Resource = op, telemetry.KindServer, res
		sp.StartUnixNano = at.UnixNano()
		sp.EndUnixNano = sp.StartUnixNano + int64(k+1)*int64(time.Millisecond)
		if k%3 == 0 {
			sp.StatusCode = telemetry.StatusError
		}
	}
	return spans
}

// setSeriesRowsWhole writes spans and their series rows as a TraceKit
// without merge operands did: each row set whole, in one batch.
func setSeriesRowsWhole(t *testing.T, s *Store, project string, spans []telemetry.Span) {
	t.Helper()
	// The spans, without their rows.
	s.opts.NoSeries = true
	err := s.WriteSpans(context.Background(), project, spans)
	s.opts.NoSeries = false
	if err != nil {
		t.Fatal(err)
	}
	now := s.opts.Now()
	ps := make([]placed, len(spans))
	for i := range spans {
		ps[i] = s.place(&spans[i], now)
	}
	// The rows the new write path would add, set instead.
	add := s.db.NewBatch()
	defer add.Close()
	every := s.series.flushEvery
	s.series.flushEvery = 0 // rows, not a log record
	done, err := s.addSeries(add, []*queuedWrite{{series: seriesRows(project, ps)}})
	s.series.flushEvery = every
	if err != nil {
		t.Fatal(err)
	}
	done(false) // add is not committed: set is
	set := s.db.NewBatch()
	defer set.Close()
	r := add.Reader()
	for {
		kind, k, v, ok, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if kind != pdb.InternalKeyKindMerge {
			t.Fatalf("a first write of row %x is of kind %v, want a merge operand", k, kind)
		}
		if err := set.Set(k, v, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := set.Commit(pdb.Sync); err != nil {
		t.Fatal(err)
	}
}

// TestSeriesRowsWrittenWhole: rows written whole, before merge operands,
// read back as they did, across a restart, and are the base that later
// writes (operands, then folds) add to: the store reads as one that
// counted every span through WriteSpans.
func TestSeriesRowsWrittenWhole(t *testing.T) {
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	at := now.Add(-25 * time.Second)
	opts := Options{Now: func() time.Time { return now }, NoServiceMap: true}
	ctx := context.Background()
	read := func(s *Store) [][]store.REDPoint {
		t.Helper()
		var out [][]store.REDPoint
		for _, q := range []struct {
			op   string
			step time.Duration
		}{{"", 10 * time.Second}, {"get", 10 * time.Second}, {"", time.Minute}, {"get", time.Hour}} {
			ps, err := s.REDSeries(ctx, "p", "api", q.op, now.Add(-time.Hour), now, q.step)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, ps)
		}
		return out
	}
	same := func(what string, got, want [][]store.REDPoint) {
		t.Helper()
		for i := range want {
			for j := range want[i] {
				if got[i][j] != want[i][j] {
					t.Fatalf("%s: query %d point %d: %+v, want %+v", what, i, j, got[i][j], want[i][j])
				}
			}
		}
	}
	old := seriesSpans(0, 7, "get", at)
	// later are written through WriteSpans: 3 batches to a row's first
	// operands, then past foldOperands so that a fold reads the old row.
	var later [][]telemetry.Span
	for i := range foldOperands + 8 {
		later = append(later, seriesSpans(100+i*3, 3, "get", at))
	}

	// The reference: every span through WriteSpans.
	ref, err := Open(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	if err := ref.WriteSpans(ctx, "p", old); err != nil {
		t.Fatal(err)
	}
	wantOld := read(ref)
	for _, b := range later {
		if err := ref.WriteSpans(ctx, "p", b); err != nil {
			t.Fatal(err)
		}
	}
	wantAll := read(ref)
	if n := total(wantAll[0]); n != int64(len(old)+3*len(later)) {
		t.Fatalf("reference store counts %d spans, want %d", n, len(old)+3*len(later))
	}

	dir := t.TempDir()
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	setSeriesRowsWhole(t, s, "p", old)
	same("rows set whole", read(s), wantOld)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	same("rows set whole, reopened", read(s), wantOld)
	for i, b := range later {
		if err := s.WriteSpans(ctx, "p", b); err != nil {
			t.Fatal(err)
		}
		if i == 2 {
			got := read(s)
			if n := total(got[0]); n != int64(len(old)+9) {
				t.Fatalf("after 3 writes over the old rows: %d spans, want %d", n, len(old)+9)
			}
		}
	}
	same("old rows and new writes", read(s), wantAll)
	if err := s.db.Compact(ctx, []byte{kindSeries}, []byte{kindSeries + 1}, true); err != nil {
		t.Fatal(err)
	}
	same("old rows and new writes, compacted", read(s), wantAll)
}

// TestSeriesRowRefusesCorrupt: an operand that does not decode whole adds
// nothing to the row.
func TestSeriesRowRefusesCorrupt(t *testing.T) {
	var base seriesRow
	base.errors = 2
	base.sketch.AddN(3*time.Millisecond, 5)
	enc := base.encode(nil)
	var other seriesRow
	other.errors = 1
	other.sketch.AddN(time.Second, 2)
	good := other.encode(nil)
	for _, bad := range [][]byte{nil, append(good[:len(good):len(good)], 0), good[:len(good)-1], binary.AppendVarint(nil, 1)} {
		var r seriesRow
		if err := r.mergeEncoded(enc, false); err != nil {
			t.Fatal(err)
		}
		if err := r.mergeEncoded(bad, true); err == nil {
			t.Fatalf("operand %x taken", bad)
		}
		if got := r.encode(nil); !bytes.Equal(got, enc) {
			t.Fatalf("a refused operand %x changed the row to %x, was %x", bad, got, enc)
		}
	}
}

// TestSeriesMergeReused: the merger reuses a series row's merge once its
// sum is closed, and a reused merge sums as a new one does: one operand
// passed on as it came, several summed, a corrupt one left out.
func TestSeriesMergeReused(t *testing.T) {
	enc := func(errs int64, ds ...time.Duration) []byte {
		var r seriesRow
		r.errors = errs
		for _, d := range ds {
			r.sketch.AddN(d, 1)
		}
		return r.encode(nil)
	}
	a := enc(1, time.Millisecond, 3*time.Millisecond)
	b := enc(0, time.Second)
	c := enc(2, 0, 5*time.Millisecond, time.Millisecond)
	var want seriesRow
	for _, v := range [][]byte{a, b, c} {
		if err := mergeSeriesRow(v, &want.errors, &want.sketch); err != nil {
			t.Fatal(err)
		}
	}
	sum := want.encode(nil)
	key := []byte{kindSeries, 0, 0, 0, 1}
	m := newAggregateMerger(nil)
	for round, c := range []struct {
		ops  [][]byte // newest first
		want []byte
	}{
		{[][]byte{a}, a},
		{[][]byte{c, b, a}, sum},
		{[][]byte{b}, b},
		{[][]byte{c, {0x80}, b, a}, sum},
		{[][]byte{{0x80}, c, b, a}, sum},
		{[][]byte{c}, c},
	} {
		vm, err := m.Merge(key, c.ops[0])
		if err != nil {
			t.Fatal(err)
		}
		for _, op := range c.ops[1:] {
			if err := vm.MergeOlder(op); err != nil {
				t.Fatal(err)
			}
		}
		got, closer, err := vm.Finish(true)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, c.want) {
			t.Fatalf("round %d: merged %x, want %x", round, got, c.want)
		}
		if closer == nil {
			t.Fatalf("round %d: a series merge is not handed back for reuse", round)
		}
		if err := closer.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func total(ps []store.REDPoint) (n int64) {
	for _, p := range ps {
		n += p.Count
	}
	return n
}

// TestSeriesSumsForgetUncommitted: the series writer keeps the rows it
// folded summed, and folds them again without reading. A group whose batch
// is not committed must leave those sums as the store holds them: the next
// folds would otherwise set rows counting spans never stored.
func TestSeriesSumsForgetUncommitted(t *testing.T) {
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	at := now.Add(-25 * time.Second)
	s, err := Open(t.TempDir(), Options{Now: func() time.Time { return now }, NoServiceMap: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.series.flushEvery = 0 // each group adds to the rows, as this test is of the row writer
	ctx := context.Background()
	count := func() int64 {
		t.Helper()
		ps, err := s.REDSeries(ctx, "p", "api", "get", now.Add(-time.Minute), now, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return total(ps)
	}
	written := 0
	write := func(n int) {
		t.Helper()
		if err := s.WriteSpans(ctx, "p", seriesSpans(written, n, "get", at)); err != nil {
			t.Fatal(err)
		}
		written += n
	}
	for range 2 * seriesFold {
		write(2) // past a fold: the row is summed in memory from now on
	}
	if len(s.series.rows.sums) == 0 {
		t.Fatal("no row summed after folds: the test no longer covers the sums")
	}
	// A group whose commit failed: its rows were added, then dropped.
	ps := make([]placed, 0, 50)
	lost := seriesSpans(10_000, 50, "get", at)
	for i := range lost {
		ps = append(ps, s.place(&lost[i], now))
	}
	for range seriesFold + 1 { // every row folds at least once
		b := s.db.NewBatch()
		done, err := s.addSeries(b, []*queuedWrite{{series: seriesRows("p", ps)}})
		if err != nil {
			t.Fatal(err)
		}
		done(false)
		b.Close()
	}
	for range 2 * seriesFold {
		write(1)
	}
	if got := count(); got != int64(written) {
		t.Errorf("series count %d, want the %d spans stored", got, written)
	}
}

// TestSeriesSumsForgetDeleted: rows that retention deleted are not set
// again from the writer's sums. (Retention drops whole days before its
// cutoff; here the cutoff is tomorrow, so that today's rows, which the
// writer has summed, are the ones deleted.)
func TestSeriesSumsForgetDeleted(t *testing.T) {
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	at := now.Add(-25 * time.Second)
	s, err := Open(t.TempDir(), Options{Now: func() time.Time { return now }, NoServiceMap: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.series.flushEvery = 0 // each group adds to the rows, as this test is of the row writer
	ctx := context.Background()
	trace := 0
	write := func(n int) {
		t.Helper()
		if err := s.WriteSpans(ctx, "p", seriesSpans(trace, n, "get", at)); err != nil {
			t.Fatal(err)
		}
		trace += n
	}
	for range 2 * seriesFold {
		write(2)
	}
	if len(s.series.rows.sums) == 0 {
		t.Fatal("no row summed after folds: the test no longer covers the sums")
	}
	if err := s.DeleteSpansBefore(ctx, now.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	for range 2 * seriesFold {
		write(1)
	}
	ps, err := s.REDSeries(ctx, "p", "api", "get", now.Add(-time.Minute), now, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := total(ps), int64(2*seriesFold); got != want {
		t.Errorf("series count %d after retention, want the %d spans written since", got, want)
	}
}
