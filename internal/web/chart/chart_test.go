package chart

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strings"
	"testing"
	"time"
)

func TestTimeTicks(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	f := func(from, to string, n int, want string) {
		t.Helper()
		var labels []string
		for _, tk := range TimeTicks(at(from), at(to), n) {
			labels = append(labels, tk.Label)
		}
		if got := strings.Join(labels, " "); got != want {
			t.Errorf("TimeTicks(%s, %s, %d) = %q, want %q", from, to, n, got, want)
		}
	}
	f("2026-01-02T15:04:07Z", "2026-01-02T15:19:07Z", 6, "15:05 15:10 15:15")
	f("2026-01-02T15:00:00Z", "2026-01-02T15:01:00Z", 6, "15:00:00 15:00:15 15:00:30 15:00:45 15:01:00")
	f("2026-01-02T20:00:00Z", "2026-01-03T04:00:00Z", 4, "21:00 01-03 00:00 03:00")
	f("2026-01-01T00:00:00Z", "2026-01-08T00:00:00Z", 8, "2026-01-01 2026-01-02 2026-01-03 2026-01-04 2026-01-05 2026-01-06 2026-01-07 2026-01-08")
	// Labels are UTC whatever zone the times carry.
	ny := time.FixedZone("UTC-5", -5*3600)
	got := TimeTicks(at("2026-01-02T15:00:00Z").In(ny), at("2026-01-02T15:30:00Z").In(ny), 3)
	if len(got) == 0 || got[0].Label != "15:00" {
		t.Errorf("ticks of a range in another zone: %v", got)
	}
	if TimeTicks(at("2026-01-02T15:00:00Z"), at("2026-01-02T15:00:00Z"), 5) != nil {
		t.Errorf("ticks of an empty range")
	}
}

func TestLinearTicks(t *testing.T) {
	f := func(hi float64, u Unit, wantMax float64, want string) {
		t.Helper()
		lo, top, ticks := LinearTicks(0, hi, 5, u)
		var labels []string
		for _, tk := range ticks {
			labels = append(labels, tk.Label)
		}
		if lo != 0 || top != wantMax || strings.Join(labels, " ") != want {
			t.Errorf("LinearTicks(0, %v) = [%v, %v] %q, want [0, %v] %q", hi, lo, top, labels, wantMax, want)
		}
	}
	f(9.3, Number, 10, "0 2 4 6 8 10")
	f(0.37, Number, 0.4, "0 0.1 0.2 0.3 0.4")
	f(0, Number, 1, "0 0.2 0.4 0.6 0.8 1")
	f(math.Inf(-1), Number, 1, "0 0.2 0.4 0.6 0.8 1") // no data
	f(23, Percent, 25, "0% 5% 10% 15% 20% 25%")
	f(float64(42*time.Millisecond), Duration, float64(50*time.Millisecond), "0 10ms 20ms 30ms 40ms 50ms")
	f(float64(1800*time.Millisecond), Duration, float64(2*time.Second), "0 500ms 1s 1.5s 2s")
	f(42000, Number, 50000, "0 10k 20k 30k 40k 50k")
}

func TestLogTicks(t *testing.T) {
	f := func(lo, hi float64, wantLo, wantHi float64, want string) {
		t.Helper()
		a, b, ticks := LogTicks(lo, hi, Duration)
		var labels []string
		for _, tk := range ticks {
			labels = append(labels, tk.Label)
		}
		if a != wantLo || b != wantHi || strings.Join(labels, " ") != want {
			t.Errorf("LogTicks(%v, %v) = [%v, %v] %q, want [%v, %v] %q", lo, hi, a, b, labels, wantLo, wantHi, want)
		}
	}
	ms := float64(time.Millisecond)
	f(3*ms, 40*ms, ms, 100*ms, "1ms 2ms 5ms 10ms 20ms 50ms 100ms")
	f(0.2*ms, 4000*ms, 0.1*ms, 10000*ms, "100µs 1ms 10ms 100ms 1s 10s")
	f(5*ms, 5*ms, ms, 10*ms, "1ms 2ms 5ms 10ms")
	f(math.Inf(1), math.Inf(-1), 1, 10, "1ns 2ns 5ns 10ns") // no data
}

