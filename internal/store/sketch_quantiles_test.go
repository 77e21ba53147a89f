package store

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestDenseSketchQuantiles: a DenseSketch reads the quantiles a
// DurationSketch of the same durations reads, also after a Reset.
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
	}
	dense.Reset()
	if got := dense.Quantiles(0.5); got[0] != 0 || dense.Count() != 0 {
		t.Errorf("empty after Reset: %v, count %d", got, dense.Count())
	}
}
