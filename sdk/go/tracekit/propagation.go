package tracekit

import (
	"context"
	"net/http"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// The W3C Trace Context headers, https://www.w3.org/TR/trace-context/.
const (
	traceparentHeader = "traceparent"
	tracestateHeader  = "tracestate"

	// traceparentLen is the length of a version 00 traceparent, and of the
	// part of any version this SDK reads.
	traceparentLen = 55
	// maxTracestateMembers is the most list-members a tracestate holds.
	maxTracestateMembers = 32
	// maxTracestateValue is the longest value of a list-member.
	maxTracestateValue = 256
)

// TraceContext is a propagation.TextMapPropagator that reads and writes the
// traceparent and tracestate headers exactly as the W3C Trace Context
// specification (Level 1, and the random flag of Level 2) says. It is what
// the SDK's middlewares and HTTPClient use, and it works without NewSDK:
//
//	otel.SetTextMapPropagator(tracekit.TraceContext{})
//
// Extract continues the caller's trace only from one well-formed
// traceparent: version 00 exactly as specified (55 characters, lower-case
// hex), a higher version from its first 55 characters followed by the end or
// a "-", never version ff, never an all-zero trace-id or parent-id. Of the
// flags it keeps sampled and random and ignores the others. Several
// traceparent headers (several values, or one value holding a ",") make the
// traceparent invalid: the service starts a new trace.
//
// tracestate is read only with a valid traceparent. Several tracestate
// headers are one list, joined in order with ","; a carrier that implements
// propagation.ValuesGetter (as http.Header carriers do) gives all of them.
// Empty and blank list-members are skipped. An invalid key or value, a key
// given twice, or more than 32 list-members discards the whole tracestate
// (the specification allows truncation too; TraceKit discards, so that no
// vendor's entry is forwarded out of its context), and the traceparent is
// kept.
//
// Inject writes a version 00 traceparent for the span in the context, and
// its tracestate (at most 32 list-members, in order; an entry updated with
// trace.TraceState.Insert is first) when it has one. It writes nothing when
// the context holds no valid span.
type TraceContext struct{}

var _ propagation.TextMapPropagator = TraceContext{}

// Fields returns the headers TraceContext reads and writes.
func (TraceContext) Fields() []string { return []string{traceparentHeader, tracestateHeader} }

// Inject writes the span context of ctx into carrier.
func (TraceContext) Inject(ctx context.Context, carrier propagation.TextMapCarrier) {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return
	}
	carrier.Set(traceparentHeader, formatTraceparent(sc))
	if ts := formatTracestate(sc.TraceState()); ts != "" {
		carrier.Set(tracestateHeader, ts)
	} else {
		// A tracestate already on the carrier (headers copied from an
		// incoming request) belongs to another traceparent.
		removeKey(carrier, tracestateHeader)
	}
}

// Extract returns ctx with the remote span context carrier names, or ctx
// itself when carrier holds no valid traceparent.
func (TraceContext) Extract(ctx context.Context, carrier propagation.TextMapCarrier) context.Context {
	sc, ok := extractSpanContext(carrier)
	if !ok {
		return ctx
	}
	return trace.ContextWithRemoteSpanContext(ctx, sc)
}

// extractSpanContext reads traceparent and tracestate from carrier.
func extractSpanContext(carrier propagation.TextMapCarrier) (trace.SpanContext, bool) {
	var h string
	vg, multi := carrier.(propagation.ValuesGetter)
	if multi {
		switch vs := vg.Values(traceparentHeader); len(vs) {
		case 0:
			return trace.SpanContext{}, false
		case 1:
			h = vs[0]
		default:
			return trace.SpanContext{}, false // several traceparent headers
		}
	} else {
		h = carrier.Get(traceparentHeader)
	}
	scc, ok := parseTraceparent(h)
	if !ok {
		return trace.SpanContext{}, false
	}
	var ts []string
	if multi {
		ts = vg.Values(tracestateHeader)
	} else if v := carrier.Get(tracestateHeader); v != "" {
		ts = []string{v}
	}
	if len(ts) > 0 {
		scc.TraceState, _ = parseTracestate(ts) // an invalid tracestate is dropped, the traceparent kept
	}
	scc.Remote = true
	return trace.NewSpanContext(scc), true
}

