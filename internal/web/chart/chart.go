// Package chart draws the dashboard's charts as SVG on the server: time
// axes with UTC tick labels, value axes (linear or logarithmic, counts,
// percentages or durations), lines, bars, dots, reference rules, a legend
// and a table of the numbers as the chart's text alternative. The bucket
// width of time series is not chosen here but by api.AutoStep, the one rule
// the API and the pages share.
//
// It owns geometry and markup only: it reads no data (the pages in package
// web do) and runs no script. static/charts.js adds drag-to-select to a
// chart marked Selectable, and to a scatter its hover text and links, read
// from the dots' JSON data block (a script element of a data type, which
// the Content-Security-Policy lets be since it never runs). Every string
// from outside (names, titles, links) is escaped here; numbers are
// formatted here. Shapes are placed by SVG attributes and coloured by
// classes of static/app.css, so that the pages keep their
// Content-Security-Policy without inline styles.
package chart

import (
	"encoding/json"
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Unit is what the numbers of a value axis are.
type Unit int

const (
	// Number is a count or a rate; the chart's YLabel names its unit.
	Number Unit = iota
	// Percent is a percentage, 0 to 100.
	Percent
	// Duration is nanoseconds, labelled ns, µs, ms or s.
	Duration
)

// Point is one value of a line at a time; a NaN value is a gap.
type Point struct {
	T time.Time
	V float64
}

// Line is a series drawn as a polyline. Class colours it (app.css).
type Line struct {
	Name   string
	Class  string
	Points []Point
}

// Bar is a bar over [Start, End) up to V. Note, when set, is added to its
// tooltip and to the table (such as "throttled"); Class marks it.
type Bar struct {
	Start, End time.Time
	V          float64
	Class      string
	Note       string
}

// Dot is one point of a scatter plot: a blue circle, or a red triangle
// when Error. With static/charts.js, hovering it shows its hover text and
// clicking it opens Href; without script the page must link Href
// elsewhere. The hover text is Group, V in the chart's unit, T to the
// millisecond in UTC and, when Error, "error", joined by " · " (Group left
// out when ""): "checkout: GET /cart · 12.5ms · 15:04:05.123 UTC". Group is
// what many dots share (a trace's root service and operation), written
// once in the page for all of them.
type Dot struct {
	T     time.Time
	V     float64
	Error bool
	Href  string
	Group string
}

// Rule is a horizontal reference line at V, labelled Name.
type Rule struct {
	V     float64
	Name  string
	Class string
}

// Shape is how a legend item is drawn.
type Shape string

// Legend item shapes.
const (
	ShapeLine     Shape = "line"
	ShapeDashed   Shape = "dashed"
	ShapeBar      Shape = "bar"
	ShapeCircle   Shape = "circle"
	ShapeTriangle Shape = "triangle"
)

// LegendItem names what a colour and shape mean.
type LegendItem struct {
	Name  string
	Class string
	Shape Shape
}

// Chart is one chart over the time range [From, To).
type Chart struct {
	// ID is the figure's element id; Label its accessible name, what the
	// chart shows ("checkout: request and error rate").
	ID, Label string
	// Width and Height are the SVG's user units; it is drawn at this size
	// at most and shrinks with the window.
	Width, Height int
	From, To      time.Time
	// Step is the bucket width of Lines and Bars, for the table and the
	// hover bands.
	Step time.Duration
	Unit Unit
	// Log draws the value axis on a logarithmic scale.
	Log bool
	// YLabel says what the values are and their unit ("requests / s").
	YLabel string
	Lines  []Line
	Bars   []Bar
	// BarName heads the bars' column in the table.
	BarName string
	Dots    []Dot
	Rules   []Rule
	Legend  []LegendItem
	// Selectable lets static/charts.js select a time range by dragging.
	Selectable bool
	// Summary is the text alternative of a chart whose numbers are listed
	// elsewhere (a scatter plot above its results); when set, no table.
	Summary string
}

// Margins of the plot area inside the SVG, in user units.
const (
	marginLeft   = 64
	marginRight  = 18
	marginTop    = 14
	marginBottom = 30
	tickSpacing  = 100 // user units per time tick, at least
)

// geometry maps times and values to user units.
type geometry struct {
	x0, x1, y0, y1 float64 // plot area: x0 left, y0 top
	from, to       int64
	vmin, vmax     float64
	log            bool
}

func (g *geometry) x(t time.Time) float64 {
	if g.to == g.from {
		return g.x0
	}
	f := float64(t.UnixNano()-g.from) / float64(g.to-g.from)
	return g.x0 + min(max(f, 0), 1)*(g.x1-g.x0)
}

func (g *geometry) y(v float64) float64 {
	var f float64
	if g.log {
		v = max(v, g.vmin)
		f = (math.Log10(v) - math.Log10(g.vmin)) / (math.Log10(g.vmax) - math.Log10(g.vmin))
	} else {
		f = (v - g.vmin) / (g.vmax - g.vmin)
	}
	return g.y1 - min(max(f, 0), 1)*(g.y1-g.y0)
}

// dataRange is the smallest and largest value drawn, and the smallest
// positive one (for a logarithmic axis).
func (c *Chart) dataRange() (lo, hi, pos float64) {
	lo, hi, pos = math.Inf(1), math.Inf(-1), math.Inf(1)
	see := func(v float64) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return
		}
		lo, hi = min(lo, v), max(hi, v)
		if v > 0 {
			pos = min(pos, v)
		}
	}
	for _, l := range c.Lines {
		for _, p := range l.Points {
			see(p.V)
		}
	}
	for _, b := range c.Bars {
		see(b.V)
	}
	for _, d := range c.Dots {
		see(d.V)
	}
	for _, r := range c.Rules {
		see(r.V)
	}
	return lo, hi, pos
}

