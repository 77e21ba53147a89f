package pebble

import (
	"os"
	"reflect"
	"sort"
	"testing"

	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// testBlock returns the spans of one block as WriteSpans passes them: one
// service (over two resources), sorted by start, several spans per trace.
func testBlock(n int) []*telemetry.Span {
	spans := testGroup(n)
	for i := range spans {
		spans[i].TraceID[0] = byte(i % 7) // 7 traces
		if i%3 == 0 {
			spans[i].Attributes = spans[i].Attributes[:2]
		}
	}
	ps := pointers(spans)
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].StartUnixNano < ps[j].StartUnixNano })
	return ps
}

// wantRows is what decodeRows must return for spans, whatever the version,
// but for the rows' trace fields, which checkRows resolves.
func wantRows(spans []*telemetry.Span) *blockRows {
	br := &blockRows{}
	ops, res := map[string]int{}, map[*telemetry.Resource]int{}
	for _, s := range spans {
		if _, ok := ops[s.Name]; !ok {
			ops[s.Name] = len(br.ops)
			br.ops = append(br.ops, s.Name)
		}
		if _, ok := res[s.Resource]; !ok {
			res[s.Resource] = len(br.res)
			var hs []uint32
			for _, h := range attrHashes(nil, s.Resource.Attributes) {
				hs = append(hs, uint32(h))
			}
			br.res = append(br.res, hs)
		}
		r := blockRow{start: s.StartUnixNano, duration: int64(s.Duration()),
			op: ops[s.Name], res: res[s.Resource]}
		if s.IsError() {
			r.flags |= rowError
		}
		if !s.ParentSpanID.IsValid() {
			r.flags |= rowRoot
		}
		for _, h := range attrHashes(nil, s.Attributes) {
			r.hashes = append(r.hashes, uint32(h))
		}
		br.rows = append(br.rows, r)
	}
	return br
}

// testRefs names the traces of spans as a write of them would: its traces
// (7 in testBlock) in two column blocks, each with traces of no row of
// the block as well. ids holds each block's trace IDs by seq.
func testRefs(spans []*telemetry.Span) (refs []traceRef, lists []traceList, ids map[uint64][]telemetry.TraceID) {
	lists = []traceList{{seq: 1 << 40, n: 6}, {seq: 7, n: 9}}
	ids = map[uint64][]telemetry.TraceID{}
	for _, l := range lists {
		ids[l.seq] = make([]telemetry.TraceID, l.n)
		for i := range ids[l.seq] {
			ids[l.seq][i] = telemetry.TraceID{0xee, byte(l.seq), byte(i)}
		}
	}
	for _, s := range spans {
		t := int(s.TraceID[0])
		r := traceRef{blk: int32(t % 2), idx: int32(t/2 + 1)}
		refs = append(refs, r)
		ids[lists[r.blk].seq][r.idx] = s.TraceID
	}
	return refs, lists, ids
}

// resolveFrom does what Store.resolve does, from ids rather than records.
func resolveFrom(br *blockRows, ids map[uint64][]telemetry.TraceID) {
	if br.ids != nil {
		return
	}
	for _, l := range br.lists {
		br.ids = append(br.ids, ids[l.seq]...)
	}
}

// checkRows compares rows decoded from spans with want, and the trace each
// row names, resolved from ids, with its span's.
func checkRows(t *testing.T, got, want *blockRows, spans []*telemetry.Span, ids map[uint64][]telemetry.TraceID) {
	t.Helper()
	norm := func(br *blockRows) {
		for i := range br.res {
			if len(br.res[i]) == 0 {
				br.res[i] = nil
			}
		}
		for i := range br.rows {
			if len(br.rows[i].hashes) == 0 {
				br.rows[i].hashes = nil
			}
		}
	}
	norm(got)
	norm(want)
	if !reflect.DeepEqual(got.ops, want.ops) || !reflect.DeepEqual(got.res, want.res) {
		t.Fatalf("ops, resources:\n got %v %v\nwant %v %v", got.ops, got.res, want.ops, want.res)
	}
	if len(got.rows) != len(want.rows) {
		t.Fatalf("%d rows, want %d", len(got.rows), len(want.rows))
	}
	resolveFrom(got, ids)
	for i := range want.rows {
		g := got.rows[i]
		if g.trace < 0 || g.trace >= len(got.ids) {
			t.Fatalf("row %d names trace %d of %d", i, g.trace, len(got.ids))
		}
		if id := got.ids[g.trace]; id != spans[i].TraceID {
			t.Fatalf("row %d: trace %v, want %v", i, id, spans[i].TraceID)
		}
		g.trace = 0
		if !reflect.DeepEqual(g, want.rows[i]) {
			t.Fatalf("row %d:\n got %+v\nwant %+v", i, g, want.rows[i])
		}
	}
}

