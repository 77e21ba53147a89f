package ingest

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/tracekit-oss/tracekit/internal/loadgen"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
	"github.com/tracekit-oss/tracekit/internal/testsupport"
)

// The direct protobuf decoder must give exactly what pdata's UnmarshalProto
// followed by convert gives, for every body the pre-scan accepts.

// equivalenceLimits are the limits each body is compared under: the
// defaults, and small ones that bodies reach.
var equivalenceLimits = []SpanLimits{
	DefaultSpanLimits(),
	{MaxAttributes: 3, MaxEvents: 2, MaxLinks: 2, MaxValueDepth: 3},
}

// decodePdata is the path protobuf bodies took before decodeWire.
func decodePdata(body []byte, lim SpanLimits) (converted, error) {
	er := ptraceotlp.NewExportRequest()
	if err := er.UnmarshalProto(body); err != nil {
		return converted{}, err
	}
	return convert(er.Traces(), lim), nil
}

// sameAsPdata fails t when the receiver's decoding of body differs from
// decodePdata's under lim.
func sameAsPdata(t testing.TB, body []byte, lim SpanLimits) {
	t.Helper()
	r := &Receiver{cfg: Config{Spans: lim, MaxSpansPerRequest: 1 << 20}.withDefaults()}
	scan, err := scanProto(body, scanLimits{maxValueDepth: lim.MaxValueDepth, maxSpans: r.cfg.MaxSpansPerRequest})
	if err != nil {
		return // refused before either decoder runs
	}
	want, wantErr := decodePdata(body, lim)
	if (wantErr == nil) != (scan.malformed == nil) {
		t.Fatalf("pdata fails with %v, the scan finds the body malformed with %v, for %q", wantErr, scan.malformed, short(body))
	}
	got, err := r.decode(body, false)
	switch {
	case wantErr != nil && err == nil:
		t.Fatalf("pdata fails (%v), the direct decoder does not, for %q", wantErr, short(body))
	case wantErr == nil && err != nil:
		t.Fatalf("the direct decoder fails (%v), pdata does not, for %q", err, short(body))
	case err != nil && !strings.Contains(err.Error(), "malformed OTLP protobuf body"):
		t.Fatalf("error %q does not say the body is malformed", err)
	case err != nil:
		return
	}
	if d := diffConverted(want, got); d != "" {
		t.Fatalf("limits %+v: %s\nbody %q", lim, d, short(body))
	}
}

// short is the start of body, for messages.
func short(body []byte) []byte { return body[:min(len(body), 2048)] }

func diffConverted(want, got converted) string {
	if want.rejected != got.rejected || want.reason != got.reason {
		return fmt.Sprintf("rejected %d (%q), want %d (%q)", got.rejected, got.reason, want.rejected, want.reason)
	}
	if (want.spans == nil) != (got.spans == nil) || len(want.spans) != len(got.spans) {
		return fmt.Sprintf("%d spans (nil %t), want %d (nil %t)", len(got.spans), got.spans == nil, len(want.spans), want.spans == nil)
	}
	for i := range want.spans {
		if d := diffSpan(&want.spans[i], &got.spans[i]); d != "" {
			return fmt.Sprintf("span %d: %s", i, d)
		}
	}
	return ""
}

