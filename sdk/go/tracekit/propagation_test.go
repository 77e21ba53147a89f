package tracekit

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

const (
	testTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	testSpanID  = "00f067aa0ba902b7"
)

// hop is what a request carried into and out of a traced service: the span
// the middleware started, its parent, and the trace headers a downstream
// call through HTTPClient sent.
type hop struct {
	span                    trace.SpanContext
	parent                  trace.SpanContext // valid only for sampled spans
	traceparent, tracestate string
	baggage                 string
}

// throughService sends a request with headers to a service behind
// HTTPMiddleware whose handler calls a downstream service through HTTPClient
// with the request's context; edit, when not nil, changes the context first.
func throughService(t *testing.T, s *SDK, headers map[string]string, edit func(*http.Request) *http.Request) hop {
	t.Helper()
	var h hop
	downstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.traceparent = r.Header.Get("traceparent")
		h.tracestate = r.Header.Get("tracestate")
		h.baggage = r.Header.Get("baggage")
	}))
	defer downstream.Close()

	handler := s.HTTPMiddleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		span := trace.SpanFromContext(r.Context())
		h.span = span.SpanContext()
		if ro, ok := span.(sdktrace.ReadOnlySpan); ok {
			h.parent = ro.Parent()
		}
		if edit != nil {
			r = edit(r)
		}
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, downstream.URL, nil)
		resp, err := HTTPClient.Do(req)
		if err != nil {
			t.Errorf("downstream call: %v", err)
			return
		}
		resp.Body.Close()
	}))
	req := httptest.NewRequest(http.MethodGet, "/orders", nil)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	handler.ServeHTTP(httptest.NewRecorder(), req)
	return h
}

func TestTraceparent(t *testing.T) {
	s, _ := newTestSDK(t, nil)
	tp := func(version, traceID, spanID, flags string) string {
		return version + "-" + traceID + "-" + spanID + "-" + flags
	}
	// continued: the service joins the incoming trace as a child of the
	// incoming span; otherwise it starts a new trace, sampled.
	f := func(traceparent string, continued, sampled bool) {
		t.Helper()
		h := throughService(t, s, map[string]string{"traceparent": traceparent}, nil)
		gotTrace := h.span.TraceID().String()
		if continued {
			if gotTrace != testTraceID {
				t.Errorf("%q: trace %s, want the incoming %s", traceparent, gotTrace, testTraceID)
			}
			if sampled && (h.parent.SpanID().String() != testSpanID || !h.parent.IsRemote()) {
				t.Errorf("%q: parent %v, want the remote span %s", traceparent, h.parent, testSpanID)
			}
		} else {
			if gotTrace == testTraceID || !h.span.IsValid() {
				t.Errorf("%q: trace %s, want a new trace", traceparent, gotTrace)
			}
			if h.parent.IsValid() {
				t.Errorf("%q: parent %v, want a root span", traceparent, h.parent)
			}
		}
		if h.span.IsSampled() != sampled {
			t.Errorf("%q: sampled = %v, want %v", traceparent, h.span.IsSampled(), sampled)
		}
		// Downstream gets the same trace, a new span ID and the decision.
		parts := strings.Split(h.traceparent, "-")
		if len(parts) != 4 || parts[0] != "00" || parts[1] != gotTrace || len(parts[3]) != 2 {
			t.Errorf("%q: downstream traceparent %q, want 00-%s-<span>-<flags>", traceparent, h.traceparent, gotTrace)
		} else if flags, _ := strconv.ParseUint(parts[3], 16, 8); flags&1 == 1 != sampled {
			t.Errorf("%q: downstream traceparent %q, want sampled = %v", traceparent, h.traceparent, sampled)
		}
		if strings.Contains(h.traceparent, testSpanID) || strings.Contains(h.traceparent, h.span.SpanID().String()) {
			t.Errorf("%q: downstream traceparent %q reuses a span ID instead of the client span's", traceparent, h.traceparent)
		}
	}

	// Version 00.
	f(tp("00", testTraceID, testSpanID, "01"), true, true)
	f(tp("00", testTraceID, testSpanID, "00"), true, false)
	f(tp("00", testTraceID, testSpanID, "03"), true, true)  // sampled + random
	f(tp("00", testTraceID, testSpanID, "09"), false, true) // reserved flag bits in 00
	f(tp("00", testTraceID, testSpanID, "01")+"-extra", false, true)
	f(tp("00", testTraceID, testSpanID, "1"), false, true)

	// Future versions: parsed as 00, extra fields ignored; ff is invalid.
	f(tp("01", testTraceID, testSpanID, "01"), true, true)
	f(tp("cc", testTraceID, testSpanID, "01")+"-what-the-future-holds", true, true)
	f(tp("cc", testTraceID, testSpanID, "00")+"-what-the-future-holds", true, false)
	f(tp("ff", testTraceID, testSpanID, "01"), false, true)
	f(tp("0", testTraceID, testSpanID, "01"), false, true)

	// IDs: lower-case hex of the right length, not all zeros.
	f(tp("00", strings.ToUpper(testTraceID), testSpanID, "01"), false, true)
	f(tp("00", testTraceID, strings.ToUpper(testSpanID), "01"), false, true)
	f(tp("00", "4bf92f3577b34da6a3ce929d0e0e473g", testSpanID, "01"), false, true)
	f(tp("00", testTraceID[:31], testSpanID, "01"), false, true)
	f(tp("00", testTraceID, testSpanID+"0", "01"), false, true)
	f(tp("00", strings.Repeat("0", 32), testSpanID, "01"), false, true)
	f(tp("00", testTraceID, strings.Repeat("0", 16), "01"), false, true)
	f("", false, true)
	f("garbage", false, true)
}