func (c *Chart) geometry() (geometry, []Tick) {
	w, h := c.size()
	g := geometry{x0: marginLeft, x1: float64(w - marginRight), y0: marginTop, y1: float64(h - marginBottom),
		from: c.From.UnixNano(), to: c.To.UnixNano(), log: c.Log}
	_, hi, pos := c.dataRange()
	var ticks []Tick
	if c.Log {
		g.vmin, g.vmax, ticks = LogTicks(pos, hi, c.Unit)
	} else {
		g.vmin, g.vmax, ticks = LinearTicks(0, hi, 5, c.Unit)
	}
	return g, ticks
}

func (c *Chart) size() (int, int) {
	w, h := c.Width, c.Height
	if w <= 0 {
		w = 600
	}
	if h <= 0 {
		h = 220
	}
	return w, h
}

// HTML renders the chart as a figure: its legend, the SVG and its text
// alternative.
func (c *Chart) HTML() template.HTML {
	var b strings.Builder
	b.Grow(1024 + 160*len(c.Dots) + 120*len(c.Bars)) // a dot: its path and its data
	w, h := c.size()
	g, yticks := c.geometry()
	b.WriteString(`<figure class="ch"`)
	attr(&b, "id", c.ID)
	b.WriteString(`>`)
	c.writeLegend(&b)
	b.WriteString(`<div class="ch-box"><svg class="ch-svg" xmlns="http://www.w3.org/2000/svg" role="img"`)
	attr(&b, "aria-label", c.Label)
	attr(&b, "viewBox", "0 0 "+strconv.Itoa(w)+" "+strconv.Itoa(h))
	attr(&b, "width", strconv.Itoa(w))
	attr(&b, "height", strconv.Itoa(h))
	if c.Selectable {
		attr(&b, "data-from", strconv.FormatInt(c.From.UnixMilli(), 10))
		attr(&b, "data-to", strconv.FormatInt(c.To.UnixMilli(), 10))
		attr(&b, "data-x0", num(g.x0))
		attr(&b, "data-x1", num(g.x1))
	}
	b.WriteString(`>`)
	if c.Selectable {
		// Behind the data, so that dots stay clickable; drags start here.
		b.WriteString(`<rect class="ch-drag"`)
		rectAttrs(&b, g.x0, g.y0, g.x1-g.x0, g.y1-g.y0)
		b.WriteString(`/><rect class="ch-sel"`)
		rectAttrs(&b, g.x0, g.y0, 0, g.y1-g.y0)
		b.WriteString(`/>`)
	}
	c.writeAxes(&b, &g, yticks)
	c.writeBars(&b, &g)
	c.writeLines(&b, &g)
	c.writeRules(&b, &g)
	c.writeDots(&b, &g)
	b.WriteString(`</svg></div>`)
	c.writeDotData(&b, &g)
	c.writeTable(&b)
	b.WriteString(`</figure>`)
	return template.HTML(b.String())
}