func TestFormat(t *testing.T) {
	f := func(v float64, u Unit, want string) {
		t.Helper()
		if got := FormatValue(v, u); got != want {
			t.Errorf("FormatValue(%v, %v) = %q, want %q", v, u, got, want)
		}
	}
	f(0, Number, "0")
	f(0.0333, Number, "0.03")
	f(2.5, Number, "2.5")
	f(12.34, Number, "12.3")
	f(1234, Number, "1234")
	f(12345, Number, "12.3k")
	f(2.5e6, Number, "2.5M")
	f(33.333, Percent, "33.3%")
	f(float64(1500*time.Microsecond), Duration, "1.5ms")
	f(float64(250*time.Microsecond), Duration, "250µs")
	f(float64(90*time.Second), Duration, "90s")
	f(float64(800), Duration, "800ns")
	f(float64(5*time.Minute), Duration, "5m")
	f(float64(time.Hour), Duration, "1h")
}

// hostile are names that would be markup if a chart put them in unescaped.
var hostile = []string{`<script>alert(1)</script>`, `"><svg onload=alert(2)>`, `'&amp;<!--`, "]]></title><b>x</b>"}

func TestHostileNamesAreText(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)
	c := Chart{ID: hostile[1], Label: hostile[0], YLabel: hostile[2], From: t0, To: t0.Add(time.Minute), Step: 30 * time.Second,
		BarName: hostile[3], Selectable: true}
	for _, h := range hostile {
		c.Lines = append(c.Lines, Line{Name: h, Class: h, Points: []Point{{t0, 1}, {t0.Add(30 * time.Second), 2}}})
		c.Dots = append(c.Dots, Dot{T: t0, V: 3, Href: "/t/" + h, Group: h, Error: len(h)%2 == 0})
		c.Rules = append(c.Rules, Rule{V: 2, Name: h, Class: h})
		c.Legend = append(c.Legend, LegendItem{Name: h, Class: h})
	}
	c.Bars = []Bar{{Start: t0, End: t0.Add(30 * time.Second), V: 1, Note: hostile[0], Class: hostile[1]}}
	out := string(c.HTML())
	// Well-formed XML: every name stayed inside its text or attribute.
	dec := xml.NewDecoder(strings.NewReader(out))
	elems := map[string]int{}
	texts := ""
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("chart is not well-formed: %v\n%s", err, out)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			elems[tk.Name.Local]++
			for _, a := range tk.Attr {
				if strings.HasPrefix(a.Name.Local, "on") {
					t.Errorf("attribute %s: a name became a handler", a.Name.Local)
				}
			}
		case xml.CharData:
			texts += string(tk)
		}
	}
	if elems["b"] > 0 {
		t.Errorf("%d <b> elements: a name became markup", elems["b"])
	}
	// One script element: the dots' data, not run, its names JSON strings.
	if elems["script"] != 1 || strings.Count(out, `<script type="application/json" class="ch-dot-data"`) != 1 {
		t.Errorf("%d script elements, want the dots' data block only", elems["script"])
	}
	dd := dotDataOf(t, out)
	for i, h := range hostile {
		if dd.Groups[dd.G[i]] != h || dd.link(i) != "/t/"+h {
			t.Errorf("dot %d: group %q, link %q; want %q, %q", i, dd.Groups[dd.G[i]], dd.link(i), h, "/t/"+h)
		}
	}
	for _, h := range hostile {
		if !strings.Contains(texts, h) {
			t.Errorf("text %q missing from the chart's text", h)
		}
	}
}

func TestGeometry(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)
	c := Chart{Width: 600, Height: 220, From: t0, To: t0.Add(time.Hour), Unit: Duration, Log: true,
		Dots: []Dot{{T: t0, V: float64(time.Millisecond)}, {T: t0.Add(time.Hour), V: float64(100 * time.Millisecond)}}}
	g, _ := c.geometry()
	if x := g.x(t0); x != marginLeft {
		t.Errorf("x(from) = %v", x)
	}
	if x := g.x(t0.Add(time.Hour)); x != 600-marginRight {
		t.Errorf("x(to) = %v", x)
	}
	if x := g.x(t0.Add(2 * time.Hour)); x != 600-marginRight {
		t.Errorf("x past the range = %v, want clamped", x)
	}
	top, bottom := g.y(float64(100*time.Millisecond)), g.y(float64(time.Millisecond))
	mid := g.y(float64(10 * time.Millisecond))
	if top != marginTop || bottom != 220-marginBottom || math.Abs(mid-(top+bottom)/2) > 1e-9 {
		t.Errorf("log scale: y(100ms)=%v y(10ms)=%v y(1ms)=%v", top, mid, bottom)
	}
	if y := g.y(0); y != bottom {
		t.Errorf("log scale: y(0) = %v, want the bottom %v", y, bottom)
	}
}

