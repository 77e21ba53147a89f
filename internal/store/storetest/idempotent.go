package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
	"github.com/tracekit-oss/tracekit/sdk/go/protocol"
)

// testIdempotentWrites: an exporter that retries a batch after a timeout or
// a 503, and an SDK that retries an upload, store each span, snapshot and
// log line once.
func testIdempotentWrites(t *testing.T, open TraceOpener) {
	s := openStore(t, open)
	ctx := context.Background()
	res := Resource("checkout")
	t0 := base.Add(-time.Minute)
	batch := []telemetry.Span{
		span(res, 7, 1, 0, "GET /cart", t0, 100*time.Millisecond),
		span(res, 7, 2, 1, "db.Query", t0.Add(time.Millisecond), 20*time.Millisecond),
		span(res, 7, 3, 1, "cache.Get", t0.Add(2*time.Millisecond), time.Millisecond),
	}
	write(t, s, "p", batch...)
	write(t, s, "p", batch...)                     // the same batch again
	write(t, s, "p", batch[1], batch[2], batch[0]) // again, in another order
	got, err := s.Trace(ctx, "p", tid(7))
	if err != nil || len(got) != 3 {
		t.Fatalf("Trace after three deliveries of one batch: %d spans, %v; want 3", len(got), err)
	}
	found, err := s.FindTraces(ctx, "p", store.TraceQuery{Service: "checkout", Start: base.Add(-time.Hour), End: base})
	if err != nil || len(found) != 1 || found[0].SpanCount != 3 {
		t.Errorf("FindTraces = %+v, %v; want one trace of 3 spans", found, err)
	}

	snap := store.Snapshot{ID: protocol.NewRecordID(t0), BreakpointID: "b1", Service: "checkout", Time: t0,
		Variables: json.RawMessage(`{"n":1}`)}
	line := store.LogLine{ID: protocol.NewRecordID(t0), BreakpointID: "b2", Service: "checkout", Time: t0, Message: "once"}
	for range 2 {
		if err := s.WriteSnapshots(ctx, "p", []store.Snapshot{snap}); err != nil {
			t.Fatal(err)
		}
		if err := s.WriteLogs(ctx, "p", []store.LogLine{line}); err != nil {
			t.Fatal(err)
		}
	}
	snaps, err := s.FindSnapshots(ctx, "p", store.SnapshotQuery{BreakpointID: "b1"})
	if err != nil || len(snaps) != 1 || snaps[0].ID != snap.ID {
		t.Errorf("FindSnapshots after a retried upload = %d, %v; want the one snapshot %s", len(snaps), err, snap.ID)
	}
	lines, err := s.FindLogs(ctx, "p", store.LogQuery{BreakpointID: "b2"})
	if err != nil || len(lines) != 1 || lines[0].ID != line.ID {
		t.Errorf("FindLogs after a retried upload = %d, %v; want the one line %s", len(lines), err, line.ID)
	}
}

// testHitCounts: hits counted from many goroutines (several servers, in a
// shared store) while the breakpoint is updated lose nothing, and the rate
// limit holds across them.
func testHitCounts(t *testing.T, open MetadataOpener) {
	s := openStore(t, open)
	ctx := context.Background()
	bp := store.Breakpoint{ID: "b1", Project: "p", Service: "pay", Type: store.BreakpointLine, File: "pay.go", Line: 1,
		CaptureDepth: 3, RateLimit: 10, MaxStringLength: 256, ExpiresAt: base.Add(time.Hour), CreatedAt: base, UpdatedAt: base}
	if err := s.PutBreakpoint(ctx, bp); err != nil {
		t.Fatal(err)
	}
	const workers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers+1)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if _, err := s.AdmitHits(ctx, "p", "b1", 1, 0, base.Add(time.Duration(w*each+i)*time.Millisecond)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range each {
			u := bp
			u.Condition = fmt.Sprintf("n > %d", i)
			u.UpdatedAt = base.Add(time.Duration(i) * time.Second)
			if err := s.PutBreakpoint(ctx, u); err != nil {
				errs <- err
				return
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got, err := s.Breakpoint(ctx, "p", "b1")
	if err != nil || got.Hits != workers*each {
		t.Fatalf("hits = %d, %v; want %d: an update lost counted hits", got.Hits, err, workers*each)
	}
	if got.Condition != fmt.Sprintf("n > %d", each-1) {
		t.Errorf("condition = %q: the last update was lost", got.Condition)
	}

	// The rate limit: 10 a minute, whoever asks.
	next := base.Add(2 * time.Hour).Truncate(time.Minute)
	admitted := int64(0)
	var mu sync.Mutex
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := s.AdmitHits(ctx, "p", "b1", 3, 10, next.Add(10*time.Second))
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			admitted += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	if admitted != 10 {
		t.Errorf("admitted %d hits of 18 in one minute, want the limit of 10", admitted)
	}
	if n, err := s.AdmitHits(ctx, "p", "b1", 3, 10, next.Add(time.Minute)); err != nil || n != 3 {
		t.Errorf("the next minute admitted %d, %v; want 3", n, err)
	}
	if n, err := s.AdmitHits(ctx, "p", "nope", 1, 10, next); !errors.Is(err, store.ErrNotFound) || n != 0 {
		t.Errorf("unknown breakpoint: %d, %v", n, err)
	}
	got, _ = s.Breakpoint(ctx, "p", "b1")
	if want := int64(workers*each + 13); got.Hits != want || got.LastHitAt == nil || !got.LastHitAt.Equal(next.Add(time.Minute)) {
		t.Errorf("after limited hits: %d at %v, want %d at %v", got.Hits, got.LastHitAt, want, next.Add(time.Minute))
	}
}