// parseTraceparent parses a traceparent value. Surrounding spaces and tabs
// (HTTP's optional whitespace) are not part of it.
func parseTraceparent(h string) (trace.SpanContextConfig, bool) {
	var scc trace.SpanContextConfig
	h = trimOWS(h)
	if len(h) < traceparentLen || h[2] != '-' || h[35] != '-' || h[52] != '-' {
		return scc, false
	}
	version, ok := hexByte(h[0], h[1])
	if !ok || version == 0xff {
		return scc, false
	}
	if version == 0 && len(h) != traceparentLen {
		return scc, false
	}
	if len(h) > traceparentLen && h[traceparentLen] != '-' {
		return scc, false // a later version may add fields, after a "-"
	}
	if !decodeHex(scc.TraceID[:], h[3:35]) || !decodeHex(scc.SpanID[:], h[36:52]) {
		return scc, false
	}
	flags, ok := hexByte(h[53], h[54])
	if !ok || !scc.TraceID.IsValid() || !scc.SpanID.IsValid() {
		return scc, false
	}
	scc.TraceFlags = trace.TraceFlags(flags) & (trace.FlagsSampled | trace.FlagsRandom)
	return scc, true
}

// formatTraceparent writes sc as a version 00 traceparent.
func formatTraceparent(sc trace.SpanContext) string {
	const hex = "0123456789abcdef"
	var b [traceparentLen]byte
	b[0], b[1], b[2], b[35], b[52] = '0', '0', '-', '-', '-'
	tid, sid := sc.TraceID(), sc.SpanID()
	for i, c := range tid {
		b[3+2*i], b[4+2*i] = hex[c>>4], hex[c&0xf]
	}
	for i, c := range sid {
		b[36+2*i], b[37+2*i] = hex[c>>4], hex[c&0xf]
	}
	flags := byte(sc.TraceFlags() & (trace.FlagsSampled | trace.FlagsRandom))
	b[53], b[54] = hex[flags>>4], hex[flags&0xf]
	return string(b[:])
}

// parseTracestate parses the values of the tracestate headers as one list.
// It reports false, and an empty TraceState, when the list is invalid.
func parseTracestate(values []string) (trace.TraceState, bool) {
	var (
		keys [maxTracestateMembers]string
		n    int
		b    strings.Builder
	)
	for _, v := range values {
		for v != "" {
			var m string
			m, v, _ = strings.Cut(v, ",")
			if m = trimOWS(m); m == "" {
				continue // empty and blank list-members are allowed
			}
			if n == maxTracestateMembers {
				return trace.TraceState{}, false
			}
			key, value, ok := strings.Cut(m, "=")
			if !ok || !validTracestateKey(key) || !validTracestateValue(value) {
				return trace.TraceState{}, false
			}
			for _, k := range keys[:n] {
				if k == key {
					return trace.TraceState{}, false
				}
			}
			keys[n] = key
			n++
			if b.Len() > 0 {
				b.WriteByte(',')
			}
			b.WriteString(m)
		}
	}
	if n == 0 {
		return trace.TraceState{}, true
	}
	// The list is valid and canonical: OpenTelemetry's parser, which holds
	// the only way to build a TraceState from a list, accepts it.
	ts, err := trace.ParseTraceState(b.String())
	if err != nil {
		return trace.TraceState{}, false
	}
	return ts, true
}

// formatTracestate writes at most 32 list-members of ts, in order.
func formatTracestate(ts trace.TraceState) string {
	if ts.Len() == 0 {
		return ""
	}
	var b strings.Builder
	n := 0
	ts.Walk(func(key, value string) bool {
		if n > 0 {
			b.WriteByte(',')
		}
		b.WriteString(key)
		b.WriteByte('=')
		b.WriteString(value)
		n++
		return n < maxTracestateMembers
	})
	return b.String()
}

// validTracestateKey reports whether key is a simple key,
// [a-z][a-z0-9_-*/]{0,255}, or a multi-tenant key, tenant@system with tenant
// [a-z0-9][a-z0-9_-*/]{0,240} and system [a-z][a-z0-9_-*/]{0,13}.
func validTracestateKey(key string) bool {
	tenant, system, multi := strings.Cut(key, "@")
	if !multi {
		return keyPart(key, 256, false)
	}
	return keyPart(tenant, 241, true) && keyPart(system, 14, false)
}

