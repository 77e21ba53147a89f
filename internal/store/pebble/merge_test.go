package pebble

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pdb "github.com/cockroachdb/pebble/v2"

	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

func testRow(calls, errs int64, ds []time.Duration, traces ...byte) []byte {
	var r row
	r.calls, r.errors = calls, errs
	for _, d := range ds {
		r.sketch.AddN(d, calls/max(1, int64(len(ds))))
	}
	for _, t := range traces {
		r.note(telemetry.TraceID{t})
	}
	return r.encode(nil)
}

// mergeAll merges operands given newest first, the way an iterator does
// (MergeOlder) or a compaction may (MergeNewer, from the oldest).
func mergeAll(t *testing.T, key []byte, newestFirst [][]byte, older bool) []byte {
	t.Helper()
	m := newAggregateMerger(nil)
	first := newestFirst[0]
	rest := newestFirst[1:]
	if !older {
		first = newestFirst[len(newestFirst)-1]
		rest = newestFirst[:len(newestFirst)-1]
	}
	vm, err := m.Merge(key, first)
	if err != nil {
		t.Fatal(err)
	}
	for i := range rest {
		if older {
			err = vm.MergeOlder(rest[i])
		} else {
			err = vm.MergeNewer(rest[len(rest)-1-i])
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	v, _, err := vm.Finish(true)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestAggregateMergeAssociative: the sum of a row's deltas is the same in
// either direction and in any grouping, exemplars newest first; a negative
// delta takes a call back; a corrupt delta is left out.
func TestAggregateMergeAssociative(t *testing.T) {
	key := []byte{kindEdge, 0, 0, 0, 1}
	a := testRow(2, 1, []time.Duration{time.Millisecond}, 1, 2)
	b := testRow(1, 0, []time.Duration{time.Second}, 3)
	c := testRow(3, 0, []time.Duration{time.Millisecond, 0, 5 * time.Millisecond}, 4, 5, 6, 1)
	back := testRow(-1, 0, []time.Duration{time.Second}) // b taken back
	corrupt := []byte{0x80}
	ops := [][]byte{back, c, corrupt, b, a} // newest first

	want := mergeAll(t, key, ops, true)
	if got := mergeAll(t, key, ops, false); !bytes.Equal(got, want) {
		t.Fatalf("merged oldest first: %x, newest first: %x", got, want)
	}
	// A compaction that merges the older three, then a read.
	partial := mergeAll(t, key, ops[2:], false)
	if got := mergeAll(t, key, [][]byte{back, c, partial}, true); !bytes.Equal(got, want) {
		t.Fatalf("merged in two steps: %x, in one: %x", got, want)
	}

	var r row
	if err := r.mergeEncoded(want, false); err != nil {
		t.Fatal(err)
	}
	if r.calls != 5 || r.errors != 1 || r.sketch.Count() != 5 {
		t.Fatalf("calls %d, errors %d, sketch count %d; want 5, 1, 5", r.calls, r.errors, r.sketch.Count())
	}
	wantTraces := []telemetry.TraceID{{1}, {6}, {5}, {4}, {3}}
	if len(r.traces) != len(wantTraces) {
		t.Fatalf("traces %v, want %v", r.traces, wantTraces)
	}
	for i := range wantTraces {
		if r.traces[i] != wantTraces[i] {
			t.Fatalf("traces %v, want %v", r.traces, wantTraces)
		}
	}
}

// TestAggregateMergeOtherKeys: keys that are not aggregate rows keep
// Pebble's default merge, concatenation.
func TestAggregateMergeOtherKeys(t *testing.T) {
	got := mergeAll(t, []byte{kindTrace, 1}, [][]byte{[]byte("c"), []byte("b"), []byte("a")}, true)
	if string(got) != "abc" {
		t.Fatalf("merged %q, want %q", got, "abc")
	}
}

// FuzzRowMerge: no operand makes the merger panic, and one it refuses adds
// nothing to the row.
func FuzzRowMerge(f *testing.F) {
	f.Add(testRow(3, 1, []time.Duration{time.Millisecond, time.Hour}, 1, 2))
	f.Add(testRow(-1, 0, []time.Duration{time.Millisecond}))
	f.Add([]byte{0, 0, 0, 1, 0xfe, 0x3f, 2, 0})
	f.Fuzz(func(t *testing.T, v []byte) {
		base := testRow(2, 0, []time.Duration{time.Millisecond}, 9)
		var r row
		if err := r.mergeEncoded(base, false); err != nil {
			t.Fatal(err)
		}
		if err := r.mergeEncoded(v, true); err != nil {
			if got := r.encode(nil); !bytes.Equal(got, base) {
				t.Fatalf("a refused operand changed the row: %x, was %x", got, base)
			}
		}
		mergeAll(t, []byte{kindEdge}, [][]byte{v, base}, true)
		mergeAll(t, []byte{kindEdge}, [][]byte{base, v}, false)
	})
}

// TestOpenStoreWrittenWithoutMerger: a store whose OPTIONS and tables were
// written by a TraceKit without the merger (Pebble's default) opens, and
// its rows written whole add up with the deltas written after.
func TestOpenStoreWrittenWithoutMerger(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	db, err := pdb.Open(dir, &pdb.Options{Logger: quietLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	key := append(edgeKeyPrefix(nil, 20000, "p", granMinute), 0, 0, 0, 1)
	key = appendEdgeID(key, "a", "service", "b")
	if err := db.Set(key, testRow(2, 0, []time.Duration{time.Millisecond}, 1), pdb.Sync); err != nil {
		t.Fatal(err)
	}
	if err := db.Flush(); err != nil { // a table written under the default merger's name
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	opts, err := filepath.Glob(filepath.Join(dir, "OPTIONS-*"))
	if err != nil || len(opts) == 0 {
		t.Fatalf("no OPTIONS file: %v", err)
	}
	if b, _ := os.ReadFile(opts[len(opts)-1]); !strings.Contains(string(b), "merger="+pdb.DefaultMerger.Name) {
		t.Fatalf("OPTIONS do not name the default merger:\n%s", b)
	}

	for range 2 { // again once the store wrote its own OPTIONS
		st, err := Open(dir, Options{})
		if err != nil {
			t.Fatalf("open a store written without the merger: %v", err)
		}
		if err := st.db.Merge(key, testRow(1, 1, []time.Duration{time.Second}, 2), pdb.Sync); err != nil {
			t.Fatal(err)
		}
		if err := st.db.Compact(context.Background(), []byte{kindEdge}, []byte{kindEdge + 1}, true); err != nil {
			t.Fatal(err)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	}
	st, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	v, closer, err := st.db.Get(key)
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	var r row
	if err := r.mergeEncoded(v, false); err != nil {
		t.Fatal(err)
	}
	if r.calls != 4 || r.errors != 2 || len(r.traces) != 2 || r.traces[0] != (telemetry.TraceID{2}) {
		t.Fatalf("row: calls %d, errors %d, traces %v; want 4, 2, [2 1]", r.calls, r.errors, r.traces)
	}
}

type quietLogger struct{}

func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}
