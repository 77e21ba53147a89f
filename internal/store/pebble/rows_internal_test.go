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

// wantRows is what decodeRows must return for spans, whatever the version.
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
		r := blockRow{traceID: s.TraceID, start: s.StartUnixNano, duration: int64(s.Duration()),
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

func checkRows(t *testing.T, got, want *blockRows) {
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
	for i := range want.rows {
		if !reflect.DeepEqual(got.rows[i], want.rows[i]) {
			t.Fatalf("row %d:\n got %+v\nwant %+v", i, got.rows[i], want.rows[i])
		}
	}
}

func TestRowsRoundTrip(t *testing.T) {
	var e enc // reused across blocks, as WriteSpans does
	var scratch []uint64
	for _, n := range []int{1, 2, 30, 300, maxBlockRows} {
		spans := testBlock(n)
		e.b = e.b[:0]
		scratch = encodeRows(&e, spans, scratch)
		if e.b[0] != rowsVersion {
			t.Fatalf("%d rows: version %d, want %d", n, e.b[0], rowsVersion)
		}
		got, err := decodeRows(spans[0].StartUnixNano, e.b)
		if err != nil {
			t.Fatalf("%d rows: %v", n, err)
		}
		checkRows(t, got, wantRows(spans))
	}
}

// TestRowsHashesByFrequency: the hashes that most rows share come first in
// the block's list, so that a row names them in one byte.
func TestRowsHashesByFrequency(t *testing.T) {
	spans := testBlock(300) // "http.request.method=GET" in every row, user.id in each its own
	var e enc
	encodeRows(&e, spans, nil)
	first := e.rows.hashes[e.rows.order[0]]
	if want := uint32(attrHash("http.request.method", "GET")); first != want {
		t.Fatalf("first hash %x, want that of http.request.method=GET %x", first, want)
	}
}

// TestRowsReadsVersion1 reads rows as the previous version wrote them,
// which stores hold: testdata/rows-v1.bin is testBlock(300) encoded by
// version 1's encodeRows.
func TestRowsReadsVersion1(t *testing.T) {
	v1, err := os.ReadFile("testdata/rows-v1.bin")
	if err != nil {
		t.Fatal(err)
	}
	spans := testBlock(300)
	got, err := decodeRows(spans[0].StartUnixNano, v1)
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, got, wantRows(spans))
}

func TestRowsCorrupt(t *testing.T) {
	spans := testBlock(20)
	var e enc
	encodeRows(&e, spans, nil)
	for n := 0; n < len(e.b); n++ {
		if _, err := decodeRows(0, e.b[:n]); err == nil {
			t.Fatalf("rows cut to %d of %d bytes decoded without error", n, len(e.b))
		}
	}
	for _, v := range []byte{0, 3, 255} {
		b := append([]byte{v}, e.b[1:]...)
		if _, err := decodeRows(0, b); err == nil {
			t.Fatalf("version %d decoded without error", v)
		}
	}
}

func FuzzDecodeRows(f *testing.F) {
	var e enc
	encodeRows(&e, testBlock(12), nil)
	f.Add(e.b)
	if v1, err := os.ReadFile("testdata/rows-v1.bin"); err == nil {
		f.Add(v1)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		br, err := decodeRows(0, b)
		if err != nil {
			return
		}
		for _, r := range br.rows {
			if r.op >= len(br.ops) || r.res >= len(br.res) {
				t.Fatalf("row names operation %d of %d, resource %d of %d", r.op, len(br.ops), r.res, len(br.res))
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
		scratch = encodeRows(&e, spans, scratch)
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