func TestDotsAndTable(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)
	c := Chart{ID: "sc", From: t0, To: t0.Add(time.Minute), Unit: Duration, Summary: "three", Dots: []Dot{
		{T: t0, V: 1e6, Href: "/p/x/traces/a1"},
		{T: t0.Add(30*time.Second + 1500*time.Microsecond), V: 2e6, Error: true, Href: "/p/x/traces/b2", Group: "svc: op"},
		{T: t0.Add(time.Minute), V: 3e6, Href: "/p/x/traces/c3", Group: "svc: op"},
		{T: t0.Add(time.Minute), V: 3e6, Href: "/p/x/traces/c4", Group: "svc: op"}}}
	out := string(c.HTML())
	// Two paths, one per shape: three circles of two arcs each, a triangle.
	for _, want := range []string{
		`<path class="ch-dot" data-n="3" d="M60.5 131.3a3.5 3.5 0 1 0 7 0 3.5 3.5 0 1 0-7 0M578.5 14a3.5 3.5 0 1 0 7 0 3.5 3.5 0 1 0-7 0M578.5 14a3.5 3.5 0 1 0 7 0 3.5 3.5 0 1 0-7 0"/>`,
		`<path class="ch-dot ch-err" data-n="1" d="M323 67.7l4.5 8h-9z"/>`,
		`<script type="application/json" class="ch-dot-data" id="sc-dots">`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scatter lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "<a ") || strings.Contains(out, "<circle") {
		t.Errorf("scatter still draws an element per dot:\n%s", out)
	}
	// Positions and times as changes from the previous dot's, values and
	// groups written once, links of one width after their prefix in one
	// string.
	dd := dotDataOf(t, out)
	ms := t0.UnixMilli()
	want := dotData{X: []int64{640, 2590, 2590, 0}, Y: []int64{1313, 727, 140, 140}, T: []int64{ms, 30_001, 29_999, 0},
		V: []int{0, 1, 2, 2}, Labels: []string{"1ms", "2ms", "3ms"}, Err: []int{1}, G: []int{-1, 0, 0, 0}, Groups: []string{"svc: op"},
		Base: "/p/x/traces/", W: 2, IDs: "a1b2c3c4"}
	if fmt.Sprint(dd) != fmt.Sprint(want) {
		t.Errorf("dot data %+v, want %+v", dd, want)
	}
	for i, l := range []string{"/p/x/traces/a1", "/p/x/traces/b2", "/p/x/traces/c3", "/p/x/traces/c4"} {
		if dd.link(i) != l {
			t.Errorf("dot %d links %q, want %q", i, dd.link(i), l)
		}
	}
	// Links of several widths: one string each.
	c.Dots[3].Href = "/p/x/traces/c44"
	if dd := dotDataOf(t, string(c.HTML())); dd.IDs != "" || fmt.Sprint(dd.Href) != "[a1 b2 c3 c44]" || dd.link(3) != "/p/x/traces/c44" {
		t.Errorf("links of several widths: ids %q, href %q", dd.IDs, dd.Href)
	}
	if !strings.Contains(out, `role="img"`) || !strings.Contains(out, `<p class="ch-summary">three</p>`) || strings.Contains(out, "<table") {
		t.Errorf("text alternative of a scatter: %s", out)
	}
	c = Chart{From: t0, To: t0.Add(time.Minute), Step: 30 * time.Second, Lines: []Line{{Name: "rate", Points: []Point{{t0, 1.5}, {t0.Add(30 * time.Second), math.NaN()}}}}}
	out = string(c.HTML())
	for _, want := range []string{`<td class="num" data-v="1.5">1.5</td>`, `data-v="NaN">–</td>`, "<th class=\"num\">rate</th>", `d="M64 `, "<title>15:00:00–15:00:30 UTC\nrate: 1.5</title>"} {
		if !strings.Contains(out, want) {
			t.Errorf("line chart lacks %q:\n%s", want, out)
		}
	}
}

// link is dot i's link, as static/charts.js reads it.
func (dd *dotData) link(i int) string {
	if dd.W > 0 {
		return dd.Base + dd.IDs[i*dd.W:(i+1)*dd.W]
	}
	return dd.Base + dd.Href[i]
}

// dotDataOf reads the dots' data block of a chart's HTML.
func dotDataOf(t *testing.T, out string) dotData {
	t.Helper()
	_, js, ok := strings.Cut(out, `class="ch-dot-data"`)
	_, js, _ = strings.Cut(js, ">")
	js, _, ok2 := strings.Cut(js, "</script>")
	var dd dotData
	if err := json.Unmarshal([]byte(js), &dd); !ok || !ok2 || err != nil {
		t.Fatalf("no dot data block (%v) in %s", err, out)
	}
	return dd
}
