package store

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestDenseSketchQuantiles: a DenseSketch reads the quantiles a
// DurationSketch of the same durations reads, in any order asked, also
// after a Reset.
func TestDenseSketchQuantiles(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var dense DenseSketch
	qs := []float64{0, 0.01, 0.5, 0.95, 0.99, 1}
	for round := range 20 {
		dense.Reset()
		var sparse DurationSketch
		for range 1 + r.IntN(500) {
			d := time.Duration(r.ExpFloat64() * float64(time.Duration(1+round)*time.Millisecond))
			if r.IntN(20) == 0 {
				d = 0
			}
			dense.AddN(d, 1)
			sparse.Add(d)
		}
		if got, want := dense.Quantiles(qs...), sparse.Quantiles(qs...); !slices.Equal(got, want) {
			t.Fatalf("round %d: dense %v, sparse %v", round, got, want)
		}
		// Out of order, the walk starts again.
		mixed := []float64{0.99, 0.5, 0.95, 0, 1}
		if got, want := dense.Quantiles(mixed...), sparse.Quantiles(mixed...); !slices.Equal(got, want) {
			t.Fatalf("round %d, quantiles out of order: dense %v, sparse %v", round, got, want)
		}
	}
	// Buckets taken below zero (more taken back than was added) are read
	// as a DurationSketch reads them.
	for round := range 20 {
		dense.Reset()
		var sparse DurationSketch
		for i := range 200 {
			d, n := time.Duration(1+r.IntN(100))*time.Millisecond, int64(1+r.IntN(3))
			if i%7 == round%7 {
				n = -1
			}
			dense.AddN(d, n)
			sparse.AddN(d, n)
		}
		if got, want := dense.Quantiles(qs...), sparse.Quantiles(qs...); !slices.Equal(got, want) {
			t.Fatalf("round %d with negative buckets: dense %v, sparse %v", round, got, want)
		}
	}
	// A bucket's count reaches the rank and the next takes it back below.
	dense.Reset()
	var sparse DurationSketch
	k := sketchIndex(time.Millisecond)
	for _, b := range []struct {
		k int32
		n int64
	}{{k, 10}, {k + 1, -9}, {k + 20, 100}} {
		dense.AddN(bucketValue(b.k), b.n)
		sparse.AddN(bucketValue(b.k), b.n)
	}
	if got, want := dense.Quantiles(0.05, 0.5), sparse.Quantiles(0.05, 0.5); !slices.Equal(got, want) {
		t.Fatalf("a bucket below zero: dense %v, sparse %v", got, want)
	}
	dense.Reset()
	if got := dense.Quantiles(0.5); got[0] != 0 || dense.Count() != 0 {
		t.Errorf("empty after Reset: %v, count %d", got, dense.Count())
	}
}