func diffSpan(want, got *telemetry.Span) string {
	w, g := *want, *got
	w.Attributes, w.Events, w.Links, w.Resource = nil, nil, nil, nil
	g.Attributes, g.Events, g.Links, g.Resource = nil, nil, nil, nil
	if !reflect.DeepEqual(w, g) {
		return fmt.Sprintf("fields\n %+v, want\n %+v", g, w)
	}
	if d := diffAttrs(want.Attributes, got.Attributes); d != "" {
		return "attributes: " + d
	}
	if (want.Resource == nil) != (got.Resource == nil) {
		return "resource nil mismatch"
	}
	if want.Resource != nil {
		if want.Resource.ServiceName != got.Resource.ServiceName {
			return fmt.Sprintf("service %q, want %q", got.Resource.ServiceName, want.Resource.ServiceName)
		}
		if d := diffAttrs(want.Resource.Attributes, got.Resource.Attributes); d != "" {
			return "resource attributes: " + d
		}
	}
	if (want.Events == nil) != (got.Events == nil) || len(want.Events) != len(got.Events) {
		return fmt.Sprintf("%d events, want %d", len(got.Events), len(want.Events))
	}
	for i, we := range want.Events {
		ge := got.Events[i]
		if we.Name != ge.Name || we.TimeUnixNano != ge.TimeUnixNano {
			return fmt.Sprintf("event %d: %q at %d, want %q at %d", i, ge.Name, ge.TimeUnixNano, we.Name, we.TimeUnixNano)
		}
		if d := diffAttrs(we.Attributes, ge.Attributes); d != "" {
			return fmt.Sprintf("event %d attributes: %s", i, d)
		}
	}
	if (want.Links == nil) != (got.Links == nil) || len(want.Links) != len(got.Links) {
		return fmt.Sprintf("%d links, want %d", len(got.Links), len(want.Links))
	}
	for i, wl := range want.Links {
		gl := got.Links[i]
		if wl.TraceID != gl.TraceID || wl.SpanID != gl.SpanID || wl.TraceState != gl.TraceState {
			return fmt.Sprintf("link %d: %+v, want %+v", i, gl, wl)
		}
		if d := diffAttrs(wl.Attributes, gl.Attributes); d != "" {
			return fmt.Sprintf("link %d attributes: %s", i, d)
		}
	}
	return ""
}

// diffAttrs compares doubles by their bits, so that NaNs compare.
func diffAttrs(want, got []telemetry.Attribute) string {
	if (want == nil) != (got == nil) || len(want) != len(got) {
		return fmt.Sprintf("%d (nil %t), want %d (nil %t)", len(got), got == nil, len(want), want == nil)
	}
	for i := range want {
		w, g := want[i], got[i]
		if w.Key != g.Key || w.Value.Type != g.Value.Type || w.Value.Str != g.Value.Str || w.Value.Int != g.Value.Int ||
			w.Value.Bool != g.Value.Bool || math.Float64bits(w.Value.Double) != math.Float64bits(g.Value.Double) {
			return fmt.Sprintf("%d: %+v, want %+v", i, g, w)
		}
	}
	return ""
}

// Wire-format builders for bodies pdata's API cannot produce.

func tag(num uint64, t protowire.Type) []byte { return protowire.AppendVarint(nil, num<<3|uint64(t)) }

func lenField(num uint64, parts ...[]byte) []byte {
	p := bytes.Join(parts, nil)
	return protowire.AppendBytes(tag(num, protowire.BytesType), p)
}

func strField(num uint64, s string) []byte { return lenField(num, []byte(s)) }

func varField(num, v uint64) []byte { return protowire.AppendVarint(tag(num, protowire.VarintType), v) }

