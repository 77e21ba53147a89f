package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"

	"github.com/tracekit-oss/tracekit/internal/api"
	"github.com/tracekit-oss/tracekit/internal/auth"
	"github.com/tracekit-oss/tracekit/internal/client"
	"github.com/tracekit-oss/tracekit/internal/server"
	"github.com/tracekit-oss/tracekit/internal/server/servertest"
	"github.com/tracekit-oss/tracekit/internal/store"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreAnyFunction("internal/poll.runtime_pollWait"))
}

const adminKey = servertest.AdminKey

// testServer is a server on loopback ports, and API clients for it.
type testServer struct {
	*servertest.Server
	base string // Server.Base
}

func start(t *testing.T, mod func(*server.Config)) *testServer {
	t.Helper()
	srv := servertest.Start(t, mod)
	return &testServer{Server: srv, base: srv.Base}
}

func (s *testServer) client(key string) *client.Client { return client.New(s.base, key, nil) }

// provider builds a real OpenTelemetry SDK tracer provider exporting to exp.
func provider(t *testing.T, exp sdktrace.SpanExporter, service string) *sdktrace.TracerProvider {
	t.Helper()
	res := resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName(service), attribute.String("region", "eu-west"))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithResource(res))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp
}

// emit creates a root span with a child error span; it returns the trace ID.
func emit(t *testing.T, tp *sdktrace.TracerProvider) trace.TraceID {
	t.Helper()
	tr := tp.Tracer("server_test")
	ctx, root := tr.Start(context.Background(), "GET /checkout", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("user.id", "u-42"), attribute.Int("http.response.status_code", 502)))
	_, child := tr.Start(ctx, "charge", trace.WithSpanKind(trace.SpanKindClient))
	child.RecordError(errors.New("card declined"), trace.WithStackTrace(true))
	child.SetStatus(codes.Error, "card declined")
	child.End()
	root.End()
	if err := tp.ForceFlush(context.Background()); err != nil {
		t.Fatalf("flush: %v", err)
	}
	return root.SpanContext().TraceID()
}

func checkTrace(t *testing.T, s *testServer, id trace.TraceID, service string) {
	t.Helper()
	tr, err := s.client(adminKey).Trace(context.Background(), id.String())
	if err != nil {
		t.Fatalf("read trace back: %v", err)
	}
	if len(tr.Spans) != 2 {
		t.Fatalf("got %d spans, want 2", len(tr.Spans))
	}
	root, child := tr.Spans[0], tr.Spans[1]
	if root.Operation != "GET /checkout" || root.Kind != "server" || root.Service != service || root.ParentSpanID != "" {
		t.Errorf("root = %+v", root)
	}
	if root.Attributes["user.id"] != "u-42" || root.Attributes["http.response.status_code"] != float64(502) || root.ResourceAttributes["region"] != "eu-west" {
		t.Errorf("root attributes = %v, resource %v", root.Attributes, root.ResourceAttributes)
	}
	if child.ParentSpanID != root.SpanID || child.Status.Code != "error" || child.Status.Message != "card declined" {
		t.Errorf("child = %+v", child)
	}
	if len(child.Events) != 1 || child.Events[0].Name != "exception" || child.Events[0].Attributes["exception.message"] != "card declined" ||
		!strings.Contains(child.Events[0].Attributes["exception.stacktrace"].(string), "server_test") {
		t.Errorf("child events = %+v", child.Events)
	}
}

func TestOpenTelemetrySDKOverHTTP(t *testing.T) {
	s := start(t, nil)
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(s.base+"/v1/traces"),
		otlptracehttp.WithHeaders(map[string]string{"X-API-Key": adminKey}))
	if err != nil {
		t.Fatal(err)
	}
	checkTrace(t, s, emit(t, provider(t, exp, "shop-http")), "shop-http")

	gz, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(s.base+"/v1/traces"),
		otlptracehttp.WithCompression(otlptracehttp.GzipCompression),
		otlptracehttp.WithHeaders(map[string]string{"Authorization": "Bearer " + adminKey}))
	if err != nil {
		t.Fatal(err)
	}
	checkTrace(t, s, emit(t, provider(t, gz, "shop-gzip")), "shop-gzip")
}

func TestOpenTelemetrySDKOverGRPC(t *testing.T) {
	s := start(t, nil)
	exp, err := otlptracegrpc.New(context.Background(), otlptracegrpc.WithEndpoint(s.GRPCAddr()), otlptracegrpc.WithInsecure(),
		otlptracegrpc.WithHeaders(map[string]string{"x-api-key": adminKey}))
	if err != nil {
		t.Fatal(err)
	}
	checkTrace(t, s, emit(t, provider(t, exp, "shop-grpc")), "shop-grpc")

	bad, err := otlptracegrpc.New(context.Background(), otlptracegrpc.WithEndpoint(s.GRPCAddr()), otlptracegrpc.WithInsecure(),
		otlptracegrpc.WithHeaders(map[string]string{"x-api-key": "tk_wrong_wrong_wrong_wrong"}), otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: false}))
	if err != nil {
		t.Fatal(err)
	}
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	_, sp := tp.Tracer("x").Start(context.Background(), "x")
	sp.End()
	if err := bad.ExportSpans(context.Background(), rec.Ended()); err == nil || !strings.Contains(err.Error(), "unknown API key") {
		t.Errorf("export with a wrong key: %v, want Unauthenticated with a message", err)
	}
	_ = bad.Shutdown(context.Background())
}

