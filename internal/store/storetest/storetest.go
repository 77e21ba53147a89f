// Package storetest is the conformance suite every storage backend must pass.
// A backend's test calls RunTraces or RunMetadata (or both) with a function
// that opens a fresh, empty store of that contract.
//
// The suite owns the behaviour the rest of TraceKit relies on: what a write
// makes durable and readable, how search matches, how projects are isolated,
// what retention drops and keeps.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// TraceOpener opens a fresh, empty trace store; now is the clock the
// backend must use. The suite closes it.
type TraceOpener func(t *testing.T, now func() time.Time) store.TraceStore

// MetadataOpener opens a fresh, empty metadata store; now is the clock the
// backend must use. The suite closes it.
type MetadataOpener func(t *testing.T, now func() time.Time) store.MetadataStore

type namedTest[O any] struct {
	name string
	fn   func(*testing.T, O)
}

// RunTraces runs the trace-store suite. Behaviour a backend may lack is
// found by type assertion (store.SpanStatsReader) and skipped, with the
// reason, when it is absent.
func RunTraces(t *testing.T, open TraceOpener) {
	run(t, open, []namedTest[TraceOpener]{
		{"RoundTrip", testRoundTrip},
		{"TraceAcrossWrites", testTraceAcrossWrites},
		{"NotFound", testNotFound},
		{"ProjectIsolation", testProjectIsolation},
		{"FindTraces", testFindTraces},
		{"FindNewestFirstAndLimit", testFindNewestFirst},
		{"FindTimeRange", testFindTimeRange},
		{"FindManyServices", testFindManyServices},
		{"FindTraceAcrossBlocks", testFindTraceAcrossBlocks},
		{"ServicesAndOperations", testServicesAndOperations},
		{"Retention", testRetention},
		{"ConcurrentWrites", testConcurrentWrites},
		{"Snapshots", testSnapshots},
		{"Logs", testLogs},
		{"OperationStats", testOperationStats},
		{"IdempotentWrites", testIdempotentWrites},
		{"ServiceMap", testServiceMap},
		{"REDSeries", testREDSeries},
		{"TracePoints", testTracePoints},
	})
}

// RunMetadata runs the metadata-store suite.
func RunMetadata(t *testing.T, open MetadataOpener) {
	run(t, open, []namedTest[MetadataOpener]{
		{"Projects", testProjects},
		{"Keys", testKeys},
		{"Breakpoints", testBreakpoints},
		{"KillSwitchAndCapturePoints", testKillSwitchAndCapturePoints},
		{"Users", testUsers},
		{"Sessions", testSessions},
		{"Settings", testSettings},
		{"HitCounts", testHitCounts},
	})
}

func run[O any](t *testing.T, open O, tests []namedTest[O]) {
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open) })
	}
}

// base is the suite's "now": a fixed instant so that partitions are stable.
var base = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

func fixedClock() func() time.Time { return func() time.Time { return base } }