func (c *Chart) writeLegend(b *strings.Builder) {
	if len(c.Legend) == 0 && c.YLabel == "" {
		return
	}
	b.WriteString(`<figcaption class="ch-head">`)
	if c.YLabel != "" {
		b.WriteString(`<span class="ch-unit">`)
		text(b, c.YLabel)
		b.WriteString(`</span>`)
	}
	if len(c.Legend) > 0 {
		b.WriteString(`<ul class="ch-legend">`)
		for _, it := range c.Legend {
			b.WriteString(`<li><svg class="ch-key" viewBox="0 0 18 12" width="18" height="12" aria-hidden="true">`)
			cls := func(extra string) { attr(b, "class", strings.TrimSpace(extra+" "+it.Class)) }
			switch it.Shape {
			case ShapeBar:
				b.WriteString(`<rect x="2" y="1" width="14" height="10"`)
				cls("ch-bar")
			case ShapeCircle:
				b.WriteString(`<circle cx="9" cy="6" r="4"`)
				cls("ch-dot")
			case ShapeTriangle:
				b.WriteString(`<path d="M9 1L14 10H4Z"`)
				cls("ch-dot ch-err")
			case ShapeDashed:
				b.WriteString(`<line x1="1" y1="6" x2="17" y2="6"`)
				cls("ch-rule")
			default:
				b.WriteString(`<line x1="1" y1="6" x2="17" y2="6"`)
				cls("ch-line")
			}
			b.WriteString(`/></svg>`)
			text(b, it.Name)
			b.WriteString(`</li>`)
		}
		b.WriteString(`</ul>`)
	}
	b.WriteString(`</figcaption>`)
}

func (c *Chart) writeAxes(b *strings.Builder, g *geometry, yticks []Tick) {
	b.WriteString(`<g class="ch-axis ch-y">`)
	for _, t := range yticks {
		y := g.y(t.V)
		b.WriteString(`<line class="ch-grid" x1="` + num(g.x0) + `" x2="` + num(g.x1) + `" y1="` + num(y) + `" y2="` + num(y) + `"/>`)
		b.WriteString(`<text x="` + num(g.x0-6) + `" y="` + num(y+4) + `" text-anchor="end">`)
		text(b, t.Label)
		b.WriteString(`</text>`)
	}
	b.WriteString(`</g><g class="ch-axis ch-x">`)
	b.WriteString(`<line class="ch-base" x1="` + num(g.x0) + `" x2="` + num(g.x1) + `" y1="` + num(g.y1) + `" y2="` + num(g.y1) + `"/>`)
	maxTicks := max(int((g.x1-g.x0)/tickSpacing), 2)
	for i, t := range TimeTicks(c.From, c.To, maxTicks) {
		x := g.x(t.T)
		b.WriteString(`<line class="ch-tick" x1="` + num(x) + `" x2="` + num(x) + `" y1="` + num(g.y1) + `" y2="` + num(g.y1+4) + `"/>`)
		b.WriteString(`<text`)
		if i%2 == 1 {
			b.WriteString(` class="ch-odd"`) // hidden on narrow windows
		}
		b.WriteString(` x="` + num(x) + `" y="` + num(g.y1+17) + `" text-anchor="middle">`)
		text(b, t.Label)
		b.WriteString(`</text>`)
	}
	b.WriteString(`<text class="ch-zone" x="` + num(g.x1) + `" y="` + num(g.y1+28) + `" text-anchor="end">UTC</text></g>`)
}

