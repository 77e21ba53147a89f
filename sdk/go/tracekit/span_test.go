package tracekit

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

func TestSpanTags(t *testing.T) {
	s, exp := newTestSDK(t, nil)
	_, span := s.StartSpan(context.Background(), "tagged")
	type point struct{ X, Y int }
	cases := []struct {
		key   string
		value interface{}
		want  any
	}{
		{"s", "text", "text"},
		{"b", true, true},
		{"i", 42, int64(42)},
		{"i8", int8(-8), int64(-8)},
		{"i32", int32(32), int64(32)},
		{"i64", int64(1) << 40, int64(1) << 40},
		{"u16", uint16(16), int64(16)},
		{"u64", uint64(1) << 63, "9223372036854775808"},
		{"f32", float32(0.5), 0.5},
		{"f64", 2.5, 2.5},
		{"ss", []string{"a", "b"}, nil},
		{"err", errors.New("bad"), "bad"},
		{"dur", 1500 * time.Millisecond, "1.5s"}, // a fmt.Stringer
		{"struct", point{1, 2}, "{1 2}"},
		{"nil", nil, "<nil>"},
	}
	want := map[string]any{}
	for _, c := range cases {
		span.SetTag(c.key, c.value)
		want[c.key] = c.want
	}
	span.End()
	span.SetTag("after-end", 1) // ignored
	sp := onlySpan(t, endedSpans(t, s, exp), "tagged")
	wantAttrs(t, sp.Attributes, want)
	if v, _ := attr(sp.Attributes, "ss"); fmt.Sprint(v.AsStringSlice()) != "[a b]" {
		t.Errorf("ss = %v", v.AsStringSlice())
	}
	if _, ok := attr(sp.Attributes, "after-end"); ok {
		t.Error("a tag set after End was recorded")
	}
}

func TestSpanNesting(t *testing.T) {
	s, exp := newTestSDK(t, nil)
	ctx, parent := s.StartSpan(context.Background(), "checkout")
	if !s.GetCurrentSpan(ctx).Context().Equal(parent.Context()) {
		t.Error("GetCurrentSpan does not return the span StartSpan put in ctx")
	}
	if parent.TraceID() != parent.Context().TraceID().String() || len(parent.TraceID()) != 32 {
		t.Errorf("TraceID() = %q", parent.TraceID())
	}
	_, child := s.StartSpan(ctx, "charge")
	child.SetError(errors.New("card declined"))
	child.End()
	parent.End()

	spans := endedSpans(t, s, exp)
	p, c := onlySpan(t, spans, "checkout"), onlySpan(t, spans, "charge")
	if c.Parent.SpanID() != p.SpanContext.SpanID() || c.SpanContext.TraceID() != p.SpanContext.TraceID() {
		t.Errorf("charge's parent %v, want checkout %v", c.Parent, p.SpanContext)
	}
	if c.SpanKind != trace.SpanKindInternal {
		t.Errorf("kind %v, want internal", c.SpanKind)
	}
	if c.Status.Code != codes.Error || c.Status.Description != "card declined" {
		t.Errorf("charge status %v", c.Status)
	}
	wantAttrs(t, exceptionEvent(t, c), map[string]any{
		"exception.type":       "*errors.errorString",
		"exception.message":    "card declined",
		"exception.stacktrace": nil,
	})

	// Without a span in ctx there is nothing to tag, and nothing breaks.
	none := s.GetCurrentSpan(context.Background())
	none.SetTag("k", "v")
	none.SetError(errors.New("x"))
	none.End()
	if none.TraceID() != "" {
		t.Errorf("TraceID of no span = %q", none.TraceID())
	}
}

func TestSDKSetTag(t *testing.T) {
	s, exp := newTestSDK(t, nil)
	_, before := s.StartSpan(context.Background(), "before")
	s.SetTag("region", "eu-west-1")
	s.SetTag("build", 7)
	s.SetTag("region", "eu-central-1") // replaces
	_, after := s.StartSpan(context.Background(), "after")
	before.End()
	after.End()
	spans := endedSpans(t, s, exp)
	wantAttrs(t, onlySpan(t, spans, "after").Attributes, map[string]any{"region": "eu-central-1", "build": int64(7)})
	if _, ok := attr(onlySpan(t, spans, "before").Attributes, "region"); ok {
		t.Error("a span started before SetTag got the tag")
	}
}

