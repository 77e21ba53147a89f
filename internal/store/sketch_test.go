package store

import (
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestSketchEncoding: a sketch encoded, merged back into either form, and
// summed with another gives the quantiles of all the durations together;
// taking durations back undoes them.
func TestSketchEncoding(t *testing.T) {
	var a, b, all DurationSketch
	for i := 1; i <= 1000; i++ {
		d := time.Duration(i) * time.Millisecond
		if i%3 == 0 {
			d = time.Duration(i) * time.Microsecond
		}
		if i%2 == 0 {
			a.Add(d)
		} else {
			b.Add(d)
		}
		all.Add(d)
	}
	a.Add(0)
	all.Add(0)
	encA, _ := a.AppendBinary(nil)
	encB, _ := b.AppendBinary(nil)
	qs := []float64{0, 0.5, 0.95, 0.99, 1}
	want := all.Quantiles(qs...)

	var merged DurationSketch
	rest, err := merged.MergeBinary(append(encA, 0xff))
	if err != nil || len(rest) != 1 {
		t.Fatalf("MergeBinary: rest %v, %v", rest, err)
	}
	merged.Merge(&b)
	if got := merged.Quantiles(qs...); !slices.Equal(got, want) || merged.Count() != all.Count() {
		t.Errorf("DurationSketch merged: %v (n=%d), want %v (n=%d)", got, merged.Count(), want, all.Count())
	}

	var dense DenseSketch
	for _, enc := range [][]byte{encB, encA} {
		if _, err := dense.MergeBinary(enc); err != nil {
			t.Fatal(err)
		}
	}
	sk := dense.Sketch()
	if got := sk.Quantiles(qs...); !slices.Equal(got, want) || dense.Count() != all.Count() {
		t.Errorf("DenseSketch: %v (n=%d), want %v", got, dense.Count(), want)
	}
	encDense, _ := dense.AppendBinary(nil)
	encAll, _ := all.AppendBinary(nil)
	if !slices.Equal(encDense, encAll) {
		t.Errorf("the two forms encode the same durations differently")
	}

	dense.AddN(5*time.Second, 3)
	dense.AddN(5*time.Second, -3)
	dense.AddN(time.Nanosecond, 1)
	dense.AddN(time.Nanosecond, -1)
	if enc, _ := dense.AppendBinary(nil); !slices.Equal(enc, encAll) {
		t.Errorf("durations added and taken back leave a trace")
	}

	for _, bad := range [][]byte{nil, {0}, {0, 5, 2}, {0, 1, 0xff, 0xff, 0xff, 0xff, 0x0f, 2}} {
		if _, err := new(DenseSketch).MergeBinary(bad); err == nil {
			t.Errorf("MergeBinary(%x) took corrupt bytes", bad)
		}
		if _, err := new(DurationSketch).MergeBinary(bad); err == nil {
			t.Errorf("DurationSketch.MergeBinary(%x) took corrupt bytes", bad)
		}
	}
}

// TestDenseSketchSums: a DenseSketch summing sketches of durations over
// ranges that widen it on either side, by Merge, MergeBinary and
// MergeBinaryAll, and reused after Reset, encodes what a DurationSketch of
// the same durations encodes.
func TestDenseSketchSums(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var sum DenseSketch
	for round := range 30 {
		sum.Reset()
		var want DurationSketch
		for part := range 1 + r.IntN(6) {
			var sparse DurationSketch
			var dense DenseSketch
			scale := time.Duration(1+r.IntN(1000)) * time.Microsecond
			for range r.IntN(300) {
				d := time.Duration(r.ExpFloat64() * float64(scale))
				if r.IntN(30) == 0 {
					d = 0
				}
				sparse.Add(d)
				dense.AddN(d, 1)
				want.Add(d)
			}
			enc, _ := sparse.AppendBinary(nil)
			switch part % 3 {
			case 0:
				sum.Merge(&dense)
			case 1:
				if rest, err := sum.MergeBinary(append(enc, 7)); err != nil || len(rest) != 1 {
					t.Fatalf("round %d: MergeBinary: rest %x, %v", round, rest, err)
				}
			case 2:
				if err := sum.MergeBinaryAll(enc); err != nil {
					t.Fatalf("round %d: MergeBinaryAll: %v", round, err)
				}
			}
		}
		got, _ := sum.AppendBinary(nil)
		if enc, _ := want.AppendBinary(nil); !slices.Equal(got, enc) || sum.Count() != want.Count() {
			t.Fatalf("round %d: sum encodes %x (n=%d), want %x (n=%d)", round, got, sum.Count(), enc, want.Count())
		}
	}
}

// TestDenseSketchRefusesCorrupt: bytes that fail to decode part of the way
// through, or that follow a sketch MergeBinaryAll reads, leave the sum as
// it was.
func TestDenseSketchRefusesCorrupt(t *testing.T) {
	var base DenseSketch
	for i := 1; i <= 50; i++ {
		base.AddN(time.Duration(i*i)*time.Microsecond, int64(i))
	}
	want, _ := base.AppendBinary(nil)
	var other DurationSketch
	for i := 1; i <= 20; i++ {
		other.Add(time.Duration(i) * time.Second)
	}
	good, _ := other.AppendBinary(nil)
	// Bucket deltas that run past the largest index after a few buckets.
	past := binary.AppendUvarint(binary.AppendVarint(nil, 1), 4)
	for _, dk := range []int64{5, 7, int64(maxSketchIndex)} {
		past = binary.AppendVarint(binary.AppendVarint(past, dk), 3)
	}
	for _, bad := range [][]byte{good[:len(good)-1], past, append(good[:len(good):len(good)], 0)} {
		sum := base
		sum.counts = slices.Clone(base.counts)
		if err := sum.MergeBinaryAll(bad); err == nil {
			t.Fatalf("MergeBinaryAll(%x) took corrupt bytes", bad)
		}
		if got, _ := sum.AppendBinary(nil); !slices.Equal(got, want) || sum.Count() != base.Count() {
			t.Fatalf("refusing %x changed the sum to %x, was %x", bad, got, want)
		}
	}
}
