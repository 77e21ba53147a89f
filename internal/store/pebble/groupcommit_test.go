package pebble

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// The tests below build groups by hand (prepareWrite, then commitGroup),
// so that which writes share a commit does not depend on timing.

var groupNow = time.Date(2026, 11, 20, 12, 0, 30, 0, time.UTC)

// callTrace returns a trace of three spans: web's root, web's client span
// and the server span of callee it calls, which failed when failed is set.
func callTrace(trace byte, callee string, failed bool) []telemetry.Span {
	web := &telemetry.Resource{ServiceName: "web"}
	svc := &telemetry.Resource{ServiceName: callee}
	t0 := groupNow.Add(-20 * time.Second).UnixNano()
	sp := func(id, parent byte, res *telemetry.Resource, kind telemetry.SpanKind, name string, ms int64) telemetry.Span {
		s := telemetry.Span{TraceID: telemetry.TraceID{0x9c, trace}, SpanID: telemetry.SpanID{id}, Resource: res,
			Kind: kind, Name: name, StartUnixNano: t0, EndUnixNano: t0 + ms*int64(time.Millisecond)}
		if parent != 0 {
			s.ParentSpanID = telemetry.SpanID{parent}
		}
		return s
	}
	spans := []telemetry.Span{
		sp(1, 0, web, telemetry.KindServer, "GET /", 30),
		sp(2, 1, web, telemetry.KindClient, "call "+callee, 20),
		sp(3, 2, svc, telemetry.KindServer, "handle", 10),
	}
	if failed {
		spans[2].StatusCode = telemetry.StatusError
	}
	return spans
}

