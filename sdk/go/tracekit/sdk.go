package tracekit

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Version is the version of this SDK, reported as telemetry.distro.version.
const Version = "0.1.0"

// instrumentationName names the tracer of every span this package starts.
const instrumentationName = "github.com/tracekit-oss/tracekit/sdk/go/tracekit"

// SDK traces one service: it starts spans, propagates them across HTTP calls
// and exports them to a TraceKit server. Create it once, at start, with
// NewSDK, and Shutdown it on the way out. Its methods are safe for concurrent
// use and do nothing on a nil *SDK, so code can run with tracing turned off.
type SDK struct {
	cfg       Config
	tp        *sdktrace.TracerProvider
	tracer    trace.Tracer
	prop      propagation.TextMapPropagator
	pipe      *pipeline
	tags      *tagProcessor
	snapshots *SnapshotClient
	transport *http.Transport // the exporter's; nil when the exporter is not ours

	// Span start options, built once so that starting a span allocates none.
	serverSpan   []trace.SpanStartOption
	internalSpan []trace.SpanStartOption
	clientSpan   []trace.SpanStartOption

	attrBufs sync.Pool // of *attrBuf, for the middlewares' attributes
}

// NewSDK validates cfg (filling empty fields from the environment), starts
// the exporter and installs the SDK's tracer provider and propagator
// (NewPropagator: the SDK's W3C Trace Context, then W3C Baggage) as
// OpenTelemetry's globals, so that other OpenTelemetry instrumentation joins
// the same traces. A nil cfg reads
// everything from the environment. Configuration errors wrap
// ErrInvalidConfig and name the setting to change.
func NewSDK(cfg *Config) (*SDK, error) {
	r, err := resolve(cfg)
	if err != nil {
		return nil, err
	}
	transport := newExportTransport(r.ExportTimeout)
	opts := []otlptracehttp.Option{
		otlptracehttp.WithEndpointURL(r.Endpoint),
		otlptracehttp.WithHTTPClient(&http.Client{Transport: transport, Timeout: r.ExportTimeout}),
		otlptracehttp.WithRetry(otlptracehttp.RetryConfig{
			Enabled:         true,
			InitialInterval: 250 * time.Millisecond,
			MaxInterval:     time.Second,
			MaxElapsedTime:  r.ExportTimeout,
		}),
	}
	if r.APIKey != "" {
		opts = append(opts, otlptracehttp.WithHeaders(map[string]string{"X-API-Key": r.APIKey}))
	}
	exporter, err := otlptracehttp.New(context.Background(), opts...)
	if err != nil {
		return nil, fmt.Errorf("tracekit: start OTLP exporter for %s: %w", r.Endpoint, err)
	}
	s, err := newSDK(r, exporter)
	if err != nil {
		return nil, err
	}
	s.transport = transport
	otel.SetTracerProvider(s.tp)
	otel.SetTextMapPropagator(s.prop)
	return s, nil
}

// newSDK builds an SDK around exporter without touching the globals.
func newSDK(r resolved, exporter sdktrace.SpanExporter) (*SDK, error) {
	res, err := newResource(r)
	if err != nil {
		return nil, err
	}
	sampler := sdktrace.ParentBased(sdktrace.TraceIDRatioBased(r.SampleRate))
	if r.SampleRate >= 1 {
		sampler = sdktrace.ParentBased(sdktrace.AlwaysSample())
	}
	// The snapshot client gets the resolved configuration and is stopped by
	// Shutdown.
	snapshots, err := newSnapshotClient(r.Config, nil)
	if err != nil {
		return nil, err
	}
	s := &SDK{
		cfg:          r.Config,
		pipe:         newPipeline(exporter, &r.Config),
		tags:         &tagProcessor{},
		prop:         NewPropagator(),
		snapshots:    snapshots,
		serverSpan:   []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer)},
		internalSpan: []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindInternal)},
		clientSpan:   []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient)},
	}
	s.attrBufs.New = func() any { return new(attrBuf) }
	s.tp = sdktrace.NewTracerProvider(
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sampler),
		sdktrace.WithSpanProcessor(s.tags),
		sdktrace.WithSpanProcessor(s.pipe),
	)
	s.tracer = s.tp.Tracer(instrumentationName, trace.WithInstrumentationVersion(Version))
	return s, nil
}

