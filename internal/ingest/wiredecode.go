package ingest

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// decodeWire decodes an OTLP/protobuf trace export request straight into
// our spans, giving exactly what convert gives for the traces pdata's
// UnmarshalProto decodes from it. scan is what scanProto found in body,
// which it must have accepted and found well-formed (scan.malformed nil):
// the decoder then meets nothing it must refuse, and no value nests deeper
// than the limit, which bounds the recursion of wireDecoder.appendJSON.
//
// pdata's semantics, which the decoder follows: a scalar field sent twice
// keeps the last value; a message field sent twice (a span's status, a
// resource spans' resource, a scope spans' scope, a key-value's value) is
// merged, its own scalars last-wins and its repeated fields appended; in
// an AnyValue the last oneof field set wins, and an array or key-value
// list set twice keeps only the last (pdata replaces, not merges, it); a
// ResourceSpans without scope spans takes those of the deprecated field
// 1000 instead; unknown fields are skipped.
func decodeWire(body []byte, scan protoScan, lim SpanLimits) (converted, error) {
	d := &wireDecoder{
		converter: converter{lim: lim, slab: make([]telemetry.Attribute, 0, min(scan.attrs, attrSlab))},
		body:      body,
		text:      string(body),
	}
	out := converted{spans: make([]telemetry.Span, 0, scan.spans)}
	for c := d.cursor(0, len(body)); c.next(); {
		if c.num == 1 {
			d.resourceSpans(&out, c.start, c.stop)
		}
	}
	if d.err != nil {
		return converted{}, fmt.Errorf("read a scanned body: %w", d.err)
	}
	return out, nil
}

// wireDecoder turns the wire bytes of a scanned request into spans.
type wireDecoder struct {
	converter
	body []byte
	// text is the body as one string, which the spans' strings are cut
	// from: one allocation and copy per request, where pdata allocates each
	// string. A copy, not the body's own memory, so that nothing depends on
	// the body buffer being left alone after the request (reqbody.Read and
	// gRPC's Materialize allocate it afresh today, but a pool would reuse
	// it). The cost is that any string kept after the request keeps the
	// whole text alive; the store keeps service and span names past the
	// write (in its name limits, series rows and service map), so those
	// two get their own allocations (intern, and the clone in
	// resourceSpans).
	text string
	// names holds the request's span names, each allocated once.
	names map[string]string
	// kvs, events and links hold where the key-values, events and links of
	// the message being converted are, up to their limits.
	kvs, events, links []payload
	// err is set when a scanned body fails to read, which is a bug.
	err error
}

// payload is where the payload of a length-delimited field is in the body.
type payload struct{ start, stop int }

// cursor steps through the fields of the message at [pos, end) of a
// scanned body.
type cursor struct {
	d        *wireDecoder
	b        []byte // d.body
	pos, end int
	// The field read by next: its number, its value if a varint or fixed,
	// and its payload if length-delimited. The scan checked that each
	// field the decoder reads has its own wire type.
	num         int32
	v           uint64
	start, stop int
}

func (d *wireDecoder) cursor(start, end int) cursor {
	return cursor{d: d, b: d.body, pos: start, end: end}
}

// next reads the next field and reports whether there was one. Fields with
// a one-byte tag and length or value, most of them, take the short way.
func (c *cursor) next() bool {
	p := c.pos
	if p >= c.end {
		return false
	}
	if b := c.b[p:c.end]; len(b) >= 2 {
		t, x := b[0], b[1]
		if t >= 8 && t < 0x80 {
			switch wireType(t & 7) {
			case wireLen:
				if x < 0x80 && int(x) <= len(b)-2 {
					c.num, c.start, c.stop, c.pos = int32(t>>3), p+2, p+2+int(x), p+2+int(x)
					return true
				}
			case wireVarint:
				if x < 0x80 {
					c.num, c.v, c.pos = int32(t>>3), uint64(x), p+2
					return true
				}
			case wireI64:
				if len(b) >= 9 {
					c.num, c.v, c.pos = int32(t>>3), binary.LittleEndian.Uint64(b[1:9]), p+9
					return true
				}
			}
		}
	}
	return c.slow()
}