func TestCaptureException(t *testing.T) {
	s, exp := newTestSDK(t, nil)
	err := fmt.Errorf("load config: %w", fs.ErrNotExist)

	// Without a request: a span of its own.
	s.CaptureException(err)
	sp := onlySpan(t, endedSpans(t, s, exp), "exception")
	if sp.Parent.IsValid() || sp.Status.Code != codes.Error {
		t.Errorf("exception span: parent %v, status %v; want a failed root", sp.Parent, sp.Status)
	}
	ev := exceptionEvent(t, sp)
	wantAttrs(t, ev, map[string]any{"exception.type": "*fmt.wrapError", "exception.message": err.Error()})
	if st, _ := attr(ev, "exception.stacktrace"); !strings.Contains(st.AsString(), "TestCaptureException") {
		t.Errorf("stack trace does not show the caller:\n%s", st.AsString())
	}

	// Within a request: on the request's span.
	exp.Reset()
	ctx, req := s.StartSpan(context.Background(), "GET /config")
	s.CaptureExceptionWithContext(ctx, err)
	s.CaptureExceptionWithContext(ctx, nil) // ignored
	req.End()
	spans := endedSpans(t, s, exp)
	if len(spans) != 1 {
		t.Fatalf("got %d spans, want only the request's", len(spans))
	}
	wantAttrs(t, exceptionEvent(t, spans[0]), map[string]any{"exception.message": err.Error()})
	if spans[0].Status.Code != codes.Error {
		t.Errorf("request span status %v, want Error", spans[0].Status)
	}
}

func TestTraceQuery(t *testing.T) {
	s, exp := newTestSDK(t, nil)
	ctx, req := s.StartSpan(context.Background(), "GET /users")
	var inner trace.SpanContext
	err := s.TraceQuery(ctx, "postgresql", "  select * from users where id = $1", func(ctx context.Context) error {
		inner = trace.SpanContextFromContext(ctx)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("relation does not exist")
	if err := s.TraceQuery(ctx, "postgresql", "DELETE FROM nowhere", func(context.Context) error { return boom }); err != boom {
		t.Errorf("TraceQuery returned %v, want fn's error", err)
	}
	req.End()

	spans := endedSpans(t, s, exp)
	var queries []int
	for i, sp := range spans {
		if sp.Name == "db.Query" {
			queries = append(queries, i)
		}
	}
	if len(queries) != 2 {
		t.Fatalf("want 2 db.Query spans, got %d", len(queries))
	}
	ok, failed := spans[queries[0]], spans[queries[1]]
	parent := onlySpan(t, spans, "GET /users")
	if ok.Parent.SpanID() != parent.SpanContext.SpanID() || !inner.Equal(ok.SpanContext) {
		t.Errorf("db.Query is not a child of the request, or fn did not get its context")
	}
	wantAttrs(t, ok.Attributes, map[string]any{
		"db.system.name":    "postgresql",
		"db.query.text":     "  select * from users where id = $1",
		"db.operation.name": "SELECT",
	})
	if ok.Status.Code != codes.Unset || failed.Status.Code != codes.Error {
		t.Errorf("statuses %v and %v, want unset and error", ok.Status, failed.Status)
	}
	wantAttrs(t, failed.Attributes, map[string]any{"db.operation.name": "DELETE"})
}

func TestOperationName(t *testing.T) {
	f := func(query, want string) {
		t.Helper()
		if got := operationName(query); got != want {
			t.Errorf("operationName(%q) = %q, want %q", query, got, want)
		}
	}
	f("SELECT 1", "SELECT")
	f("\n\tinsert into t values (1)", "INSERT")
	f("(SELECT 1) UNION (SELECT 2)", "SELECT")
	f("WITH x AS (SELECT 1) SELECT * FROM x", "WITH")
	f("", "")
	f("-- comment", "")
}
