package tracekit

import (
	"context"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// headerRecorder is a server that remembers the trace headers of the last
// request and answers with status.
func headerRecorder(t *testing.T, status int) (*httptest.Server, func() http.Header) {
	t.Helper()
	var mu sync.Mutex
	var last http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		last = r.Header.Clone()
		mu.Unlock()
		w.WriteHeader(status)
		_, _ = io.WriteString(w, "body")
	}))
	t.Cleanup(srv.Close)
	return srv, func() http.Header {
		mu.Lock()
		defer mu.Unlock()
		return last
	}
}

// TestHTTPClientBeforeNewSDK: with OpenTelemetry as a program finds it
// before NewSDK (no-op provider and propagator), HTTPClient still works and
// passes on, in W3C headers, a trace the request's context carries.
func TestHTTPClientBeforeNewSDK(t *testing.T) {
	prevTP, prevProp := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	otel.SetTracerProvider(noop.NewTracerProvider())
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator())
	t.Cleanup(func() {
		otel.SetTracerProvider(prevTP)
		otel.SetTextMapPropagator(prevProp)
	})
	srv, headers := headerRecorder(t, http.StatusOK)

	resp, err := HTTPClient.Get(srv.URL)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	resp.Body.Close()
	if tp := headers().Get("traceparent"); tp != "" {
		t.Errorf("traceparent %q without any trace", tp)
	}

	// A context as other instrumentation would hand it over.
	ctx := propagation.TraceContext{}.Extract(context.Background(),
		propagation.MapCarrier{"traceparent": "00-" + testTraceID + "-" + testSpanID + "-01"})
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	resp, err = HTTPClient.Do(req)
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	resp.Body.Close()
	if tp := headers().Get("traceparent"); !strings.Contains(tp, testTraceID) {
		t.Errorf("traceparent %q, want trace %s passed on", tp, testTraceID)
	}
}

// TestHTTPClientRootSpan: HTTPClient.Get, without a context, starts a trace
// with the global provider, that is the SDK's after NewSDK.
func TestHTTPClientRootSpan(t *testing.T) {
	rc := newReceiver(t)
	s, err := NewSDK(&Config{ServiceName: "caller", Endpoint: rc.endpoint()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	srv, headers := headerRecorder(t, http.StatusOK)
	withCreds := strings.Replace(srv.URL, "http://", "http://user:secret@", 1)

	resp, err := HTTPClient.Get(withCreds + "/api/data?x=1")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.ReadAll(resp.Body) // the span ends at EOF
	resp.Body.Close()
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := rc.received()
	if len(got) != 1 {
		t.Fatalf("received %d spans, want the client span", len(got))
	}
	sp := got[0].span
	host := strings.TrimPrefix(srv.URL, "http://")
	if sp.Name != "GET "+host || len(sp.ParentSpanId) != 0 || got[0].service != "caller" {
		t.Errorf("span %q parent %x service %q, want a root GET %s from caller", sp.Name, sp.ParentSpanId, got[0].service, host)
	}
	if tp := headers().Get("traceparent"); !strings.Contains(tp, hex.EncodeToString(sp.SpanId)) {
		t.Errorf("traceparent %q does not name the client span %x", tp, sp.SpanId)
	}
	if u := stringAttr(sp.Attributes, "url.full"); u != srv.URL+"/api/data?x=1" {
		t.Errorf("url.full = %q, want it without credentials", u)
	}
	if a := stringAttr(sp.Attributes, "server.address"); a != "127.0.0.1" {
		t.Errorf("server.address = %q", a)
	}
}

func TestTransportStatusAndErrors(t *testing.T) {
	s, exp := newTestSDK(t, nil)
	srv, _ := headerRecorder(t, http.StatusNotFound)
	client := &http.Client{Transport: NewTransport(nil)}

	ctx, parent := s.StartSpan(context.Background(), "job")
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/missing", strings.NewReader("x"))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close() // ends the span without reading
	failing := &http.Client{Transport: NewTransport(roundTripFunc(func(*http.Request) (*http.Response, error) {
		return nil, errors.New("dial tcp: connection refused")
	}))}
	req, _ = http.NewRequestWithContext(ctx, http.MethodGet, "http://unreachable.invalid/", nil)
	if _, err := failing.Do(req); err == nil {
		t.Fatal("want the transport's error")
	}
	parent.End()

	spans := endedSpans(t, s, exp)
	notFound := onlySpan(t, spans, "POST "+strings.TrimPrefix(srv.URL, "http://"))
	if notFound.SpanKind != trace.SpanKindClient || notFound.Status.Code != codes.Error ||
		notFound.Parent.SpanID() != parent.Context().SpanID() {
		t.Errorf("404 span: kind %v status %v parent %v", notFound.SpanKind, notFound.Status, notFound.Parent)
	}
	wantAttrs(t, notFound.Attributes, map[string]any{
		"http.request.method": "POST", "http.response.status_code": int64(404), "error.type": "404",
		"network.protocol.version": "1.1",
	})
	unreachable := onlySpan(t, spans, "GET unreachable.invalid")
	wantAttrs(t, unreachable.Attributes, map[string]any{"error.type": "*errors.errorString", "server.port": int64(80)})
	wantAttrs(t, exceptionEvent(t, unreachable), map[string]any{"exception.message": "dial tcp: connection refused"})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