func TestSearchAPI(t *testing.T) {
	s := start(t, nil)
	exp, _ := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(s.base+"/v1/traces"),
		otlptracehttp.WithHeaders(map[string]string{"X-API-Key": adminKey}))
	id := emit(t, provider(t, exp, "shop"))
	c := s.client(adminKey)
	ctx := context.Background()
	f := func(params url.Values, want int) {
		t.Helper()
		got, err := c.FindTraces(ctx, params)
		if err != nil {
			t.Fatalf("search %v: %v", params, err)
		}
		if len(got) != want {
			t.Fatalf("search %v: %d traces, want %d", params, len(got), want)
		}
		if want == 1 && (got[0].TraceID != id.String() || got[0].SpanCount != 2 || got[0].ErrorCount != 1 || got[0].RootOperation != "GET /checkout") {
			t.Errorf("search %v: %+v", params, got[0])
		}
	}
	f(url.Values{"service": {"shop"}}, 1)
	f(url.Values{"service": {"shop"}, "attr": {"user.id=u-42"}}, 1)
	f(url.Values{"attr": {"region=eu-west", "user.id=u-42"}}, 1)
	f(url.Values{"attr": {"user.id=u-43"}}, 0)
	f(url.Values{"operation": {"charge"}, "errors": {"true"}}, 1)
	f(url.Values{"minDuration": {"1h"}}, 0)
	f(url.Values{"lookback": {"1h"}}, 1)
	f(url.Values{"end": {"2001-01-01T00:00:00Z"}}, 0)

	bad := func(params url.Values, want string) {
		t.Helper()
		_, err := c.FindTraces(ctx, params)
		var ce *client.Error
		if !errors.As(err, &ce) || ce.Status != 400 || !strings.Contains(ce.Message, want) {
			t.Errorf("search %v: %v, want 400 mentioning %q", params, err, want)
		}
	}
	bad(url.Values{"minDuration": {"soon"}}, "minDuration")
	bad(url.Values{"limit": {"0"}}, "limit")
	bad(url.Values{"limit": {"abc"}}, "limit")
	bad(url.Values{"attr": {"novalue"}}, "attr")
	bad(url.Values{"start": {"yesterday"}}, "start")
	bad(url.Values{"errors": {"maybe"}}, "errors")
	bad(url.Values{"minDuration": {"2s"}, "maxDuration": {"1s"}}, "minDuration")

	svcs := struct{ Services []string }{}
	if err := c.Do(ctx, "GET", "/api/v1/services", nil, &svcs); err != nil || len(svcs.Services) != 1 || svcs.Services[0] != "shop" {
		t.Errorf("services = %v, %v", svcs, err)
	}
	ops := struct{ Operations []map[string]string }{}
	if err := c.Do(ctx, "GET", "/api/v1/services/shop/operations", nil, &ops); err != nil || len(ops.Operations) != 2 {
		t.Errorf("operations = %v, %v", ops, err)
	}
	var ce *client.Error
	if _, err := c.Trace(ctx, "0123"); !errors.As(err, &ce) || ce.Status != 400 {
		t.Errorf("bad trace id: %v", err)
	}
	if _, err := c.Trace(ctx, strings.Repeat("ab", 16)); !errors.As(err, &ce) || ce.Status != 404 {
		t.Errorf("unknown trace: %v", err)
	}
	if err := c.Do(ctx, "GET", "/api/v1/nope", nil, nil); !errors.As(err, &ce) || ce.Status != 404 {
		t.Errorf("unknown route: %v", err)
	}
}