// newResource describes this service to the server.
func newResource(r resolved) (*resource.Resource, error) {
	attrs := append([]attribute.KeyValue{}, r.resourceAttrs...) // lowest precedence first
	attrs = append(attrs,
		semconv.ServiceName(r.ServiceName),
		semconv.TelemetryDistroName("tracekit"),
		semconv.TelemetryDistroVersion(Version),
	)
	if r.ServiceVersion != "" {
		attrs = append(attrs, semconv.ServiceVersion(r.ServiceVersion))
	}
	if r.Environment != "" {
		attrs = append(attrs,
			semconv.DeploymentEnvironmentNameKey.String(r.Environment),
			// deployment.environment is the name before semantic conventions
			// 1.27; older backends and dashboards still read it.
			attribute.String("deployment.environment", r.Environment),
		)
	}
	res, err := resource.New(context.Background(),
		resource.WithSchemaURL(semconv.SchemaURL),
		resource.WithTelemetrySDK(),
		resource.WithHost(),
		resource.WithAttributes(attrs...),
	)
	if err != nil {
		return nil, fmt.Errorf("tracekit: describe service %s: %w", r.ServiceName, err)
	}
	return res, nil
}

// newExportTransport returns a transport for the exporter alone, so that its
// connections can be closed at Shutdown and no other client's settings (or
// tracing) apply to it.
func newExportTransport(timeout time.Duration) *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          4,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   timeout,
		ExpectContinueTimeout: time.Second,
	}
}

// Shutdown exports the spans still queued and stops the exporter. When ctx
// ends first it cancels the export in flight, drops what is left (counted in
// Stats) and returns ctx's error: it never outlasts ctx. Call it once, on the
// way out; the SDK records nothing afterwards.
func (s *SDK) Shutdown(ctx context.Context) error {
	if s == nil {
		return nil
	}
	failedBefore := s.pipe.exportFailed.Load()
	stop := context.AfterFunc(ctx, s.pipe.abort)
	defer stop()
	s.snapshots.shutdown(ctx)

	shutdownCtx := ctx
	if ctx.Err() != nil {
		// The provider would return at once and leave the processor's
		// goroutine running; with exports aborted it ends right away.
		s.pipe.abort()
		shutdownCtx = context.WithoutCancel(ctx)
	}
	err := s.tp.Shutdown(shutdownCtx)
	if s.transport != nil {
		s.transport.CloseIdleConnections()
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		// The provider can see ctx end before the AfterFunc runs, and stop
		// would then cancel it: abort here as well.
		s.pipe.abort()
		return fmt.Errorf("tracekit: shutdown: %w", ctxErr)
	}
	if err != nil {
		return fmt.Errorf("tracekit: shutdown: %w", err)
	}
	return s.exportError("shutdown", failedBefore)
}

// Flush exports every span that has ended, and reports an error when some
// could not be exported. It waits for the export; most programs never need
// it, because spans are sent in the background.
func (s *SDK) Flush(ctx context.Context) error {
	if s == nil {
		return nil
	}
	failedBefore := s.pipe.exportFailed.Load()
	if err := s.tp.ForceFlush(ctx); err != nil {
		return fmt.Errorf("tracekit: flush: %w", err)
	}
	return s.exportError("flush", failedBefore)
}

// exportError reports the last export failure when spans failed to export
// after failedBefore had been counted.
func (s *SDK) exportError(op string, failedBefore uint64) error {
	if n := s.pipe.exportFailed.Load() - failedBefore; n > 0 {
		return fmt.Errorf("tracekit: %s: %d spans lost: %w", op, n, s.pipe.lastError())
	}
	return nil
}

// Tracer returns the tracer the SDK starts its spans with, for code that uses
// the OpenTelemetry API directly.
func (s *SDK) Tracer() trace.Tracer {
	if s == nil {
		return otel.GetTracerProvider().Tracer(instrumentationName)
	}
	return s.tracer
}

// TracerProvider returns the SDK's OpenTelemetry tracer provider, for
// instrumentation libraries that take one.
func (s *SDK) TracerProvider() *sdktrace.TracerProvider {
	if s == nil {
		return nil
	}
	return s.tp
}

// Stats returns what has become of the spans recorded so far.
func (s *SDK) Stats() Stats {
	if s == nil {
		return Stats{}
	}
	return s.pipe.stats()
}

// Config returns the configuration in effect: cfg as given to NewSDK with
// the environment fallbacks and defaults applied.
func (s *SDK) Config() Config {
	if s == nil {
		return Config{}
	}
	return s.cfg
}

// SnapshotClient returns the client that captures code monitoring snapshots.
// It is never nil; while Config.EnableCodeMonitoring is off its methods do
// nothing.
func (s *SDK) SnapshotClient() *SnapshotClient {
	if s == nil {
		return nil
	}
	return s.snapshots
}
