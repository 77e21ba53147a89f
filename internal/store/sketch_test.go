package store

import (
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
