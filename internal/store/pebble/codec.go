package pebble

import (
	"encoding/binary"
	"errors"
	"math"

	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// errCorrupt is returned when a stored value does not decode; it means a bug
// or disk corruption, never bad client input (that is rejected at ingest).
var errCorrupt = errors.New("corrupt record")

const codecVersion = 1

// enc appends the binary form of our records to a reusable buffer.
type enc struct{ b []byte }

func (e *enc) byte1(v byte)     { e.b = append(e.b, v) }
func (e *enc) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *enc) varint(v int64)   { e.b = binary.AppendVarint(e.b, v) }
func (e *enc) raw(p []byte)     { e.b = append(e.b, p...) }
func (e *enc) str(s string)     { e.uvarint(uint64(len(s))); e.b = append(e.b, s...) }
func (e *enc) u32(v uint32)     { e.b = binary.LittleEndian.AppendUint32(e.b, v) }
func (e *enc) u64(v uint64)     { e.b = binary.LittleEndian.AppendUint64(e.b, v) }

func (e *enc) attrs(as []telemetry.Attribute) {
	e.uvarint(uint64(len(as)))
	for i := range as {
		e.str(as[i].Key)
		v := &as[i].Value
		e.byte1(byte(v.Type))
		switch v.Type {
		case telemetry.TypeBool:
			if v.Bool {
				e.byte1(1)
			} else {
				e.byte1(0)
			}
		case telemetry.TypeInt:
			e.varint(v.Int)
		case telemetry.TypeDouble:
			e.u64(math.Float64bits(v.Double))
		case telemetry.TypeEmpty:
		default:
			e.str(v.Str)
		}
	}
}

// dec reads what enc wrote. Strings are substrings of one string made from
// the whole record, so decoding allocates once for all of them.
type dec struct {
	s   string
	off int
	err error
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

func (d *dec) attrs() []telemetry.Attribute {
	n := d.count(2)
	if n == 0 {
		return nil
	}
	as := make([]telemetry.Attribute, n)
	for i := range as {
		as[i].Key = d.str()
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
			v.Str = d.str()
		}
	}
	return as
}

// encodeGroup writes the spans of one trace (all sharing a trace ID, which
// the key holds) with their resources stored once.
func encodeGroup(e *enc, spans []*telemetry.Span) {
	e.byte1(codecVersion)
	var res []*telemetry.Resource
	idx := make(map[*telemetry.Resource]int, 2)
	for _, s := range spans {
		if _, ok := idx[s.Resource]; !ok {
			idx[s.Resource] = len(res)
			res = append(res, s.Resource)
		}
	}
	e.uvarint(uint64(len(res)))
	for _, r := range res {
		if r == nil {
			r = &telemetry.Resource{}
		}
		e.str(r.ServiceName)
		e.attrs(r.Attributes)
	}
	e.uvarint(uint64(len(spans)))
	for _, s := range spans {
		e.raw(s.SpanID[:])
		e.raw(s.ParentSpanID[:])
		e.str(s.TraceState)
		e.str(s.Name)
		e.byte1(byte(s.Kind))
		e.varint(s.StartUnixNano)
		e.varint(s.EndUnixNano - s.StartUnixNano)
		e.byte1(byte(s.StatusCode))
		e.str(s.StatusMessage)
		e.attrs(s.Attributes)
		e.uvarint(uint64(len(s.Events)))
		for i := range s.Events {
			ev := &s.Events[i]
			e.str(ev.Name)
			e.varint(ev.TimeUnixNano - s.StartUnixNano)
			e.attrs(ev.Attributes)
		}
		e.uvarint(uint64(len(s.Links)))
		for i := range s.Links {
			l := &s.Links[i]
			e.raw(l.TraceID[:])
			e.raw(l.SpanID[:])
			e.str(l.TraceState)
			e.attrs(l.Attributes)
		}
		e.uvarint(uint64(idx[s.Resource]))
		e.str(s.ScopeName)
		e.str(s.ScopeVersion)
	}
}

// decodeGroup appends the spans stored in one group value to dst.
func decodeGroup(dst []telemetry.Span, tid telemetry.TraceID, value []byte) ([]telemetry.Span, error) {
	d := &dec{s: string(value)}
	if d.byte1() != codecVersion {
		return dst, errCorrupt
	}
	res := make([]*telemetry.Resource, d.count(2))
	for i := range res {
		res[i] = &telemetry.Resource{ServiceName: d.str(), Attributes: d.attrs()}
	}
	n := d.count(20)
	for i := 0; i < n && d.err == nil; i++ {
		var s telemetry.Span
		s.TraceID = tid
		copy(s.SpanID[:], d.bytes(8))
		copy(s.ParentSpanID[:], d.bytes(8))
		s.TraceState = d.str()
		s.Name = d.str()
		s.Kind = telemetry.SpanKind(d.byte1())
		s.StartUnixNano = d.varint()
		s.EndUnixNano = s.StartUnixNano + d.varint()
		s.StatusCode = telemetry.StatusCode(d.byte1())
		s.StatusMessage = d.str()
		s.Attributes = d.attrs()
		if ne := d.count(3); ne > 0 {
			s.Events = make([]telemetry.Event, ne)
			for j := range s.Events {
				s.Events[j].Name = d.str()
				s.Events[j].TimeUnixNano = s.StartUnixNano + d.varint()
				s.Events[j].Attributes = d.attrs()
			}
		}
		if nl := d.count(26); nl > 0 {
			s.Links = make([]telemetry.Link, nl)
			for j := range s.Links {
				copy(s.Links[j].TraceID[:], d.bytes(16))
				copy(s.Links[j].SpanID[:], d.bytes(8))
				s.Links[j].TraceState = d.str()
				s.Links[j].Attributes = d.attrs()
			}
		}
		ri := d.uvarint()
		if ri >= uint64(len(res)) {
			d.fail()
			break
		}
		s.Resource = res[ri]
		s.ScopeName = d.str()
		s.ScopeVersion = d.str()
		dst = append(dst, s)
	}
	return dst, d.err
}
