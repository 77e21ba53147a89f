package tracekit

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// discardWriter is a ResponseWriter that costs nothing, so that the
// benchmark measures the middleware.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(int)             {}

// BenchmarkMiddleware compares the cost of a traced request: no middleware,
// HTTPMiddleware, and OpenTelemetry's otelhttp handler. Both tracers sample
// every request and hand every span to a batch processor whose exporter
// discards it, so they do the same span work. The request continues a trace,
// as requests between services do.
//
//	go test -run '^$' -bench Middleware -benchmem ./tracekit
func BenchmarkMiddleware(b *testing.B) {
	mux := http.NewServeMux()
	body := []byte(`{"id":42,"name":"ada"}`)
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
	})

	r, err := resolve(&Config{ServiceName: "bench", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	s, err := newSDK(r, tracetest.NewNoopExporter())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Shutdown(context.Background()) })

	otelTP := sdktrace.NewTracerProvider(
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample())),
		sdktrace.WithBatcher(tracetest.NewNoopExporter(), sdktrace.WithMaxQueueSize(DefaultMaxQueueSize)),
	)
	b.Cleanup(func() { _ = otelTP.Shutdown(context.Background()) })
	prop := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

	for _, c := range []struct {
		name string
		h    http.Handler
	}{
		{"bare", mux},
		{"tracekit", s.HTTPMiddleware(mux)},
		{"otelhttp", otelhttp.NewHandler(mux, "server",
			otelhttp.WithTracerProvider(otelTP), otelhttp.WithPropagators(prop))},
	} {
		b.Run(c.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "http://api.example.com/users/42", nil)
			req.Header.Set("traceparent", "00-"+testTraceID+"-"+testSpanID+"-01")
			req.Header.Set("User-Agent", "bench/1.0")
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				c.h.ServeHTTP(w, req)
			}
		})
	}
}
