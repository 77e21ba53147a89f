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
// with an explicit stack that knows which fields of the trace request hold
// messages, and JSON bodies are checked for their bracket depth. The scan
// also counts spans, so that a request holding too many is refused before
// it is decoded.

// msg names the messages of an OTLP trace export request whose fields the
// scan descends into.
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
)

// child returns the message type of field num of m, or false when the field
// is not a message the scan descends into.
func child(m msg, num protowire.Number) (msg, bool) {
	switch m {
	case msgRequest:
		if num == 1 {
			return msgResourceSpans, true
		}
	case msgResourceSpans:
		switch num {
		case 1:
			return msgResource, true
		case 2, 1000: // 1000: the deprecated instrumentation_library_spans, which pdata decodes
			return msgScopeSpans, true
		}
	case msgResource:
		if num == 1 {
			return msgKeyValue, true
		}
	case msgScopeSpans:
		switch num {
		case 1:
			return msgScope, true
		case 2:
			return msgSpan, true
		}
	case msgScope:
		if num == 3 {
			return msgKeyValue, true
		}
	case msgSpan:
		switch num {
		case 9:
			return msgKeyValue, true
		case 11:
			return msgEvent, true
		case 13:
			return msgLink, true
		}
	case msgEvent:
		if num == 3 {
			return msgKeyValue, true
		}
	case msgLink:
		if num == 4 {
			return msgKeyValue, true
		}
	case msgKeyValue:
		if num == 2 {
			return msgAnyValue, true
		}
	case msgAnyValue:
		switch num {
		case 5:
			return msgArrayValue, true
		case 6:
			return msgKeyValueList, true
		}
	case msgArrayValue:
		if num == 1 {
			return msgAnyValue, true
		}
	case msgKeyValueList:
		if num == 1 {
			return msgKeyValue, true
		}
	}
	return 0, false
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

// scanProto walks an OTLP ExportTraceServiceRequest in protobuf wire format
// and refuses it when an attribute value nests deeper than maxValueDepth or
// it holds more than maxSpans spans. Malformed input is left to the decoder,
// except where the scan cannot go on.
func scanProto(b []byte, lim scanLimits) error {
	type frame struct {
		m   msg
		end int
	}
	stack := make([]frame, 1, 16)
	stack[0] = frame{msgRequest, len(b)}
	depth, spans := 0, 0 // depth counts arrays and key-value lists on the stack
	pos := 0
	for {
		top := &stack[len(stack)-1]
		if pos >= top.end {
			if pos > top.end {
				return fmt.Errorf("a field overruns its message at byte %d", top.end)
			}
			if len(stack) == 1 {
				return nil
			}
			if top.m == msgArrayValue || top.m == msgKeyValueList {
				depth--
			}
			stack = stack[:len(stack)-1]
			continue
		}
		num, typ, n := protowire.ConsumeTag(b[pos:top.end])
		if n < 0 {
			return fmt.Errorf("at byte %d: %v", pos, protowire.ParseError(n))
		}
		pos += n
		if typ == protowire.BytesType {
			l, n := protowire.ConsumeVarint(b[pos:top.end])
			if n < 0 || l > uint64(top.end-pos-n) {
				return fmt.Errorf("at byte %d: length out of bounds", pos)
			}
			pos += n
			if c, ok := child(top.m, num); ok {
				switch c {
				case msgSpan:
					if spans++; spans > lim.maxSpans {
						return fmt.Errorf("%w: more than %d (send smaller batches)", errTooManySpans, lim.maxSpans)
					}
				case msgArrayValue, msgKeyValueList:
					if depth++; depth > lim.maxValueDepth {
						return fmt.Errorf("%w: more than %d levels of arrays and key-value lists", errTooDeep, lim.maxValueDepth)
					}
				}
				stack = append(stack, frame{c, pos + int(l)})
				continue
			}
			pos += int(l)
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b[pos:top.end])
		if n < 0 || typ == protowire.StartGroupType || typ == protowire.EndGroupType {
			return fmt.Errorf("at byte %d: unsupported or broken field %d", pos, num)
		}
		pos += n
	}
}

// jsonDepthFor is the bracket depth of a JSON body that holds attribute
// values nested maxValueDepth deep: ten brackets down to a span attribute's
// value object, and at most four per level of a key-value list. The exact
// value depth is checked again while converting.
func jsonDepthFor(maxValueDepth int) int { return 12 + 4*maxValueDepth }
