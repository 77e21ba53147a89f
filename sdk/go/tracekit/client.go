package tracekit

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// HTTPClient is an http.Client for calls to your other services: each request
// gets a client span and carries it in the traceparent and tracestate
// headers, so that the service called continues the trace. Give it the
// request's context to make the call part of the request's trace:
//
//	req, _ := http.NewRequestWithContext(r.Context(), "GET", url, nil)
//	resp, err := tracekit.HTTPClient.Do(req)
//
// Calls without a context (HTTPClient.Get) start a new trace. The headers
// are written by TraceContext (and the baggage header by W3C Baggage), with
// or without NewSDK; a global propagator the program installed in place of
// NewSDK's writes its own headers as well. Like
// http.DefaultClient it has no timeout: set one with the request's context.
// Do not send it to third parties: the headers reveal your trace IDs.
var HTTPClient = &http.Client{Transport: NewTransport(nil)}

// NewTransport returns a RoundTripper that traces each request as HTTPClient
// does and sends it with base (http.DefaultTransport when nil). Use it in
// your own http.Client.
func NewTransport(base http.RoundTripper) http.RoundTripper {
	return &transport{base: base}
}

type transport struct {
	base http.RoundTripper
}

// RoundTrip sends req as a client span's child. The span ends when the
// response body is read to its end or closed.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	ctx := req.Context()

	// The provider of the span in ctx is the SDK of the service making the
	// call; without one, the global provider.
	var tp trace.TracerProvider
	if parent := trace.SpanFromContext(ctx); parent.SpanContext().IsValid() {
		tp = parent.TracerProvider()
	} else {
		tp = otel.GetTracerProvider()
	}
	name := req.Method
	if req.URL.Host != "" {
		name += " " + req.URL.Host
	}
	ctx, span := tp.Tracer(instrumentationName, trace.WithInstrumentationVersion(Version)).
		Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient))

	out := req.Clone(ctx) // a RoundTripper must not change req
	injectOutgoing(ctx, headerCarrier(out.Header))

	if span.IsRecording() {
		span.SetAttributes(clientRequestAttrs(req)...)
	}
	resp, err := base.RoundTrip(out)
	if err != nil {
		if span.IsRecording() {
			span.SetAttributes(semconv.ErrorTypeKey.String(errorType(err)))
			recordException(span, errorType(err), err.Error(), nil)
		}
		span.End()
		return resp, err
	}
	if span.IsRecording() {
		span.SetAttributes(semconv.HTTPResponseStatusCodeKey.Int(resp.StatusCode))
		if v := protocolVersion(resp.ProtoMajor, resp.ProtoMinor); v != "" {
			span.SetAttributes(semconv.NetworkProtocolVersionKey.String(v))
		}
		if resp.StatusCode >= 400 {
			span.SetAttributes(semconv.ErrorTypeKey.String(strconv.Itoa(resp.StatusCode)))
			span.SetStatus(codes.Error, http.StatusText(resp.StatusCode))
		}
	}
	switch {
	case resp.Body == nil || resp.Body == http.NoBody:
		span.End()
	case resp.StatusCode == http.StatusSwitchingProtocols:
		span.End() // the body is the connection; keep its io.Writer
	default:
		resp.Body = &spanBody{ReadCloser: resp.Body, span: span}
	}
	return resp, nil
}

// clientRequestAttrs returns the HTTP client attributes of req.
func clientRequestAttrs(req *http.Request) []attribute.KeyValue {
	u := *req.URL
	u.User = nil // url.full must not carry credentials
	attrs := []attribute.KeyValue{
		semconv.HTTPRequestMethodKey.String(req.Method),
		semconv.URLFullKey.String(u.String()),
	}
	host := req.URL.Host
	if host == "" {
		host = req.Host
	}
	if h, port := splitHostPort(host); h != "" {
		attrs = append(attrs, semconv.ServerAddressKey.String(h))
		if port == 0 {
			port = defaultPort(req.URL.Scheme)
		}
		if port > 0 {
			attrs = append(attrs, semconv.ServerPortKey.Int(port))
		}
	}
	return attrs
}

func defaultPort(scheme string) int {
	switch scheme {
	case "http":
		return 80
	case "https":
		return 443
	}
	return 0
}

// errorType names an error for error.type: its Go type.
func errorType(err error) string { return fmt.Sprintf("%T", err) }

// spanBody ends the client span when the caller is done with the body.
type spanBody struct {
	io.ReadCloser
	span  trace.Span
	ended atomic.Bool
}

// Read reads from the body and ends the span at its end or on an error.
func (b *spanBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		if err != io.EOF && b.span.IsRecording() {
			recordException(b.span, errorType(err), err.Error(), nil)
		}
		b.end()
	}
	return n, err
}

// Close closes the body and ends the span.
func (b *spanBody) Close() error {
	err := b.ReadCloser.Close()
	b.end()
	return err
}

func (b *spanBody) end() {
	if b.ended.CompareAndSwap(false, true) {
		b.span.End()
	}
}
