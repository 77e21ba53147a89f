// Package waterfall renders one trace as the unified waterfall in a terminal:
// one row per span in tree order, children indented under their parent, each
// with a timeline bar placed over the trace's full time range and the span's
// duration, then a footer that sums the trace up.
//
// It owns the text layout only. It does not fetch traces (callers pass the
// api.TraceJSON served by GET /api/v1/traces/{id}) and it does not judge them:
// broken parent links, cycles and skewed clocks are drawn as well as they can
// be, never refused. Names come from the network, so every control or
// invisible character in them is replaced before it reaches the terminal.
package waterfall

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/tracekit-oss/tracekit/internal/api"
	"github.com/tracekit-oss/tracekit/internal/tracetree"
)

// DefaultWidth is the line width used when Options.Width is zero.
const DefaultWidth = 100

// MinWidth is the narrowest Options.Width that leaves room for a label, a
// timeline and a duration.
const MinWidth = 40

// ErrEmptyTrace is returned by Render for a trace without spans.
var ErrEmptyTrace = errors.New("trace has no spans")

// Options controls how Render lays a trace out.
type Options struct {
	// Width is the number of columns every line fits in; 0 means DefaultWidth.
	Width int
	// Color adds ANSI colours: one per service, red for error spans.
	Color bool

	_ struct{}
}

const (
	headerLabel    = "Service / Operation"
	headerTimeline = "Timeline"
	headerDuration = "Duration"
	orphanMark     = "↳? "
	errorMark      = "! "
	gutter         = 2 // columns of the error marker in front of each label
)

// ANSI SGR sequences. Red is kept for errors, so services cycle through the rest.
const (
	ansiReset = "\x1b[0m"
	ansiRed   = "\x1b[31m"
	ansiMark  = "\x1b[1;31m"
	ansiDim   = "\x1b[2m"
)

var servicePalette = [...]string{
	"\x1b[36m", "\x1b[32m", "\x1b[33m", "\x1b[34m", "\x1b[35m",
	"\x1b[96m", "\x1b[92m", "\x1b[93m", "\x1b[94m", "\x1b[95m",
}

// Render writes trace as a waterfall to w. It returns ErrEmptyTrace for a
// trace without spans and an error for a Width below MinWidth.
func Render(w io.Writer, trace api.TraceJSON, opt Options) error {
	width := opt.Width
	if width == 0 {
		width = DefaultWidth
	}
	if width < MinWidth {
		return fmt.Errorf("waterfall width %d is too narrow: use at least %d columns", opt.Width, MinWidth)
	}
	if len(trace.Spans) == 0 {
		return ErrEmptyTrace
	}
	r := newRenderer(trace, width, opt.Color)
	r.layout()
	r.writeAll()
	if _, err := w.Write(r.buf); err != nil {
		return fmt.Errorf("write waterfall: %w", err)
	}
	return nil
}

// renderer holds one rendering's state; nothing in it outlives Render.
type renderer struct {
	trace api.TraceJSON
	width int
	color bool

	start, end []int64 // absolute nanoseconds per span
	t0, total  int64   // trace start and length
	rows       []tracetree.Node
	orphans    int
	services   map[string]*service
	svcOrder   []*service
	ops        []string // sanitized operation per span
	durs       []string // formatted duration per span

	labelW, barW, durW int
	indentCap          int
	buf                []byte
	fill, spaces       string // a full bar and a full line of blanks to copy from
}

// service is what a service's rows share: its printable name and colour.
type service struct {
	name  string // sanitized and capped to half the label column
	color string
}

func newRenderer(trace api.TraceJSON, width int, color bool) *renderer {
	n := len(trace.Spans)
	r := &renderer{
		trace: trace, width: width, color: color,
		start: make([]int64, n), end: make([]int64, n),
		services: make(map[string]*service),
		ops:      make([]string, n), durs: make([]string, n),
	}
	r.t0 = 1<<63 - 1
	var tEnd int64
	for i := range trace.Spans {
		s, e := spanTimes(&trace.Spans[i])
		r.start[i], r.end[i] = s, e
		r.t0 = min(r.t0, s)
		tEnd = max(tEnd, e)
	}
	r.total = tEnd - r.t0
	return r
}

