package pebble

import (
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"strings"

	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// errCorrupt is returned when a stored value does not decode; it means a bug
// or disk corruption, never bad client input (that is rejected at ingest).
var errCorrupt = errors.New("corrupt record")

const codecVersion = 1

// groupVersion is the format of the trace records that encodeGroup writes.
// Version 2 differs from 1 in three ways: strings repeated within a record
// are written once (text), a span's start is a delta from the record's
// first start, and a parent that is a span of the record is its index.
const groupVersion = 2

// enc appends the binary form of our records to a reusable buffer.
type enc struct {
	b []byte
	// The per-record state of encodeGroup, kept to be reused.
	texts map[string]int
	res   map[*telemetry.Resource]int
	spans map[telemetry.SpanID]int
	// rows is encodeRows' (index.go).
	rows *rowsState
}

func (e *enc) byte1(v byte)     { e.b = append(e.b, v) }
func (e *enc) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *enc) varint(v int64)   { e.b = binary.AppendVarint(e.b, v) }
func (e *enc) raw(p []byte)     { e.b = append(e.b, p...) }
func (e *enc) str(s string)     { e.uvarint(uint64(len(s))); e.b = append(e.b, s...) }
func (e *enc) u32(v uint32)     { e.b = binary.LittleEndian.AppendUint32(e.b, v) }
func (e *enc) u64(v uint64)     { e.b = binary.LittleEndian.AppendUint64(e.b, v) }

// dec reads what enc wrote. Strings are substrings of one string made from
// the whole record, so decoding allocates once for all of them.
type dec struct {
	s   string
	off int
	err error
	// texts holds the strings a version 2 trace record has written so far,
	// when v2 is set.
	v2    bool
	texts []string
}

func (d *dec) fail() {
	if d.err == nil {
		d.err = errCorrupt
	}
	d.off = len(d.s)
}

func (d *dec) byte1() byte {
	if d.off >= len(d.s) {
		d.fail()
		return 0
	}
	v := d.s[d.off]
	d.off++
	return v
}

func (d *dec) uvarint() uint64 {
	var x uint64
	var shift uint
	for i := 0; i < binary.MaxVarintLen64; i++ {
		if d.off >= len(d.s) {
			d.fail()
			return 0
		}
		c := d.s[d.off]
		d.off++
		if c < 0x80 {
			return x | uint64(c)<<shift
		}
		x |= uint64(c&0x7f) << shift
		shift += 7
	}
	d.fail()
	return 0
}

func (d *dec) varint() int64 {
	ux := d.uvarint()
	x := int64(ux >> 1)
	if ux&1 != 0 {
		x = ^x
	}
	return x
}

// count reads a length and checks that at least min bytes per element remain,
// so a corrupt length cannot make us allocate gigabytes.
func (d *dec) count(min int) int {
	n := d.uvarint()
	if n > uint64(len(d.s)-d.off)/uint64(max(min, 1)) {
		d.fail()
		return 0
	}
	return int(n)
}

func (d *dec) bytes(n int) string {
	if n < 0 || d.off+n > len(d.s) {
		d.fail()
		return ""
	}
	v := d.s[d.off : d.off+n]
	d.off += n
	return v
}

func (d *dec) str() string { return d.bytes(d.count(1)) }

