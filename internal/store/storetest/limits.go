package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// Limits are the bounds on one project's names that the limits suite sets.
type Limits struct {
	Services   int // services per project
	Operations int // operation names per service
}

// LimitsOpener opens the store named by dir, enforcing lim, with now as its
// clock. Opening the same dir again must find what was written before, as
// after a restart of the server. The suite closes each store it opens.
type LimitsOpener func(t *testing.T, dir string, now func() time.Time, lim Limits) store.TraceStore

// RunLimits runs the suite of name limits. A backend that bounds the services
// of a project and the operations of a service must refuse only the spans
// that would create a name beyond a limit, store the others of the batch,
// report the refusal with a *store.PartialWriteError, and count the names
// stored before a restart. New names are admitted in the order the batch
// first mentions them.
func RunLimits(t *testing.T, open LimitsOpener) {
	tests := []struct {
		name string
		fn   func(*testing.T, LimitsOpener)
	}{
		{"Services", testServiceLimit},
		{"Operations", testOperationLimit},
		{"WholeBatchRefused", testWholeBatchRefused},
		{"ConcurrentNewServices", testConcurrentNewServices},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open) })
	}
}

// limitedStore opens dir and closes the store when the test ends, unless
// the returned close function did it first.
func limitedStore(t *testing.T, open LimitsOpener, dir string, lim Limits) (store.TraceStore, func()) {
	t.Helper()
	s := open(t, dir, fixedClock(), lim)
	var once sync.Once
	closeStore := func() {
		once.Do(func() {
			if err := s.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		})
	}
	t.Cleanup(closeStore)
	return s, closeStore
}

// wantRefused writes spans and checks that refused of them are refused for
// a reason mentioning every one of mentions.
func wantRefused(t *testing.T, s store.TraceStore, project string, refused int, mentions []string, spans ...telemetry.Span) {
	t.Helper()
	err := s.WriteSpans(context.Background(), project, spans)
	if refused == 0 {
		if err != nil {
			t.Fatalf("WriteSpans: %v, want every span stored", err)
		}
		return
	}
	var pw *store.PartialWriteError
	if !errors.As(err, &pw) {
		t.Fatalf("WriteSpans: %v, want a *store.PartialWriteError", err)
	}
	if pw.Refused != refused {
		t.Errorf("Refused = %d, want %d (%v)", pw.Refused, refused, err)
	}
	for _, m := range mentions {
		if !strings.Contains(pw.Reason, m) || !strings.Contains(err.Error(), m) {
			t.Errorf("refusal %q does not say %q", err, m)
		}
	}
}

func wantServices(t *testing.T, s store.TraceStore, project string, want ...string) {
	t.Helper()
	got, err := s.Services(context.Background(), project)
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("Services(%s) = %v, %v; want %v", project, got, err, want)
	}
}

func wantOperations(t *testing.T, s store.TraceStore, project, service string, want ...string) {
	t.Helper()
	ops, err := s.Operations(context.Background(), project, service)
	var got []string
	for _, o := range ops {
		got = append(got, o.Name)
	}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("Operations(%s, %s) = %v, %v; want %v", project, service, got, err, want)
	}
}

// wantTrace checks that trace n holds spans spans, none meaning not found.
func wantTrace(t *testing.T, s store.TraceStore, project string, n, spans int) {
	t.Helper()
	got, err := s.Trace(context.Background(), project, tid(n))
	switch {
	case spans == 0 && !errors.Is(err, store.ErrNotFound):
		t.Errorf("trace %d: %d spans, %v; want none stored", n, len(got), err)
	case spans > 0 && (err != nil || len(got) != spans):
		t.Errorf("trace %d: %d spans, %v; want %d", n, len(got), err, spans)
	}
}

func testServiceLimit(t *testing.T, open LimitsOpener) {
	dir := t.TempDir()
	lim := Limits{Services: 3, Operations: 10}
	s, closeStore := limitedStore(t, open, dir, lim)
	at := base.Add(-time.Minute)
	a, b, c, d := Resource("a"), Resource("b"), Resource("c"), Resource("d")
	wantRefused(t, s, "p", 0, nil, span(a, 1, 1, 0, "op", at, time.Millisecond))
	// Two slots remain for three new services: d, mentioned last, is refused
	// and the rest of the batch is stored.
	wantRefused(t, s, "p", 2, []string{`"p"`, "limit of 3 services", `"d"`},
		span(b, 2, 2, 0, "op", at, time.Millisecond),
		span(c, 3, 4, 0, "op", at, time.Millisecond),
		span(d, 4, 3, 0, "op", at, time.Millisecond),
		span(d, 4, 5, 3, "op", at, time.Millisecond),
		span(a, 5, 6, 0, "op", at, time.Millisecond),
		span(b, 2, 7, 2, "op", at, time.Millisecond),
	)
	wantServices(t, s, "p", "a", "b", "c")
	wantTrace(t, s, "p", 2, 2)
	wantTrace(t, s, "p", 3, 1)
	wantTrace(t, s, "p", 4, 0)
	wantTrace(t, s, "p", 5, 1)
	got, err := s.FindTraces(context.Background(), "p", store.TraceQuery{})
	if err != nil || slices.Contains(traceNumbers(got), 4) || len(got) != 4 {
		t.Errorf("FindTraces = %v, %v; want traces 1, 2, 3 and 5", traceNumbers(got), err)
	}
	// Known services still write; other projects have limits of their own.
	wantRefused(t, s, "p", 0, nil, span(c, 6, 8, 0, "op", at, time.Millisecond))
	wantRefused(t, s, "q", 0, nil, span(d, 7, 9, 0, "op", at, time.Millisecond))

	closeStore()
	s, _ = limitedStore(t, open, dir, lim)
	wantRefused(t, s, "p", 1, []string{"limit of 3 services", `"e"`}, span(Resource("e"), 8, 10, 0, "op", at, time.Millisecond))
	wantRefused(t, s, "p", 0, nil, span(b, 9, 11, 0, "op", at, time.Millisecond))
	wantRefused(t, s, "q", 0, nil,
		span(Resource("e"), 10, 12, 0, "op", at, time.Millisecond),
		span(Resource("f"), 10, 13, 12, "op", at, time.Millisecond))
	wantRefused(t, s, "q", 1, []string{`"q"`, `"g"`}, span(Resource("g"), 11, 14, 0, "op", at, time.Millisecond))
	wantServices(t, s, "p", "a", "b", "c")
	wantServices(t, s, "q", "d", "e", "f")
}

