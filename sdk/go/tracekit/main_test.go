package tracekit

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"
)

func TestMain(m *testing.M) {
	code := m.Run()
	// Keep-alive connections of the clients the tests used end with these.
	http.DefaultClient.CloseIdleConnections()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goroutines left running after the tests: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// newTestSDK returns an SDK that exports to memory and leaves
// OpenTelemetry's globals alone; cfg may be nil. It is shut down when the
// test ends.
func newTestSDK(t *testing.T, cfg *Config) (*SDK, *tracetest.InMemoryExporter) {
	t.Helper()
	c := Config{ServiceName: "test-service"}
	if cfg != nil {
		c = *cfg
	}
	r, err := resolve(&c)
	if err != nil {
		t.Fatalf("resolve: %v", err)
	}
	exp := tracetest.NewInMemoryExporter()
	s, err := newSDK(r, exp)
	if err != nil {
		t.Fatalf("newSDK: %v", err)
	}
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return s, exp
}

// endedSpans flushes s and returns the spans exp received, oldest first.
func endedSpans(t *testing.T, s *SDK, exp *tracetest.InMemoryExporter) tracetest.SpanStubs {
	t.Helper()
	if err := s.Flush(context.Background()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	return exp.GetSpans()
}

// onlySpan returns the one span named name.
func onlySpan(t *testing.T, spans tracetest.SpanStubs, name string) tracetest.SpanStub {
	t.Helper()
	var found []tracetest.SpanStub
	for _, s := range spans {
		if s.Name == name {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		names := make([]string, len(spans))
		for i, s := range spans {
			names[i] = s.Name
		}
		t.Fatalf("want one span named %q, got %d among %q", name, len(found), names)
	}
	return found[0]
}

// attr returns the value of key in attrs, and whether it is there.
func attr(attrs []attribute.KeyValue, key string) (attribute.Value, bool) {
	for _, kv := range slices.Backward(attrs) { // the last one set wins
		if string(kv.Key) == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

// wantAttrs checks that attrs hold every key of want with its value;
// a nil value only checks that the key is there.
func wantAttrs(t *testing.T, attrs []attribute.KeyValue, want map[string]any) {
	t.Helper()
	for k, w := range want {
		v, ok := attr(attrs, k)
		if !ok {
			t.Errorf("attribute %s missing; have %v", k, attrs)
			continue
		}
		if w != nil && v.AsInterface() != w {
			t.Errorf("attribute %s = %#v, want %#v", k, v.AsInterface(), w)
		}
	}
}

// exceptionEvent returns the attributes of the span's first exception event.
func exceptionEvent(t *testing.T, s tracetest.SpanStub) []attribute.KeyValue {
	t.Helper()
	for _, e := range s.Events {
		if e.Name == "exception" {
			return e.Attributes
		}
	}
	t.Fatalf("span %q has no exception event; events: %v", s.Name, s.Events)
	return nil
}

// receiver is a fake TraceKit server: it accepts OTLP/HTTP protobuf exports
// and keeps the spans with the service and API key they came with.
type receiver struct {
	t   *testing.T
	srv *httptest.Server

	mu    sync.Mutex
	spans []receivedSpan
}

type receivedSpan struct {
	service string
	apiKey  string
	span    *tracepb.Span
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	rc := &receiver{t: t}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.export))
	t.Cleanup(rc.srv.Close)
	return rc
}

// endpoint is the URL to give Config.Endpoint.
func (rc *receiver) endpoint() string { return rc.srv.URL + "/v1/traces" }

func (rc *receiver) export(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" {
		rc.t.Errorf("receiver: got %s %s, want POST /v1/traces", r.Method, r.URL.Path)
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-protobuf" {
		rc.t.Errorf("receiver: Content-Type %q, want application/x-protobuf", ct)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(body, &req); err != nil {
		rc.t.Errorf("receiver: decode ExportTraceServiceRequest: %v", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	for _, rs := range req.ResourceSpans {
		service := stringAttr(rs.GetResource().GetAttributes(), "service.name")
		for _, ss := range rs.ScopeSpans {
			for _, sp := range ss.Spans {
				rc.spans = append(rc.spans, receivedSpan{service, r.Header.Get("X-API-Key"), sp})
			}
		}
	}
	rc.mu.Unlock()
	resp, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(resp)
}

// received returns the spans received so far.
func (rc *receiver) received() []receivedSpan {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.spans)
}

// stringAttr returns the string value of key among OTLP attributes.
func stringAttr(attrs []*commonpb.KeyValue, key string) string {
	for _, kv := range attrs {
		if kv.Key == key {
			return kv.GetValue().GetStringValue()
		}
	}
	return ""
}
