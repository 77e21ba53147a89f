package tracekit

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Span is one timed operation in a trace, as seen by application code. A
// Span whose trace is not sampled, or a nil *Span, accepts every call and
// records nothing.
type Span struct {
	span trace.Span
}

func wrapSpan(s trace.Span) *Span { return &Span{span: s} }

// SetTag records key=value on the span. Strings, bools, ints, floats and
// their slices keep their type; other values are recorded as fmt prints them.
func (s *Span) SetTag(key string, value interface{}) {
	if s == nil || !s.span.IsRecording() {
		return
	}
	s.span.SetAttributes(tagAttribute(key, value))
}

// SetError records err on the span as an exception event, with a stack
// trace, and marks the span as failed. A nil err is ignored.
func (s *Span) SetError(err error) {
	if s == nil || err == nil {
		return
	}
	recordError(s.span, err)
}

// End completes the span. Only the first call has an effect.
func (s *Span) End() {
	if s == nil {
		return
	}
	s.span.End()
}

// Context returns the span's identity, the one that travels to other
// services in the traceparent header.
func (s *Span) Context() trace.SpanContext {
	if s == nil {
		return trace.SpanContext{}
	}
	return s.span.SpanContext()
}

// TraceID returns the span's trace ID in hex, for log lines; empty when
// there is no trace.
func (s *Span) TraceID() string {
	if sc := s.Context(); sc.HasTraceID() {
		return sc.TraceID().String()
	}
	return ""
}

// OTelSpan returns the OpenTelemetry span underneath, for what Span does not
// offer.
func (s *Span) OTelSpan() trace.Span {
	if s == nil {
		return trace.SpanFromContext(context.Background())
	}
	return s.span
}

// GetCurrentSpan returns the span that ctx carries: in an HTTP handler behind
// one of the SDK's middlewares, the request's span. Without one it returns a
// Span that records nothing.
func (s *SDK) GetCurrentSpan(ctx context.Context) *Span {
	return wrapSpan(trace.SpanFromContext(ctx))
}

// StartSpan starts a span named name as a child of the span in ctx (or as the
// root of a new trace) and returns it with a context that carries it. Pass
// that context on so that work done under it nests below, and End the span.
func (s *SDK) StartSpan(ctx context.Context, name string) (context.Context, *Span) {
	if s == nil {
		return ctx, wrapSpan(trace.SpanFromContext(ctx))
	}
	ctx, span := s.tracer.Start(ctx, name, s.internalSpan...)
	return ctx, wrapSpan(span)
}

// SetTag records key=value on every span this SDK starts from now on, for
// example the deployment's region. Per-request values belong on the request's
// span: GetCurrentSpan(ctx).SetTag.
func (s *SDK) SetTag(key string, value interface{}) {
	if s == nil {
		return
	}
	s.tags.set(tagAttribute(key, value))
}

// CaptureException records err where there is no request at hand: as an
// "exception" span of its own. Use CaptureExceptionWithContext inside a
// request, so that the error shows up in the request's trace.
func (s *SDK) CaptureException(err error) {
	s.CaptureExceptionWithContext(context.Background(), err)
}

// CaptureExceptionWithContext records err on the span in ctx as an exception
// event (exception.type, exception.message, exception.stacktrace) and marks
// that span as failed. When ctx carries no span, err gets an "exception" span
// of its own.
func (s *SDK) CaptureExceptionWithContext(ctx context.Context, err error) {
	if s == nil || err == nil {
		return
	}
	if span := trace.SpanFromContext(ctx); span.SpanContext().IsValid() {
		recordError(span, err)
		return
	}
	_, span := s.tracer.Start(ctx, "exception", s.internalSpan...)
	recordError(span, err)
	span.End()
}

// recordError adds err to span as an exception event and sets the error status.
func recordError(span trace.Span, err error) {
	if !span.IsRecording() {
		return
	}
	recordException(span, fmt.Sprintf("%T", err), err.Error(), debug.Stack())
}

// recordException adds an exception event and marks span as failed.
func recordException(span trace.Span, typ, msg string, stack []byte) {
	addExceptionEvent(span, typ, msg, stack)
	span.SetStatus(codes.Error, msg)
}

// addExceptionEvent adds an exception event as the OpenTelemetry semantic
// conventions define it; stack may be nil.
func addExceptionEvent(span trace.Span, typ, msg string, stack []byte) {
	attrs := []attribute.KeyValue{
		semconv.ExceptionTypeKey.String(typ),
		semconv.ExceptionMessageKey.String(msg),
	}
	if stack != nil {
		attrs = append(attrs, semconv.ExceptionStacktraceKey.String(string(stack)))
	}
	span.AddEvent(semconv.ExceptionEventName, trace.WithAttributes(attrs...))
}

// tagAttribute converts a tag to an attribute, keeping the value's type
// where OpenTelemetry has one for it.
func tagAttribute(key string, value interface{}) attribute.KeyValue {
	switch v := value.(type) {
	case string:
		return attribute.String(key, v)
	case bool:
		return attribute.Bool(key, v)
	case int:
		return attribute.Int(key, v)
	case int8:
		return attribute.Int64(key, int64(v))
	case int16:
		return attribute.Int64(key, int64(v))
	case int32:
		return attribute.Int64(key, int64(v))
	case int64:
		return attribute.Int64(key, v)
	case uint8:
		return attribute.Int64(key, int64(v))
	case uint16:
		return attribute.Int64(key, int64(v))
	case uint32:
		return attribute.Int64(key, int64(v))
	case float32:
		return attribute.Float64(key, float64(v))
	case float64:
		return attribute.Float64(key, v)
	case []string:
		return attribute.StringSlice(key, v)
	case []bool:
		return attribute.BoolSlice(key, v)
	case []int:
		return attribute.IntSlice(key, v)
	case []int64:
		return attribute.Int64Slice(key, v)
	case []float64:
		return attribute.Float64Slice(key, v)
	case error:
		return attribute.String(key, v.Error())
	case fmt.Stringer:
		return attribute.String(key, v.String())
	case nil:
		return attribute.String(key, "<nil>")
	default: // uint, uint64 (may not fit an int64), structs, maps, pointers
		return attribute.String(key, fmt.Sprint(v))
	}
}

// tagProcessor adds the SDK-wide tags to every span as it starts. Spans read
// the tags without a lock; SetTag replaces the whole list.
type tagProcessor struct {
	mu   sync.Mutex // serializes writers
	tags atomic.Pointer[[]attribute.KeyValue]
}

var _ sdktrace.SpanProcessor = (*tagProcessor)(nil)

func (p *tagProcessor) set(kv attribute.KeyValue) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var next []attribute.KeyValue
	if cur := p.tags.Load(); cur != nil {
		next = make([]attribute.KeyValue, 0, len(*cur)+1)
		for _, old := range *cur {
			if old.Key != kv.Key {
				next = append(next, old)
			}
		}
	}
	next = append(next, kv)
	p.tags.Store(&next)
}

// OnStart adds the tags to s.
func (p *tagProcessor) OnStart(_ context.Context, s sdktrace.ReadWriteSpan) {
	if tags := p.tags.Load(); tags != nil {
		s.SetAttributes(*tags...)
	}
}

// OnEnd does nothing.
func (p *tagProcessor) OnEnd(sdktrace.ReadOnlySpan) {}

// Shutdown does nothing.
func (p *tagProcessor) Shutdown(context.Context) error { return nil }

// ForceFlush does nothing.
func (p *tagProcessor) ForceFlush(context.Context) error { return nil }