func i64Field(num, v uint64) []byte {
	return protowire.AppendFixed64(tag(num, protowire.Fixed64Type), v)
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// Valid IDs for the bodies below.
var (
	tid16 = bytes.Repeat([]byte{7}, 16)
	sid8  = bytes.Repeat([]byte{8}, 8)
)

// oneSpan is a request of one resource, one scope and one span holding the
// given fields after valid IDs and a name.
func oneSpan(fields ...[]byte) []byte {
	sp := cat(lenField(1, tid16), lenField(2, sid8), strField(5, "op"), cat(fields...))
	return lenField(1, lenField(2, lenField(2, sp)))
}

// attr is a span attribute (field 9) of key k whose value fields are vs.
func attr(k string, vs ...[]byte) []byte {
	return lenField(9, strField(1, k), lenField(2, cat(vs...)))
}

// nestArray wraps v in depth arrays.
func nestArray(v []byte, depth int) []byte {
	for range depth {
		v = lenField(5, lenField(1, v))
	}
	return v
}

// overlong is v as a ten-byte varint whose last byte sets bits past the
// 64th (pdata drops them, protowire refuses them).
func overlong(v uint64) []byte {
	b := make([]byte, 10)
	for i := range 9 {
		b[i] = byte(v>>(7*i)) | 0x80
	}
	b[9] = 0x7e | byte(v>>63)
	return b
}

// wireBodies are hand-made bodies for what pdata decodes in its own way.
func wireBodies() map[string][]byte {
	long := strings.Repeat("é", 40<<10) // 80 KiB, cut inside a rune at 64 KiB
	invalid := "a\xffb"
	bigArray := make([][]byte, 0, 2000)
	for i := range 2000 {
		bigArray = append(bigArray, lenField(1, strField(1, strings.Repeat("x", 40)+fmt.Sprint(i))))
	}
	bigArray = append(bigArray, lenField(1, strField(1, invalid))) // past the cut: never looked at
	// 100 arrays of 100 strings: the cut falls inside one of them.
	inner := make([][]byte, 0, 100)
	for i := range 100 {
		inner = append(inner, lenField(1, strField(1, fmt.Sprint("elem-", i))))
	}
	nested := make([][]byte, 0, 101)
	for range 100 {
		nested = append(nested, lenField(1, lenField(5, inner...)))
	}
	nested = append(nested, lenField(1, nestArray(varField(3, 1), 10))) // too deep, but past the cut
	kvlist := func(kvs ...[]byte) []byte {
		var b []byte
		for _, kv := range kvs {
			b = append(b, lenField(1, kv)...)
		}
		return lenField(6, b)
	}
	kv := func(k string, v []byte) []byte { return cat(strField(1, k), lenField(2, v)) }
	return map[string][]byte{
		"empty":                     {},
		"only unknown fields":       cat(varField(2, 5), strField(3, "x"), i64Field(4, 1)),
		"span without fields":       lenField(1, lenField(2, lenField(2))),
		"resource spans only":       lenField(1, lenField(1, lenField(1, strField(1, "service.name")))),
		"scope spans without spans": lenField(1, lenField(2, lenField(1, strField(1, "scope")))),
		"trace id twice, last empty": lenField(1, lenField(2, lenField(2, cat(
			lenField(1, tid16), lenField(2, sid8), lenField(1))))),
		"span id of 7 bytes":     lenField(1, lenField(2, lenField(2, cat(lenField(1, tid16), lenField(2, sid8[:7]))))),
		"trace id of 17 bytes":   lenField(1, lenField(2, lenField(2, cat(lenField(1, append(tid16, 1)), lenField(2, sid8))))),
		"link trace id 3 bytes":  oneSpan(lenField(13, lenField(1, []byte{1, 2, 3}))),
		"link span id 1 byte":    oneSpan(lenField(13, lenField(2, []byte{1}))),
		"parent id 9 bytes":      oneSpan(lenField(4, append(sid8, 1))),
		"parent id empty":        oneSpan(lenField(4)),
		"name twice":             oneSpan(strField(5, "second")),
		"status twice, merged":   oneSpan(lenField(15, strField(2, "boom")), lenField(15, varField(3, 2))),
		"status code 258":        oneSpan(lenField(15, varField(3, 258))),
		"status code overlong":   oneSpan(lenField(15, tag(3, protowire.VarintType), overlong(2))),
		"status field 2^32+3":    oneSpan(lenField(15, protowire.AppendVarint(nil, (1<<32+3)<<3), []byte{2})),
		"status field 0":         oneSpan(lenField(15, []byte{0x00, 0x01})),
		"status group of groups": oneSpan(lenField(15, tag(9, protowire.StartGroupType), tag(10, protowire.StartGroupType), tag(10, protowire.EndGroupType), tag(9, protowire.EndGroupType), varField(3, 1))),
		"status group of a varint": oneSpan(lenField(15, tag(9, protowire.StartGroupType), varField(1, 1),
			tag(9, protowire.EndGroupType))),
		"status wire type 7":               oneSpan(lenField(15, []byte{0x1f, 0x01})),
		"status end group":                 oneSpan(lenField(15, tag(9, protowire.EndGroupType))),
		"status message varint":            oneSpan(lenField(15, varField(2, 1))),
		"kind 258":                         oneSpan(varField(6, 258)),
		"kind -1":                          oneSpan(varField(6, math.MaxUint64)),
		"kind 6":                           oneSpan(varField(6, 6)),
		"negative start, end before start": oneSpan(i64Field(7, 1<<63|5), i64Field(8, 3)),
		"end before start":                 oneSpan(i64Field(7, 100), i64Field(8, 50)),
		"name as varint":                   oneSpan(varField(5, 1)),
		"flags and dropped counts":         oneSpan(protowire.AppendFixed32(tag(16, protowire.Fixed32Type), 1), varField(10, 3), varField(12, 4), varField(14, 5)),
		"flags as varint":                  oneSpan(varField(16, 1)),
		"unknown fields everywhere": lenField(1, cat(varField(9, 1), lenField(2, cat(strField(7, "x"),
			lenField(2, cat(lenField(1, tid16), lenField(2, sid8), i64Field(99, 1), protowire.AppendFixed32(tag(98, protowire.Fixed32Type), 1),
				lenField(9, cat(strField(1, "k"), varField(5, 1), lenField(2, cat(varField(9, 1), strField(1, "v"))))))))))),
		"value twice, last wins":      oneSpan(attr("k", strField(1, "a")), lenField(9, cat(strField(1, "k2"), lenField(2, strField(1, "a")), lenField(2, varField(3, 5))))),
		"value twice, second empty":   oneSpan(lenField(9, cat(strField(1, "k"), lenField(2, strField(1, "a")), lenField(2)))),
		"array twice, last kept":      oneSpan(lenField(9, cat(strField(1, "k"), lenField(2, nestArray(varField(3, 1), 1)), lenField(2, nestArray(varField(3, 2), 1))))),
		"two oneofs in one value":     oneSpan(attr("k", strField(1, "a"), varField(2, 1)), attr("k2", varField(2, 7), lenField(7, []byte{1}))),
		"key twice and key strindex":  oneSpan(lenField(9, cat(strField(1, "a"), strField(1, "b"), varField(3, 4), lenField(2, varField(3, 1))))),
		"strindex value":              oneSpan(attr("k", varField(8, 3)), attr("arr", lenField(5, lenField(1, varField(8, 1)), lenField(1)))),
		"empty value and no value":    oneSpan(attr("k"), lenField(9, strField(1, "novalue"))),
		"every value type":            oneSpan(attr("s", strField(1, "x")), attr("b", varField(2, 2)), attr("i", varField(3, math.MaxUint64)), attr("d", i64Field(4, math.Float64bits(-0.0))), attr("nan", i64Field(4, 0x7ff8000000000123)), attr("inf", i64Field(4, math.Float64bits(math.Inf(-1)))), attr("by", lenField(7, []byte{0, 1, 255})), attr("eb", lenField(7))),
		"values in arrays":            oneSpan(attr("a", lenField(5, lenField(1, strField(1, "q\"\\\n\x01")), lenField(1, varField(2, 0)), lenField(1, varField(3, 1<<63)), lenField(1, i64Field(4, 0x7ff0000000000001)), lenField(1, i64Field(4, math.Float64bits(1e300))), lenField(1, lenField(7, []byte("hi"))), lenField(1)))),
		"kvlist":                      oneSpan(attr("m", kvlist(kv("a", varField(3, 1)), kv("a", varField(3, 2)), kv("", lenField(6)), kv("n", kvlist(kv("x", nestArray(strField(1, "deep"), 1))))))),
		"kvlist key not UTF-8":        oneSpan(attr("m", kvlist(kv(invalid, varField(3, 1))))),
		"array string not UTF-8":      oneSpan(attr("a", nestArray(strField(1, invalid), 2))),
		"array at depth limit 3":      oneSpan(attr("a", nestArray(varField(3, 1), 3))),
		"array past depth limit 3":    oneSpan(attr("a", nestArray(varField(3, 1), 4))),
		"kvlist past depth limit 3":   oneSpan(attr("a", kvlist(kv("a", kvlist(kv("b", kvlist(kv("c", kvlist())))))))),
		"array cut at 64 KiB":         oneSpan(attr("a", lenField(5, bigArray...))),
		"nested arrays cut at 64 KiB": oneSpan(attr("a", lenField(5, nested...))),
		"kvlist cut at 64 KiB": oneSpan(attr("m", kvlist(func() [][]byte {
			kvs := make([][]byte, 0, 3000)
			for i := range 3000 {
				kvs = append(kvs, kv(fmt.Sprint("key-", i), strField(1, strings.Repeat("v", 20))))
			}
			return append(kvs, kv(invalid, varField(3, 1)))
		}()...))),
		"array in wrong wire type":    oneSpan(attr("a", varField(5, 1))),
		"bool as fixed64":             oneSpan(attr("a", i64Field(2, 1))),
		"double as varint":            oneSpan(attr("a", varField(4, 1))),
		"long strings":                oneSpan(strField(5, long), attr(strings.Repeat("ü", 200), strField(1, long)), attr("b", lenField(7, []byte(long))), lenField(11, strField(2, long))),
		"invalid UTF-8 name":          oneSpan(strField(5, invalid)),
		"invalid UTF-8 trace state":   oneSpan(strField(3, invalid)),
		"invalid UTF-8 status":        oneSpan(lenField(15, strField(2, invalid))),
		"invalid UTF-8 key":           oneSpan(attr(invalid, strField(1, "v"))),
		"invalid UTF-8 value":         oneSpan(attr("k", strField(1, invalid))),
		"invalid UTF-8 event name":    oneSpan(lenField(11, strField(2, invalid))),
		"invalid UTF-8 event attr":    oneSpan(lenField(11, cat(strField(2, "ev"), lenField(3, strField(1, invalid))))),
		"invalid UTF-8 link state":    oneSpan(lenField(13, strField(3, invalid))),
		"invalid UTF-8 link attr":     oneSpan(lenField(13, cat(lenField(1, tid16), lenField(4, strField(1, "k"), lenField(2, strField(1, invalid)))))),
		"event and link fields twice": oneSpan(lenField(11, cat(i64Field(1, 5), strField(2, "a"), i64Field(1, 6), strField(2, "b"), varField(4, 1))), lenField(13, cat(lenField(1, tid16), lenField(2, sid8), lenField(1), strField(3, "ts"), varField(5, 2), protowire.AppendFixed32(tag(6, protowire.Fixed32Type), 1)))),
		"too many attributes":         oneSpan(attr("a"), attr("b"), attr("c"), attr("d")),
		"too many events":             oneSpan(lenField(11), lenField(11), lenField(11)),
		"too many links":              oneSpan(lenField(13), lenField(13), lenField(13)),
		"too many event attributes":   oneSpan(lenField(11, lenField(3), lenField(3), lenField(3), lenField(3))),
		"too many link attributes":    oneSpan(lenField(13, lenField(4), lenField(4), lenField(4), lenField(4))),
		"resource merged": lenField(1, cat(lenField(1, lenField(1, strField(1, "service.name"), lenField(2, strField(1, "first")))),
			lenField(2, lenField(2, cat(lenField(1, tid16), lenField(2, sid8)))),
			lenField(1, cat(varField(2, 4), lenField(1, strField(1, "service.name"), lenField(2, strField(1, "second"))), lenField(3, strField(1, "url"), strField(2, "t"), strField(3, "id"), strField(4, "d")))))),
		"resource over the limit": lenField(1, cat(lenField(1, lenField(1), lenField(1), lenField(1), lenField(1)),
			lenField(2, lenField(2, cat(lenField(1, tid16), lenField(2, sid8))), lenField(2)), lenField(2), lenField(2, lenField(2)))),
		"resource invalid UTF-8": lenField(1, cat(lenField(1, lenField(1, strField(1, "k"), lenField(2, strField(1, invalid)))),
			lenField(2, lenField(2, cat(lenField(1, tid16), lenField(2, sid8)))))),
		"service name empty then set": lenField(1, cat(lenField(1, lenField(1, strField(1, "service.name"), lenField(2, strField(1, ""))), lenField(1, strField(1, "service.name"), lenField(2, strField(1, "x")))),
			lenField(2, lenField(2, cat(lenField(1, tid16), lenField(2, sid8)))))),
		"service name int": lenField(1, cat(lenField(1, lenField(1, strField(1, "service.name"), lenField(2, varField(3, 42)))),
			lenField(2, lenField(2, cat(lenField(1, tid16), lenField(2, sid8)))))),
		"service name long": lenField(1, cat(lenField(1, lenField(1, strField(1, "service.name"), lenField(2, strField(1, strings.Repeat("ß", 200))))),
			lenField(2, lenField(2, cat(lenField(1, tid16), lenField(2, sid8)))))),
		"entity ref with a group":               lenField(1, lenField(1, lenField(3, tag(7, protowire.StartGroupType), tag(7, protowire.EndGroupType)))),
		"entity ref with a group, then a field": lenField(1, lenField(1, lenField(3, tag(7, protowire.StartGroupType), tag(7, protowire.EndGroupType), strField(2, "t")))),
		"entity ref wrong type":                 lenField(1, lenField(1, lenField(3, varField(1, 1)))),
		"scope merged and invalid": lenField(1, cat(lenField(2, cat(lenField(1, strField(1, "a")), lenField(1, strField(2, "v"+invalid)), lenField(2, cat(lenField(1, tid16), lenField(2, sid8))))),
			lenField(2, cat(lenField(1, cat(strField(1, "s"), lenField(3, strField(1, "k")), varField(4, 1))), lenField(2, cat(lenField(1, tid16), lenField(2, sid8))))))),
		"deprecated scope spans only": lenField(1, lenField(1000, lenField(1, strField(1, "old")), lenField(2, cat(lenField(1, tid16), lenField(2, sid8), strField(5, "old"))))),
		"deprecated and current": lenField(1, cat(lenField(1000, lenField(2, cat(lenField(1, tid16), lenField(2, sid8), strField(5, "old")))),
			lenField(2, lenField(2, cat(lenField(1, tid16), lenField(2, sid8), strField(5, "new")))))),
		"deprecated and empty current": lenField(1, cat(lenField(1000, lenField(2, cat(lenField(1, tid16), lenField(2, sid8)))), lenField(2))),
		"deprecated malformed":         lenField(1, cat(lenField(2), lenField(1000, lenField(2, lenField(1, []byte{1}))))),
		"deprecated deep":              lenField(1, lenField(1000, lenField(2, cat(lenField(1, tid16), lenField(2, sid8), attr("a", nestArray(varField(3, 1), 40)))))),
		"truncated":                    oneSpan(attr("k", strField(1, "v")))[:20],
		"length past the end":          {0x0a, 0x05, 0x12, 0x03},
		"overlong varint in a span":    oneSpan(tag(6, protowire.VarintType), overlong(1)),
		"nested depth 3":               testsupport.NestedOTLP(3, false),
		"nested kvlist depth 3":        testsupport.NestedOTLP(3, true),
	}
}

// pdataBodies are requests built with pdata's API, as SDKs send them.
func pdataBodies(t testing.TB) map[string][]byte {
	body := func(td ptrace.Traces) []byte {
		b, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	out := map[string][]byte{}
	lg, _ := loadgen.Traces(rand.New(rand.NewPCG(1, 2)), loadgen.Shape{Batch: 500, TraceSize: 5, Attrs: 6}, time.Unix(1_700_000_000, 0))
	out["loadgen 500"] = body(lg)
	lg, _ = loadgen.Traces(rand.New(rand.NewPCG(3, 4)), loadgen.Shape{Batch: 20}, time.Unix(1_700_000_000, 0))
	out["loadgen 20"] = body(lg)

	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "checkout")
	rs.Resource().Attributes().PutInt("pid", 42)
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("lib")
	ss.Scope().SetVersion("1.0")
	sp := ss.Spans().AppendEmpty()
	sp.SetTraceID(pcommon.TraceID{1, 2, 3})
	sp.SetSpanID(pcommon.SpanID{4, 5})
	sp.SetParentSpanID(pcommon.SpanID{6})
	sp.SetName("GET /cart")
	sp.SetKind(ptrace.SpanKindServer)
	sp.TraceState().FromRaw("k=v")
	sp.SetStartTimestamp(1_700_000_000_000_000_000)
	sp.SetEndTimestamp(1_700_000_000_100_000_000)
	sp.Status().SetCode(ptrace.StatusCodeError)
	sp.Status().SetMessage("boom")
	a := sp.Attributes()
	a.PutStr("s", "x")
	a.PutBool("b", true)
	a.PutInt("i", -5)
	a.PutDouble("d", 1.5)
	a.PutDouble("nan", math.NaN())
	a.PutEmptyBytes("by").FromRaw([]byte{0, 1, 2})
	a.PutEmpty("empty")
	arr := a.PutEmptySlice("arr")
	arr.AppendEmpty().SetStr("a")
	arr.AppendEmpty().SetInt(1)
	arr.AppendEmpty()
	arr.AppendEmpty().SetEmptyMap().PutEmptySlice("inner").AppendEmpty().SetBool(false)
	m := a.PutEmptyMap("map")
	m.PutStr("k", "v")
	m.PutEmptyBytes("b").FromRaw([]byte("raw"))
	m.PutDouble("inf", math.Inf(1))
	ev := sp.Events().AppendEmpty()
	ev.SetName("exception")
	ev.SetTimestamp(1_700_000_000_050_000_000)
	ev.Attributes().PutStr("exception.message", "bad")
	sp.Events().AppendEmpty()
	l := sp.Links().AppendEmpty()
	l.SetTraceID(pcommon.TraceID{9})
	l.SetSpanID(pcommon.SpanID{9})
	l.TraceState().FromRaw("a=b")
	l.Attributes().PutInt("n", 1)
	sp.Links().AppendEmpty()
	bad := ss.Spans().AppendEmpty() // refused: no IDs
	bad.SetName("no ids")
	rs2 := td.ResourceSpans().AppendEmpty()
	s2 := rs2.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	s2.SetTraceID(pcommon.TraceID{1})
	s2.SetSpanID(pcommon.SpanID{1})
	out["every field"] = body(td)
	return out
}

func TestDirectDecodeMatchesPdata(t *testing.T) {
	bodies := wireBodies()
	for name, b := range pdataBodies(t) {
		bodies[name] = b
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			for _, lim := range equivalenceLimits {
				sameAsPdata(t, body, lim)
			}
		})
	}
	t.Run("built from random choices", func(t *testing.T) {
		r := rand.New(rand.NewPCG(5, 6))
		for range 2000 {
			choices := make([]byte, r.IntN(400))
			for i := range choices {
				choices[i] = byte(r.Uint32())
			}
			for _, lim := range equivalenceLimits {
				sameAsPdata(t, bodyFrom(choices), lim)
			}
		}
	})
}

