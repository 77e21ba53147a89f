package pebble

import (
	"context"
	"errors"
	"testing"
	"time"

	pdb "github.com/cockroachdb/pebble/v2"
)

// crash closes s as a crash would leave it for the next Open, as far as
// the RED series go: the sums pending in memory are lost. (Close flushes
// the memtables, which a crash does not; Pebble replays its log instead.)
func crash(t *testing.T, s *Store) {
	t.Helper()
	s.series.mu.Lock()
	s.series.pending = nil
	s.series.mu.Unlock()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestSeriesCountedOnceAfterCrash: sums pending at a crash are counted at
// the next Open from the log, once: those added to the rows before the
// crash are not counted again, nor are the recovered ones at the Open
// after. A span whose start lies outside retention is counted at its
// arrival, as it was when written.
func TestSeriesCountedOnceAfterCrash(t *testing.T) {
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	at := now.Add(-25 * time.Second)
	dir := t.TempDir()
	opts := Options{Sync: true, Now: func() time.Time { return now }, NoServiceMap: true}
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	trace := 0
	write := func(s *Store, n int, at time.Time) {
		t.Helper()
		if err := s.WriteSpans(ctx, "p", seriesSpans(trace, n, "get", at)); err != nil {
			t.Fatal(err)
		}
		trace += n
	}
	write(s, 3, at)
	write(s, 4, at)
	if err := s.flushSeries(); err != nil { // these two in the rows
		t.Fatal(err)
	}
	if n := countKind(t, s, kindSeriesLog); n != 0 {
		t.Fatalf("%d log records left after a flush; want none", n)
	}
	write(s, 5, at)
	write(s, 6, now.Add(-40*24*time.Hour)) // before retention: counted at its arrival, now
	if n := countKind(t, s, kindSeriesLog); n != 2 {
		t.Fatalf("%d log records for the two writes since the flush; want 2", n)
	}
	crash(t, s)

	count := func(s *Store, from time.Time) (n, errs int64) {
		t.Helper()
		ps, err := s.REDSeries(ctx, "p", "api", "get", from, from.Add(time.Minute), 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			n, errs = n+p.Count, errs+p.Errors
		}
		return n, errs
	}
	for round := range 2 {
		s, err = Open(dir, opts)
		if err != nil {
			t.Fatal(err)
		}
		if n := countKind(t, s, kindSeriesLog); n != 0 {
			t.Errorf("open %d: %d log records left; want none", round+1, n)
		}
		n, errs := count(s, at.Truncate(time.Minute))
		if n != 12 || errs != 4 { // spans 0 to 11 of seriesSpans: 0, 3, 6 and 9 failed
			t.Errorf("open %d: %d spans, %d errors in the spans' minute; want 12, 4", round+1, n, errs)
		}
		if n, _ := count(s, now.Truncate(time.Minute)); n != 6 {
			t.Errorf("open %d: %d spans in the arrival minute; want the 6 that started before retention", round+1, n)
		}
		crash(t, s) // nothing pending: the next Open recovers nothing
	}
}

// TestSeriesFlushedEveryInterval: a group commit adds the pending sums to
// the rows once they are flushEvery old, and deletes the log records of
// the groups they hold; reading the series is not what writes them.
func TestSeriesFlushedEveryInterval(t *testing.T) {
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	s, err := Open(t.TempDir(), Options{Now: func() time.Time { return now }, NoServiceMap: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.series.flushEvery = time.Hour
	ctx := context.Background()
	for i := range 3 {
		if err := s.WriteSpans(ctx, "p", seriesSpans(10*i, 10, "get", now.Add(-time.Minute))); err != nil {
			t.Fatal(err)
		}
	}
	if logs, rows := countKind(t, s, kindSeriesLog), countKind(t, s, kindSeries); logs != 3 || rows != 0 {
		t.Fatalf("within the interval: %d log records and %d rows; want 3 and none", logs, rows)
	}
	s.series.mu.Lock()
	s.series.flushEvery = time.Nanosecond
	s.series.mu.Unlock()
	if err := s.WriteSpans(ctx, "p", seriesSpans(30, 10, "get", now.Add(-time.Minute))); err != nil {
		t.Fatal(err)
	}
	if logs, rows := countKind(t, s, kindSeriesLog), countKind(t, s, kindSeries); logs != 0 || rows == 0 {
		t.Fatalf("after the interval: %d log records and %d rows; want none and some", logs, rows)
	}
	ps, err := s.REDSeries(ctx, "p", "api", "get", now.Add(-2*time.Minute), now, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if got := total(ps); got != 40 {
		t.Errorf("series count %d; want 40", got)
	}
}

// TestSeriesRecoverySkipsDroppedBlocks: a log record whose column block
// retention dropped counts what is left and does not fail Open.
func TestSeriesRecoverySkipsDroppedBlocks(t *testing.T) {
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	dir := t.TempDir()
	opts := Options{Now: func() time.Time { return now }, NoServiceMap: true}
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.WriteSpans(ctx, "p", seriesSpans(0, 10, "get", now.Add(-time.Minute))); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteSpans(ctx, "p", seriesSpans(10, 10, "get", now.Add(-time.Minute))); err != nil {
		t.Fatal(err)
	}
	// The first write's block is dropped under its record.
	var first []byte
	it, err := s.db.NewIter(&pdb.IterOptions{LowerBound: []byte{kindSpanBlock}, UpperBound: []byte{kindSpanBlock + 1}})
	if err != nil {
		t.Fatal(err)
	}
	if it.First() {
		first = append(first, it.Key()...)
	}
	it.Close()
	if err := s.db.Delete(first, pdb.Sync); err != nil {
		t.Fatal(err)
	}
	crash(t, s)
	if s, err = Open(dir, opts); err != nil {
		t.Fatalf("open with a log record of a dropped block: %v", err)
	}
	defer s.Close()
	ps, err := s.REDSeries(ctx, "p", "api", "get", now.Add(-2*time.Minute), now, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if got := total(ps); got != 10 {
		t.Errorf("series count %d; want the 10 spans of the block left", got)
	}
}

// TestSeriesLogDecode: a record decodes to what was encoded, and every
// truncation of it or trailing byte is refused, not read.
func TestSeriesLogDecode(t *testing.T) {
	ws := []*queuedWrite{
		{project: "p", arrived: 1_700_000_000_000_000_000, blocks: []colBlockID{{day: 20_000, seq: 7}, {day: 20_001, seq: 1 << 40}}},
		{project: "", arrived: -5},
	}
	v := encodeSeriesLog(nil, ws)
	got, err := decodeSeriesLog(v)
	if err != nil || len(got) != 2 || got[0].project != "p" || got[0].arrived != ws[0].arrived ||
		len(got[0].blocks) != 2 || got[0].blocks[1] != ws[0].blocks[1] || got[1].arrived != -5 || len(got[1].blocks) != 0 {
		t.Fatalf("decode: %+v, %v", got, err)
	}
	for n := range len(v) {
		if _, err := decodeSeriesLog(v[:n]); !errors.Is(err, errCorrupt) {
			t.Errorf("%d of %d bytes: %v; want errCorrupt", n, len(v), err)
		}
	}
	if _, err := decodeSeriesLog(append(v, 0)); !errors.Is(err, errCorrupt) {
		t.Errorf("a trailing byte: %v; want errCorrupt", err)
	}
}
