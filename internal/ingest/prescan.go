package ingest

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// The OTLP decoders of the collector's pdata recurse into attribute values
// (arrays and key-value lists nest without bound), so a body nested a
// million deep would overflow the stack. Before a body reaches them it is
// pre-scanned here, without recursion: the protobuf wire format is walked
// with an explicit stack that knows the fields of the trace request's
// messages (otlpField), and JSON bodies are checked for their bracket depth.
// The scan also counts spans, so that a request holding too many is refused
// before it is decoded. Protobuf bodies are then decoded by decodeWire,
// which does not recurse either, but must refuse what pdata would: the scan
// checks that on its way too.

// msg names the messages of an OTLP trace export request.
type msg uint8

const (
	msgRequest msg = iota
	msgResourceSpans
	msgResource
	msgScopeSpans
	msgScope
	msgSpan
	msgEvent
	msgLink
	msgKeyValue
	msgAnyValue
	msgArrayValue
	msgKeyValueList
	// Messages pdata reads that hold no message, which the scan checks
	// without descending into (checkFlat).
	msgStatus
	msgEntityRef
)

// fieldKind is what a field of a message holds.
type fieldKind uint8

const (
	kindUnknown fieldKind = iota
	kindVarint
	kindI64
	kindI32
	kindBytes   // a string or bytes
	kindTraceID // bytes: empty or 16
	kindSpanID  // bytes: empty or 8
	kindMessage
)

// otlpField returns what field num of m holds, and for a message field its
// message type. The field numbers are those of the OTLP protos that pdata
// v1.70 generates its decoders from.
func otlpField(m msg, num int32) (fieldKind, msg) {
	switch m {
	case msgRequest:
		if num == 1 {
			return kindMessage, msgResourceSpans
		}
	case msgResourceSpans:
		switch num {
		case 1:
			return kindMessage, msgResource
		case 2, 1000: // 1000: the deprecated instrumentation_library_spans
			return kindMessage, msgScopeSpans
		case 3:
			return kindBytes, 0
		}
	case msgResource:
		switch num {
		case 1:
			return kindMessage, msgKeyValue
		case 2:
			return kindVarint, 0
		case 3:
			return kindMessage, msgEntityRef
		}
	case msgEntityRef:
		if num >= 1 && num <= 4 {
			return kindBytes, 0
		}
	case msgScopeSpans:
		switch num {
		case 1:
			return kindMessage, msgScope
		case 2:
			return kindMessage, msgSpan
		case 3:
			return kindBytes, 0
		}
	case msgScope:
		switch num {
		case 1, 2:
			return kindBytes, 0
		case 3:
			return kindMessage, msgKeyValue
		case 4:
			return kindVarint, 0
		}
	case msgSpan:
		switch num {
		case 1:
			return kindTraceID, 0
		case 2, 4:
			return kindSpanID, 0
		case 3, 5:
			return kindBytes, 0
		case 6, 10, 12, 14:
			return kindVarint, 0
		case 7, 8:
			return kindI64, 0
		case 9:
			return kindMessage, msgKeyValue
		case 11:
			return kindMessage, msgEvent
		case 13:
			return kindMessage, msgLink
		case 15:
			return kindMessage, msgStatus
		case 16:
			return kindI32, 0
		}
	case msgStatus:
		switch num {
		case 2:
			return kindBytes, 0
		case 3:
			return kindVarint, 0
		}
	case msgEvent:
		switch num {
		case 1:
			return kindI64, 0
		case 2:
			return kindBytes, 0
		case 3:
			return kindMessage, msgKeyValue
		case 4:
			return kindVarint, 0
		}
	case msgLink:
		switch num {
		case 1:
			return kindTraceID, 0
		case 2:
			return kindSpanID, 0
		case 3:
			return kindBytes, 0
		case 4:
			return kindMessage, msgKeyValue
		case 5:
			return kindVarint, 0
		case 6:
			return kindI32, 0
		}
	case msgKeyValue:
		switch num {
		case 1:
			return kindBytes, 0
		case 2:
			return kindMessage, msgAnyValue
		case 3:
			return kindVarint, 0
		}
	case msgAnyValue:
		switch num {
		case 1, 7:
			return kindBytes, 0
		case 2, 3, 8:
			return kindVarint, 0
		case 4:
			return kindI64, 0
		case 5:
			return kindMessage, msgArrayValue
		case 6:
			return kindMessage, msgKeyValueList
		}
	case msgArrayValue:
		if num == 1 {
			return kindMessage, msgAnyValue
		}
	case msgKeyValueList:
		if num == 1 {
			return kindMessage, msgKeyValue
		}
	}
	return kindUnknown, 0
}

