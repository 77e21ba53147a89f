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
// elsewhere. The hover text is Group, " · " and Title, or Title alone
// when Group is "": Group is what many dots share (a trace's root service
// and operation), written once in the page for all of them.
type Dot struct {
	T     time.Time
	V     float64
	Error bool
	Href  string
	Group string
	Title string
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
// that static/charts.js reads.
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
	r := num(dotRadius)
	b.WriteString(`<g class="ch-dots"><path class="ch-dot"`)
	attr(b, "data-n", strconv.Itoa(len(c.Dots)-errs))
	b.WriteString(` d="`)
	for _, d := range c.Dots {
		if !d.Error {
			x, y := g.x(d.T), g.y(d.V)
			b.WriteString(`M` + num(x-dotRadius) + ` ` + num(y) + `a` + r + ` ` + r + ` 0 1 0 ` + num(2*dotRadius) + ` 0 ` + r + ` ` + r + ` 0 1 0 -` + num(2*dotRadius) + ` 0`)
		}
	}
	b.WriteString(`"/><path class="ch-dot ch-err"`)
	attr(b, "data-n", strconv.Itoa(errs))
	b.WriteString(` d="`)
	for _, d := range c.Dots {
		if d.Error {
			x, y := g.x(d.T), g.y(d.V)
			b.WriteString(`M` + num(x) + ` ` + num(y-5) + `l4.5 8h-9z`)
		}
	}
	b.WriteString(`"/></g>`)
}

// dotData is the data block of a scatter: each dot's position in the
// SVG's user units, its link (Base + Href[i]) and its hover text's parts
// (Groups[G[i]], -1 for none, and Title[i]). Ten thousand dots make the
// page: names are written once and links without their common prefix.
type dotData struct {
	X      []float64 `json:"x"`
	Y      []float64 `json:"y"`
	Err    []int     `json:"err"` // indices of the error dots
	Base   string    `json:"base"`
	Href   []string  `json:"href"`
	Groups []string  `json:"groups"`
	G      []int     `json:"g"`
	Title  []string  `json:"title"`
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
	dd := dotData{X: make([]float64, n), Y: make([]float64, n), Err: []int{}, Href: make([]string, n),
		Groups: []string{}, G: make([]int, n), Title: make([]string, n)}
	dd.Base = c.Dots[0].Href
	group := map[string]int{}
	for i, d := range c.Dots {
		dd.G[i] = -1
		if d.Group != "" {
			g, ok := group[d.Group]
			if !ok {
				g = len(dd.Groups)
				group[d.Group] = g
				dd.Groups = append(dd.Groups, d.Group)
			}
			dd.G[i] = g
		}
		dd.X[i], dd.Y[i] = round(g.x(d.T)), round(g.y(d.V))
		if d.Error {
			dd.Err = append(dd.Err, i)
		}
		dd.Base = commonPrefix(dd.Base, d.Href)
		dd.Title[i] = d.Title
	}
	for i, d := range c.Dots {
		dd.Href[i] = d.Href[len(dd.Base):]
	}
	js, err := json.Marshal(dd)
	if err != nil { // strings and finite numbers always marshal
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
	s := strconv.FormatFloat(round(v), 'f', -1, 64)
	if s == "-0" {
		return "0"
	}
	return s
}

// round rounds a coordinate to a tenth of a unit, as num writes it.
func round(v float64) float64 { return math.Round(v*10) / 10 }