// slow reads the next field the long way.
func (c *cursor) slow() bool {
	f, next, err := readField(c.b, c.pos, c.end)
	if err != nil {
		if c.d.err == nil {
			c.d.err = err
		}
		c.pos = c.end
		return false
	}
	c.num, c.v, c.start, c.stop, c.pos = f.num, f.v, f.start, f.end, next
	return true
}

// str is the payload of the field just read, as a string.
func (c *cursor) str() string { return c.d.text[c.start:c.stop] }

// id copies the payload of the field just read, an empty or full ID as the
// scan checked, into id.
func (c *cursor) id(id []byte) {
	clear(id)
	copy(id, c.b[c.start:c.stop])
}

// collect appends the payload of the field just read to list, up to max
// payloads: past it the message is refused, and only counted.
func (c *cursor) collect(list []payload, max int) []payload {
	if len(list) < max {
		list = append(list, payload{c.start, c.stop})
	}
	return list
}

// intern returns s in an allocation of its own, one per distinct s in a
// request.
func (d *wireDecoder) intern(s string) string {
	if v, ok := d.names[s]; ok {
		return v
	}
	if d.names == nil {
		d.names = make(map[string]string)
	}
	v := strings.Clone(s)
	d.names[v] = v
	return v
}

func (d *wireDecoder) resourceSpans(out *converted, start, end int) {
	// pdata takes the scope spans of the deprecated field 1000 only when
	// there are none in field 2. The resource's attributes are those of
	// every resource field, merged.
	scopeField := int32(1000)
	d.kvs = d.kvs[:0]
	n := 0
	for c := d.cursor(start, end); c.next(); {
		switch c.num {
		case 1:
			for r := d.cursor(c.start, c.stop); r.next(); {
				if r.num == 1 {
					d.kvs = r.collect(d.kvs, d.lim.MaxAttributes)
					n++
				}
			}
		case 2:
			scopeField = 2
		}
	}
	attrs, err := d.attrs(n)
	var res *telemetry.Resource
	if err == nil {
		res = newResource(attrs)
		res.ServiceName = strings.Clone(res.ServiceName)
	}
	for c := d.cursor(start, end); c.next(); {
		if c.num == scopeField {
			d.scopeSpans(out, c.start, c.stop, res, err)
		}
	}
}

func (d *wireDecoder) scopeSpans(out *converted, start, end int, res *telemetry.Resource, resErr error) {
	var scopeName, scopeVersion string
	n := 0
	for c := d.cursor(start, end); c.next(); {
		switch c.num {
		case 1:
			for s := d.cursor(c.start, c.stop); s.next(); {
				switch s.num {
				case 1:
					scopeName = s.str()
				case 2:
					scopeVersion = s.str()
				}
			}
		case 2:
			n++
		}
	}
	if resErr != nil {
		out.reject(n, fmt.Sprintf("resource: %v", resErr))
		return
	}
	if !utf8.ValidString(scopeName) || !utf8.ValidString(scopeVersion) {
		out.reject(n, "instrumentation scope name or version is not valid UTF-8")
		return
	}
	for c := d.cursor(start, end); c.next(); {
		if c.num != 2 {
			continue
		}
		var s telemetry.Span
		if err := d.span(&s, c.start, c.stop); err != nil {
			out.reject(1, err.Error())
			continue
		}
		s.Resource, s.ScopeName, s.ScopeVersion = res, scopeName, scopeVersion
		out.spans = append(out.spans, s)
	}
}

