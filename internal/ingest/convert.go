package ingest

import (
	"fmt"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// Limits on what one span may carry; longer values are cut, not refused.
const (
	maxServiceName = 255
	maxValueLen    = 64 << 10
)

// converted is the result of decoding one export request.
type converted struct {
	spans    []telemetry.Span
	rejected int
	reason   string // why the first rejected span was refused
}

// SpanLimits bound what one span may carry; a span beyond them is refused
// (reported in the request's partial success), the others are kept.
type SpanLimits struct {
	// MaxAttributes caps the attributes of a span, of its resource, of an
	// event and of a link.
	MaxAttributes int
	// MaxEvents and MaxLinks cap a span's events and links.
	MaxEvents, MaxLinks int
	// MaxValueDepth caps how deep arrays and key-value lists nest in one
	// attribute value (a flat array is depth 1).
	MaxValueDepth int
}

// DefaultSpanLimits are the documented defaults.
func DefaultSpanLimits() SpanLimits {
	return SpanLimits{MaxAttributes: 256, MaxEvents: 1024, MaxLinks: 1024, MaxValueDepth: 32}
}

// converter turns OTLP traces into our spans within its limits.
type converter struct {
	lim     SpanLimits
	scratch []byte
	// slab is where the attributes of the request's spans are cut from,
	// a slab at a time, rather than one allocation per span.
	slab []telemetry.Attribute
}

// attrSlab is the largest slab of attributes, 256 KiB: a request is given
// one of the size it needs up to that, then as many more as it takes.
const attrSlab = 4096

// convert turns OTLP traces into our spans, refusing spans with invalid IDs,
// text that is not UTF-8, or more than the limits allow.
func convert(td ptrace.Traces, lim SpanLimits) converted {
	c := converter{lim: lim}
	c.slab = make([]telemetry.Attribute, 0, min(countAttrs(td, lim), attrSlab))
	var out converted
	out.spans = make([]telemetry.Span, 0, td.SpanCount())
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		res, err := c.resource(rs.Resource())
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
			scope := ss.Scope()
			spans := ss.Spans()
			if err != nil {
				out.reject(spans.Len(), fmt.Sprintf("resource: %v", err))
				continue
			}
			scopeName, scopeVersion := scope.Name(), scope.Version()
			if !utf8.ValidString(scopeName) || !utf8.ValidString(scopeVersion) {
				out.reject(spans.Len(), "instrumentation scope name or version is not valid UTF-8")
				continue
			}
			for k := 0; k < spans.Len(); k++ {
				var s telemetry.Span
				if err := c.span(&s, spans.At(k)); err != nil {
					out.reject(1, err.Error())
					continue
				}
				s.Resource, s.ScopeName, s.ScopeVersion = res, scopeName, scopeVersion
				out.spans = append(out.spans, s)
			}
		}
	}
	return out
}

// countAttrs counts the attributes of a request's resources, spans,
// events and links, each map up to the limit (a map over it is refused).
func countAttrs(td ptrace.Traces, lim SpanLimits) int {
	n := 0
	count := func(m pcommon.Map) {
		if m.Len() <= lim.MaxAttributes {
			n += m.Len()
		}
	}
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		count(rss.At(i).Resource().Attributes())
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				sp := spans.At(k)
				count(sp.Attributes())
				for e := 0; e < min(sp.Events().Len(), lim.MaxEvents); e++ {
					count(sp.Events().At(e).Attributes())
				}
				for l := 0; l < min(sp.Links().Len(), lim.MaxLinks); l++ {
					count(sp.Links().At(l).Attributes())
				}
			}
		}
	}
	return n
}

func (c *converted) reject(n int, reason string) {
	if n == 0 {
		return
	}
	if c.rejected == 0 {
		c.reason = reason
	}
	c.rejected += n
}

func (c *converter) resource(r pcommon.Resource) (*telemetry.Resource, error) {
	attrs, err := c.attrs(r.Attributes())
	if err != nil {
		return nil, err
	}
	return newResource(attrs), nil
}

