package pebble

import (
	"encoding/binary"
	"math"
	"math/bits"
	"strings"

	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// Column blocks hold the spans of one write's day partition, every trace
// of it, column by column: the block's distinct strings once (lengths, then
// text), its resources once, then one column per span field and per
// attribute part. A trace record (kindTrace) of such a write holds only
// the trace's index in its block, which shares the record's seq.
//
// Issue 15 measured what a trace record in version 2 cost after zstd: of
// 42 bytes per span, 19 were attribute keys and values, most of it not
// information but zstd's price for matching again in each record text
// that the records before had: a method, a status code, a tenant, an
// attribute key. In a block a repeated string is a small number in a
// column of alike numbers, and a new one is text among text.
//
// A read decodes only its trace's spans: it finds the trace's rows in each
// column (by index in those of fixed width; by counting varint ends, eight
// bytes at a time, in the others), copies them out of the value and
// decodes them.
const colBlockVersion = 1

// maxColBlockSpans bounds a block's spans (a trace longer goes whole in a
// block of its own): a read decodes up to its trace, and a write of
// 100,000 spans should not make every read of one of its traces do so.
const maxColBlockSpans = 2048

// pointerVersion marks a trace record that points into a column block.
const pointerVersion = 3

// The columns of a block, in the order they are stored, each prefixed by
// its length in bytes.
const (
	colHeader     = iota // trace count, spans per trace, base start
	colStrLens           // distinct strings: count, then each length
	colStrText           // their bytes, one after the other
	colResources         // count, then service name and attributes of each
	colSpanIDs           // 8 bytes per span
	colParents           // parentNone, parentRaw or parentSpan + index in trace
	colParentIDs         // 8 bytes per parentRaw
	colNames             // string reference per span
	colKinds             // 1 byte per span
	colStarts            // first of a trace: from base; others: from the span before
	colDurations         // end - start
	colStatus            // 1 byte per span
	colStatusMsg         // string reference
	colTraceState        // string reference
	colResource          // resource index
	colScope             // scope name and version references
	colAttrCounts        // attributes per span
	colAttrKeys          // string reference per attribute
	colAttrTypes         // 1 byte per attribute
	colAttrStrs          // string reference per string-like attribute value
	colAttrInts          // varint per int value
	colAttrNums          // 8 bytes per double value
	colAttrBools         // 1 byte per bool value
	colEvents            // per span: count, then if any, the byte length of its events
	colEventData         // events: name, time from the span's start, attributes
	colLinks             // per span: count, then if any, the byte length of its links
	colLinkData          // links: trace ID, span ID, trace state, attributes
	numCols
)

// colEnc builds column blocks; it is reused from write to write.
type colEnc struct {
	cols    [numCols]enc
	strs    map[string]uint64 // index among the block's strings
	nstrs   uint64
	res     map[*telemetry.Resource]int
	nres    int
	spanIdx map[telemetry.SpanID]int
	rest    enc // events or links of one span
}

// A string reference is 0 for the empty string, else 1 plus the string's
// index among the block's, numbered by first use, so that the strings a
// block repeats most (methods, status texts, attribute keys) are the
// smallest numbers. A reference says where its text is without reading
// the references before it, so a read skips the rows before its trace.
func (c *colEnc) ref(col *enc, s string) {
	if s == "" {
		col.byte1(0)
		return
	}
	r, ok := c.strs[s]
	if !ok {
		r = c.nstrs
		c.strs[s] = r
		c.nstrs++
		c.cols[colStrLens].uvarint(uint64(len(s)))
		c.cols[colStrText].b = append(c.cols[colStrText].b, s...)
	}
	col.uvarint(1 + r)
}

// inlineAttrs writes attributes of a resource, event or link, row by row
// with string references.
func (c *colEnc) inlineAttrs(e *enc, as []telemetry.Attribute) {
	e.attrsWith(as, func(e *enc, s string) { c.ref(e, s) })
}

func b2u(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// encode appends the block of traces (each a non-empty run of spans of one
// trace ID) to dst.
func (c *colEnc) encode(dst []byte, traces [][]*telemetry.Span) []byte {
	for i := range c.cols {
		c.cols[i].b = c.cols[i].b[:0]
	}
	if c.strs == nil {
		c.strs = make(map[string]uint64, 256)
		c.res = make(map[*telemetry.Resource]int, 8)
		c.spanIdx = make(map[telemetry.SpanID]int, 64)
	}
	clear(c.strs)
	clear(c.res)
	c.nstrs, c.nres = 0, 0

	h := &c.cols[colHeader]
	h.uvarint(uint64(len(traces)))
	var base int64
	if len(traces) > 0 {
		base = traces[0][0].StartUnixNano
	}
	h.varint(base)
	res := &c.cols[colResources]
	var resBody enc
	for _, spans := range traces {
		h.uvarint(uint64(len(spans)))
		for _, s := range spans {
			if _, ok := c.res[s.Resource]; !ok {
				c.res[s.Resource] = c.nres
				c.nres++
				r := s.Resource
				if r == nil {
					r = &telemetry.Resource{}
				}
				c.ref(&resBody, r.ServiceName)
				c.inlineAttrs(&resBody, r.Attributes)
			}
		}
	}
	res.uvarint(uint64(c.nres))
	res.raw(resBody.b)

	for _, spans := range traces {
		clear(c.spanIdx)
		for i, s := range spans {
			c.spanIdx[s.SpanID] = i
		}
		prev := base
		for _, s := range spans {
			c.cols[colSpanIDs].raw(s.SpanID[:])
			if !s.ParentSpanID.IsValid() {
				c.cols[colParents].byte1(parentNone)
			} else if p, ok := c.spanIdx[s.ParentSpanID]; ok {
				c.cols[colParents].uvarint(parentSpan + uint64(p))
			} else {
				c.cols[colParents].byte1(parentRaw)
				c.cols[colParentIDs].raw(s.ParentSpanID[:])
			}
			c.ref(&c.cols[colNames], s.Name)
			c.cols[colKinds].byte1(byte(s.Kind))
			c.cols[colStarts].varint(s.StartUnixNano - prev)
			prev = s.StartUnixNano
			c.cols[colDurations].varint(s.EndUnixNano - s.StartUnixNano)
			c.cols[colStatus].byte1(byte(s.StatusCode))
			c.ref(&c.cols[colStatusMsg], s.StatusMessage)
			c.ref(&c.cols[colTraceState], s.TraceState)
			c.cols[colResource].uvarint(uint64(c.res[s.Resource]))
			c.ref(&c.cols[colScope], s.ScopeName)
			c.ref(&c.cols[colScope], s.ScopeVersion)
			c.cols[colAttrCounts].uvarint(uint64(len(s.Attributes)))
			for i := range s.Attributes {
				a := &s.Attributes[i]
				c.ref(&c.cols[colAttrKeys], a.Key)
				c.cols[colAttrTypes].byte1(byte(a.Value.Type))
				switch a.Value.Type {
				case telemetry.TypeBool:
					c.cols[colAttrBools].byte1(b2u(a.Value.Bool))
				case telemetry.TypeInt:
					c.cols[colAttrInts].varint(a.Value.Int)
				case telemetry.TypeDouble:
					c.cols[colAttrNums].u64(math.Float64bits(a.Value.Double))
				case telemetry.TypeEmpty:
				default:
					c.ref(&c.cols[colAttrStrs], a.Value.Str)
				}
			}
			c.cols[colEvents].uvarint(uint64(len(s.Events)))
			if len(s.Events) > 0 {
				c.rest.b = c.rest.b[:0]
				for i := range s.Events {
					ev := &s.Events[i]
					c.ref(&c.rest, ev.Name)
					c.rest.varint(ev.TimeUnixNano - s.StartUnixNano)
					c.inlineAttrs(&c.rest, ev.Attributes)
				}
				c.cols[colEvents].uvarint(uint64(len(c.rest.b)))
				c.cols[colEventData].raw(c.rest.b)
			}
			c.cols[colLinks].uvarint(uint64(len(s.Links)))
			if len(s.Links) > 0 {
				c.rest.b = c.rest.b[:0]
				for i := range s.Links {
					l := &s.Links[i]
					c.rest.raw(l.TraceID[:])
					c.rest.raw(l.SpanID[:])
					c.ref(&c.rest, l.TraceState)
					c.inlineAttrs(&c.rest, l.Attributes)
				}
				c.cols[colLinks].uvarint(uint64(len(c.rest.b)))
				c.cols[colLinkData].raw(c.rest.b)
			}
		}
	}
	// The string count leads its lengths.
	lens := c.cols[colStrLens].b
	var head enc
	head.uvarint(c.nstrs)
	e := enc{b: dst}
	e.byte1(colBlockVersion)
	for i := range c.cols {
		col := c.cols[i].b
		if i == colStrLens {
			e.uvarint(uint64(len(head.b) + len(lens)))
			e.raw(head.b)
			e.raw(lens)
			continue
		}
		e.uvarint(uint64(len(col)))
		e.raw(col)
	}
	return e.b
}

// colBlock is an opened block: where each column is in its value, and its
// strings and resources. It reads the value while spans runs and keeps
// none of it in what spans returns, so a block opened on a value Pebble
// lends may be read until the value is released; one kept longer must own
// its value.
type colBlock struct {
	v      []byte
	cols   [numCols][2]int // start and end of each column in v
	counts []int           // spans per trace
	base   int64
	strs   strTable
	res    []*telemetry.Resource
}

// strTable resolves string references into copies of the block's strings
// (a few dozen per trace, where the block holds hundreds), written one
// after the other into out: offs[i] is where string i starts in text,
// offs[i+1] where it ends, read from lens as far as references have
// needed.
type strTable struct {
	text, lens []byte
	n          int // strings in the block
	offs       []uint32
	out        strings.Builder
}

func (t *strTable) str(d *dec) string {
	x := d.uvarint()
	if x == 0 {
		return ""
	}
	if x > uint64(t.n) {
		d.fail()
		return ""
	}
	for uint64(len(t.offs)) <= x {
		n, w := binary.Uvarint(t.lens)
		end := uint64(t.offs[len(t.offs)-1]) + n
		if w <= 0 || n > uint64(len(t.text)) || end > uint64(len(t.text)) {
			d.fail()
			return ""
		}
		t.lens = t.lens[w:]
		t.offs = append(t.offs, uint32(end))
	}
	// Strings already returned keep their bytes when out grows: a
	// Builder only appends.
	start := t.out.Len()
	t.out.Write(t.text[t.offs[x-1]:t.offs[x]])
	return t.out.String()[start:]
}

// col returns column k's bytes.
func (b *colBlock) col(k int) []byte { return b.v[b.cols[k][0]:b.cols[k][1]] }

// openColBlock finds a block's columns and reads its strings and
// resources; spans are read by trace.
func openColBlock(value []byte) (*colBlock, error) {
	if len(value) == 0 || value[0] != colBlockVersion {
		return nil, errCorrupt
	}
	b := &colBlock{v: value}
	off := 1
	for i := range b.cols {
		n, w := binary.Uvarint(value[off:])
		if w <= 0 || n > uint64(len(value)-off-w) {
			return nil, errCorrupt
		}
		off += w
		b.cols[i] = [2]int{off, off + int(n)}
		off += int(n)
	}
	if off != len(value) {
		return nil, errCorrupt
	}
	h := &dec{s: string(b.col(colHeader))}
	nt := h.count(1)
	b.base = h.varint()
	b.counts = make([]int, nt)
	total, spanRoom := uint64(0), uint64(len(b.col(colSpanIDs))/8)
	for i := range b.counts {
		n := h.uvarint()
		if total += n; n > spanRoom || total > spanRoom {
			return nil, errCorrupt
		}
		b.counts[i] = int(n)
	}
	if h.err != nil {
		return nil, h.err
	}
	lens := b.col(colStrLens)
	ns, w := binary.Uvarint(lens)
	if w <= 0 || ns > uint64(len(lens)-w) { // a byte of length each
		return nil, errCorrupt
	}
	b.strs = strTable{text: b.col(colStrText), lens: lens[w:], n: int(ns), offs: make([]uint32, 1, 1+min(ns, 256))}
	r := &dec{s: string(b.col(colResources))}
	b.res = make([]*telemetry.Resource, r.count(2))
	for i := range b.res {
		b.res[i] = &telemetry.Resource{ServiceName: b.strs.str(r), Attributes: b.strs.inlineAttrs(r)}
	}
	if r.err != nil {
		return nil, r.err
	}
	return b, nil
}

func (t *strTable) inlineAttrs(d *dec) []telemetry.Attribute { return d.attrsWith(t.str) }

// The helpers below walk n rows of a column from its start and return the
// bytes they take, or -1 when the column ends first.

// varintsLen: n varints; a byte under 0x80 ends one. Whole words of eight
// bytes go at once while they end fewer than n.
func varintsLen(b []byte, n int) int {
	off := 0
	for n > 8 && off+8 <= len(b) {
		n -= bits.OnesCount64(^binary.LittleEndian.Uint64(b[off:]) & 0x8080808080808080)
		off += 8
	}
	for ; n > 0; n-- {
		for {
			if off >= len(b) {
				return -1
			}
			off++
			if b[off-1] < 0x80 {
				break
			}
		}
	}
	return off
}

// uvarintsSum: n uvarints, and their sum.
func uvarintsSum(b []byte, n int) (int, uint64) {
	off, sum := 0, uint64(0)
	for ; n > 0; n-- {
		if off < len(b) && b[off] < 0x80 {
			sum += uint64(b[off])
			off++
			continue
		}
		x, w := binary.Uvarint(b[off:])
		if w <= 0 {
			return -1, 0
		}
		sum += x
		off += w
	}
	return off, sum
}

// parentsLen: n parent references, and how many were parentRaw, whose IDs
// are in their own column.
func parentsLen(b []byte, n int) (int, int) {
	off, raw := 0, 0
	for ; n > 0; n-- {
		x, w := binary.Uvarint(b[off:])
		if w <= 0 {
			return -1, 0
		}
		if x == parentRaw {
			raw++
		}
		off += w
	}
	return off, raw
}

// nestedLen: the events or links column of n spans (a count, then when not
// 0 a byte length), and the bytes of their data.
func nestedLen(b []byte, n int) (int, uint64) {
	off, sum := 0, uint64(0)
	for ; n > 0; n-- {
		if off < len(b) && b[off] == 0 {
			off++
			continue
		}
		_, w := binary.Uvarint(b[off:])
		if w <= 0 {
			return -1, 0
		}
		off += w
		x, w := binary.Uvarint(b[off:])
		if w <= 0 || x > math.MaxInt32 { // checked against the data column later
			return -1, 0
		}
		sum += x
		off += w
	}
	return off, sum
}

// rowRanges finds where the rows of a trace are in each column: from its
// first row, lo, n rows.
type rowRanges struct {
	b    *colBlock
	rng  [numCols][2]int
	size int
	bad  bool
}

// set records that column k's rows are at [start, end) of the column,
// where end = start + n; start or n below 0 says the column ended first.
func (r *rowRanges) set(k, start, n int) {
	if start < 0 || n < 0 || start+n > len(r.b.col(k)) {
		r.bad = true
		return
	}
	r.rng[k] = [2]int{start, start + n}
	r.size += n
}

// at returns column k from its offset off on.
func (r *rowRanges) at(k, off int) []byte {
	c := r.b.col(k)
	if off < 0 || off > len(c) {
		r.bad = true
		return nil
	}
	return c[off:]
}

// varints sets column k of varints, lo rows before and n rows in the
// trace.
func (r *rowRanges) varints(k, lo, n int) {
	start := varintsLen(r.b.col(k), lo)
	r.set(k, start, varintsLen(r.at(k, start), n))
}

// spans appends the spans of the block's trace t, whose ID is tid, to dst.
// It finds the trace's rows in each column, copies them (no more) and
// decodes them.
func (b *colBlock) spans(dst []telemetry.Span, t int, tid telemetry.TraceID) ([]telemetry.Span, error) {
	if t < 0 || t >= len(b.counts) {
		return dst, errCorrupt
	}
	lo := 0
	for _, n := range b.counts[:t] {
		lo += n
	}
	n := b.counts[t]
	r := rowRanges{b: b}
	r.set(colSpanIDs, 8*lo, 8*n)
	r.set(colKinds, lo, n)
	r.set(colStatus, lo, n)
	pstart, raw0 := parentsLen(b.col(colParents), lo)
	pn, raw1 := parentsLen(r.at(colParents, pstart), n)
	r.set(colParents, pstart, pn)
	r.set(colParentIDs, 8*raw0, 8*raw1)
	for _, k := range [...]int{colNames, colStarts, colDurations, colStatusMsg, colTraceState, colResource} {
		r.varints(k, lo, n)
	}
	r.varints(colScope, 2*lo, 2*n)
	cstart, attrLo := uvarintsSum(b.col(colAttrCounts), lo)
	cn, attrN := uvarintsSum(r.at(colAttrCounts, cstart), n)
	r.set(colAttrCounts, cstart, cn)
	types := b.col(colAttrTypes)
	if r.bad || attrLo+attrN > uint64(len(types)) { // one type byte per attribute
		return dst, errCorrupt
	}
	r.varints(colAttrKeys, int(attrLo), int(attrN))
	r.set(colAttrTypes, int(attrLo), int(attrN))
	var before, in [256]int
	for _, ty := range types[:attrLo] {
		before[ty]++
	}
	for _, ty := range types[attrLo : attrLo+attrN] {
		in[ty]++
	}
	r.varints(colAttrStrs, int(attrLo)-nonStr(&before), int(attrN)-nonStr(&in))
	r.varints(colAttrInts, before[telemetry.TypeInt], in[telemetry.TypeInt])
	r.set(colAttrNums, 8*before[telemetry.TypeDouble], 8*in[telemetry.TypeDouble])
	r.set(colAttrBools, before[telemetry.TypeBool], in[telemetry.TypeBool])
	for _, k := range [...][2]int{{colEvents, colEventData}, {colLinks, colLinkData}} {
		start, data0 := nestedLen(b.col(k[0]), lo)
		m, data1 := nestedLen(r.at(k[0], start), n)
		r.set(k[0], start, m)
		if data0 > uint64(len(b.col(k[1]))) || data1 > uint64(len(b.col(k[1]))) {
			return dst, errCorrupt
		}
		r.set(k[1], int(data0), int(data1))
	}
	if r.bad {
		return dst, errCorrupt
	}

	// One copy of every column's rows, the only bytes of the value the
	// spans keep.
	buf := make([]byte, 0, r.size)
	for k := range r.rng {
		buf = append(buf, b.col(k)[r.rng[k][0]:r.rng[k][1]]...)
	}
	rows := string(buf)
	var c [numCols]dec
	off := 0
	for k := range r.rng {
		end := off + r.rng[k][1] - r.rng[k][0]
		c[k] = dec{s: rows[off:end]}
		off = end
	}

	first := len(dst)
	attrs := make([]telemetry.Attribute, attrN)
	var parents []int
	prev := b.base
	sr := &b.strs
	sr.out = strings.Builder{}               // the strings of earlier calls stay theirs
	sr.out.Grow(min(4*r.size, len(sr.text))) // the strings of a span take a few times its rows
	for i := 0; i < n; i++ {
		var s telemetry.Span
		s.TraceID = tid
		copy(s.SpanID[:], c[colSpanIDs].bytes(8))
		switch p := c[colParents].uvarint(); {
		case p == parentRaw:
			copy(s.ParentSpanID[:], c[colParentIDs].bytes(8))
		case p >= parentSpan:
			if p-parentSpan >= uint64(n) {
				return dst[:first], errCorrupt
			}
			if parents == nil {
				parents = make([]int, n)
			}
			parents[i] = int(p-parentSpan) + 1
		}
		s.Name = sr.str(&c[colNames])
		s.Kind = telemetry.SpanKind(c[colKinds].byte1())
		s.StartUnixNano = prev + c[colStarts].varint()
		prev = s.StartUnixNano
		s.EndUnixNano = s.StartUnixNano + c[colDurations].varint()
		s.StatusCode = telemetry.StatusCode(c[colStatus].byte1())
		s.StatusMessage = sr.str(&c[colStatusMsg])
		s.TraceState = sr.str(&c[colTraceState])
		ri := c[colResource].uvarint()
		if ri >= uint64(len(b.res)) {
			return dst[:first], errCorrupt
		}
		s.Resource = b.res[ri]
		s.ScopeName = sr.str(&c[colScope])
		s.ScopeVersion = sr.str(&c[colScope])
		na := c[colAttrCounts].uvarint()
		if na > uint64(len(attrs)) {
			return dst[:first], errCorrupt
		}
		if na > 0 {
			s.Attributes, attrs = attrs[:na:na], attrs[na:]
		}
		for j := range s.Attributes {
			a := &s.Attributes[j]
			a.Key = sr.str(&c[colAttrKeys])
			v := &a.Value
			v.Type = telemetry.ValueType(c[colAttrTypes].byte1())
			switch v.Type {
			case telemetry.TypeBool:
				v.Bool = c[colAttrBools].byte1() == 1
			case telemetry.TypeInt:
				v.Int = c[colAttrInts].varint()
			case telemetry.TypeDouble:
				v.Double = math.Float64frombits(c[colAttrNums].u64())
			case telemetry.TypeEmpty:
			default:
				v.Str = sr.str(&c[colAttrStrs])
			}
		}
		if ne := c[colEvents].uvarint(); ne > 0 {
			seg := dec{s: c[colEventData].bytes(int(min(c[colEvents].uvarint(), uint64(len(c[colEventData].s)+1))))}
			if ne > uint64(len(seg.s)) {
				return dst[:first], errCorrupt
			}
			s.Events = make([]telemetry.Event, ne)
			for j := range s.Events {
				ev := &s.Events[j]
				ev.Name = sr.str(&seg)
				ev.TimeUnixNano = s.StartUnixNano + seg.varint()
				ev.Attributes = sr.inlineAttrs(&seg)
			}
			if seg.err != nil {
				return dst[:first], seg.err
			}
		}
		if nl := c[colLinks].uvarint(); nl > 0 {
			seg := dec{s: c[colLinkData].bytes(int(min(c[colLinks].uvarint(), uint64(len(c[colLinkData].s)+1))))}
			if nl > uint64(len(seg.s)/24) {
				return dst[:first], errCorrupt
			}
			s.Links = make([]telemetry.Link, nl)
			for j := range s.Links {
				l := &s.Links[j]
				copy(l.TraceID[:], seg.bytes(16))
				copy(l.SpanID[:], seg.bytes(8))
				l.TraceState = sr.str(&seg)
				l.Attributes = sr.inlineAttrs(&seg)
			}
			if seg.err != nil {
				return dst[:first], seg.err
			}
		}
		dst = append(dst, s)
	}
	for i := range c {
		if err := c[i].err; err != nil {
			return dst[:first], err
		}
	}
	for i, p := range parents {
		if p > 0 {
			dst[first+i].ParentSpanID = dst[first+p-1].SpanID
		}
	}
	return dst, nil
}

// nonStr counts the attributes of types whose value is not a string
// reference.
func nonStr(c *[256]int) int {
	return c[telemetry.TypeBool] + c[telemetry.TypeInt] + c[telemetry.TypeDouble] + c[telemetry.TypeEmpty]
}