// errTooDeep and errTooManySpans are what the scan refuses; both are bad
// input (400).
var (
	errTooDeep      = errors.New("attribute value nested too deep")
	errTooManySpans = errors.New("too many spans in one request")
)

// scanLimits bound what the scan accepts.
type scanLimits struct {
	maxValueDepth int
	maxSpans      int
}

// protoScan is what scanProto learns of a body it accepts.
type protoScan struct {
	// spans counts the spans, attrs the attributes of resources, spans,
	// events and links: what decodeWire allocates for.
	spans, attrs int
	// malformed says why pdata's UnmarshalProto would refuse the body,
	// which is then malformed: the scan walks every message pdata reads,
	// so it checks on the way what pdata checks and it does not
	// (pdataField).
	malformed error
}

// scanProto walks an OTLP ExportTraceServiceRequest in protobuf wire format
// and refuses it when an attribute value nests deeper than maxValueDepth or
// it holds more than maxSpans spans, or when the scan cannot go on. Other
// malformed input is reported in the result's malformed, not refused: that
// is the decoder's to refuse, after a whole scan has found nothing that
// refuses it first.
func scanProto(b []byte, lim scanLimits) (protoScan, error) {
	type frame struct {
		m   msg
		end int
	}
	var res protoScan
	stack := make([]frame, 1, 16)
	stack[0] = frame{msgRequest, len(b)}
	depth := 0 // counts arrays and key-value lists on the stack
	pos := 0
	for {
		top := &stack[len(stack)-1]
		if pos >= top.end {
			if pos > top.end {
				return res, fmt.Errorf("a field overruns its message at byte %d", top.end)
			}
			if len(stack) == 1 {
				return res, nil
			}
			if top.m == msgArrayValue || top.m == msgKeyValueList {
				depth--
			}
			stack = stack[:len(stack)-1]
			continue
		}
		// Fields with a one-byte tag, length or varint, most of them, take
		// the short way, which reads them as protowire does.
		at := pos
		var num protowire.Number
		var typ protowire.Type
		if t := b[pos]; t >= 8 && t < 0x80 {
			num, typ = protowire.Number(t>>3), protowire.Type(t&7)
			pos++
		} else {
			var n int
			if num, typ, n = protowire.ConsumeTag(b[pos:top.end]); n < 0 {
				return res, fmt.Errorf("at byte %d: %v", pos, protowire.ParseError(n))
			}
			pos += n
		}
		kind, c := otlpField(top.m, int32(num))
		if typ == protowire.BytesType {
			l, n := uint64(0), 1
			if pos < top.end && b[pos] < 0x80 {
				l = uint64(b[pos])
			} else {
				l, n = protowire.ConsumeVarint(b[pos:top.end])
			}
			if n < 0 || l > uint64(top.end-pos-n) {
				return res, fmt.Errorf("at byte %d: length out of bounds", pos)
			}
			pos += n
			if kind != kindUnknown && res.malformed == nil && needsPdataCheck(kind, c, wireType(typ)) {
				res.malformed = pdataField(kind, c, wireType(typ), b[pos:pos+int(l)], num, at)
			}
			if kind == kindMessage && c != msgStatus && c != msgEntityRef {
				switch c {
				case msgSpan:
					if res.spans++; res.spans > lim.maxSpans {
						return res, fmt.Errorf("%w: more than %d (send smaller batches)", errTooManySpans, lim.maxSpans)
					}
				case msgArrayValue, msgKeyValueList:
					if depth++; depth > lim.maxValueDepth {
						return res, fmt.Errorf("%w: more than %d levels of arrays and key-value lists", errTooDeep, lim.maxValueDepth)
					}
				case msgKeyValue:
					if top.m != msgScope && top.m != msgKeyValueList {
						res.attrs++
					}
				}
				stack = append(stack, frame{c, pos + int(l)})
				continue
			}
			pos += int(l)
			continue
		}
		n := 1
		if typ != protowire.VarintType || pos >= top.end || b[pos] >= 0x80 {
			n = protowire.ConsumeFieldValue(num, typ, b[pos:top.end])
		}
		if n < 0 || typ == protowire.StartGroupType || typ == protowire.EndGroupType {
			return res, fmt.Errorf("at byte %d: unsupported or broken field %d", pos, num)
		}
		if kind != kindUnknown && res.malformed == nil && needsPdataCheck(kind, c, wireType(typ)) {
			res.malformed = pdataField(kind, c, wireType(typ), nil, num, at)
		}
		pos += n
	}
}

// jsonDepthFor is the bracket depth of a JSON body that holds attribute
// values nested maxValueDepth deep: ten brackets down to a span attribute's
// value object, and at most four per level of a key-value list. The exact
// value depth is checked again while converting.
func jsonDepthFor(maxValueDepth int) int { return 12 + 4*maxValueDepth }