func (c *Chart) writeLines(b *strings.Builder, g *geometry) {
	for _, l := range c.Lines {
		b.WriteString(`<path`)
		attr(b, "class", strings.TrimSpace("ch-line "+l.Class))
		b.WriteString(` d="`)
		pen := false
		for i, p := range l.Points {
			if math.IsNaN(p.V) {
				pen = false
				continue
			}
			if pen {
				b.WriteString(`L`)
			} else {
				b.WriteString(`M`)
			}
			b.WriteString(num(g.x(p.T)) + " " + num(g.y(p.V)))
			if !pen && (i+1 == len(l.Points) || math.IsNaN(l.Points[i+1].V)) {
				b.WriteString(`h0`) // a lone value: a dot, by the round line cap
			}
			pen = true
		}
		b.WriteString(`"/>`)
	}
	if len(c.Lines) == 0 || c.Step <= 0 {
		return
	}
	// Hover bands: one per bucket, its tooltip every line's value there.
	b.WriteString(`<g class="ch-bands">`)
	for i, p := range c.Lines[0].Points {
		x0, x1 := g.x(p.T), g.x(p.T.Add(c.Step))
		b.WriteString(`<rect`)
		attr(b, "data-i", strconv.Itoa(i))
		rectAttrs(b, x0, g.y0, max(x1-x0, 0.5), g.y1-g.y0)
		b.WriteString(`><title>`)
		text(b, bucketLabel(p.T, c.Step))
		for _, l := range c.Lines {
			if i < len(l.Points) {
				text(b, "\n"+l.Name+": "+c.format(l.Points[i].V))
			}
		}
		b.WriteString(`</title></rect>`)
	}
	b.WriteString(`</g>`)
}

func (c *Chart) writeBars(b *strings.Builder, g *geometry) {
	if len(c.Bars) == 0 {
		return
	}
	b.WriteString(`<g class="ch-bars">`)
	for _, bar := range c.Bars {
		x0, x1 := g.x(bar.Start), g.x(bar.End)
		w := max(x1-x0-1, 0.5) // a gap between neighbours
		y := g.y(bar.V)
		b.WriteString(`<rect`)
		attr(b, "class", strings.TrimSpace("ch-bar "+bar.Class))
		attr(b, "data-v", num(bar.V))
		rectAttrs(b, x0, y, w, g.y1-y)
		b.WriteString(`><title>`)
		t := bucketLabel(bar.Start, bar.End.Sub(bar.Start)) + "\n" + c.BarName + ": " + c.format(bar.V)
		if bar.Note != "" {
			t += " (" + bar.Note + ")"
		}
		text(b, t)
		b.WriteString(`</title></rect>`)
	}
	b.WriteString(`</g>`)
}

func (c *Chart) writeRules(b *strings.Builder, g *geometry) {
	for _, r := range c.Rules {
		y := g.y(r.V)
		b.WriteString(`<g`)
		attr(b, "class", strings.TrimSpace("ch-rule "+r.Class))
		attr(b, "data-v", num(r.V))
		b.WriteString(`><line x1="` + num(g.x0) + `" x2="` + num(g.x1) + `" y1="` + num(y) + `" y2="` + num(y) + `"/>`)
		b.WriteString(`<text x="` + num(g.x1-4) + `" y="` + num(y-5) + `" text-anchor="end">`)
		text(b, r.Name)
		b.WriteString(`</text><title>`)
		text(b, r.Name)
		b.WriteString(`</title></g>`)
	}
}

// dotRadius is a circle dot's radius; a triangle is as wide as a circle
// and a little taller.
const dotRadius = 3.5

// writeDots draws the scatter's dots as one path per shape: circles (two
// arcs each) and error triangles. Ten thousand links with a title each
// took the browser half a second to build; two paths take a few
// milliseconds. Hover text and links live in the data block (writeDotData)
// that static/charts.js reads. Coordinates are written in tenths of a unit
// (appendTenths), as the data block holds them, without an allocation each.
func (c *Chart) writeDots(b *strings.Builder, g *geometry) {
	if len(c.Dots) == 0 {
		return
	}
	var errs int
	for _, d := range c.Dots {
		if d.Error {
			errs++
		}
	}
	buf := make([]byte, 0, 64)
	b.WriteString(`<g class="ch-dots"><path class="ch-dot"`)
	attr(b, "data-n", strconv.Itoa(len(c.Dots)-errs))
	b.WriteString(` d="`)
	for _, d := range c.Dots {
		if !d.Error {
			x, y := tenths(g.x(d.T)), tenths(g.y(d.V))
			buf = append(buf[:0], 'M')
			buf = appendTenths(buf, x-10*dotRadius)
			buf = append(buf, ' ')
			buf = appendTenths(buf, y)
			buf = append(buf, "a3.5 3.5 0 1 0 7 0 3.5 3.5 0 1 0-7 0"...)
			b.Write(buf)
		}
	}
	b.WriteString(`"/><path class="ch-dot ch-err"`)
	attr(b, "data-n", strconv.Itoa(errs))
	b.WriteString(` d="`)
	for _, d := range c.Dots {
		if d.Error {
			x, y := tenths(g.x(d.T)), tenths(g.y(d.V))
			buf = append(buf[:0], 'M')
			buf = appendTenths(buf, x)
			buf = append(buf, ' ')
			buf = appendTenths(buf, y-50)
			buf = append(buf, "l4.5 8h-9z"...)
			b.Write(buf)
		}
	}
	b.WriteString(`"/></g>`)
}

