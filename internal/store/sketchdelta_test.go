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