// spanTimes returns a span's start and end in Unix nanoseconds, preferring
// the exact decimal field, clamped so that 0 <= start <= end.
func spanTimes(s *api.SpanJSON) (int64, int64) {
	start, err := strconv.ParseInt(s.StartTimeUnixNano, 10, 64)
	if err != nil {
		start = 0
		if y := s.StartTime.Year(); y > 1678 && y < 2262 {
			start = s.StartTime.UnixNano()
		}
	}
	start = max(start, 0)
	d := max(s.DurationNanos, 0)
	if start > 1<<63-1-d {
		return start, 1<<63 - 1
	}
	return start, start + d
}

// treeSpans is what tracetree reads of the trace.
type treeSpans struct {
	spans []api.SpanJSON
	start []int64
}

var _ tracetree.Spans[string] = treeSpans{}

func (t treeSpans) Len() int          { return len(t.spans) }
func (t treeSpans) ID(i int) string   { return t.spans[i].SpanID }
func (t treeSpans) Start(i int) int64 { return t.start[i] }
func (t treeSpans) Parent(i int) (string, bool) {
	p := t.spans[i].ParentSpanID
	return p, p != ""
}

// layout orders the rows and sizes the columns.
func (r *renderer) layout() {
	r.rows = tracetree.Build(treeSpans{r.trace.Spans, r.start})
	for _, rw := range r.rows {
		if rw.Orphan {
			r.orphans++
		}
	}
	r.durW = len(headerDuration)
	for i := range r.trace.Spans {
		r.durs[i] = formatDuration(r.end[i] - r.start[i])
		r.durW = max(r.durW, columns(r.durs[i]))
		r.ops[i] = sanitize(r.trace.Spans[i].Operation)
	}
	avail := r.width - r.durW - 4 // " |" + "| " around the bar
	labelCap := avail / 2
	r.indentCap = max(0, labelCap-gutter-12)
	svcCap := max(labelCap/2, 8)
	natural := len(headerLabel)
	for _, rw := range r.rows {
		s := r.serviceOf(int(rw.Span), svcCap)
		n := gutter + r.indent(rw.Depth) + columns(r.ops[rw.Span])
		if rw.Orphan {
			n += columns(orphanMark)
		}
		if r.showService(rw) {
			n += columns(s.name) + 2
		}
		natural = max(natural, n)
	}
	r.labelW = min(natural, labelCap)
	r.barW = avail - r.labelW
	r.fill = strings.Repeat("=", r.barW)
	r.spaces = strings.Repeat(" ", r.width)
	r.buf = make([]byte, 0, (len(r.rows)+5)*(r.width+24))
}

// indent is the number of columns a row at depth is indented by, capped so
// that even the deepest rows keep room for a name.
func (r *renderer) indent(depth int32) int {
	return min(2*int(depth), r.indentCap)
}

// serviceOf returns the service of span i, registering it on first sight so
// that colours follow the order services appear in.
func (r *renderer) serviceOf(i, svcCap int) *service {
	raw := r.trace.Spans[i].Service
	if s, ok := r.services[raw]; ok {
		return s
	}
	name := sanitize(raw)
	if name == "" {
		name = "unknown_service"
	}
	s := &service{name: truncate(name, svcCap)}
	s.color = servicePalette[len(r.svcOrder)%len(servicePalette)]
	r.services[raw] = s
	r.svcOrder = append(r.svcOrder, s)
	return s
}

func (r *renderer) writeAll() {
	r.writeHeader()
	r.writeRule()
	for _, rw := range r.rows {
		r.writeRow(rw)
	}
	r.writeRule()
	r.writeFooter()
}