func TestRowsRoundTrip(t *testing.T) {
	var e enc // reused across blocks, as WriteSpans does
	var scratch []uint64
	for _, n := range []int{1, 2, 30, 300, maxBlockRows} {
		spans := testBlock(n)
		e.b = e.b[:0]
		refs, lists, ids := testRefs(spans)
		scratch = encodeRows(&e, spans, refs, lists, scratch)
		if e.b[0] != rowsVersion {
			t.Fatalf("%d rows: version %d, want %d", n, e.b[0], rowsVersion)
		}
		got, err := decodeRows(spans[0].StartUnixNano, e.b)
		if err != nil {
			t.Fatalf("%d rows: %v", n, err)
		}
		if n > 1 && len(got.lists) != 2 {
			t.Fatalf("%d rows name %d column blocks, want 2", n, len(got.lists))
		}
		checkRows(t, got, wantRows(spans), spans, ids)
	}
}

// TestRowsHashesByFrequency: the hashes that most rows share come first in
// the block's list, so that a row names them in one byte.
func TestRowsHashesByFrequency(t *testing.T) {
	spans := testBlock(300) // "http.request.method=GET" in every row, user.id in each its own
	var e enc
	refs, lists, _ := testRefs(spans)
	encodeRows(&e, spans, refs, lists, nil)
	first := e.rows.hashes[e.rows.order[0]]
	if want := uint32(attrHash("http.request.method", "GET")); first != want {
		t.Fatalf("first hash %x, want that of http.request.method=GET %x", first, want)
	}
}

// TestRowsReadsOldVersions reads rows as the previous versions wrote them,
// which stores hold: testdata/rows-v1.bin and rows-v2.bin are testBlock(300)
// encoded by version 1's and version 2's encodeRows. Their rows carry
// their trace IDs.
func TestRowsReadsOldVersions(t *testing.T) {
	for _, name := range []string{"rows-v1.bin", "rows-v2.bin"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		spans := testBlock(300)
		got, err := decodeRows(spans[0].StartUnixNano, b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got.ids == nil || got.lists != nil {
			t.Fatalf("%s: decoded %d trace IDs and %d lists, want IDs and no lists", name, len(got.ids), len(got.lists))
		}
		checkRows(t, got, wantRows(spans), spans, nil)
	}
}

func TestRowsCorrupt(t *testing.T) {
	spans := testBlock(20)
	var e enc
	refs, lists, _ := testRefs(spans)
	encodeRows(&e, spans, refs, lists, nil)
	for n := 0; n < len(e.b); n++ {
		if _, err := decodeRows(0, e.b[:n]); err == nil {
			t.Fatalf("rows cut to %d of %d bytes decoded without error", n, len(e.b))
		}
	}
	for _, v := range []byte{0, 4, 255} {
		b := append([]byte{v}, e.b[1:]...)
		if _, err := decodeRows(0, b); err == nil {
			t.Fatalf("version %d decoded without error", v)
		}
	}
}

func FuzzDecodeRows(f *testing.F) {
	var e enc
	spans := testBlock(12)
	refs, lists, _ := testRefs(spans)
	encodeRows(&e, spans, refs, lists, nil)
	f.Add(e.b)
	for _, name := range []string{"rows-v1.bin", "rows-v2.bin"} {
		if b, err := os.ReadFile("testdata/" + name); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		br, err := decodeRows(0, b)
		if err != nil {
			return
		}
		traces := len(br.ids)
		for _, l := range br.lists {
			traces += l.n
		}
		for _, r := range br.rows {
			if r.op >= len(br.ops) || r.res >= len(br.res) || r.trace < 0 || r.trace >= traces {
				t.Fatalf("row names operation %d of %d, resource %d of %d, trace %d of %d", r.op, len(br.ops), r.res, len(br.res), r.trace, traces)
			}
		}
	})
}

// TestFillFilter: a block's filter holds the hash of each of its spans'
// attributes, resource attributes and operation names, and is sized by how
// many of them are distinct, from what encodeRows left behind.
func TestFillFilter(t *testing.T) {
	var e enc // reused across blocks, as WriteSpans does
	var scratch []uint64
	for _, n := range []int{1, 30, maxBlockRows} {
		spans := testBlock(n)
		distinct := map[uint64]bool{}
		for _, s := range spans {
			distinct[opHash(s.Name)] = true
			for _, h := range attrHashes(attrHashes(nil, s.Attributes), s.Resource.Attributes) {
				distinct[h] = true
			}
		}
		e.b = e.b[:0]
		refs, lists, _ := testRefs(spans)
		scratch = encodeRows(&e, spans, refs, lists, scratch)
		var m blockMeta
		fillFilter(&m, e.rows, scratch)
		for h := range distinct {
			if !m.filter.has(h) {
				t.Fatalf("%d spans: hash %x not in the filter", n, h)
			}
		}
		if got, want := len(m.filter.words), len(newBloom(len(distinct)).words); got != want {
			t.Fatalf("%d spans: filter of %d words, want %d (%d distinct hashes)", n, got, want, len(distinct))
		}
	}
}
