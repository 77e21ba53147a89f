package agent

import (
	"github.com/tracekit-oss/tracekit/sdk/go/protocol"

	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"
)

func spanContext(t *testing.T) (context.Context, trace.SpanContext) {
	t.Helper()
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled})
	return trace.ContextWithSpanContext(context.Background(), sc), sc
}

func TestSnapshotFields(t *testing.T) {
	f := newFakeServer(t)
	f.setBreakpoints(false, Breakpoint{ID: "bp1", Type: TypeLine, CapturePoint: "pay", CaptureDepth: 2, MaxStringLength: 16})
	a, _ := newAgent(t, f, nil)
	applied(t, a, "v1")
	ctx, sc := spanContext(t)
	file, line := hit(a, ctx, "pay", map[string]any{
		"email": "jane@example.com", "note": "a long note indeed", "password": "hunter2",
		"deep": map[string]any{"a": map[string]any{"b": map[string]any{"c": 1}}},
	})
	waitFor(t, a, "the upload", func(s Stats) bool { return s.Uploaded == 1 })
	snaps, _ := f.received()
	s := snaps[0]
	if s.BreakpointID != "bp1" || s.CapturePoint != "pay" || s.File != file || s.Line != line ||
		!strings.HasSuffix(s.Function, ".TestSnapshotFields") || s.TraceID != sc.TraceID().String() || s.SpanID != sc.SpanID().String() {
		t.Errorf("snapshot %+v\nwant bp1 at %s:%d in TestSnapshotFields, trace %s", s, file, line, sc.TraceID())
	}
	if len(s.Stack) == 0 || s.Stack[0].File != file || s.Stack[0].Line != line || len(s.Stack) > maxStack {
		t.Errorf("stack must start at the call site %s:%d: %+v", file, line, s.Stack)
	}
	vars := string(s.Variables)
	for _, want := range []string{`"email":"[REDACTED:email]"`, `"password":"[REDACTED:password]"`, `"b":"[truncated]"`, `"note":"a long note inde…[truncated 2 bytes]"`} {
		if !strings.Contains(vars, want) {
			t.Errorf("variables %s lack %s", vars, want)
		}
	}
	if !s.Truncated {
		t.Error("truncated must be set: strings and levels were cut")
	}
}

func TestLogpoint(t *testing.T) {
	f := newFakeServer(t)
	f.setBreakpoints(false, Breakpoint{ID: "lp1", Type: TypeLogpoint, CapturePoint: "pay", Message: "user {user.email} paid {amount}"})
	a, logs := newAgent(t, f, nil)
	applied(t, a, "v1")
	ctx, sc := spanContext(t)
	_, line := hit(a, ctx, "pay", map[string]any{"user": map[string]any{"email": "jane@example.com"}, "amount": 12.5})
	want := "user [REDACTED:email] paid 12.5"
	out := logs.String()
	for _, w := range []string{`msg="` + want + `"`, "breakpoint_id=lp1", "trace_id=" + sc.TraceID().String(), "line=" + strconv.Itoa(line)} {
		if !strings.Contains(out, w) {
			t.Errorf("application log lacks %s:\n%s", w, out)
		}
	}
	waitFor(t, a, "the upload", func(s Stats) bool { return s.Uploaded == 1 })
	snaps, lines := f.received()
	if len(snaps) != 0 || len(lines) != 1 || lines[0].Message != want || lines[0].BreakpointID != "lp1" || lines[0].TraceID != sc.TraceID().String() {
		t.Errorf("uploaded snapshots %+v, logs %+v; want one log line %q", snaps, lines, want)
	}
	if s := a.Stats(); s.Logs != 1 || s.Captures != 0 {
		t.Errorf("stats %+v: want 1 log line and no snapshot", s)
	}
}

func TestConditionInProcess(t *testing.T) {
	f := newFakeServer(t)
	f.setBreakpoints(false, Breakpoint{ID: "c1", Type: TypeConditional, CapturePoint: "pay", Condition: "order.total > 100", RateLimit: 100})
	a, _ := newAgent(t, f, nil)
	applied(t, a, "v1")
	for _, total := range []float64{50, 150, 100, 101} {
		hit(a, context.Background(), "pay", map[string]any{"order": map[string]any{"total": total}})
	}
	if s := a.Stats(); s.Captures != 2 || s.RateLimited != 0 {
		t.Errorf("stats %+v: want 2 captures (150 and 101)", s)
	}
}

