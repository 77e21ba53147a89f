package pebble

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"reflect"
	"testing"

	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// testGroup returns n spans of one trace, over two resources, that use
// every field a trace record holds: a root, children of spans of the group,
// a parent outside it, events, links, every value type, empty and repeated
// strings.
func testGroup(n int) []telemetry.Span {
	tid := telemetry.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	res := []*telemetry.Resource{
		{ServiceName: "checkout", Attributes: []telemetry.Attribute{
			{Key: "service.name", Value: telemetry.StringValue("checkout")},
			{Key: "host.name", Value: telemetry.StringValue("host-1")}}},
		{ServiceName: "payments"},
	}
	spans := make([]telemetry.Span, n)
	base := int64(1_700_000_000_123_456_789)
	for i := range spans {
		s := &spans[i]
		s.TraceID = tid
		binary.BigEndian.PutUint64(s.SpanID[:], uint64(0x1000+i*7919))
		switch {
		case i == 0: // the root
		case i%5 == 4: // a parent in another write
			s.ParentSpanID = telemetry.SpanID{0xee, 0xee, byte(i), 1, 2, 3, 4, 5}
		default: // a parent in the group, before or after the span
			s.ParentSpanID = spans[(i*3+1)%n].SpanID
			if (i*3+1)%n > i {
				binary.BigEndian.PutUint64(s.ParentSpanID[:], uint64(0x1000+((i*3+1)%n)*7919))
			}
		}
		s.Name = []string{"GET /api/orders", "db.Query", "GET /api/orders"}[i%3]
		s.Kind = telemetry.SpanKind(i % 6)
		s.StartUnixNano = base + int64(i)*1_000_003 - int64(i%3)*5_000_000_000 // not in order
		s.EndUnixNano = s.StartUnixNano + int64(i+1)*12_345
		if i%4 == 3 {
			s.StatusCode, s.StatusMessage = telemetry.StatusError, "connection refused"
		}
		if i%7 == 2 {
			s.TraceState = "vendor=abc"
		}
		s.Resource = res[i%2]
		s.ScopeName = "tracekit-test"
		if i%2 == 0 {
			s.ScopeVersion = "1.2.3"
		}
		s.Attributes = []telemetry.Attribute{
			{Key: "http.request.method", Value: telemetry.StringValue("GET")},
			{Key: "user.id", Value: telemetry.StringValue(fmt.Sprintf("user-%d", i))},
			{Key: "retry", Value: telemetry.IntValue(int64(i) - 3)},
			{Key: "ratio", Value: telemetry.DoubleValue(math.Pi * float64(i))},
			{Key: "cache.hit", Value: telemetry.BoolValue(i%2 == 0)},
			{Key: "payload", Value: telemetry.Value{Type: telemetry.TypeBytes, Str: "\x00\x01GET"}},
			{Key: "tags", Value: telemetry.Value{Type: telemetry.TypeArray, Str: `["a","b"]`}},
			{Key: "empty", Value: telemetry.Value{}},
			{Key: "", Value: telemetry.StringValue("")},
		}
		if i%3 == 1 {
			s.Events = []telemetry.Event{
				{Name: "exception", TimeUnixNano: s.StartUnixNano + 10, Attributes: []telemetry.Attribute{
					{Key: "exception.message", Value: telemetry.StringValue("connection refused")}}},
				{Name: "retry", TimeUnixNano: s.StartUnixNano - 10},
			}
		}
		if i%4 == 2 {
			s.Links = []telemetry.Link{{TraceID: telemetry.TraceID{9}, SpanID: telemetry.SpanID{8}, TraceState: "vendor=abc",
				Attributes: []telemetry.Attribute{{Key: "user.id", Value: telemetry.StringValue("user-1")}}}}
		}
	}
	return spans
}

func pointers(spans []telemetry.Span) []*telemetry.Span {
	out := make([]*telemetry.Span, len(spans))
	for i := range spans {
		out[i] = &spans[i]
	}
	return out
}