// dotData is the data block of a scatter, small numbers rather than text
// so that the browser parses ten thousand dots in a few milliseconds and
// keeps few objects. For dot i:
//   - its position in the SVG's user units is X/10 and Y/10, where X is
//     the sum of x[0..i] (each x the change from the previous dot's, in
//     tenths) and Y is y[i] (in tenths);
//   - its time is the sum of t[0..i] in Unix milliseconds (each the change
//     from the previous dot's);
//   - its value as text is labels[v[i]], in the chart's unit;
//   - its group is groups[g[i]] (-1 for none); err lists the error dots;
//   - its link is base + ids[i*w : (i+1)*w] when every link's rest after
//     their common prefix base is ASCII of one width w (trace IDs), else
//     base + href[i].
//
// static/charts.js builds the hover text from these (see Dot).
type dotData struct {
	X      []int64  `json:"x"`
	Y      []int64  `json:"y"`
	T      []int64  `json:"t"`
	V      []int    `json:"v"`
	Labels []string `json:"labels"`
	Err    []int    `json:"err"`
	G      []int    `json:"g"`
	Groups []string `json:"groups"`
	Base   string   `json:"base"`
	W      int      `json:"w,omitempty"`
	IDs    string   `json:"ids,omitempty"`
	Href   []string `json:"href,omitempty"`
}

// writeDotData writes the dots as JSON in a script element that never
// runs (its type is data), for static/charts.js to find the dot under the
// pointer. encoding/json escapes <, > and & in strings, so no name can
// close the element.
func (c *Chart) writeDotData(b *strings.Builder, g *geometry) {
	if len(c.Dots) == 0 {
		return
	}
	n := len(c.Dots)
	dd := dotData{X: make([]int64, n), Y: make([]int64, n), T: make([]int64, n), V: make([]int, n), Labels: []string{},
		Err: []int{}, G: make([]int, n), Groups: []string{}}
	dd.Base = c.Dots[0].Href
	group, label := map[string]int{}, map[float64]int{}
	var px, pt int64
	for i, d := range c.Dots {
		dd.G[i] = -1
		if d.Group != "" {
			k, ok := group[d.Group]
			if !ok {
				k = len(dd.Groups)
				group[d.Group] = k
				dd.Groups = append(dd.Groups, d.Group)
			}
			dd.G[i] = k
		}
		k, ok := label[d.V]
		if !ok {
			k = len(dd.Labels)
			label[d.V] = k
			dd.Labels = append(dd.Labels, c.format(d.V))
		}
		dd.V[i] = k
		x, t := tenths(g.x(d.T)), d.T.UnixMilli()
		dd.X[i], dd.Y[i], dd.T[i] = x-px, tenths(g.y(d.V)), t-pt
		px, pt = x, t
		if d.Error {
			dd.Err = append(dd.Err, i)
		}
		dd.Base = commonPrefix(dd.Base, d.Href)
	}
	dd.W = len(c.Dots[0].Href) - len(dd.Base)
	for _, d := range c.Dots {
		if len(d.Href)-len(dd.Base) != dd.W || !ascii(d.Href[len(dd.Base):]) {
			dd.W = 0
			break
		}
	}
	if dd.W > 0 {
		ids := make([]byte, 0, n*dd.W)
		for _, d := range c.Dots {
			ids = append(ids, d.Href[len(dd.Base):]...)
		}
		dd.IDs = string(ids)
	} else {
		dd.Href = make([]string, n)
		for i, d := range c.Dots {
			dd.Href[i] = d.Href[len(dd.Base):]
		}
	}
	js, err := json.Marshal(dd)
	if err != nil { // strings and integers always marshal
		return
	}
	b.WriteString(`<script type="application/json" class="ch-dot-data"`)
	if c.ID != "" {
		attr(b, "id", c.ID+"-dots")
	}
	b.WriteString(`>`)
	b.Write(js)
	b.WriteString(`</script>`)
}