// newResource is the resource of attrs: its service is named by the first
// service.name attribute, "unknown_service" when that is missing or empty.
func newResource(attrs []telemetry.Attribute) *telemetry.Resource {
	res := &telemetry.Resource{Attributes: attrs, ServiceName: "unknown_service"}
	if v, ok := telemetry.Find(attrs, "service.name"); ok && v.AsString() != "" {
		res.ServiceName = truncate(v.AsString(), maxServiceName)
	}
	return res
}

func (c *converter) span(s *telemetry.Span, in ptrace.Span) error {
	s.TraceID, s.SpanID, s.ParentSpanID = telemetry.TraceID(in.TraceID()), telemetry.SpanID(in.SpanID()), telemetry.SpanID(in.ParentSpanID())
	s.Name = in.Name()
	s.TraceState = in.TraceState().AsRaw()
	s.StatusMessage = in.Status().Message()
	s.Kind = telemetry.SpanKind(in.Kind())
	s.StartUnixNano, s.EndUnixNano = int64(in.StartTimestamp()), int64(in.EndTimestamp())
	s.StatusCode = telemetry.StatusCode(in.Status().Code())
	if err := checkSpan(s); err != nil {
		return err
	}
	var err error
	if s.Attributes, err = c.attrs(in.Attributes()); err != nil {
		return fmt.Errorf("span %s: %w", s.SpanID, err)
	}
	if err := c.lim.checkEventsAndLinks(s.SpanID, in.Events().Len(), in.Links().Len()); err != nil {
		return err
	}
	if evs := in.Events(); evs.Len() > 0 {
		s.Events = make([]telemetry.Event, evs.Len())
		for i := range s.Events {
			ev := evs.At(i)
			if !utf8.ValidString(ev.Name()) {
				return fmt.Errorf("span %s: event name is not valid UTF-8", s.SpanID)
			}
			s.Events[i] = telemetry.Event{Name: truncate(ev.Name(), maxValueLen), TimeUnixNano: int64(ev.Timestamp())}
			if s.Events[i].Attributes, err = c.attrs(ev.Attributes()); err != nil {
				return fmt.Errorf("span %s: event %q: %w", s.SpanID, ev.Name(), err)
			}
		}
	}
	if ls := in.Links(); ls.Len() > 0 {
		s.Links = make([]telemetry.Link, ls.Len())
		for i := range s.Links {
			l := ls.At(i)
			s.Links[i] = telemetry.Link{TraceID: telemetry.TraceID(l.TraceID()), SpanID: telemetry.SpanID(l.SpanID()), TraceState: l.TraceState().AsRaw()}
			if !utf8.ValidString(s.Links[i].TraceState) {
				return fmt.Errorf("span %s: link trace state is not valid UTF-8", s.SpanID)
			}
			if s.Links[i].Attributes, err = c.attrs(l.Attributes()); err != nil {
				return fmt.Errorf("span %s: link: %w", s.SpanID, err)
			}
		}
	}
	return nil
}

func (c *converter) attrs(m pcommon.Map) ([]telemetry.Attribute, error) {
	if m.Len() == 0 {
		return nil, nil
	}
	if err := c.lim.checkAttrs(m.Len()); err != nil {
		return nil, err
	}
	out := c.room(m.Len())
	var err error
	m.Range(func(k string, v pcommon.Value) bool {
		if !utf8.ValidString(k) {
			err = fmt.Errorf("attribute key %q is not valid UTF-8", k)
			return false
		}
		var tv telemetry.Value
		if tv, err = c.value(v); err != nil {
			err = fmt.Errorf("attribute %q: %w", k, err)
			return false
		}
		out = append(out, telemetry.Attribute{Key: truncate(k, maxServiceName), Value: tv})
		return true
	})
	c.keep(out)
	return out, err
}