func (d *wireDecoder) span(s *telemetry.Span, start, end int) error {
	var nAttrs, nEvents, nLinks int
	d.kvs, d.events, d.links = d.kvs[:0], d.events[:0], d.links[:0]
	for c := d.cursor(start, end); c.next(); {
		switch c.num {
		case 1:
			c.id(s.TraceID[:])
		case 2:
			c.id(s.SpanID[:])
		case 3:
			s.TraceState = c.str()
		case 4:
			c.id(s.ParentSpanID[:])
		case 5:
			s.Name = c.str()
		case 6:
			// pdata keeps the kind as an int32, convert cuts it to a byte.
			s.Kind = telemetry.SpanKind(c.v)
		case 7:
			s.StartUnixNano = int64(c.v)
		case 8:
			s.EndUnixNano = int64(c.v)
		case 9:
			d.kvs = c.collect(d.kvs, d.lim.MaxAttributes)
			nAttrs++
		case 11:
			d.events = c.collect(d.events, d.lim.MaxEvents)
			nEvents++
		case 13:
			d.links = c.collect(d.links, d.lim.MaxLinks)
			nLinks++
		case 15:
			for st := d.cursor(c.start, c.stop); st.next(); {
				switch st.num {
				case 2:
					s.StatusMessage = st.str()
				case 3:
					s.StatusCode = telemetry.StatusCode(st.v)
				}
			}
		}
	}
	if err := checkSpan(s); err != nil {
		return err
	}
	s.Name = d.intern(s.Name)
	var err error
	if s.Attributes, err = d.attrs(nAttrs); err != nil {
		return fmt.Errorf("span %s: %w", s.SpanID, err)
	}
	if err := d.lim.checkEventsAndLinks(s.SpanID, nEvents, nLinks); err != nil {
		return err
	}
	if nEvents > 0 {
		s.Events = make([]telemetry.Event, nEvents)
		for i, p := range d.events {
			if err := d.event(&s.Events[i], s.SpanID, p); err != nil {
				return err
			}
		}
	}
	if nLinks > 0 {
		s.Links = make([]telemetry.Link, nLinks)
		for i, p := range d.links {
			if err := d.link(&s.Links[i], s.SpanID, p); err != nil {
				return err
			}
		}
	}
	return nil
}

func (d *wireDecoder) event(ev *telemetry.Event, id telemetry.SpanID, p payload) error {
	var name string
	var at uint64
	n := 0
	d.kvs = d.kvs[:0]
	for c := d.cursor(p.start, p.stop); c.next(); {
		switch c.num {
		case 1:
			at = c.v
		case 2:
			name = c.str()
		case 3:
			d.kvs = c.collect(d.kvs, d.lim.MaxAttributes)
			n++
		}
	}
	if !utf8.ValidString(name) {
		return fmt.Errorf("span %s: event name is not valid UTF-8", id)
	}
	*ev = telemetry.Event{Name: truncate(name, maxValueLen), TimeUnixNano: int64(at)}
	var err error
	if ev.Attributes, err = d.attrs(n); err != nil {
		return fmt.Errorf("span %s: event %q: %w", id, name, err)
	}
	return nil
}

func (d *wireDecoder) link(l *telemetry.Link, id telemetry.SpanID, p payload) error {
	n := 0
	d.kvs = d.kvs[:0]
	for c := d.cursor(p.start, p.stop); c.next(); {
		switch c.num {
		case 1:
			c.id(l.TraceID[:])
		case 2:
			c.id(l.SpanID[:])
		case 3:
			l.TraceState = c.str()
		case 4:
			d.kvs = c.collect(d.kvs, d.lim.MaxAttributes)
			n++
		}
	}
	if !utf8.ValidString(l.TraceState) {
		return fmt.Errorf("span %s: link trace state is not valid UTF-8", id)
	}
	var err error
	if l.Attributes, err = d.attrs(n); err != nil {
		return fmt.Errorf("span %s: link: %w", id, err)
	}
	return nil
}

// attrs converts the n key-values that d.kvs holds (all of them, when n is
// within the limit), as converter.attrs converts a map of n.
func (d *wireDecoder) attrs(n int) ([]telemetry.Attribute, error) {
	if n == 0 {
		return nil, nil
	}
	if err := d.lim.checkAttrs(n); err != nil {
		return nil, err
	}
	out := d.room(n)
	var err error
	for _, p := range d.kvs {
		k, v := d.keyValue(p)
		if !utf8.ValidString(k) {
			err = fmt.Errorf("attribute key %q is not valid UTF-8", k)
			break
		}
		var tv telemetry.Value
		if tv, err = d.value(v); err != nil {
			err = fmt.Errorf("attribute %q: %w", k, err)
			break
		}
		out = append(out, telemetry.Attribute{Key: truncate(k, maxServiceName), Value: tv})
	}
	d.keep(out)
	return out, err
}

// wireValue is an AnyValue as pdata keeps it: the last of its oneof fields
// that was set (num, 1 to 8), or none (num 0).
type wireValue struct {
	num int32
	v   uint64
	payload
}