func (r *renderer) writeHeader() {
	r.pad(r.fit(headerLabel, "", r.labelW))
	r.buf = append(r.buf, "  "...)
	r.pad(r.fit(headerTimeline, "", r.barW))
	r.buf = append(r.buf, "  "...)
	r.buf = appendPadLeft(r.buf, headerDuration, r.durW)
	r.buf = append(r.buf, '\n')
}

func (r *renderer) writeRule() {
	for range r.width {
		r.buf = append(r.buf, '-')
	}
	r.buf = append(r.buf, '\n')
}

// showService reports whether a row names its service: a root does, and a
// span whose service differs from its parent's.
func (r *renderer) showService(rw tracetree.Node) bool {
	return rw.Parent < 0 || r.trace.Spans[rw.Parent].Service != r.trace.Spans[rw.Span].Service
}

func (r *renderer) writeRow(rw tracetree.Node) {
	i := int(rw.Span)
	sp := &r.trace.Spans[i]
	isErr := sp.Status.Code == "error"
	svc := r.services[sp.Service]

	// Label: marker gutter, indentation, orphan mark, service, operation.
	if isErr {
		r.colored(errorMark, ansiMark)
	} else {
		r.buf = append(r.buf, "  "...)
	}
	left := r.labelW - gutter
	ind := min(r.indent(rw.Depth), left)
	r.pad(ind)
	left -= ind
	if rw.Orphan {
		left = r.fit(orphanMark, ansiDim, left)
	}
	if r.showService(rw) {
		left = r.fit(svc.name, svc.color, left)
		left = r.fit("  ", "", left)
	}
	opColor := ""
	if isErr {
		opColor = ansiRed
	}
	r.pad(r.fit(r.ops[i], opColor, left))

	// Timeline.
	from, to := barCells(r.start[i]-r.t0, r.end[i]-r.t0, r.total, r.barW)
	r.buf = append(r.buf, " |"...)
	barColor := svc.color
	if isErr {
		barColor = ansiRed
	}
	r.pad(from)
	r.colored(r.fill[:to-from], barColor)
	r.pad(r.barW - to)
	r.buf = append(r.buf, "| "...)
	r.buf = appendPadLeft(r.buf, r.durs[i], r.durW)
	r.buf = append(r.buf, '\n')
}

func (r *renderer) writeFooter() {
	id := r.trace.TraceID
	if id == "" {
		id = r.trace.Spans[0].TraceID
	}
	id = sanitize(id)
	if id == "" {
		id = "(unknown)"
	}
	errs := 0
	for i := range r.trace.Spans {
		if r.trace.Spans[i].Status.Code == "error" {
			errs++
		}
	}
	r.fit("Trace "+id, "", r.width)
	r.buf = append(r.buf, '\n')
	line := formatDuration(r.total) +
		" · " + plural(len(r.trace.Spans), "span") +
		" · " + plural(len(r.svcOrder), "service") +
		" · " + plural(errs, "error")
	if r.orphans > 0 {
		line += " · " + plural(r.orphans, "orphan") + " (↳?)"
	}
	r.fit(line, "", r.width)
	r.buf = append(r.buf, '\n')
}

// fit appends s cut to width columns (see truncate), in color when colours
// are on. It returns the columns left of width.
func (r *renderer) fit(s, color string, width int) int {
	if width <= 0 || s == "" {
		return width
	}
	n := columns(s)
	if n > width {
		s = truncate(s, width)
		n = columns(s)
	}
	r.colored(s, color)
	return width - n
}

// pad appends n spaces.
func (r *renderer) pad(n int) {
	if n > 0 {
		r.buf = append(r.buf, r.spaces[:n]...)
	}
}

func (r *renderer) colored(s, color string) {
	if !r.color || color == "" || s == "" {
		r.buf = append(r.buf, s...)
		return
	}
	r.buf = append(r.buf, color...)
	r.buf = append(r.buf, s...)
	r.buf = append(r.buf, ansiReset...)
}

func appendPadLeft(b []byte, s string, width int) []byte {
	for range width - columns(s) {
		b = append(b, ' ')
	}
	return append(b, s...)
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}