func openGroupStore(t *testing.T, opts Options) *Store {
	t.Helper()
	opts.Now = func() time.Time { return groupNow }
	s, err := Open(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// prepared prepares a write that must be queued.
func prepared(t *testing.T, s *Store, project string, spans []telemetry.Span) *queuedWrite {
	t.Helper()
	w, err := s.prepareWrite(context.Background(), project, spans)
	if w == nil {
		t.Fatalf("prepareWrite of %d spans queued nothing: %v", len(spans), err)
	}
	return w
}

// edges returns the service map's calls by caller→callee.
func edges(t *testing.T, s *Store, project string) map[string]int64 {
	t.Helper()
	es, err := s.ServiceMap(context.Background(), project, groupNow.Add(-time.Hour), groupNow.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, e := range es {
		out[e.Caller+"→"+e.Callee] += e.Calls
	}
	return out
}

// requests returns how many entry spans of service the RED series count.
func requests(t *testing.T, s *Store, project, service string) int64 {
	t.Helper()
	ps, err := s.REDSeries(context.Background(), project, service, "", groupNow.Add(-time.Hour), groupNow.Add(time.Minute), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	n := int64(0)
	for _, p := range ps {
		n += p.Count
	}
	return n
}

// TestGroupCommitTwins: two writes of one batch in one group, and a third
// in a later group that missed the first's commit when it looked, store the
// batch once and count it once; each succeeds.
func TestGroupCommitTwins(t *testing.T) {
	s := openGroupStore(t, Options{})
	ctx := context.Background()
	a := callTrace(1, "api", false)
	twin := []telemetry.Span{a[2], a[0], a[1]} // the same batch, reordered
	other := callTrace(2, "api", false)
	w1, w2, w3 := prepared(t, s, "p", a), prepared(t, s, "p", twin), prepared(t, s, "p", other)
	late := prepared(t, s, "p", a)
	s.commitGroup([]*queuedWrite{w1, w2, w3})
	s.commitGroup([]*queuedWrite{late})
	for i, w := range []*queuedWrite{w1, w2, w3, late} {
		if err := w.finish(); err != nil {
			t.Errorf("write %d: %v", i, err)
		}
	}
	if !w1.committed || w2.committed || !w3.committed || late.committed {
		t.Errorf("committed: %v %v %v %v; want the first of the twins and the other batch only",
			w1.committed, w2.committed, w3.committed, late.committed)
	}
	got, err := s.Trace(ctx, "p", a[0].TraceID)
	if err != nil || len(got) != 3 {
		t.Errorf("trace of the twins: %d spans, %v; want 3", len(got), err)
	}
	if e := edges(t, s, "p"); e["web→api"] != 2 || len(e) != 1 {
		t.Errorf("service map %v; want web→api 2 (one call per trace)", e)
	}
	if n := requests(t, s, "p", "api"); n != 2 {
		t.Errorf("api requests %d; want 2", n)
	}
}

// TestGroupCommitRefusedMember: a write of a group whose spans are partly
// refused (a service over the project's limit) stores the rest, and the
// other writes of its group commit as they would alone; a write refused
// whole never joins a group.
func TestGroupCommitRefusedMember(t *testing.T) {
	s := openGroupStore(t, Options{MaxServices: 2}) // web and api
	ctx := context.Background()
	ok := prepared(t, s, "p", callTrace(1, "api", false))
	partial := prepared(t, s, "p", append(callTrace(2, "api", false), callTrace(3, "db", false)...))
	if w, err := s.prepareWrite(ctx, "p", callTrace(4, "cache", false)[2:]); w != nil || !errors.As(err, new(*store.PartialWriteError)) {
		t.Fatalf("a write of one refused span: queued %v, %v; want a *store.PartialWriteError", w != nil, err)
	}
	s.commitGroup([]*queuedWrite{ok, partial})
	if err := ok.finish(); err != nil {
		t.Errorf("the write beside the refused one: %v", err)
	}
	var pe *store.PartialWriteError
	if err := partial.finish(); !errors.As(err, &pe) || pe.Refused != 1 {
		t.Errorf("the partly refused write: %v; want a *store.PartialWriteError of 1 span", err)
	}
	for trace, want := range map[byte]int{1: 3, 2: 3, 3: 2} {
		got, err := s.Trace(ctx, "p", telemetry.TraceID{0x9c, trace})
		if err != nil || len(got) != want {
			t.Errorf("trace %d: %d spans, %v; want %d", trace, len(got), err, want)
		}
	}
	if e := edges(t, s, "p"); e["web→api"] != 2 || len(e) != 1 {
		t.Errorf("service map %v; want web→api 2 and nothing to the refused service", e)
	}
}

// TestGroupCommitFailure: when the group's commit fails, every write of it
// fails, nothing of any is stored or counted, and their names are given
// back.
func TestGroupCommitFailure(t *testing.T) {
	s := openGroupStore(t, Options{})
	ctx := context.Background()
	w1, w2 := prepared(t, s, "p", callTrace(1, "api", false)), prepared(t, s, "p", callTrace(2, "db", true))
	s.guard.fail("test: the disk went away")
	s.commitGroup([]*queuedWrite{w1, w2})
	for i, w := range []*queuedWrite{w1, w2} {
		if err := w.finish(); !errors.Is(err, store.ErrUnavailable) || w.committed {
			t.Errorf("write %d of the failed group: %v (committed %v); want store.ErrUnavailable", i, err, w.committed)
		}
	}
	if len(s.names.pending) != 0 {
		t.Errorf("%d names still reserved after the failed commit", len(s.names.pending))
	}
	if n := s.smap.pending[hourOf(groupNow.UnixNano())]; len(n) != 0 {
		t.Errorf("%d pending calls remembered from the failed commit", len(n))
	}
	for trace := byte(1); trace <= 2; trace++ {
		if got, err := s.Trace(ctx, "p", telemetry.TraceID{0x9c, trace}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("trace %d after the failed commit: %d spans, %v; want none", trace, len(got), err)
		}
	}
	if e := edges(t, s, "p"); len(e) != 0 {
		t.Errorf("service map after the failed commit: %v; want empty", e)
	}
}

// TestGroupCommitPanic: a group whose commit panics (a bug) fails each of
// its writes, and the store then refuses writes rather than hang them on a
// lock the panic left held.
func TestGroupCommitPanic(t *testing.T) {
	s := openGroupStore(t, Options{})
	w1, w2 := prepared(t, s, "p", callTrace(1, "api", false)), prepared(t, s, "p", callTrace(2, "db", false))
	b := w1.b
	w1.b = nil // gathering the batches panics
	s.commitGroup([]*queuedWrite{w1, w2})
	w1.b = b
	for i, w := range []*queuedWrite{w1, w2} {
		if err := w.finish(); !errors.Is(err, store.ErrFailed) || w.committed {
			t.Errorf("write %d of the group that panicked: %v (committed %v); want store.ErrFailed", i, err, w.committed)
		}
	}
	if err := s.WriteSpans(context.Background(), "p", callTrace(3, "api", false)); !errors.Is(err, store.ErrFailed) {
		t.Errorf("a write after the panic: %v; want store.ErrFailed", err)
	}
}
