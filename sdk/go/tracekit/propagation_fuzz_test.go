package tracekit

import (
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

// FuzzTraceparent: the parser never panics, and what it accepts it writes
// back as a valid version 00 traceparent that reads back the same.
//
//	go test -run '^$' -fuzz FuzzTraceparent ./tracekit
func FuzzTraceparent(f *testing.F) {
	for _, c := range traceparentCases() {
		for _, v := range c.header.Values("traceparent") {
			f.Add(v)
		}
	}
	f.Fuzz(func(t *testing.T, h string) {
		scc, ok := parseTraceparent(h)
		if !ok {
			return
		}
		if !scc.TraceID.IsValid() || !scc.SpanID.IsValid() {
			t.Fatalf("%q: accepted an all-zero ID", h)
		}
		if strings.Contains(h, ",") {
			t.Fatalf("%q: accepted two values", h)
		}
		out := formatTraceparent(trace.NewSpanContext(scc))
		if len(out) != traceparentLen || out[:3] != "00-" || strings.ToLower(out) != out {
			t.Fatalf("%q: wrote %q, not a version 00 traceparent", h, out)
		}
		back, ok := parseTraceparent(out)
		if !ok || back.TraceID != scc.TraceID || back.SpanID != scc.SpanID || back.TraceFlags != scc.TraceFlags {
			t.Fatalf("%q: wrote %q, which reads back as %+v (ok=%v), want %+v", h, out, back, ok, scc)
		}
	})
}

// FuzzTracestate: the parser never panics, and what it accepts it writes
// back as a valid tracestate (at most 32 valid list-members with distinct
// keys) that reads back the same.
//
//	go test -run '^$' -fuzz FuzzTracestate ./tracekit
func FuzzTracestate(f *testing.F) {
	for _, c := range tracestateCases() {
		f.Add(strings.Join(c.header.Values("tracestate"), "\n"))
	}
	f.Fuzz(func(t *testing.T, in string) {
		values := strings.Split(in, "\n") // several headers
		ts, ok := parseTracestate(values)
		if !ok {
			if ts.Len() != 0 {
				t.Fatalf("%q: rejected, yet %d list-members kept", in, ts.Len())
			}
			return
		}
		out := formatTracestate(ts)
		if ts.Len() > maxTracestateMembers {
			t.Fatalf("%q: %d list-members", in, ts.Len())
		}
		seen := map[string]bool{}
		for _, m := range strings.Split(out, ",") {
			if out == "" {
				break
			}
			k, v, found := strings.Cut(m, "=")
			if !found || !validTracestateKey(k) || !validTracestateValue(v) || seen[k] {
				t.Fatalf("%q: wrote %q, whose member %q is invalid", in, out, m)
			}
			seen[k] = true
		}
		back, ok := parseTracestate([]string{out})
		if !ok || formatTracestate(back) != out {
			t.Fatalf("%q: wrote %q, which reads back as %q (ok=%v)", in, out, formatTracestate(back), ok)
		}
	})
}
