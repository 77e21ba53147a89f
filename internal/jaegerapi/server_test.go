package jaegerapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/tracekit-oss/tracekit/internal/jaegerapi"
	"github.com/tracekit-oss/tracekit/internal/server/servertest"
)

// TestServerOverOTLP: spans sent by the OpenTelemetry SDK to a real
// server are read back from /jaeger/api as Grafana reads them, with basic
// auth.
func TestServerOverOTLP(t *testing.T) {
	s := servertest.Start(t, nil)
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(s.Base+"/v1/traces"),
		otlptracehttp.WithHeaders(map[string]string{"X-API-Key": servertest.AdminKey}))
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp),
		sdktrace.WithResource(resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName("shop"), attribute.String("region", "eu-west"))))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	tr := tp.Tracer("jaegerapi_test")
	ctx, root := tr.Start(context.Background(), "GET /checkout", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.Int("http.response.status_code", 502)))
	_, child := tr.Start(ctx, "charge", trace.WithSpanKind(trace.SpanKindClient))
	child.RecordError(errors.New("card declined"))
	child.SetStatus(codes.Error, "card declined")
	child.End()
	root.End()
	if err := tp.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	id := root.SpanContext().TraceID().String()

	get := func(path string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, s.Base+jaegerapi.Prefix+path, nil)
		req.SetBasicAuth("grafana", servertest.AdminKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	type tag struct {
		Key   string `json:"key"`
		Type  string `json:"type"`
		Value any    `json:"value"`
	}
	var got struct {
		Data []struct {
			TraceID string `json:"traceID"`
			Spans   []struct {
				SpanID        string `json:"spanID"`
				OperationName string `json:"operationName"`
				References    []struct {
					RefType, SpanID string
				} `json:"references"`
				Tags []tag `json:"tags"`
				Logs []struct {
					Fields []tag `json:"fields"`
				} `json:"logs"`
				ProcessID string `json:"processID"`
			} `json:"spans"`
			Processes map[string]struct {
				ServiceName string `json:"serviceName"`
				Tags        []tag  `json:"tags"`
			} `json:"processes"`
		} `json:"data"`
	}
	status, body := get("/traces/" + id)
	if status != http.StatusOK {
		t.Fatalf("trace: %d %s", status, body)
	}
	if err := json.Unmarshal(body, &got); err != nil || len(got.Data) != 1 || len(got.Data[0].Spans) != 2 {
		t.Fatalf("trace: %v %s", err, body)
	}
	trc := got.Data[0]
	r, c := trc.Spans[0], trc.Spans[1]
	has := func(tags []tag, key string, value any) bool {
		for _, kv := range tags {
			if kv.Key == key && kv.Value == value {
				return true
			}
		}
		return false
	}
	if trc.TraceID != id || r.OperationName != "GET /checkout" || !has(r.Tags, "span.kind", "server") || !has(r.Tags, "http.response.status_code", 502.0) {
		t.Errorf("root: %+v", r)
	}
	if len(c.References) != 1 || c.References[0].RefType != "CHILD_OF" || c.References[0].SpanID != r.SpanID ||
		!has(c.Tags, "error", true) || !has(c.Tags, "otel.status_description", "card declined") ||
		len(c.Logs) != 1 || !has(c.Logs[0].Fields, "event", "exception") || !has(c.Logs[0].Fields, "exception.message", "card declined") {
		t.Errorf("child: %+v", c)
	}
	if p := trc.Processes[r.ProcessID]; p.ServiceName != "shop" || !has(p.Tags, "region", "eu-west") || r.ProcessID != c.ProcessID {
		t.Errorf("processes: %+v", trc.Processes)
	}
	if status, body := get("/traces?service=shop&tags=" + `%7B%22error%22%3A%22true%22%7D`); status != 200 || !json.Valid(body) || len(body) < 100 {
		t.Errorf("search: %d %s", status, body)
	}
	if status, body := get("/services"); status != 200 || string(body) != `{"data":["shop"],"total":1,"limit":0,"offset":0,"errors":null}`+"\n" {
		t.Errorf("services: %d %s", status, body)
	}
	if status, body := get("/dependencies"); status != 200 {
		t.Errorf("dependencies: %d %s", status, body)
	}
}
