package store

import (
	"bytes"
	"testing"
	"time"
)

// TestSketchDeltaEncoding: a SketchDelta encodes as a DenseSketch that saw
// the same durations, in any order, with some taken back and some merged.
func TestSketchDeltaEncoding(t *testing.T) {
	f := func(name string, ds []time.Duration, back []time.Duration) {
		t.Helper()
		var dense DenseSketch
		var delta, other SketchDelta
		for i, d := range ds {
			dense.AddN(d, 1)
			if i%2 == 0 {
				delta.AddN(d, 1)
			} else {
				other.AddN(d, 1)
			}
		}
		for _, d := range back {
			dense.AddN(d, -1)
			delta.AddN(d, -1)
		}
		delta.Merge(&other)
		want, _ := dense.AppendBinary(nil)
		got := delta.AppendBinary(nil)
		if !bytes.Equal(got, want) {
			t.Errorf("%s: encoded %x, want %x", name, got, want)
		}
		if again := delta.AppendBinary(nil); !bytes.Equal(again, want) {
			t.Errorf("%s: encoded again %x, want %x", name, again, want)
		}
	}
	f("empty", nil, nil)
	f("zero durations", []time.Duration{0, 0, -1}, nil)
	f("one", []time.Duration{time.Millisecond}, nil)
	f("unsorted repeats", []time.Duration{5 * time.Second, time.Microsecond, 5 * time.Second, 3 * time.Millisecond, time.Microsecond, 0}, nil)
	f("taken back to nothing", []time.Duration{time.Millisecond, 2 * time.Millisecond}, []time.Duration{time.Millisecond})
	var many []time.Duration
	for i := 1; i <= 2000; i++ {
		many = append(many, time.Duration(i*i)*time.Microsecond)
	}
	f("many", many, many[:100])
}

// TestSketchDeltaMergesStayBounded: a delta that sums many others keeps a
// bounded number of bucket entries, not one per duration, and encodes as a
// DenseSketch that saw every duration; so does a DenseSketch that added
// each delta (AddDelta, as the RED series pending a flush do).
func TestSketchDeltaMergesStayBounded(t *testing.T) {
	var dense, viaDeltas DenseSketch
	var sum SketchDelta
	for w := range 10_000 {
		var d SketchDelta
		for i := range 50 {
			dur := time.Duration((w*50+i)%300+1) * time.Millisecond
			d.AddN(dur, 1)
			dense.AddN(dur, 1)
		}
		d.AddN(0, 1)
		dense.AddN(0, 1)
		viaDeltas.AddDelta(&d)
		sum.Merge(&d)
		if len(sum.buckets) > 2*sum.summed+compactSlack+50 {
			t.Fatalf("after %d merges: %d bucket entries, %d distinct when last summed", w+1, len(sum.buckets), sum.summed)
		}
	}
	want, _ := dense.AppendBinary(nil)
	if got := sum.AppendBinary(nil); !bytes.Equal(got, want) {
		t.Errorf("encoded %x, want %x", got, want)
	}
	if got, _ := viaDeltas.AppendBinary(nil); !bytes.Equal(got, want) || viaDeltas.Count() != dense.Count() {
		t.Errorf("dense sketch of the deltas: %d durations, encoded %x; want %d, %x", viaDeltas.Count(), got, dense.Count(), want)
	}
}
