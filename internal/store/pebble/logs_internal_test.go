package pebble

import (
	"context"
	stdsync "sync"
	"testing"
	"time"

	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// TestCleanCloseLeavesNoFlushedLogs: the logs Pebble keeps for reuse are
// gone after Close, and every acknowledged span, including those of the
// last memtable, reads back after reopening.
func TestCleanCloseLeavesNoFlushedLogs(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	opts := Options{Now: func() time.Time { return now }, Sync: true}
	st, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	res := &telemetry.Resource{ServiceName: "a"}
	ctx := context.Background()
	const rounds = 4
	for i := range rounds {
		sp := telemetry.Span{TraceID: telemetry.TraceID{1, byte(i)}, SpanID: telemetry.SpanID{1}, Name: "op", Resource: res,
			StartUnixNano: now.Add(-time.Minute).UnixNano(), EndUnixNano: now.UnixNano()}
		if err := st.WriteSpans(ctx, "p", []telemetry.Span{sp}); err != nil {
			t.Fatal(err)
		}
		if i < rounds-1 {
			if err := st.db.Flush(); err != nil { // a memtable filled: its log is kept for reuse
				t.Fatal(err)
			}
		}
	}
	logs, err := logNums(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(logs) < 2 {
		t.Fatalf("logs %v before Close, want the live one and one kept for reuse", logs)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if logs, err = logNums(dir); err != nil {
		t.Fatal(err)
	}
	if len(logs) > 0 {
		t.Fatalf("logs %v left after Close, want none", logs)
	}
	st, err = Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for i := range rounds {
		if _, err := st.Trace(ctx, "p", telemetry.TraceID{1, byte(i)}); err != nil {
			t.Errorf("trace %d after reopening: %v", i, err)
		}
	}
}

// TestCloseDuringWritesKeepsAcknowledged: writers racing Close either have
// their write refused or find it after reopening, though Close deletes
// every log.
func TestCloseDuringWritesKeepsAcknowledged(t *testing.T) {
	for _, sync := range []bool{false, true} {
		dir := t.TempDir()
		now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
		opts := Options{Now: func() time.Time { return now }, Sync: sync}
		st, err := Open(dir, opts)
		if err != nil {
			t.Fatal(err)
		}
		res := &telemetry.Resource{ServiceName: "a"}
		var mu stdsync.Mutex
		var acked []telemetry.TraceID
		var wg stdsync.WaitGroup
		started := make(chan struct{}, 4)
		for g := range 4 {
			wg.Go(func() {
				for i := 0; ; i++ {
					id := telemetry.TraceID{2, byte(g), byte(i >> 16), byte(i >> 8), byte(i)}
					sp := telemetry.Span{TraceID: id, SpanID: telemetry.SpanID{1}, Name: "op", Resource: res,
						StartUnixNano: now.Add(-time.Minute).UnixNano(), EndUnixNano: now.UnixNano()}
					if err := st.WriteSpans(context.Background(), "p", []telemetry.Span{sp}); err != nil {
						return
					}
					mu.Lock()
					acked = append(acked, id)
					mu.Unlock()
					if i == 10 {
						started <- struct{}{}
					}
				}
			})
		}
		for range 4 {
			<-started
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		if logs, _ := logNums(dir); len(logs) > 0 {
			t.Fatalf("sync=%v: logs %v left after Close", sync, logs)
		}
		st, err = Open(dir, opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range acked {
			if _, err := st.Trace(context.Background(), "p", id); err != nil {
				t.Errorf("sync=%v: acknowledged trace %s after reopening: %v", sync, id, err)
			}
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		t.Logf("sync=%v: %d writes acknowledged before Close", sync, len(acked))
	}
}
