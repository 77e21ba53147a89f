package demo

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// service is one instrumented service of the demo shop: what its SDK puts
// in the resource, and the instrumentation scope of its spans.
type service struct {
	name, version, language, host string
	scope, scopeVersion           string
}

// attr is one span, event or link attribute: the value is a string, int,
// int64, float64 or bool.
type attr struct {
	key string
	val any
}

type event struct {
	name  string
	at    int64 // nanoseconds since the trace start
	attrs []attr
}

// span is one span being built; times are nanoseconds since the trace start
// until the trace is placed in time.
type span struct {
	svc        *service
	scope      string // instrumentation scope, when not the service's own
	id         [8]byte
	parent     int // index in trace.spans, -1 for the root
	name       string
	kind       ptrace.SpanKind
	start, end int64
	attrs      []attr
	failed     bool   // status error
	errMsg     string // the status message, empty for HTTP errors as OTel says
	events     []event
	link       int // index of a linked span in the same trace, -1 for none
}

// trace is one generated trace.
type trace struct {
	id    [16]byte
	spans []span
}

// builder writes one trace the way instrumented code would produce it: a
// clock moves forward while spans begin and end around it.
type builder struct {
	rng  *rand.Rand
	tr   *trace
	now  int64 // the clock, nanoseconds since the trace start
	used map[[8]byte]bool
}

func newBuilder(rng *rand.Rand) *builder {
	b := &builder{rng: rng, tr: &trace{}, used: make(map[[8]byte]bool)}
	for b.tr.id == ([16]byte{}) {
		binary.BigEndian.PutUint64(b.tr.id[:8], rng.Uint64())
		binary.BigEndian.PutUint64(b.tr.id[8:], rng.Uint64())
	}
	return b
}

// begin starts a span at the current time and returns its index.
func (b *builder) begin(parent int, svc *service, name string, kind ptrace.SpanKind, attrs ...attr) int {
	var id [8]byte
	for id == ([8]byte{}) || b.used[id] {
		binary.BigEndian.PutUint64(id[:], b.rng.Uint64())
	}
	b.used[id] = true
	b.tr.spans = append(b.tr.spans, span{
		svc: svc, id: id, parent: parent, name: name, kind: kind,
		start: b.now, end: b.now, attrs: attrs, link: -1,
	})
	return len(b.tr.spans) - 1
}

// end ends span i at the current time.
func (b *builder) end(i int, attrs ...attr) {
	s := &b.tr.spans[i]
	s.end = b.now
	s.attrs = append(s.attrs, attrs...)
}

// fail marks span i as an error.
func (b *builder) fail(i int, msg string) {
	b.tr.spans[i].failed = true
	b.tr.spans[i].errMsg = msg
}

// scope sets the instrumentation scope of span i, for spans that a library
// instrumentation (database, messaging) rather than the service's own makes.
func (b *builder) scope(i int, name string) { b.tr.spans[i].scope = name }

// exception records an exception event on span i at the current time and
// marks the span as an error, as OTel SDKs do for RecordError + SetStatus.
func (b *builder) exception(i int, typ, msg, stack string) {
	b.fail(i, msg)
	s := &b.tr.spans[i]
	s.events = append(s.events, event{name: "exception", at: b.now, attrs: []attr{
		{"exception.type", typ}, {"exception.message", msg}, {"exception.stacktrace", stack},
	}})
}

// wait moves the clock by about d: log-normally jittered, as latencies are.
func (b *builder) wait(d time.Duration) { b.now += int64(b.jitter(d)) }

func (b *builder) jitter(d time.Duration) time.Duration {
	f := math.Exp(0.3 * b.rng.NormFloat64())
	return time.Duration(float64(d) * min(max(f, 0.4), 3))
}

// chance reports true with probability p.
func (b *builder) chance(p float64) bool { return b.rng.Float64() < p }

// pick returns one of xs at random.
func pick[T any](rng *rand.Rand, xs ...T) T { return xs[rng.IntN(len(xs))] }

// place shifts the trace so that its last span ends at endUnixNano.
func (t *trace) place(endUnixNano int64) {
	var last int64
	for i := range t.spans {
		last = max(last, t.spans[i].end)
	}
	off := endUnixNano - last
	for i := range t.spans {
		s := &t.spans[i]
		s.start += off
		s.end += off
		for k := range s.events {
			s.events[k].at += off
		}
	}
}

