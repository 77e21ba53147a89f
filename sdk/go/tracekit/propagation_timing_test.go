package tracekit

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/propagation"
)

// BenchmarkTraceContextExtract compares reading the trace headers of a
// request with TraceContext and with OpenTelemetry's propagator, through
// the middlewares' carrier.
//
//	go test -run '^$' -bench TraceContextExtract -benchmem ./tracekit
func BenchmarkTraceContextExtract(b *testing.B) {
	ctx := context.Background()
	for _, h := range []struct {
		name   string
		header headerCarrier
	}{
		{"traceparent", headerCarrier(headers("traceparent", validTraceparent))},
		{"tracestate", headerCarrier(headers("traceparent", validTraceparent, "tracestate", "tk=1,congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"))},
	} {
		for _, p := range []struct {
			name string
			p    propagation.TextMapPropagator
		}{
			{"tracekit", TraceContext{}},
			{"otel", propagation.TraceContext{}},
		} {
			b.Run(h.name+"/"+p.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					p.p.Extract(ctx, h.header)
				}
			})
		}
	}
}