func checkGroup(t *testing.T, got, want []telemetry.Span) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("decoded %d spans, want %d", len(got), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("span %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

func TestGroupRoundTrip(t *testing.T) {
	var e enc // reused across groups, as WriteSpans does
	for _, n := range []int{1, 2, 5, linearParentLookup, linearParentLookup + 1, 200} {
		want := testGroup(n)
		e.b = e.b[:0]
		encodeGroup(&e, pointers(want))
		if e.b[0] != groupVersion {
			t.Fatalf("%d spans: version %d, want %d", n, e.b[0], groupVersion)
		}
		prefix := []telemetry.Span{{Name: "already there"}}
		got, err := decodeGroup(prefix, want[0].TraceID, e.b)
		if err != nil {
			t.Fatalf("%d spans: %v", n, err)
		}
		if got[0].Name != "already there" {
			t.Fatalf("%d spans: decodeGroup overwrote dst", n)
		}
		checkGroup(t, got[1:], want)
	}
}

// TestGroupNilResource: a span without a resource reads back with an empty
// one, as version 1 did.
func TestGroupNilResource(t *testing.T) {
	s := testGroup(1)
	s[0].Resource = nil
	var e enc
	encodeGroup(&e, pointers(s))
	got, err := decodeGroup(nil, s[0].TraceID, e.b)
	if err != nil {
		t.Fatal(err)
	}
	s[0].Resource = &telemetry.Resource{}
	checkGroup(t, got, s)
}

// TestGroupReadsVersion1 reads trace records as the previous version wrote
// them, which stores hold: testdata/group-v1.bin is testGroup(40) encoded
// by version 1's encodeGroup.
func TestGroupReadsVersion1(t *testing.T) {
	v1, err := os.ReadFile("testdata/group-v1.bin")
	if err != nil {
		t.Fatal(err)
	}
	want := testGroup(40)
	got, err := decodeGroup(nil, want[0].TraceID, v1)
	if err != nil {
		t.Fatal(err)
	}
	checkGroup(t, got, want)

	// A record of version 1 written by hand: one resource with no
	// attributes, one root span with one string attribute.
	v1 = []byte{1, 1, 3, 'a', 'p', 'i', 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 'G', 'E', 'T',
		2, 20, 6, 0, 0, 1, 1, 'k', byte(telemetry.TypeString), 1, 'v', 0, 0, 0, 0, 0}
	got, err = decodeGroup(nil, telemetry.TraceID{1}, v1)
	if err != nil {
		t.Fatal(err)
	}
	checkGroup(t, got, []telemetry.Span{{TraceID: telemetry.TraceID{1}, SpanID: telemetry.SpanID{1, 2, 3, 4, 5, 6, 7, 8},
		Name: "GET", Kind: telemetry.KindServer, StartUnixNano: 10, EndUnixNano: 13,
		Attributes: []telemetry.Attribute{{Key: "k", Value: telemetry.StringValue("v")}},
		Resource:   &telemetry.Resource{ServiceName: "api"}}})
}

// TestGroupCorrupt: every truncation of a record, and unknown versions,
// are errors, not panics or wrong spans.
func TestGroupCorrupt(t *testing.T) {
	want := testGroup(8)
	var e enc
	encodeGroup(&e, pointers(want))
	for n := 0; n < len(e.b); n++ {
		if _, err := decodeGroup(nil, want[0].TraceID, e.b[:n]); err == nil {
			t.Fatalf("a record cut to %d of %d bytes decoded without error", n, len(e.b))
		}
	}
	for _, v := range []byte{0, 3, 255} {
		b := append([]byte{v}, e.b[1:]...)
		if _, err := decodeGroup(nil, want[0].TraceID, b); err == nil {
			t.Fatalf("version %d decoded without error", v)
		}
	}
}

func FuzzDecodeGroup(f *testing.F) {
	var e enc
	encodeGroup(&e, pointers(testGroup(6)))
	f.Add(e.b)
	if v1, err := os.ReadFile("testdata/group-v1.bin"); err == nil {
		f.Add(v1)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		spans, err := decodeGroup(nil, telemetry.TraceID{1}, b)
		if err != nil {
			return
		}
		// What decodes encodes and decodes again to the same spans.
		var e enc
		encodeGroup(&e, pointers(spans))
		again, err := decodeGroup(nil, telemetry.TraceID{1}, e.b)
		if err != nil {
			t.Fatalf("re-encoded record: %v", err)
		}
		if len(again) != len(spans) {
			t.Fatalf("re-encoded record: %d spans, want %d", len(again), len(spans))
		}
	})
}