// keyPart checks one part of a key: 1 to maxLen characters from a-z, 0-9 and
// _-*/, starting with a-z (or a digit too, when digitFirst).
func keyPart(s string, maxLen int, digitFirst bool) bool {
	if s == "" || len(s) > maxLen {
		return false
	}
	if c := s[0]; !(c >= 'a' && c <= 'z') && !(digitFirst && c >= '0' && c <= '9') {
		return false
	}
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_', c == '-', c == '*', c == '/':
		default:
			return false
		}
	}
	return true
}

// validTracestateValue reports whether v is 1 to 256 printable ASCII
// characters other than "," and "=", not ending with a space.
func validTracestateValue(v string) bool {
	if v == "" || len(v) > maxTracestateValue || v[len(v)-1] == ' ' {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c > 0x7e || c == ',' || c == '=' {
			return false
		}
	}
	return true
}

// trimOWS removes the spaces and tabs around s.
func trimOWS(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// hexValue maps the lower-case hex digits to their value and every other
// byte, upper-case A-F included (the specification allows lower case only),
// to 0xff.
var hexValue = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := byte('0'); c <= '9'; c++ {
		t[c] = c - '0'
	}
	for c := byte('a'); c <= 'f'; c++ {
		t[c] = c - 'a' + 10
	}
	return t
}()

// hexByte decodes two lower-case hex digits.
func hexByte(hi, lo byte) (byte, bool) {
	h, l := hexValue[hi], hexValue[lo]
	return h<<4 | l, (h|l)&0xf0 == 0
}

// decodeHex decodes s, lower-case hex of twice len(dst) digits, into dst.
func decodeHex(dst []byte, s string) bool {
	bad := byte(0)
	for i := range dst {
		h, l := hexValue[s[2*i]], hexValue[s[2*i+1]]
		dst[i] = h<<4 | l
		bad |= h | l
	}
	return bad&0xf0 == 0
}

// removeKey removes key from carrier: deleted from the carriers that are
// maps, set to empty (an empty list, which receivers accept) on others that
// hold it.
func removeKey(carrier propagation.TextMapCarrier, key string) {
	switch c := carrier.(type) {
	case headerCarrier:
		delete(c, canonicalKey(key))
	case propagation.HeaderCarrier:
		http.Header(c).Del(key)
	case propagation.MapCarrier:
		delete(c, key)
	default:
		if carrier.Get(key) != "" {
			carrier.Set(key, "")
		}
	}
}

// NewPropagator returns the propagator NewSDK installs as OpenTelemetry's
// global one: TraceContext, then W3C Baggage. Use it to propagate as the SDK
// does without NewSDK, or to restore it.
func NewPropagator() propagation.TextMapPropagator { return sdkPropagator{} }

// sdkPropagator is TraceContext and Baggage; a type of its own, rather than
// a composite, so that HTTPClient can tell it apart from a propagator the
// program installed.
type sdkPropagator struct{}

// Inject writes the trace context and the baggage of ctx into carrier.
func (sdkPropagator) Inject(ctx context.Context, carrier propagation.TextMapCarrier) {
	TraceContext{}.Inject(ctx, carrier)
	propagation.Baggage{}.Inject(ctx, carrier)
}

// Extract reads the trace context and the baggage of carrier into ctx.
func (sdkPropagator) Extract(ctx context.Context, carrier propagation.TextMapCarrier) context.Context {
	ctx = TraceContext{}.Extract(ctx, carrier)
	return propagation.Baggage{}.Extract(ctx, carrier)
}

// Fields returns the headers the propagator reads and writes.
func (sdkPropagator) Fields() []string {
	return []string{traceparentHeader, tracestateHeader, "baggage"}
}

// injectOutgoing writes the headers of an outgoing call. A global
// propagator the program installed (B3, its own baggage rules...) writes
// its headers too; the W3C trace headers are always TraceContext's, and
// OpenTelemetry's default, which writes nothing, means NewPropagator.
func injectOutgoing(ctx context.Context, carrier propagation.TextMapCarrier) {
	g := otel.GetTextMapPropagator()
	if _, ours := g.(sdkPropagator); ours || len(g.Fields()) == 0 {
		sdkPropagator{}.Inject(ctx, carrier)
		return
	}
	g.Inject(ctx, carrier)
	TraceContext{}.Inject(ctx, carrier)
}