// ascii reports whether s is printable ASCII, one byte a character in
// Go and one UTF-16 unit in script alike.
func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// commonPrefix is the longest common prefix of a and b, cut at a UTF-8
// character boundary.
func commonPrefix(a, b string) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	for i > 0 && i < len(a) && !utf8.RuneStart(a[i]) {
		i--
	}
	return a[:i]
}

// writeTable writes the numbers as a table in a closed details element:
// the chart's text alternative.
func (c *Chart) writeTable(b *strings.Builder) {
	if c.Summary != "" {
		b.WriteString(`<p class="ch-summary">`)
		text(b, c.Summary)
		b.WriteString(`</p>`)
		return
	}
	if len(c.Lines) == 0 && len(c.Bars) == 0 {
		return
	}
	b.WriteString(`<details class="ch-data"><summary>The numbers</summary><table class="list"><thead><tr><th>Start (UTC)</th>`)
	for _, l := range c.Lines {
		b.WriteString(`<th class="num">`)
		text(b, l.Name)
		b.WriteString(`</th>`)
	}
	if len(c.Bars) > 0 {
		b.WriteString(`<th class="num">`)
		text(b, c.BarName)
		b.WriteString(`</th><th></th>`)
	}
	b.WriteString(`</tr></thead><tbody>`)
	cell := func(v float64) {
		b.WriteString(`<td class="num"`)
		attr(b, "data-v", strconv.FormatFloat(v, 'g', -1, 64))
		b.WriteString(`>`)
		text(b, c.format(v))
		b.WriteString(`</td>`)
	}
	if len(c.Lines) > 0 {
		for i, p := range c.Lines[0].Points {
			b.WriteString(`<tr><td>` + p.T.UTC().Format("2006-01-02 15:04:05") + `</td>`)
			for _, l := range c.Lines {
				if i < len(l.Points) {
					cell(l.Points[i].V)
				} else {
					b.WriteString(`<td></td>`)
				}
			}
			b.WriteString(`</tr>`)
		}
	} else {
		for _, bar := range c.Bars {
			b.WriteString(`<tr><td>` + bar.Start.UTC().Format("2006-01-02 15:04:05") + `</td>`)
			cell(bar.V)
			b.WriteString(`<td>`)
			text(b, bar.Note)
			b.WriteString(`</td></tr>`)
		}
	}
	b.WriteString(`</tbody></table></details>`)
}

func (c *Chart) format(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	return FormatValue(v, c.Unit)
}

// bucketLabel names a bucket in tooltips: "12:00:00–12:00:30 UTC".
func bucketLabel(t time.Time, step time.Duration) string {
	layout := "15:04:05"
	if step >= 24*time.Hour {
		layout = "2006-01-02"
	} else if t.UTC().YearDay() != t.Add(step).UTC().YearDay() || step >= time.Hour {
		layout = "01-02 15:04"
	}
	return t.UTC().Format(layout) + "–" + t.Add(step).UTC().Format(layout) + " UTC"
}

// text writes s escaped for HTML text and attribute values alike.
func text(b *strings.Builder, s string) { template.HTMLEscape(b, []byte(s)) }

// attr writes name="value", the value escaped.
func attr(b *strings.Builder, name, value string) {
	b.WriteString(" " + name + `="`)
	text(b, value)
	b.WriteString(`"`)
}

func rectAttrs(b *strings.Builder, x, y, w, h float64) {
	b.WriteString(` x="` + num(x) + `" y="` + num(y) + `" width="` + num(w) + `" height="` + num(h) + `"`)
}

// num formats a coordinate to a tenth of a unit, enough at any zoom a
// screen offers and short for ten thousand dots.
func num(v float64) string {
	if math.IsNaN(v) || math.Abs(v) > 1e15 { // not a coordinate, but say so
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	return string(appendTenths(nil, tenths(v)))
}

// tenths is a coordinate in tenths of a unit, rounded.
func tenths(v float64) int64 { return int64(math.Round(v * 10)) }

// appendTenths appends t tenths as a decimal number: "12", "12.5", "-0.5".
func appendTenths(dst []byte, t int64) []byte {
	if t < 0 {
		dst = append(dst, '-')
		t = -t
	}
	dst = strconv.AppendInt(dst, t/10, 10)
	if f := t % 10; f != 0 {
		dst = append(dst, '.', byte('0'+f))
	}
	return dst
}
