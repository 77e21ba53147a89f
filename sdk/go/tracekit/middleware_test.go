package tracekit

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

func TestHTTPMiddlewareSpans(t *testing.T) {
	s, exp := newTestSDK(t, nil)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	})
	mux.HandleFunc("/any/{rest...}", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
	})
	mux.HandleFunc("example.com/hosted", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("POST /fail", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusServiceUnavailable)
	})
	h := s.HTTPMiddleware(mux)

	f := func(method, target, wantName, wantRoute string, wantStatus int) {
		t.Helper()
		exp.Reset()
		req := httptest.NewRequest(method, target, nil)
		req.Header.Set("User-Agent", "test-agent/1.0")
		req.RemoteAddr = "192.0.2.7:51234"
		h.ServeHTTP(httptest.NewRecorder(), req)
		sp := onlySpan(t, endedSpans(t, s, exp), wantName)
		if sp.SpanKind != trace.SpanKindServer {
			t.Errorf("%s %s: kind %v", method, target, sp.SpanKind)
		}
		want := map[string]any{
			"http.request.method":       method,
			"url.path":                  req.URL.Path,
			"url.scheme":                "http",
			"server.address":            req.URL.Hostname(),
			"user_agent.original":       "test-agent/1.0",
			"client.address":            "192.0.2.7",
			"network.protocol.version":  "1.1",
			"http.response.status_code": int64(wantStatus),
		}
		if wantRoute != "" {
			want["http.route"] = wantRoute
		} else if v, ok := attr(sp.Attributes, "http.route"); ok {
			t.Errorf("%s %s: http.route = %v, want none", method, target, v)
		}
		wantAttrs(t, sp.Attributes, want)
		wantCode := codes.Unset
		if wantStatus >= 500 {
			wantCode = codes.Error
		}
		if sp.Status.Code != wantCode {
			t.Errorf("%s %s: status %v, want %v", method, target, sp.Status.Code, wantCode)
		}
	}
	f("GET", "http://example.org/users/42", "GET /users/{id}", "/users/{id}", 200)
	f("HEAD", "http://example.org/users/42", "HEAD /users/{id}", "/users/{id}", 200)
	f("DELETE", "http://example.org/any/thing", "DELETE /any/{rest...}", "/any/{rest...}", 404)
	f("GET", "http://example.com/hosted", "GET /hosted", "/hosted", 200)
	f("POST", "http://example.org/fail", "POST /fail", "/fail", 503)
	f("GET", "http://example.org/nowhere", "GET /nowhere", "", 404) // the mux's own 404
	f("PUT", "http://example.org/users/42", "PUT /users/42", "", 405)
}

func TestHTTPMiddlewareWithoutMux(t *testing.T) {
	s, exp := newTestSDK(t, nil)
	h := s.HTTPMiddleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	req := httptest.NewRequest("GET", "https://example.org:8443/plain?q=1", nil)
	req.Header.Set("X-Forwarded-For", "203.0.113.9, 10.0.0.1")
	h.ServeHTTP(httptest.NewRecorder(), req)
	sp := onlySpan(t, endedSpans(t, s, exp), "GET /plain")
	wantAttrs(t, sp.Attributes, map[string]any{
		"url.scheme":     "https",
		"server.address": "example.org",
		"server.port":    int64(8443),
		"client.address": "203.0.113.9",
		// A handler that writes nothing gets a 200 from net/http.
		"http.response.status_code": int64(200),
	})
}

func TestHTTPMiddlewarePanic(t *testing.T) {
	s, exp := newTestSDK(t, nil)
	h := s.HTTPMiddleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic("out of cheese")
	}))
	func() {
		defer func() {
			if v := recover(); v != "out of cheese" {
				t.Errorf("recovered %v, want the handler's panic passed on", v)
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/cheese", nil))
	}()
	sp := onlySpan(t, endedSpans(t, s, exp), "GET /cheese")
	if sp.Status.Code != codes.Error {
		t.Errorf("status %v, want Error", sp.Status)
	}
	ev := exceptionEvent(t, sp)
	wantAttrs(t, ev, map[string]any{"exception.type": "string", "exception.message": "panic: out of cheese"})
	if st, _ := attr(ev, "exception.stacktrace"); !strings.Contains(st.AsString(), "TestHTTPMiddlewarePanic") {
		t.Errorf("exception.stacktrace does not reach the panicking handler:\n%s", st.AsString())
	}

	// http.ErrAbortHandler aborts on purpose: an error, not an exception.
	exp.Reset()
	h = s.HTTPMiddleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic(http.ErrAbortHandler)
	}))
	func() {
		defer func() { _ = recover() }()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/abort", nil))
	}()
	sp = onlySpan(t, endedSpans(t, s, exp), "GET /abort")
	if sp.Status.Code != codes.Error || len(sp.Events) != 0 {
		t.Errorf("aborted handler: status %v, events %v; want Error and none", sp.Status, sp.Events)
	}
}