// hasError reports whether any span of t failed.
func (t *trace) hasError() bool {
	for i := range t.spans {
		if t.spans[i].failed {
			return true
		}
	}
	return false
}

// encode builds one OTLP export request from traces: one ResourceSpans per
// service and one ScopeSpans per instrumentation scope, in order of first
// appearance so the bytes are the same for the same traces.
func encode(traces []*trace) ([]byte, error) {
	td := ptrace.NewTraces()
	type scopeKey struct {
		svc   *service
		scope string
	}
	resources := make(map[*service]ptrace.ResourceSpans)
	scopes := make(map[scopeKey]ptrace.SpanSlice)
	for _, t := range traces {
		for i := range t.spans {
			s := &t.spans[i]
			rs, ok := resources[s.svc]
			if !ok {
				rs = td.ResourceSpans().AppendEmpty()
				putResource(rs.Resource().Attributes(), s.svc)
				resources[s.svc] = rs
			}
			key := scopeKey{s.svc, s.scope}
			spans, ok := scopes[key]
			if !ok {
				ss := rs.ScopeSpans().AppendEmpty()
				ss.Scope().SetName(s.svc.scope)
				ss.Scope().SetVersion(s.svc.scopeVersion)
				if s.scope != "" {
					ss.Scope().SetName(s.scope)
					ss.Scope().SetVersion("")
				}
				spans = ss.Spans()
				scopes[key] = spans
			}
			putSpan(spans.AppendEmpty(), t, s)
		}
	}
	return ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
}

func putResource(m pcommon.Map, svc *service) {
	m.PutStr("service.name", svc.name)
	m.PutStr("service.namespace", "shop")
	m.PutStr("service.version", svc.version)
	m.PutStr("deployment.environment.name", "demo")
	if svc.host != "" {
		m.PutStr("host.name", svc.host)
		m.PutStr("service.instance.id", svc.host)
	}
	m.PutStr("telemetry.sdk.name", "opentelemetry")
	m.PutStr("telemetry.sdk.language", svc.language)
	m.PutStr("telemetry.sdk.version", sdkVersion(svc.language))
}

func sdkVersion(language string) string {
	switch language {
	case "go":
		return "1.38.0"
	case "nodejs", "webjs":
		return "2.1.0"
	case "java":
		return "1.54.1"
	case "python":
		return "1.37.0"
	}
	return "1.0.0"
}

func putSpan(out ptrace.Span, t *trace, s *span) {
	out.SetTraceID(pcommon.TraceID(t.id))
	out.SetSpanID(pcommon.SpanID(s.id))
	if s.parent >= 0 {
		out.SetParentSpanID(pcommon.SpanID(t.spans[s.parent].id))
	}
	out.SetName(s.name)
	out.SetKind(s.kind)
	out.SetStartTimestamp(pcommon.Timestamp(s.start))
	out.SetEndTimestamp(pcommon.Timestamp(s.end))
	putAttrs(out.Attributes(), s.attrs)
	if s.failed {
		out.Status().SetCode(ptrace.StatusCodeError)
		out.Status().SetMessage(s.errMsg)
	}
	for _, e := range s.events {
		ev := out.Events().AppendEmpty()
		ev.SetName(e.name)
		ev.SetTimestamp(pcommon.Timestamp(e.at))
		putAttrs(ev.Attributes(), e.attrs)
	}
	if s.link >= 0 {
		l := out.Links().AppendEmpty()
		l.SetTraceID(pcommon.TraceID(t.id))
		l.SetSpanID(pcommon.SpanID(t.spans[s.link].id))
		l.Attributes().PutStr("messaging.operation.type", "send")
	}
}

func putAttrs(m pcommon.Map, attrs []attr) {
	m.EnsureCapacity(len(attrs))
	for _, a := range attrs {
		switch v := a.val.(type) {
		case string:
			m.PutStr(a.key, v)
		case int:
			m.PutInt(a.key, int64(v))
		case int64:
			m.PutInt(a.key, v)
		case float64:
			m.PutDouble(a.key, v)
		case bool:
			m.PutBool(a.key, v)
		}
	}
}