// The fuzzer's input is compared as a body, and read as the choices of
// bodyFrom, which builds a body of the OTLP messages from them: random
// bytes rarely get past the scan, built bodies do.
func FuzzDirectDecodeMatchesPdata(f *testing.F) {
	for _, b := range wireBodies() {
		f.Add(b)
	}
	for _, b := range pdataBodies(f) {
		if len(b) < 64<<10 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, body := range [][]byte{in, bodyFrom(in)} {
			for _, lim := range equivalenceLimits {
				sameAsPdata(t, body, lim)
			}
		}
	})
}

// bodyFrom builds an OTLP trace request from choices: how many fields each
// message has, which of its fields each is (mostly a known one, repeated at
// will), and their values from a palette of the interesting ones.
func bodyFrom(choices []byte) []byte {
	g := bodyGen{in: choices}
	return g.message(msgRequest, 0)
}

type bodyGen struct {
	in []byte
	i  int
}

func (g *bodyGen) next() byte {
	if g.i >= len(g.in) {
		return 0
	}
	g.i++
	return g.in[g.i-1]
}

// Values the generator picks from.
var (
	genStrings = []string{"", "a", "service.name", "a\xffb", "é", strings.Repeat("x", 300), "GET /", "k=v"}
	genVarints = []uint64{0, 1, 2, 3, 5, 6, 258, math.MaxUint64, 1 << 63, 42}
	genFixed   = []uint64{0, 1, 1 << 63, math.Float64bits(1.5), math.Float64bits(math.NaN()), math.Float64bits(math.Inf(1)), 1_700_000_000_000_000_000}
)