func testOperationLimit(t *testing.T, open LimitsOpener) {
	dir := t.TempDir()
	lim := Limits{Services: 10, Operations: 2}
	s, closeStore := limitedStore(t, open, dir, lim)
	at := base.Add(-time.Minute)
	a, b := Resource("a"), Resource("b")
	wantRefused(t, s, "p", 0, nil, span(a, 1, 1, 0, "x", at, time.Millisecond))
	wantRefused(t, s, "p", 2, []string{`"a"`, `"p"`, "limit of 2 operations", `"z"`},
		span(a, 2, 2, 0, "y", at, time.Millisecond),
		span(a, 3, 3, 0, "z", at, time.Millisecond),
		span(a, 2, 4, 2, "x", at, time.Millisecond),
		span(b, 4, 5, 0, "z", at, time.Millisecond), // the limit is per service
		span(a, 3, 6, 3, "z", at, time.Millisecond),
	)
	wantOperations(t, s, "p", "a", "x", "y")
	wantOperations(t, s, "p", "b", "z")
	wantTrace(t, s, "p", 2, 2)
	wantTrace(t, s, "p", 3, 0)
	wantTrace(t, s, "p", 4, 1)

	closeStore()
	s, _ = limitedStore(t, open, dir, lim)
	wantRefused(t, s, "p", 1, []string{"limit of 2 operations", `"w"`},
		span(a, 5, 7, 0, "w", at, time.Millisecond),
		span(a, 5, 8, 7, "y", at, time.Millisecond))
	wantRefused(t, s, "p", 0, nil, span(b, 6, 9, 0, "w", at, time.Millisecond))
	wantRefused(t, s, "p", 1, []string{`"b"`, `"v"`}, span(b, 7, 10, 0, "v", at, time.Millisecond))
	wantOperations(t, s, "p", "a", "x", "y")
	wantOperations(t, s, "p", "b", "w", "z")
}

func testWholeBatchRefused(t *testing.T, open LimitsOpener) {
	s, _ := limitedStore(t, open, t.TempDir(), Limits{Services: 1, Operations: 1})
	at := base.Add(-time.Minute)
	wantRefused(t, s, "p", 0, nil, span(Resource("a"), 1, 1, 0, "x", at, time.Millisecond))
	wantRefused(t, s, "p", 3, []string{"limit of 1 services"},
		span(Resource("b"), 2, 2, 0, "x", at, time.Millisecond),
		span(Resource("a"), 2, 3, 2, "y", at, time.Millisecond),
		span(Resource("c"), 2, 4, 2, "x", at, time.Millisecond),
	)
	wantTrace(t, s, "p", 2, 0)
	wantServices(t, s, "p", "a")
	wantOperations(t, s, "p", "a", "x")
}

// testConcurrentNewServices lets writers race for the last slots: together
// they must not pass the limit, and each refusal counts its spans.
func testConcurrentNewServices(t *testing.T, open LimitsOpener) {
	const limit, writers, perWriter = 5, 8, 4
	s, _ := limitedStore(t, open, t.TempDir(), Limits{Services: limit, Operations: 10})
	var wg sync.WaitGroup
	var mu sync.Mutex
	refused := 0
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var batch []telemetry.Span
			for i := 0; i < perWriter; i++ {
				n := w*perWriter + i + 1
				batch = append(batch, span(Resource(fmt.Sprintf("svc-%d", n)), n, n, 0, "op", base.Add(-time.Minute), time.Millisecond))
			}
			err := s.WriteSpans(context.Background(), "p", batch)
			var pw *store.PartialWriteError
			switch {
			case err == nil:
			case errors.As(err, &pw):
				mu.Lock()
				refused += pw.Refused
				mu.Unlock()
			default:
				t.Errorf("WriteSpans: %v", err)
			}
		}()
	}
	wg.Wait()
	got, err := s.Services(context.Background(), "p")
	if err != nil || len(got) != limit {
		t.Errorf("Services = %v, %v; want %d of them", got, err, limit)
	}
	if refused != writers*perWriter-limit {
		t.Errorf("%d spans refused, want %d", refused, writers*perWriter-limit)
	}
}