// Fields of AnyValue.
const (
	anyString   = 1
	anyBool     = 2
	anyInt      = 3
	anyDouble   = 4
	anyArray    = 5
	anyKVList   = 6
	anyBytes    = 7
	anyStrindex = 8 // pdata's type for it is empty
)

// keyValue reads a KeyValue: its last key, and the value its value fields
// merge to.
func (d *wireDecoder) keyValue(p payload) (string, wireValue) {
	var k string
	var v wireValue
	for c := d.cursor(p.start, p.stop); c.next(); {
		switch c.num {
		case 1:
			k = c.str()
		case 2:
			d.anyValue(&v, payload{c.start, c.stop})
		}
	}
	return k, v
}

// anyValue merges the AnyValue at p into v.
func (d *wireDecoder) anyValue(v *wireValue, p payload) {
	for c := d.cursor(p.start, p.stop); c.next(); {
		if c.num >= anyString && c.num <= anyStrindex {
			*v = wireValue{num: c.num, v: c.v, payload: payload{c.start, c.stop}}
		}
	}
}

func (d *wireDecoder) value(v wireValue) (telemetry.Value, error) {
	switch v.num {
	case anyString:
		s := d.text[v.start:v.stop]
		if !utf8.ValidString(s) {
			return telemetry.Value{}, errNotUTF8
		}
		return telemetry.StringValue(truncate(s, maxValueLen)), nil
	case anyBool:
		return telemetry.BoolValue(v.v != 0), nil
	case anyInt:
		return telemetry.IntValue(int64(v.v)), nil
	case anyDouble:
		return telemetry.DoubleValue(math.Float64frombits(v.v)), nil
	case anyBytes:
		return telemetry.Value{Type: telemetry.TypeBytes, Str: d.text[v.start : v.start+min(v.stop-v.start, maxValueLen)]}, nil
	case anyArray, anyKVList:
		j := jsonValue{maxDepth: d.lim.MaxValueDepth, maxLen: maxValueLen, buf: d.scratch[:0]}
		if err := d.appendJSON(&j, v, 0); err != nil {
			return telemetry.Value{}, err
		}
		d.scratch = j.buf
		t := telemetry.TypeArray
		if v.num == anyKVList {
			t = telemetry.TypeMap
		}
		return telemetry.Value{Type: t, Str: string(j.buf)}, nil
	}
	return telemetry.Value{}, nil
}

// appendJSON writes v as jsonValue.append writes the same pdata value. It
// recurses once per level of arrays and key-value lists, at most
// MaxValueDepth times: deeper is refused before it recurses.
func (d *wireDecoder) appendJSON(j *jsonValue, v wireValue, depth int) error {
	if (v.num == anyArray || v.num == anyKVList) && depth >= j.maxDepth {
		return j.tooDeep()
	}
	switch v.num {
	case anyString:
		return j.str(d.text[v.start:v.stop])
	case anyBool:
		j.buf = strconv.AppendBool(j.buf, v.v != 0)
	case anyInt:
		j.buf = strconv.AppendInt(j.buf, int64(v.v), 10)
	case anyDouble:
		j.double(math.Float64frombits(v.v))
	case anyBytes:
		j.bytes(d.body[v.start:v.stop])
	case anyArray:
		j.buf = append(j.buf, '[')
		i := 0
		for c := d.cursor(v.start, v.stop); !j.full && c.next(); {
			if c.num != 1 {
				continue
			}
			var e wireValue
			d.anyValue(&e, payload{c.start, c.stop})
			mark := j.element(i)
			if err := d.appendJSON(j, e, depth+1); err != nil {
				return err
			}
			j.cut(mark)
			i++
		}
		j.buf = append(j.buf, ']')
	case anyKVList:
		j.buf = append(j.buf, '{')
		first := true
		for c := d.cursor(v.start, v.stop); !j.full && c.next(); {
			if c.num != 1 {
				continue
			}
			k, e := d.keyValue(payload{c.start, c.stop})
			mark, err := j.entry(k, first)
			if err != nil {
				return err
			}
			first = false
			if err := d.appendJSON(j, e, depth+1); err != nil {
				return err
			}
			j.cut(mark)
		}
		j.buf = append(j.buf, '}')
	default:
		j.buf = append(j.buf, "null"...)
	}
	return nil
}
