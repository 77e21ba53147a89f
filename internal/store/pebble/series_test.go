package pebble_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tracekit-oss/tracekit/internal/store/pebble"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// TestSameBatchAtOnce writes each batch from several goroutines at once:
// whatever aggregation is on, the service map and the RED series count it
// once.
func TestSameBatchAtOnce(t *testing.T) {
	now := time.Date(2026, 11, 20, 12, 0, 30, 0, time.UTC)
	const batches, writers, calls = 20, 8, 4
	for _, c := range []struct {
		name string
		opts pebble.Options
	}{
		{"both", pebble.Options{}},
		{"series=off", pebble.Options{NoSeries: true}},
		{"map=off", pebble.Options{NoServiceMap: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.opts.Now = func() time.Time { return now }
			st := openMapStore(t, t.TempDir(), c.opts)
			for i := range batches {
				var spans []telemetry.Span
				for j := range calls {
					client, server := call(i*calls+j, "web", "api", now.Add(-time.Duration(j)*time.Second))
					spans = append(spans, client, server)
				}
				var start, wg sync.WaitGroup
				start.Add(1)
				errs := make([]error, writers)
				for w := range writers {
					wg.Go(func() {
						start.Wait()
						errs[w] = st.WriteSpans(context.Background(), "p", spans)
					})
				}
				start.Done()
				wg.Wait()
				for _, err := range errs {
					if err != nil {
						t.Fatalf("WriteSpans: %v", err)
					}
				}
			}
			const want = batches * calls
			if !c.opts.NoServiceMap {
				got := edgesOf(t, st, now.Add(-time.Hour), now.Add(time.Minute))
				if got["web→api(service)"] != want {
					t.Fatalf("service map: %v, want %d calls web→api", got, want)
				}
			}
			if !c.opts.NoSeries {
				for _, q := range []struct{ service, op string }{{"api", ""}, {"api", "serve"}, {"web", "call"}, {"web", ""}} {
					ps, err := st.REDSeries(context.Background(), "p", q.service, q.op, now.Add(-time.Hour), now.Add(time.Minute), time.Minute)
					if err != nil {
						t.Fatal(err)
					}
					if n := total(ps); n != want {
						t.Errorf("RED series of %s %q: %d spans, want %d", q.service, q.op, n, want)
					}
				}
			}
			// Each span stored once, too.
			for i := range batches * calls {
				client, _ := call(i, "web", "api", now)
				tr, err := st.Trace(context.Background(), "p", client.TraceID)
				if err != nil {
					t.Fatal(err)
				}
				if len(tr) != 2 {
					t.Fatalf("trace %d: %d spans, want 2", i, len(tr))
				}
			}
		})
	}
}