func (g *bodyGen) message(m msg, depth int) []byte {
	var known []int32
	for num := int32(1); num <= 16; num++ {
		if k, _ := otlpField(m, num); k != kindUnknown {
			known = append(known, num)
		}
	}
	if k, _ := otlpField(m, 1000); k != kindUnknown {
		known = append(known, 1000)
	}
	var out []byte
	if m == msgSpan && g.next()%4 != 0 { // most spans have IDs
		out = cat(lenField(1, tid16), lenField(2, sid8))
	}
	for n := int(g.next() % 8); n > 0 && g.i < len(g.in); n-- {
		c := g.next()
		num := int32(20) // unknown
		if int(c%16) < 14 && len(known) > 0 {
			num = known[int(c/16)%len(known)]
		}
		kind, child := otlpField(m, num)
		v := g.next()
		if v == 0xff { // the wrong wire type
			if wireTypeOf(kind) == wireVarint {
				kind = kindI32
			} else {
				kind = kindVarint
			}
		}
		n := uint64(num)
		switch kind {
		case kindMessage:
			if depth < 7 {
				out = append(out, lenField(n, g.message(child, depth+1))...)
			}
		case kindTraceID, kindSpanID:
			size := 16
			if kind == kindSpanID {
				size = 8
			}
			switch v % 8 {
			case 0:
				out = append(out, lenField(n)...)
			case 1:
				out = append(out, lenField(n, make([]byte, size))...)
			case 2:
				out = append(out, lenField(n, bytes.Repeat([]byte{v}, size-1))...)
			default:
				out = append(out, lenField(n, bytes.Repeat([]byte{v}, size))...)
			}
		case kindBytes, kindUnknown:
			out = append(out, strField(n, genStrings[int(v)%len(genStrings)])...)
		case kindVarint:
			out = append(out, varField(n, genVarints[int(v)%len(genVarints)])...)
		case kindI64:
			out = append(out, i64Field(n, genFixed[int(v)%len(genFixed)])...)
		case kindI32:
			out = protowire.AppendFixed32(append(out, tag(n, protowire.Fixed32Type)...), uint32(v))
		}
	}
	return out
}
