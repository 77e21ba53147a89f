// Package tracekit is TraceKit's Go SDK: it traces a service and sends its
// spans to a TraceKit server.
//
// It owns the service's side of distributed tracing: the OpenTelemetry tracer
// provider and its bounded, never-blocking export over OTLP/HTTP; W3C Trace
// Context propagation in and out (middlewares for net/http, Gin and Echo, and
// HTTPClient for calls to other services); spans, tags and captured
// exceptions for application code; database query spans; and, behind
// SnapshotClient, code monitoring. It does not own the server, which stores
// and shows the traces, nor metrics or logs.
//
// Start it once, first thing in main:
//
//	sdk, err := tracekit.NewSDK(&tracekit.Config{
//		APIKey:      os.Getenv("TRACEKIT_API_KEY"),
//		ServiceName: "my-go-service",
//		Endpoint:    "http://localhost:4318/v1/traces",
//	})
//	if err != nil {
//		log.Fatalf("tracekit init failed: %v", err)
//	}
//	defer sdk.Shutdown(context.Background())
//
//	mux := http.NewServeMux()
//	mux.HandleFunc("GET /users/{id}", getUser)
//	http.ListenAndServe(":8080", sdk.HTTPMiddleware(mux))
//
// The SDK is built on OpenTelemetry and installs its tracer provider and
// propagators as OpenTelemetry's globals, so OpenTelemetry instrumentation
// already in the program joins the same traces.
package tracekit
