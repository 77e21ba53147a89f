package ingest

import (
	"encoding/binary"
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// OTLP/protobuf bodies are decoded straight from their wire bytes into our
// spans (wiredecode.go), without the collector's pdata objects in between.
// To decode exactly what pdata would, the primitives below read the wire
// format as pdata v1.70 reads it (its internal/proto package), which is
// laxer than protowire in places: a varint's tenth byte may carry bits past
// the 64th, which are dropped; a tag's field number is cut to 32 bits; and
// an unknown group ends at its first field that is not a group (so only
// groups of empty groups are skipped whole, and not at the end of their
// message). Where the pre-scan has walked a message with protowire, which
// refuses all that, the two read the same; inside a span's status and a
// resource's entity references, which the scan checks with checkFlat
// instead, pdata's ways show. The equivalence tests
// (FuzzDirectDecodeMatchesPdata) hold the two together.

// wireType is the low three bits of a protobuf tag.
type wireType int8

const (
	wireVarint     wireType = 0
	wireI64        wireType = 1
	wireLen        wireType = 2
	wireStartGroup wireType = 3
	wireEndGroup   wireType = 4
	wireI32        wireType = 5
)

var (
	errTruncated  = errors.New("unexpected end of message")
	errOverflow   = errors.New("varint overflows 64 bits")
	errBadLength  = errors.New("negative length")
	errEndOfGroup = errors.New("unexpected end of group")
)

// consumeVarint reads a varint at pos of b[:end].
func consumeVarint(b []byte, pos, end int) (uint64, int, error) {
	if pos < end && b[pos] < 0x80 {
		return uint64(b[pos]), pos + 1, nil
	}
	var v uint64
	for shift := uint(0); ; shift += 7 {
		if shift >= 64 {
			return 0, 0, errOverflow
		}
		if pos >= end {
			return 0, 0, errTruncated
		}
		c := b[pos]
		pos++
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v, pos, nil
		}
	}
}

// consumeTag reads a tag: a field number (cut to 32 bits, as pdata does)
// and a wire type.
func consumeTag(b []byte, pos, end int) (int32, wireType, int, error) {
	tag, next, err := consumeVarint(b, pos, end)
	if err != nil {
		return 0, 0, 0, err
	}
	num := int32(tag >> 3)
	if num <= 0 {
		return 0, 0, 0, fmt.Errorf("illegal field number %d at byte %d", num, pos)
	}
	return num, wireType(tag & 7), next, nil
}

// consumeLen reads the length of a length-delimited field and returns
// where its payload starts and ends.
func consumeLen(b []byte, pos, end int) (int, int, error) {
	v, pos, err := consumeVarint(b, pos, end)
	if err != nil {
		return 0, 0, err
	}
	n := int(v)
	if n < 0 {
		return 0, 0, errBadLength
	}
	if n > end-pos {
		return 0, 0, errTruncated
	}
	return pos, pos + n, nil
}

// consumeFixed skips n bytes (a fixed64 or fixed32).
func consumeFixed(pos, end, n int) (int, error) {
	if n > end-pos {
		return 0, errTruncated
	}
	return pos + n, nil
}

// skipUnknown skips the value of a field the message does not know, whose
// tag (of wire type t) ended at pos. Like pdata it counts group starts and
// ends, but returns after the first field inside a group that is not
// itself a group start or end: a group holding such a field leaves its end
// tag to be read as the next field, which then fails.
func skipUnknown(b []byte, pos, end int, t wireType) (int, error) {
	depth := 0
	var err error
	for pos < end {
		switch t {
		case wireVarint:
			_, pos, err = consumeVarint(b, pos, end)
			return pos, err
		case wireI64:
			return consumeFixed(pos, end, 8)
		case wireLen:
			_, pos, err = consumeLen(b, pos, end)
			return pos, err
		case wireStartGroup:
			depth++
		case wireEndGroup:
			if depth == 0 {
				return 0, errEndOfGroup
			}
			depth--
		case wireI32:
			return consumeFixed(pos, end, 4)
		default:
			return 0, fmt.Errorf("illegal wire type %d", t)
		}
		if depth == 0 {
			return pos, nil
		}
		if _, t, pos, err = consumeTag(b, pos, end); err != nil {
			return 0, err
		}
	}
	return 0, errTruncated
}

