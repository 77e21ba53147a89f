package tracekit

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"runtime/debug"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// HTTPMiddleware traces every request next serves: it continues the trace
// named by the traceparent and tracestate headers, read by TraceContext's
// rules (or starts one), runs next
// with a context carrying the request's server span, and records the HTTP
// semantic-convention attributes, a 5xx status as an error, and a panic as an
// exception before re-panicking. Wrap the whole mux with it: the span is
// named after the route pattern the Go 1.22+ ServeMux matched, as in
// "GET /users/{id}", else after the method and path.
func (s *SDK) HTTPMiddleware(next http.Handler) http.Handler {
	if s == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The final name is known once the mux has matched; start with the
		// method, which costs no allocation.
		ctx, span := s.startServerSpan(r, r.Method)
		if !span.IsRecording() {
			next.ServeHTTP(w, r.WithContext(ctx))
			return
		}
		rw := &responseWriter{ResponseWriter: w}
		rr := r.WithContext(ctx)
		defer func() {
			if rr.MultipartForm != nil {
				// net/http removes ParseMultipartForm's temporary files
				// through the request it passed in.
				r.MultipartForm = rr.MultipartForm
			}
			v := recover()
			if v != nil {
				recordPanic(span, v)
			}
			name, route := httpRouteName(rr)
			if name != "" {
				span.SetName(name)
			}
			status := rw.status
			if status == 0 && v == nil && !rw.hijacked {
				status = http.StatusOK // what net/http sends for a silent handler
			}
			s.endServerSpan(span, rr, route, status)
			if v != nil {
				panic(v)
			}
		}()
		next.ServeHTTP(rw, rr)
	})
}

// startServerSpan continues the trace in r's headers with a server span.
func (s *SDK) startServerSpan(r *http.Request, name string) (context.Context, trace.Span) {
	ctx := s.prop.Extract(r.Context(), headerCarrier(r.Header))
	return s.tracer.Start(ctx, name, s.serverSpan...)
}

// headerCarrier is propagation.HeaderCarrier without the allocation that
// http.Header makes on every lookup to canonicalize the lower-case names
// the propagators use.
type headerCarrier http.Header

var _ propagation.ValuesGetter = headerCarrier(nil)

// canonicalKey returns the canonical form of a header name, for the trace
// headers without allocating.
func canonicalKey(key string) string {
	switch key {
	case "traceparent":
		return "Traceparent"
	case "tracestate":
		return "Tracestate"
	case "baggage":
		return "Baggage"
	}
	return textproto.CanonicalMIMEHeaderKey(key)
}