func TestTracestate(t *testing.T) {
	s, _ := newTestSDK(t, nil)
	traceparent := "00-" + testTraceID + "-" + testSpanID + "-01"
	members := func(n int) string {
		m := make([]string, n)
		for i := range m {
			m[i] = fmt.Sprintf("k%d=v%d", i, i)
		}
		return strings.Join(m, ",")
	}
	// The tracestate downstream receives for an incoming one; the trace is
	// continued whatever tracestate holds.
	f := func(in, want string) {
		t.Helper()
		h := throughService(t, s, map[string]string{"traceparent": traceparent, "tracestate": in}, nil)
		if h.span.TraceID().String() != testTraceID {
			t.Errorf("tracestate %q: trace not continued", in)
		}
		if h.tracestate != want {
			t.Errorf("tracestate %q: downstream got %q, want %q", in, h.tracestate, want)
		}
	}
	f("", "")
	f("vendor=value", "vendor=value")
	f("b=2,a=1,c=3", "b=2,a=1,c=3")                         // order kept
	f("a=1, b=2,,c=3 ", "a=1,b=2,c=3")                      // optional whitespace, empty members
	f("tenant@vendor=x,k_-*/=v", "tenant@vendor=x,k_-*/=v") // multi-tenant and special key characters
	f(members(32), members(32))
	f(members(33), "")                   // more than 32 members: discarded
	f("Upper=1", "")                     // keys are lower case
	f("a=1,a=2", "")                     // duplicate keys
	f("a=b=c", "")                       // '=' in a value
	f("a=1,novalue", "")                 // a member without '='
	f("a="+strings.Repeat("v", 257), "") // values up to 256 characters
	f("1a=x", "")                        // keys start with a letter
	f("@vendor=x", "")                   // a tenant needs a name

	// A service that updates an entry moves it to the front; a new entry goes
	// to the front and, in a full list, pushes out the last one.
	update := func(in, key, value, want string) {
		t.Helper()
		h := throughService(t, s, map[string]string{"traceparent": traceparent, "tracestate": in},
			func(r *http.Request) *http.Request {
				sc := trace.SpanContextFromContext(r.Context())
				ts, err := sc.TraceState().Insert(key, value)
				if err != nil {
					t.Errorf("Insert(%q, %q): %v", key, value, err)
				}
				return r.WithContext(trace.ContextWithSpanContext(r.Context(), sc.WithTraceState(ts)))
			})
		if h.tracestate != want {
			t.Errorf("tracestate %q with %s=%s: downstream got %q, want %q", in, key, value, h.tracestate, want)
		}
	}
	update("a=1,b=2,c=3", "b", "9", "b=9,a=1,c=3")
	update("a=1,b=2", "tk", "x", "tk=x,a=1,b=2")
	update(members(32), "tk", "x", "tk=x,"+members(31))
}

func TestBaggagePropagates(t *testing.T) {
	s, _ := newTestSDK(t, nil)
	h := throughService(t, s, map[string]string{
		"traceparent": "00-" + testTraceID + "-" + testSpanID + "-01",
		"baggage":     "user.id=42",
	}, nil)
	if h.baggage != "user.id=42" {
		t.Errorf("downstream baggage %q, want user.id=42", h.baggage)
	}
}
