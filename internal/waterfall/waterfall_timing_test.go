package waterfall

import (
	"io"
	"math/rand/v2"
	"testing"
)

// BenchmarkRender draws a 10,000-span trace, the size of a large batch job.
func BenchmarkRender(b *testing.B) {
	tr := randomTrace(rand.New(rand.NewPCG(7, 8)), 10_000)
	b.ReportAllocs()
	for b.Loop() {
		if err := Render(io.Discard, tr, Options{Width: 120}); err != nil {
			b.Fatal(err)
		}
	}
}