// room returns an empty slice with room for n attributes, cut from the
// slab. Its capacity is n: an append past it would copy rather than
// overwrite the next span's.
func (c *converter) room(n int) []telemetry.Attribute {
	if cap(c.slab)-len(c.slab) < n {
		c.slab = make([]telemetry.Attribute, 0, max(n, attrSlab))
	}
	return c.slab[len(c.slab) : len(c.slab) : len(c.slab)+n]
}

// keep marks the attributes of out, a slice that room returned, as taken.
func (c *converter) keep(out []telemetry.Attribute) {
	c.slab = c.slab[:len(c.slab)+len(out)]
}

// checkAttrs refuses a map of n attributes when n is over the limit.
func (lim SpanLimits) checkAttrs(n int) error {
	if n > lim.MaxAttributes {
		return fmt.Errorf("%d attributes: more than the limit of %d", n, lim.MaxAttributes)
	}
	return nil
}

// checkEventsAndLinks refuses span id when it has more events or links
// than the limits allow.
func (lim SpanLimits) checkEventsAndLinks(id telemetry.SpanID, events, links int) error {
	if events > lim.MaxEvents {
		return fmt.Errorf("span %s: %d events: more than the limit of %d", id, events, lim.MaxEvents)
	}
	if links > lim.MaxLinks {
		return fmt.Errorf("span %s: %d links: more than the limit of %d", id, links, lim.MaxLinks)
	}
	return nil
}

// checkSpan refuses s, whose own fields hold what was sent, when its IDs
// are empty or its text is not UTF-8; otherwise it cuts its name to
// maxValueLen and clamps its kind, times and status to what is valid.
func checkSpan(s *telemetry.Span) error {
	if !s.TraceID.IsValid() {
		return fmt.Errorf("span %q: trace id is empty or all zero", s.Name)
	}
	if !s.SpanID.IsValid() {
		return fmt.Errorf("span %q: span id is empty or all zero", s.Name)
	}
	if !utf8.ValidString(s.Name) || !utf8.ValidString(s.TraceState) || !utf8.ValidString(s.StatusMessage) {
		return fmt.Errorf("span %s: name, trace state or status message is not valid UTF-8", s.SpanID)
	}
	s.Name = truncate(s.Name, maxValueLen)
	if s.Kind > telemetry.KindConsumer {
		s.Kind = telemetry.KindUnspecified
	}
	if s.StartUnixNano < 0 {
		s.StartUnixNano = 0
	}
	if s.EndUnixNano < s.StartUnixNano {
		s.EndUnixNano = s.StartUnixNano
	}
	if s.StatusCode > telemetry.StatusError {
		s.StatusCode = telemetry.StatusUnset
	}
	return nil
}

func (c *converter) value(v pcommon.Value) (telemetry.Value, error) {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		s := v.Str()
		if !utf8.ValidString(s) {
			return telemetry.Value{}, errNotUTF8
		}
		return telemetry.StringValue(truncate(s, maxValueLen)), nil
	case pcommon.ValueTypeBool:
		return telemetry.BoolValue(v.Bool()), nil
	case pcommon.ValueTypeInt:
		return telemetry.IntValue(v.Int()), nil
	case pcommon.ValueTypeDouble:
		return telemetry.DoubleValue(v.Double()), nil
	case pcommon.ValueTypeBytes:
		b := v.Bytes().AsRaw()
		return telemetry.Value{Type: telemetry.TypeBytes, Str: string(b[:min(len(b), maxValueLen)])}, nil
	case pcommon.ValueTypeSlice, pcommon.ValueTypeMap:
		j := jsonValue{maxDepth: c.lim.MaxValueDepth, maxLen: maxValueLen, buf: c.scratch[:0]}
		if err := j.append(v, 0); err != nil {
			return telemetry.Value{}, err
		}
		c.scratch = j.buf
		t := telemetry.TypeArray
		if v.Type() == pcommon.ValueTypeMap {
			t = telemetry.TypeMap
		}
		return telemetry.Value{Type: t, Str: string(j.buf)}, nil
	}
	return telemetry.Value{}, nil
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