func (d *dec) u32() uint32 {
	b := d.bytes(4)
	if len(b) < 4 {
		return 0
	}
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

func (d *dec) u64() uint64 {
	b := d.bytes(8)
	if len(b) < 8 {
		return 0
	}
	return uint64(d.u32at(b[:4])) | uint64(d.u32at(b[4:]))<<32
}

func (d *dec) u32at(b string) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// text writes a string of a trace record (version 2): the first time as
// its length times two and its bytes, then as its index among the record's
// distinct strings times two plus one. The empty string is always a
// length, and never indexed.
func (e *enc) text(s string) {
	if s == "" {
		e.byte1(0)
		return
	}
	if i, ok := e.texts[s]; ok {
		e.uvarint(uint64(i)<<1 | 1)
		return
	}
	e.texts[s] = len(e.texts)
	e.uvarint(uint64(len(s)) << 1)
	e.b = append(e.b, s...)
}

func (e *enc) attrs(as []telemetry.Attribute) { e.attrsWith(as, (*enc).text) }

// attrsWith writes attributes whose strings str writes: inline text
// (attrs) or references into a column block's strings.
func (e *enc) attrsWith(as []telemetry.Attribute, str func(*enc, string)) {
	e.uvarint(uint64(len(as)))
	for i := range as {
		str(e, as[i].Key)
		v := &as[i].Value
		e.byte1(byte(v.Type))
		switch v.Type {
		case telemetry.TypeBool:
			e.byte1(b2u(v.Bool))
		case telemetry.TypeInt:
			e.varint(v.Int)
		case telemetry.TypeDouble:
			e.u64(math.Float64bits(v.Double))
		case telemetry.TypeEmpty:
		default:
			str(e, v.Str)
		}
	}
}

// text reads what enc.text wrote in a version 2 record, and a plain string
// in a version 1 record.
func (d *dec) text() string {
	if !d.v2 {
		return d.str()
	}
	x := d.uvarint()
	if x&1 == 1 {
		if x>>1 >= uint64(len(d.texts)) {
			d.fail()
			return ""
		}
		return d.texts[x>>1]
	}
	if x>>1 > uint64(len(d.s)-d.off) {
		d.fail()
		return ""
	}
	s := d.bytes(int(x >> 1))
	if s != "" {
		d.texts = append(d.texts, s)
	}
	return s
}

func (d *dec) attrs() []telemetry.Attribute { return d.attrsWith((*dec).text) }

// attrsWith reads attributes whose strings str reads: inline text (attrs)
// or references into a column block's strings.
func (d *dec) attrsWith(str func(*dec) string) []telemetry.Attribute {
	n := d.count(2)
	if n == 0 {
		return nil
	}
	as := make([]telemetry.Attribute, n)
	for i := range as {
		as[i].Key = str(d)
		v := &as[i].Value
		v.Type = telemetry.ValueType(d.byte1())
		switch v.Type {
		case telemetry.TypeBool:
			v.Bool = d.byte1() == 1
		case telemetry.TypeInt:
			v.Int = d.varint()
		case telemetry.TypeDouble:
			v.Double = math.Float64frombits(d.u64())
		case telemetry.TypeEmpty:
		default:
			v.Str = str(d)
		}
	}
	return as
}

// How a version 2 record writes a span's parent.
const (
	parentNone = 0 // no parent: a root span
	parentRaw  = 1 // the parent's ID follows
	parentSpan = 2 // plus the index of the parent among the record's spans
)

// linearParentLookup is the most spans of a record whose parents are looked
// up among them by a scan rather than a map.
const linearParentLookup = 16

// encodeGroup writes the spans of one trace (all sharing a trace ID, which
// the key holds) with their resources stored once, in version 2.
func encodeGroup(e *enc, spans []*telemetry.Span) {
	e.byte1(groupVersion)
	if e.texts == nil {
		e.texts = make(map[string]int, 32)
		e.res = make(map[*telemetry.Resource]int, 8)
	}
	clear(e.texts)
	clear(e.res)
	var res []*telemetry.Resource
	for _, s := range spans {
		if _, ok := e.res[s.Resource]; !ok {
			e.res[s.Resource] = len(res)
			res = append(res, s.Resource)
		}
	}
	// By service, so that records of traces through the same services start
	// with the same bytes, which zstd stores once per table block.
	slices.SortStableFunc(res, func(a, b *telemetry.Resource) int {
		return strings.Compare(serviceOf(a), serviceOf(b))
	})
	for i, r := range res {
		e.res[r] = i
	}
	e.uvarint(uint64(len(res)))
	for _, r := range res {
		if r == nil {
			r = &telemetry.Resource{}
		}
		e.text(r.ServiceName)
		e.attrs(r.Attributes)
	}
	if len(spans) > linearParentLookup {
		if e.spans == nil {
			e.spans = make(map[telemetry.SpanID]int, len(spans))
		}
		clear(e.spans)
		for i, s := range spans {
			e.spans[s.SpanID] = i
		}
	}
	e.uvarint(uint64(len(spans)))
	var base int64
	if len(spans) > 0 {
		base = spans[0].StartUnixNano
	}
	e.varint(base)
	for _, s := range spans {
		e.raw(s.SpanID[:])
		switch p := e.parentIn(spans, s.ParentSpanID); {
		case !s.ParentSpanID.IsValid():
			e.byte1(parentNone)
		case p >= 0:
			e.uvarint(parentSpan + uint64(p))
		default:
			e.byte1(parentRaw)
			e.raw(s.ParentSpanID[:])
		}
		e.text(s.TraceState)
		e.text(s.Name)
		e.byte1(byte(s.Kind))
		e.varint(s.StartUnixNano - base)
		e.varint(s.EndUnixNano - s.StartUnixNano)
		e.byte1(byte(s.StatusCode))
		e.text(s.StatusMessage)
		e.attrs(s.Attributes)
		e.uvarint(uint64(len(s.Events)))
		for i := range s.Events {
			ev := &s.Events[i]
			e.text(ev.Name)
			e.varint(ev.TimeUnixNano - s.StartUnixNano)
			e.attrs(ev.Attributes)
		}
		e.uvarint(uint64(len(s.Links)))
		for i := range s.Links {
			l := &s.Links[i]
			e.raw(l.TraceID[:])
			e.raw(l.SpanID[:])
			e.text(l.TraceState)
			e.attrs(l.Attributes)
		}
		e.uvarint(uint64(e.res[s.Resource]))
		e.text(s.ScopeName)
		e.text(s.ScopeVersion)
	}
}

func serviceOf(r *telemetry.Resource) string {
	if r == nil {
		return ""
	}
	return r.ServiceName
}

// parentIn returns the index among spans of the span whose ID is id, or -1.
func (e *enc) parentIn(spans []*telemetry.Span, id telemetry.SpanID) int {
	if !id.IsValid() {
		return -1
	}
	if len(spans) > linearParentLookup {
		if i, ok := e.spans[id]; ok {
			return i
		}
		return -1
	}
	for i, s := range spans {
		if s.SpanID == id {
			return i
		}
	}
	return -1
}

// decodeGroup appends the spans stored in one group value, of version 1 or
// 2, to dst.
func decodeGroup(dst []telemetry.Span, tid telemetry.TraceID, value []byte) ([]telemetry.Span, error) {
	d := &dec{s: string(value)}
	switch d.byte1() {
	case codecVersion:
	case groupVersion:
		d.v2 = true
	default:
		return dst, errCorrupt
	}
	res := make([]*telemetry.Resource, d.count(2))
	for i := range res {
		res[i] = &telemetry.Resource{ServiceName: d.text(), Attributes: d.attrs()}
	}
	n := d.count(20)
	var base int64
	if d.v2 {
		base = d.varint()
	}
	first := len(dst)
	// parents holds, for spans whose parent is a span of the record, the
	// parent's index plus one (version 2).
	var parents []int
	for i := 0; i < n && d.err == nil; i++ {
		var s telemetry.Span
		s.TraceID = tid
		copy(s.SpanID[:], d.bytes(8))
		if !d.v2 {
			copy(s.ParentSpanID[:], d.bytes(8))
		} else {
			switch p := d.uvarint(); {
			case p == parentRaw:
				copy(s.ParentSpanID[:], d.bytes(8))
			case p >= parentSpan:
				if p-parentSpan >= uint64(n) {
					d.fail()
					break
				}
				if parents == nil {
					parents = make([]int, n)
				}
				parents[i] = int(p-parentSpan) + 1
			}
		}
		s.TraceState = d.text()
		s.Name = d.text()
		s.Kind = telemetry.SpanKind(d.byte1())
		s.StartUnixNano = base + d.varint()
		s.EndUnixNano = s.StartUnixNano + d.varint()
		s.StatusCode = telemetry.StatusCode(d.byte1())
		s.StatusMessage = d.text()
		s.Attributes = d.attrs()
		if ne := d.count(3); ne > 0 {
			s.Events = make([]telemetry.Event, ne)
			for j := range s.Events {
				s.Events[j].Name = d.text()
				s.Events[j].TimeUnixNano = s.StartUnixNano + d.varint()
				s.Events[j].Attributes = d.attrs()
			}
		}
		if nl := d.count(26); nl > 0 {
			s.Links = make([]telemetry.Link, nl)
			for j := range s.Links {
				copy(s.Links[j].TraceID[:], d.bytes(16))
				copy(s.Links[j].SpanID[:], d.bytes(8))
				s.Links[j].TraceState = d.text()
				s.Links[j].Attributes = d.attrs()
			}
		}
		ri := d.uvarint()
		if ri >= uint64(len(res)) {
			d.fail()
			break
		}
		s.Resource = res[ri]
		s.ScopeName = d.text()
		s.ScopeVersion = d.text()
		dst = append(dst, s)
	}
	if d.err != nil {
		return dst[:first], d.err
	}
	for i, p := range parents {
		if p > 0 {
			dst[first+i].ParentSpanID = dst[first+p-1].SpanID
		}
	}
	return dst, nil
}
