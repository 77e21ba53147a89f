package testsupport

import (
	"bytes"

	"google.golang.org/protobuf/encoding/protowire"
)

// NestedOTLP is an OTLP/protobuf trace export request holding one span
// whose attribute "deep" nests depth levels of arrays (or of key-value
// lists, with kvlist): the attack of a value nested too deep for a
// recursive decoder. It is built without recursion, sizes inside out and
// headers outside in, so a million levels take a moment and a few MB.
func NestedOTLP(depth int, kvlist bool) []byte { return nestedOTLP(depth, kvlist, 2) }

// NestedOTLPDeprecated is NestedOTLP with its span in the deprecated field
// of ResourceSpans (1000, instrumentation_library_spans), which pdata still
// decodes.
func NestedOTLPDeprecated(depth int) []byte { return nestedOTLP(depth, false, 1000) }

func nestedOTLP(depth int, kvlist bool, scopeSpans protowire.Number) []byte {
	type level struct {
		pre   []byte
		field protowire.Number
	}
	var span []byte
	span = protowire.AppendTag(span, 1, protowire.BytesType)
	span = protowire.AppendBytes(span, bytes.Repeat([]byte{7}, 16))
	span = protowire.AppendTag(span, 2, protowire.BytesType)
	span = protowire.AppendBytes(span, bytes.Repeat([]byte{8}, 8))
	span = protowire.AppendTag(span, 5, protowire.BytesType)
	span = protowire.AppendString(span, "deep")
	var key []byte
	key = protowire.AppendTag(key, 1, protowire.BytesType)
	key = protowire.AppendString(key, "deep")
	// request → resource spans → scope spans → span → attribute → value
	levels := []level{{nil, 1}, {nil, scopeSpans}, {nil, 2}, {span, 9}, {key, 2}}
	for i := 0; i < depth; i++ {
		if kvlist {
			levels = append(levels, level{nil, 6}, level{nil, 1}, level{key, 2}) // AnyValue.kvlist_value → KeyValueList.values → KeyValue.value
		} else {
			levels = append(levels, level{nil, 5}, level{nil, 1}) // AnyValue.array_value → ArrayValue.values
		}
	}
	var inner []byte
	inner = protowire.AppendTag(inner, 1, protowire.BytesType)
	inner = protowire.AppendString(inner, "x")
	sizes := make([]int, len(levels)+1)
	sizes[len(levels)] = len(inner)
	for i := len(levels) - 1; i >= 0; i-- {
		sizes[i] = len(levels[i].pre) + protowire.SizeTag(levels[i].field) + protowire.SizeVarint(uint64(sizes[i+1])) + sizes[i+1]
	}
	out := make([]byte, 0, sizes[0])
	for i, l := range levels {
		out = append(out, l.pre...)
		out = protowire.AppendTag(out, l.field, protowire.BytesType)
		out = protowire.AppendVarint(out, uint64(sizes[i+1]))
	}
	return append(out, inner...)
}