func openStore[S interface{ Close() error }](t *testing.T, open func(*testing.T, func() time.Time) S) S {
	t.Helper()
	s := open(t, fixedClock())
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

func tid(n int) telemetry.TraceID {
	var id telemetry.TraceID
	id[0] = 0xab
	id[14] = byte(n >> 8)
	id[15] = byte(n)
	return id
}

func sid(n int) telemetry.SpanID {
	var id telemetry.SpanID
	id[0] = 0xcd
	id[6] = byte(n >> 8)
	id[7] = byte(n)
	return id
}

// Resource returns a resource for service with extra attributes.
func Resource(service string, attrs ...telemetry.Attribute) *telemetry.Resource {
	all := append([]telemetry.Attribute{{Key: "service.name", Value: telemetry.StringValue(service)}}, attrs...)
	return &telemetry.Resource{ServiceName: service, Attributes: all}
}

func span(res *telemetry.Resource, trace, id, parent int, name string, start time.Time, d time.Duration, attrs ...telemetry.Attribute) telemetry.Span {
	s := telemetry.Span{
		TraceID: tid(trace), SpanID: sid(id), Name: name, Kind: telemetry.KindServer,
		StartUnixNano: start.UnixNano(), EndUnixNano: start.Add(d).UnixNano(),
		Attributes: attrs, Resource: res, ScopeName: "storetest", ScopeVersion: "1",
	}
	if parent != 0 {
		s.ParentSpanID = sid(parent)
		s.Kind = telemetry.KindInternal
	}
	return s
}

func str(k, v string) telemetry.Attribute {
	return telemetry.Attribute{Key: k, Value: telemetry.StringValue(v)}
}

func write(t *testing.T, s store.SpanWriter, project string, spans ...telemetry.Span) {
	t.Helper()
	if err := s.WriteSpans(context.Background(), project, spans); err != nil {
		t.Fatalf("WriteSpans: %v", err)
	}
}

func testRoundTrip(t *testing.T, open TraceOpener) {
	s := openStore(t, open)
	res := Resource("checkout", str("host.name", "web-1"), telemetry.Attribute{Key: "process.pid", Value: telemetry.IntValue(42)})
	root := span(res, 1, 1, 0, "GET /cart", base.Add(-time.Minute), 120*time.Millisecond,
		str("http.request.method", "GET"),
		telemetry.Attribute{Key: "http.response.status_code", Value: telemetry.IntValue(500)},
		telemetry.Attribute{Key: "cache.hit", Value: telemetry.BoolValue(true)},
		telemetry.Attribute{Key: "ratio", Value: telemetry.DoubleValue(0.25)},
		telemetry.Attribute{Key: "tags", Value: telemetry.Value{Type: telemetry.TypeArray, Str: `["a","b"]`}},
		telemetry.Attribute{Key: "raw", Value: telemetry.Value{Type: telemetry.TypeBytes, Str: "\x00\x01"}},
		telemetry.Attribute{Key: "empty", Value: telemetry.Value{}},
	)
	root.StatusCode, root.StatusMessage = telemetry.StatusError, "boom"
	root.TraceState = "vendor=1"
	root.Events = []telemetry.Event{{Name: "exception", TimeUnixNano: root.StartUnixNano + 5e6, Attributes: []telemetry.Attribute{
		str("exception.type", "*errors.errorString"), str("exception.message", "boom"), str("exception.stacktrace", "main.go:12\nmain.go:40"),
	}}}
	root.Links = []telemetry.Link{{TraceID: tid(9), SpanID: sid(9), TraceState: "x=y", Attributes: []telemetry.Attribute{str("link", "1")}}}
	child := span(res, 1, 2, 1, "db.Query", base.Add(-time.Minute+10*time.Millisecond), 80*time.Millisecond, str("db.system.name", "postgresql"))
	child.Kind = telemetry.KindClient
	write(t, s, "p1", child, root)

	got, err := s.Trace(context.Background(), "p1", tid(1))
	if err != nil {
		t.Fatalf("Trace: %v", err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d spans, want 2", len(got))
	}
	// Ordered by start time: root first.
	assertSpanEqual(t, &got[0], &root)
	assertSpanEqual(t, &got[1], &child)
}

func assertSpanEqual(t *testing.T, got, want *telemetry.Span) {
	t.Helper()
	g, w := describe(got), describe(want)
	if g != w {
		t.Errorf("span differs:\n got %s\nwant %s", g, w)
	}
}

func describe(s *telemetry.Span) string {
	res := ""
	if s.Resource != nil {
		res = fmt.Sprintf("%s %v", s.Resource.ServiceName, s.Resource.Attributes)
	}
	return fmt.Sprintf("%s %s %s ts=%q %q kind=%d %d-%d status=%d/%q attrs=%v events=%v links=%v res=[%s] scope=%s/%s",
		s.TraceID, s.SpanID, s.ParentSpanID, s.TraceState, s.Name, s.Kind, s.StartUnixNano, s.EndUnixNano,
		s.StatusCode, s.StatusMessage, s.Attributes, s.Events, s.Links, res, s.ScopeName, s.ScopeVersion)
}

func testTraceAcrossWrites(t *testing.T, open TraceOpener) {
	s := openStore(t, open)
	a, b := Resource("frontend"), Resource("backend")
	write(t, s, "p1", span(a, 7, 1, 0, "GET /", base.Add(-time.Second), time.Second))
	write(t, s, "p1", span(b, 7, 2, 1, "GET /api", base.Add(-time.Second/2), time.Second/4))
	got, err := s.Trace(context.Background(), "p1", tid(7))
	if err != nil {
		t.Fatalf("Trace: %v", err)
	}
	if len(got) != 2 || got[0].Service() != "frontend" || got[1].Service() != "backend" {
		t.Fatalf("got %v", got)
	}
}

func testNotFound(t *testing.T, open TraceOpener) {
	s := openStore(t, open)
	write(t, s, "p1", span(Resource("a"), 1, 1, 0, "x", base, time.Millisecond))
	if _, err := s.Trace(context.Background(), "p1", tid(2)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Trace of unknown id: err = %v, want ErrNotFound", err)
	}
}

func testProjectIsolation(t *testing.T, open TraceOpener) {
	s := openStore(t, open)
	write(t, s, "alpha", span(Resource("svc"), 1, 1, 0, "op", base.Add(-time.Minute), time.Millisecond, str("k", "v")))
	ctx := context.Background()
	if _, err := s.Trace(ctx, "beta", tid(1)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("beta reads alpha's trace: err = %v", err)
	}
	if got, err := s.FindTraces(ctx, "beta", store.TraceQuery{Service: "svc"}); err != nil || len(got) != 0 {
		t.Errorf("beta finds alpha's traces: %v, %v", got, err)
	}
	if got, err := s.Services(ctx, "beta"); err != nil || len(got) != 0 {
		t.Errorf("beta lists alpha's services: %v, %v", got, err)
	}
	if got, err := s.FindTraces(ctx, "alpha", store.TraceQuery{Service: "svc"}); err != nil || len(got) != 1 {
		t.Errorf("alpha misses its own trace: %v, %v", got, err)
	}
}
