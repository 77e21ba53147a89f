package store_test

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/tracekit-oss/tracekit/internal/store"
)

// The sketch's percentiles stay within 1% of the exact nearest-rank ones.
func TestDurationSketch(t *testing.T) {
	var empty store.DurationSketch
	if q := empty.Quantiles(0.5); q[0] != 0 || empty.Count() != 0 {
		t.Errorf("empty sketch: %v", q)
	}
	r := rand.New(rand.NewPCG(1, 2))
	var s store.DurationSketch
	var exact []time.Duration
	for range 100_000 {
		d := time.Duration(r.ExpFloat64() * float64(20*time.Millisecond))
		if r.IntN(100) == 0 {
			d = 0
		}
		s.Add(d)
		exact = append(exact, d)
	}
	slices.Sort(exact)
	qs := []float64{0.01, 0.5, 0.95, 0.99, 1}
	got := s.Quantiles(qs...)
	for i, q := range qs {
		want := exact[max(0, int(float64(len(exact))*q+0.999999)-1)]
		if diff := got[i] - want; diff > want/100 || -diff > want/100 {
			t.Errorf("p%v = %v, want %v within 1%%", q*100, got[i], want)
		}
	}
	if s.Count() != 100_000 {
		t.Errorf("Count = %d", s.Count())
	}
}