func TestServerChecks(t *testing.T) {
	f := newFakeServer(t)
	f.with(func() { f.checkFn = func(vars map[string]any) bool { return vars["x"] == 1.0 } })
	f.setBreakpoints(false,
		Breakpoint{ID: "c1", Type: TypeConditional, CapturePoint: "pay", Condition: "x == 1", RateLimit: 100},
		Breakpoint{ID: "l1", Type: TypeLine, CapturePoint: "pay", RateLimit: 100})
	a, _ := newAgent(t, f, func(o *Options) { o.ServerChecks = true })
	applied(t, a, "v1")
	for _, x := range []int{1, 2, 1} {
		hit(a, context.Background(), "pay", map[string]any{"x": x, "email": "jane@example.com"})
	}
	// The line breakpoint captures at once; the conditional one after the
	// server's answer: 3 + 2 uploads.
	waitFor(t, a, "5 uploads", func(s Stats) bool { return s.Uploaded == 5 && s.Checks == 3 })
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, vars := range f.checked {
		if vars["email"] != "[REDACTED:email]" {
			t.Errorf("variables sent to the check are not scrubbed: %v", vars)
		}
	}
	n := 0
	for _, s := range f.snapshots {
		if s.BreakpointID == "c1" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("conditional snapshots = %d, want 2", n)
	}
}

func TestQueueIsBounded(t *testing.T) {
	f := newFakeServer(t)
	release := make(chan struct{})
	f.with(func() { f.block = release })
	f.setBreakpoints(false, Breakpoint{ID: "bp1", Type: TypeLine, CapturePoint: "q", RateLimit: 600})
	a, _ := newAgent(t, f, func(o *Options) { o.QueueSize, o.BatchSize = 3, 1 })
	applied(t, a, "v1")
	hit(a, context.Background(), "q", nil)
	<-f.uploadSeen // the upload loop is now held by the server
	for range 10 {
		hit(a, context.Background(), "q", nil)
	}
	if s := a.Stats(); s.Captures != 4 || s.Dropped != 7 {
		t.Errorf("stats %+v: want 4 captured (1 sending, 3 queued) and 7 dropped", s)
	}
	close(release)
	waitFor(t, a, "4 uploads", func(s Stats) bool { return s.Uploaded == 4 })
}

func TestCloseFlushesTheQueue(t *testing.T) {
	f := newFakeServer(t)
	f.setBreakpoints(false, Breakpoint{ID: "bp1", Type: TypeLine, CapturePoint: "q", RateLimit: 600})
	a, _ := newAgent(t, f, func(o *Options) { o.FlushInterval = time.Hour })
	applied(t, a, "v1")
	for range 120 {
		hit(a, context.Background(), "q", map[string]any{"blob": strings.Repeat("x", 200)})
	}
	if err := a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	snaps, _ := f.received()
	if s := a.Stats(); len(snaps) != 120 || s.Uploaded != 120 || s.Dropped != 0 {
		t.Errorf("received %d snapshots, stats %+v; want all 120 flushed by Close", len(snaps), s)
	}
	f.mu.Lock()
	gz := f.gzipped
	f.mu.Unlock()
	if gz == 0 {
		t.Error("batches of 50 snapshots of 200 bytes were not gzipped")
	}
	if !a.Idle() {
		t.Error("a closed agent must be idle")
	}
}

func TestCloseGivesUpWhenTheContextEnds(t *testing.T) {
	f := newFakeServer(t)
	f.with(func() { f.block = make(chan struct{}) }) // never released: the server hangs
	f.setBreakpoints(false, Breakpoint{ID: "bp1", Type: TypeLine, CapturePoint: "q", RateLimit: 600})
	a, _ := newAgent(t, f, nil)
	applied(t, a, "v1")
	hit(a, context.Background(), "q", nil)
	<-f.uploadSeen
	hit(a, context.Background(), "q", nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := a.Close(ctx); err == nil {
		t.Fatal("Close with an ended context must report it")
	}
	if s := a.Stats(); s.Dropped != 2 {
		t.Errorf("stats %+v: want the 2 snapshots dropped", s)
	}
}

func TestCapturePointRegistration(t *testing.T) {
	f := newFakeServer(t)
	a, _ := newAgent(t, f, func(o *Options) { o.Discovery = Discovery{Initial: time.Hour} })
	applied(t, a, "v0")
	for range 2 {
		hit(a, context.Background(), "p1", nil) // one call site, twice
	}
	_, line := hit(a, context.Background(), "p2", nil)
	var pts []protocol.CapturePoint
	eventually(t, "registration", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		pts = append([]protocol.CapturePoint{}, f.points...)
		return len(pts) >= 2
	})
	if len(pts) != 2 || pts[1].Name != "p2" || pts[1].Line != line || !strings.HasSuffix(pts[1].File, "upload_test.go") ||
		!strings.HasSuffix(pts[1].Function, ".TestCapturePointRegistration") {
		t.Errorf("registered %+v; want p1 and p2 once each, with their call sites", pts)
	}

	quiet, _ := newAgent(t, f, nil) // discovery off, no breakpoint
	if !quiet.Idle() {
		t.Fatal("an agent with nothing to do must be idle")
	}
	hit(quiet, context.Background(), "p3", nil)
	if n := quiet.Stats().CapturePoints; n != 0 {
		t.Errorf("an idle agent registered %d points", n)
	}
}
