package tracetree

import (
	"math/rand/v2"
	"strconv"
	"testing"
)

// BenchmarkBuild lays out a 10,000-span trace of random fan-out, the size
// of a large batch job.
func BenchmarkBuild(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 8))
	tr := make(trace, 10_000)
	for i := range tr {
		tr[i] = span{id: "s" + strconv.Itoa(i), start: rng.Int64N(1e9)}
		if i > 0 {
			tr[i].parent = tr[rng.IntN(i)].id
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		Build(tr)
	}
}
