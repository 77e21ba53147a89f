package chart

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkScatterHTML draws the search scatter's largest case: 10,000
// dots over an hour, every fourth an error, as the traces page does.
func BenchmarkScatterHTML(b *testing.B) {
	t0 := time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)
	c := Chart{ID: "trace-scatter", Width: 1200, Height: 260, From: t0, To: t0.Add(time.Hour), Unit: Duration, Selectable: true,
		Summary: "10000 traces found", Dots: make([]Dot, 10_000)}
	for i := range c.Dots {
		d := time.Duration(5+(i*37)%495) * time.Millisecond
		c.Dots[i] = Dot{T: t0.Add(time.Hour - time.Duration(i)*300*time.Millisecond), V: float64(d), Error: i%4 == 0,
			Href: fmt.Sprintf("/p/default/traces/be%06x000000000000000000000000", i), Group: "bench: GET /bench"}
	}
	b.ReportAllocs()
	var n int
	for b.Loop() {
		n = len(c.HTML())
	}
	b.ReportMetric(float64(n), "bytes/page")
}