// field is one field of a message as read by readField.
type field struct {
	num int32
	typ wireType
	// v is the value of a varint, fixed64 or fixed32 field.
	v uint64
	// start and end bound the payload of a length-delimited field.
	start, end int
}

// readField reads the field at pos of b[:end] and returns where the next
// one starts. Groups are skipped as unknown fields (no OTLP field is one).
func readField(b []byte, pos, end int) (field, int, error) {
	var f field
	var err error
	if f.num, f.typ, pos, err = consumeTag(b, pos, end); err != nil {
		return f, 0, err
	}
	switch f.typ {
	case wireVarint:
		f.v, pos, err = consumeVarint(b, pos, end)
	case wireLen:
		f.start, f.end, err = consumeLen(b, pos, end)
		pos = f.end
	case wireI64:
		if pos, err = consumeFixed(pos, end, 8); err == nil {
			f.v = binary.LittleEndian.Uint64(b[pos-8:])
		}
	case wireI32:
		if pos, err = consumeFixed(pos, end, 4); err == nil {
			f.v = uint64(binary.LittleEndian.Uint32(b[pos-4:]))
		}
	default:
		pos, err = skipUnknown(b, pos, end, f.typ)
	}
	if err != nil {
		return f, 0, err
	}
	return f, pos, nil
}

// What pdata's UnmarshalProto refuses, the direct decoder must refuse. The
// pre-scan walks every message pdata reads, and checks on the way what pdata
// checks on top of its own checks (pdataField).

// wireTypeOf is the wire type a field of kind k must have.
func wireTypeOf(k fieldKind) wireType {
	switch k {
	case kindVarint:
		return wireVarint
	case kindI64:
		return wireI64
	case kindI32:
		return wireI32
	}
	return wireLen
}

// pdataField returns why pdata would refuse a field of kind k (and message
// type child) and wire type typ, numbered num and starting at byte at,
// which the scan accepts; data is the field's payload when it is
// length-delimited. Past the scan, which reads the wire format more
// strictly than pdata does, pdata refuses only these: a known field of
// another wire type than its own, a trace or span ID of another size than
// its own (or empty), and what it refuses inside the two messages the scan
// does not descend into, a span's status and a resource's entity
// references (checkFlat).
func pdataField(k fieldKind, child msg, typ wireType, data []byte, num protowire.Number, at int) error {
	if want := wireTypeOf(k); typ != want {
		return fmt.Errorf("field %d at byte %d: wire type %d, want %d", num, at, typ, want)
	}
	switch k {
	case kindTraceID:
		if n := len(data); n != 0 && n != 16 {
			return fmt.Errorf("field %d at byte %d: a trace ID of %d bytes", num, at, n)
		}
	case kindSpanID:
		if n := len(data); n != 0 && n != 8 {
			return fmt.Errorf("field %d at byte %d: a span ID of %d bytes", num, at, n)
		}
	case kindMessage:
		if child == msgStatus || child == msgEntityRef {
			if err := checkFlat(data, child); err != nil {
				return fmt.Errorf("field %d at byte %d: %w", num, at, err)
			}
		}
	}
	return nil
}

// needsPdataCheck reports whether pdataField has anything to check in a
// field of kind k (and message type child) and wire type typ: most fields
// have their own wire type and neither are IDs nor hold a status or an
// entity reference.
func needsPdataCheck(k fieldKind, child msg, typ wireType) bool {
	return typ != wireTypeOf(k) || k == kindTraceID || k == kindSpanID || (k == kindMessage && (child == msgStatus || child == msgEntityRef))
}

// checkFlat checks b, a message m that holds no message, as pdata's
// UnmarshalProto would.
func checkFlat(b []byte, m msg) error {
	for pos := 0; pos < len(b); {
		num, typ, next, err := consumeTag(b, pos, len(b))
		if err != nil {
			return err
		}
		kind, _ := otlpField(m, num)
		if kind == kindUnknown {
			if pos, err = skipUnknown(b, next, len(b), typ); err != nil {
				return fmt.Errorf("field %d: %w", num, err)
			}
			continue
		}
		if want := wireTypeOf(kind); typ != want {
			return fmt.Errorf("field %d: wire type %d, want %d", num, typ, want)
		}
		if _, pos, err = readField(b, pos, len(b)); err != nil {
			return fmt.Errorf("field %d: %w", num, err)
		}
	}
	return nil
}