// Get returns the first value of the header key.
func (c headerCarrier) Get(key string) string {
	if v := c[canonicalKey(key)]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Values returns every value of the header key.
func (c headerCarrier) Values(key string) []string { return c[canonicalKey(key)] }

// Set replaces the header key with value.
func (c headerCarrier) Set(key, value string) { c[canonicalKey(key)] = []string{value} }

// Keys returns the header names.
func (c headerCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

// attrBuf holds a request's attributes until they are handed to the span in
// one call, which copies them. It is pooled, so a request allocates none.
type attrBuf [12]attribute.KeyValue

// endServerSpan records the request's attributes and status and ends span.
// route is the matched route template, empty if none matched; status is the
// response status, 0 if nothing was written.
func (s *SDK) endServerSpan(span trace.Span, r *http.Request, route string, status int) {
	buf := s.attrBufs.Get().(*attrBuf)
	attrs := appendRequestAttrs(buf[:0], r)
	if route != "" {
		attrs = append(attrs, semconv.HTTPRouteKey.String(route))
	}
	if status != 0 {
		attrs = append(attrs, semconv.HTTPResponseStatusCodeKey.Int(status))
	}
	span.SetAttributes(attrs...)
	*buf = attrBuf{} // let the strings go
	s.attrBufs.Put(buf)
	if status >= 500 {
		span.SetStatus(codes.Error, http.StatusText(status))
	}
	span.End()
}

// appendRequestAttrs appends the request's HTTP server attributes; it
// allocates nothing.
func appendRequestAttrs(attrs []attribute.KeyValue, r *http.Request) []attribute.KeyValue {
	attrs = append(attrs,
		semconv.HTTPRequestMethodKey.String(r.Method),
		semconv.URLPathKey.String(r.URL.Path),
	)
	if r.TLS != nil {
		attrs = append(attrs, semconv.URLSchemeKey.String("https"))
	} else {
		attrs = append(attrs, semconv.URLSchemeKey.String("http"))
	}
	if host, port := splitHostPort(r.Host); host != "" {
		attrs = append(attrs, semconv.ServerAddressKey.String(host))
		if port > 0 {
			attrs = append(attrs, semconv.ServerPortKey.Int(port))
		}
	}
	if ua := r.UserAgent(); ua != "" {
		attrs = append(attrs, semconv.UserAgentOriginalKey.String(ua))
	}
	if client := clientAddress(r); client != "" {
		attrs = append(attrs, semconv.ClientAddressKey.String(client))
	}
	if v := protocolVersion(r.ProtoMajor, r.ProtoMinor); v != "" {
		attrs = append(attrs, semconv.NetworkProtocolVersionKey.String(v))
	}
	return attrs
}

// httpRouteName returns the span name and http.route for a request a
// ServeMux has routed: "GET /users/{id}" and "/users/{id}". Without a
// pattern the name is the method and path and the route is empty.
func httpRouteName(r *http.Request) (name, route string) {
	p := r.Pattern
	if p == "" {
		return r.Method + " " + r.URL.Path, ""
	}
	// A pattern is "[METHOD ][HOST]/PATH".
	method, rest, hasMethod := strings.Cut(p, " ")
	if !hasMethod {
		rest = p
	}
	rest = strings.TrimLeft(rest, " \t")
	if i := strings.IndexByte(rest, '/'); i > 0 {
		rest = rest[i:] // drop the host
	} else if i < 0 {
		return r.Method + " " + r.URL.Path, ""
	}
	if hasMethod && method == r.Method && len(p) == len(method)+1+len(rest) {
		return p, rest // "GET /users/{id}" as it is: no allocation
	}
	return r.Method + " " + rest, rest
}

// recordPanic records a recovered panic value as an exception with the
// panicking goroutine's stack. http.ErrAbortHandler is how a handler aborts a
// response on purpose; it is recorded as an error without an exception.
func recordPanic(span trace.Span, v any) {
	if v == http.ErrAbortHandler {
		span.SetStatus(codes.Error, "handler aborted the response")
		return
	}
	msg := fmt.Sprint(v)
	typ := fmt.Sprintf("%T", v)
	if err, ok := v.(error); ok {
		msg = err.Error()
	}
	recordException(span, typ, "panic: "+msg, debug.Stack())
}

// splitHostPort splits r.Host; port is 0 when absent or not a number.
func splitHostPort(hostport string) (host string, port int) {
	if hostport == "" {
		return "", 0
	}
	// Fast path without an error allocation when there is no port.
	i := strings.LastIndexByte(hostport, ':')
	if i < 0 || strings.HasSuffix(hostport, "]") {
		return strings.Trim(hostport, "[]"), 0
	}
	host, p, err := net.SplitHostPort(hostport)
	if err != nil {
		return hostport, 0
	}
	port, err = strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return host, 0
	}
	return host, port
}

// clientAddress is the first address in X-Forwarded-For, else the peer's.
func clientAddress(r *http.Request) string {
	if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
		first, _, _ := strings.Cut(xff, ",")
		if first = strings.TrimSpace(first); first != "" {
			return first
		}
	}
	host, _ := splitHostPort(r.RemoteAddr)
	return host
}

// protocolVersion names the HTTP version as network.protocol.version does.
func protocolVersion(major, minor int) string {
	switch {
	case major == 1 && minor == 1:
		return "1.1"
	case major == 2:
		return "2"
	case major == 1 && minor == 0:
		return "1.0"
	case major == 3:
		return "3"
	}
	return ""
}

// responseWriter remembers the status a handler sends. It implements
// http.Flusher, http.Hijacker and io.ReaderFrom by passing them on, and
// Unwrap, so that http.ResponseController reaches anything else the
// underlying writer supports.
type responseWriter struct {
	http.ResponseWriter
	status   int
	hijacked bool
}

// WriteHeader records the first final status and sends it.
func (w *responseWriter) WriteHeader(code int) {
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write sends b, with status 200 if no status was sent.
func (w *responseWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// ReadFrom copies from src, letting the underlying writer use sendfile.
func (w *responseWriter) ReadFrom(src io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(writerOnly{w.ResponseWriter}, src)
}

// Flush sends what is buffered, with status 200 if no status was sent.
func (w *responseWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack hands the connection over to the handler.
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.hijacked = true
	}
	return conn, rw, err
}

// Unwrap returns the writer underneath, for http.ResponseController.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// writerOnly hides every method but Write, so that io.Copy cannot call back
// into ReadFrom.
type writerOnly struct{ io.Writer }