func TestHTTPMiddlewareUnsampled(t *testing.T) {
	s, exp := newTestSDK(t, nil)
	var ctxSpan trace.SpanContext
	h := s.HTTPMiddleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctxSpan = trace.SpanContextFromContext(r.Context())
	}))
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("traceparent", "00-"+testTraceID+"-"+testSpanID+"-00")
	h.ServeHTTP(httptest.NewRecorder(), req)
	if n := len(endedSpans(t, s, exp)); n != 0 {
		t.Errorf("exported %d spans for an unsampled trace", n)
	}
	if ctxSpan.TraceID().String() != testTraceID || ctxSpan.IsSampled() {
		t.Errorf("handler's span context %v, want the caller's trace, unsampled", ctxSpan)
	}
}

// TestResponseWriterInterfaces checks that handlers behind the middleware
// still reach what the server's ResponseWriter offers.
func TestResponseWriterInterfaces(t *testing.T) {
	s, exp := newTestSDK(t, nil)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stream", func(w http.ResponseWriter, r *http.Request) {
		if _, ok := w.(http.Flusher); !ok {
			t.Error("ResponseWriter is not an http.Flusher")
		}
		_, _ = io.WriteString(w, "part")
		w.(http.Flusher).Flush()
		if err := http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
			t.Errorf("ResponseController.SetWriteDeadline: %v", err)
		}
	})
	mux.HandleFunc("GET /hijack", func(w http.ResponseWriter, r *http.Request) {
		conn, rw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		defer conn.Close()
		_, _ = rw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhijacked")
		_ = rw.Flush()
	})
	mux.HandleFunc("GET /file", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(w, strings.NewReader("copied")) // through ReadFrom
	})
	// Close does not wait for handlers of hijacked connections; this does.
	var handlers sync.WaitGroup
	traced := s.HTTPMiddleware(mux)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handlers.Add(1)
		defer handlers.Done()
		traced.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)

	for path, want := range map[string]string{"/stream": "part", "/hijack": "hijacked", "/file": "copied"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		body, _ := io.ReadAll(bufio.NewReader(resp.Body))
		resp.Body.Close()
		if string(body) != want {
			t.Errorf("GET %s: body %q, want %q", path, body, want)
		}
	}
	handlers.Wait() // the spans end as the handlers return
	spans := endedSpans(t, s, exp)
	for _, name := range []string{"GET /stream", "GET /file"} {
		sp := onlySpan(t, spans, name)
		wantAttrs(t, sp.Attributes, map[string]any{"http.response.status_code": int64(200)})
	}
	if v, ok := attr(onlySpan(t, spans, "GET /hijack").Attributes, "http.response.status_code"); ok {
		t.Errorf("hijacked connection: http.response.status_code = %v, want none", v)
	}
}

func TestNilSDKMiddlewares(t *testing.T) {
	var s *SDK
	called := false
	h := s.HTTPMiddleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { called = true }))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if !called {
		t.Error("a nil SDK's middleware did not call the handler")
	}
	ctx, span := s.StartSpan(t.Context(), "x")
	span.SetTag("k", "v")
	span.SetError(io.EOF)
	span.End()
	s.SetTag("k", "v")
	s.CaptureException(io.EOF)
	s.CaptureExceptionWithContext(ctx, io.EOF)
	if err := s.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown on nil SDK: %v", err)
	}
	if s.SnapshotClient() != nil {
		t.Error("nil SDK has a snapshot client")
	}
	s.SnapshotClient().CheckAndCapture("x", nil) // a nil client does nothing
}