func TestKeysAndProjectIsolation(t *testing.T) {
	s := start(t, nil)
	ctx := context.Background()
	// A second project with its own admin key.
	if err := s.Store().Metadata.CreateProject(ctx, store.Project{ID: "other", Name: "Other", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	otherKey, _, err := auth.CreateKey(ctx, s.Store().Metadata, "other", "other admin", store.ScopeAdmin, "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	admin := s.client(adminKey)
	k, ingestKey, err := admin.CreateKey(ctx, "browser", store.ScopeIngest)
	if err != nil || k.Scope != store.ScopeIngest || !strings.HasPrefix(ingestKey, "tk_") {
		t.Fatalf("create key: %+v %q %v", k, ingestKey, err)
	}
	exp, _ := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(s.base+"/v1/traces"),
		otlptracehttp.WithHeaders(map[string]string{"X-API-Key": ingestKey}))
	id := emit(t, provider(t, exp, "web"))

	// The ingest key may send but not read.
	var ce *client.Error
	if _, err := s.client(ingestKey).Trace(ctx, id.String()); !errors.As(err, &ce) || ce.Status != 403 {
		t.Errorf("ingest key reads: %v, want 403", err)
	}
	// The other project's admin sees nothing of default's data.
	if _, err := s.client(otherKey).Trace(ctx, id.String()); !errors.As(err, &ce) || ce.Status != 404 {
		t.Errorf("other project reads default's trace: %v, want 404", err)
	}
	if got, err := s.client(otherKey).FindTraces(ctx, url.Values{}); err != nil || len(got) != 0 {
		t.Errorf("other project finds: %v %v", got, err)
	}
	if err := s.client(otherKey).RevokeKey(ctx, k.ID); !errors.As(err, &ce) || ce.Status != 404 {
		t.Errorf("other project revokes default's key: %v, want 404", err)
	}
	if keys, err := s.client(otherKey).ListKeys(ctx); err != nil || len(keys) != 1 {
		t.Errorf("other project's keys = %v, %v", keys, err)
	}
	// Default's admin reads it.
	if _, err := admin.Trace(ctx, id.String()); err != nil {
		t.Errorf("default reads its trace: %v", err)
	}
	// Revoked keys are refused at once, and the data they sent stays.
	if err := admin.RevokeKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", s.base+"/v1/traces", strings.NewReader(""))
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("X-API-Key", ingestKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("revoked key ingests: %d", resp.StatusCode)
	}
	if _, err := admin.Trace(ctx, id.String()); err != nil {
		t.Errorf("trace lost after revoke: %v", err)
	}
	// Bad key requests.
	if _, _, err := admin.CreateKey(ctx, "", store.ScopeAdmin); !errors.As(err, &ce) || ce.Status != 400 || !strings.Contains(ce.Message, "name") {
		t.Errorf("nameless key: %v", err)
	}
	if _, _, err := admin.CreateKey(ctx, "x", "root"); !errors.As(err, &ce) || ce.Status != 400 || !strings.Contains(ce.Message, "scope") {
		t.Errorf("bad scope: %v", err)
	}
	if _, err := s.client("").ListKeys(ctx); !errors.As(err, &ce) || ce.Status != 401 {
		t.Errorf("no key: %v", err)
	}
}

func TestHealthMetricsOpenAPI(t *testing.T) {
	s := start(t, nil)
	get := func(path string) string {
		t.Helper()
		resp, err := http.Get(s.base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	get("/healthz")
	get("/readyz")
	exp, _ := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(s.base+"/v1/traces"),
		otlptracehttp.WithHeaders(map[string]string{"X-API-Key": adminKey}))
	emit(t, provider(t, exp, "m"))
	m := get("/metrics")
	for _, want := range []string{`tracekit_ingest_spans_accepted_total{transport="http"} 2`, "tracekit_ingest_request_duration_seconds_bucket", "tracekit_store_bytes", "process_resident_memory_bytes"} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal([]byte(get("/api/v1/openapi.json")), &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi version %q", doc.OpenAPI)
	}
	for path, methods := range map[string][]string{
		"/v1/traces": {"post"}, "/api/v1/traces": {"get"}, "/api/v1/traces/{traceId}": {"get"}, "/api/v1/services": {"get"},
		"/api/v1/services/{service}/operations": {"get"}, "/api/v1/keys": {"get", "post"}, "/api/v1/keys/{id}": {"delete"},
		"/api/v1/breakpoints": {"get", "post"}, "/api/v1/breakpoints/{id}": {"get", "patch", "delete"},
		"/api/v1/breakpoints/{id}/pause": {"post"}, "/api/v1/breakpoints/{id}/resume": {"post"},
		"/api/v1/services/{service}/killswitch": {"get", "put"}, "/api/v1/services/{service}/instances": {"get"},
		"/api/v1/services/{service}/capture-points": {"get"}, "/api/v1/snapshots": {"get"}, "/api/v1/snapshots/{id}": {"get"},
		"/api/v1/snapshots/compare": {"get"}, "/api/v1/logs": {"get"}, "/v1/codemon/stream": {"get"}, "/v1/codemon/breakpoints": {"get"},
		"/v1/codemon/capture-points": {"post"}, "/v1/codemon/check": {"post"}, "/v1/codemon/snapshots": {"post"},
	} {
		for _, m := range methods {
			if _, ok := doc.Paths[path][m]; !ok {
				t.Errorf("openapi.json does not describe %s %s", strings.ToUpper(m), path)
			}
		}
	}
	_ = api.OpenAPI
}

func TestConfigValidation(t *testing.T) {
	f := func(mod func(*server.Config), want string) {
		t.Helper()
		cfg := server.DefaultConfig()
		mod(&cfg)
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to mention %q", err, want)
		}
	}
	f(func(c *server.Config) { c.DataDir = "" }, "--data")
	f(func(c *server.Config) { c.HTTPAddr = "nocolon" }, "--http-addr")
	f(func(c *server.Config) { c.GRPCAddr = "x" }, "--grpc-addr")
	f(func(c *server.Config) { c.Retention = time.Minute }, "--retention")
	f(func(c *server.Config) { c.MaxBodyBytes = 10 }, "--max-body")
	f(func(c *server.Config) { c.SeedAPIKey = "short" }, "TRACEKIT_API_KEY")
}
