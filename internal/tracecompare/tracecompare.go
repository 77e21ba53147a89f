// Package tracecompare owns the comparison of two traces: which span of one
// stands for which span of the other, and whether each pair is the same,
// changed, or present on one side only. The API (GET
// /api/v1/traces/compare) and the dashboard's trace compare page both
// read its Result, so that a comparison reads the same in both.
//
// Both traces are laid out by package tracetree, the one span tree, and
// matched top down:
//
//   - roots (orphans included, as tracetree makes them roots) match roots
//     by service and operation;
//   - the children of two matched spans match by service and operation;
//   - among siblings with the same service and operation, the k-th in start
//     order on side A matches the k-th on side B, so that three database
//     calls against five pair up as the first three, and the last two of B
//     are added;
//   - a span that matches nothing is added (only in B) or removed (only in
//     A), and so is its whole subtree: nothing below an unmatched span is
//     matched.
//
// It does not fetch, store or draw traces. Spans come from clients, so the
// tree may be as deep as the trace is long: nothing here recurses.
package tracecompare

import (
	"time"

	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
	"github.com/tracekit-oss/tracekit/internal/tracetree"
)

// Mark is what a row of the comparison found.
type Mark uint8

const (
	// Same marks a matched pair whose durations differ by no more than
	// the thresholds of Changed.
	Same Mark = iota
	// Changed marks a matched pair whose durations differ by more than
	// ChangedMin and by more than ChangedRatio of the A duration.
	Changed
	// Added marks a span found only in trace B.
	Added
	// Removed marks a span found only in trace A.
	Removed
)

// String returns "same", "changed", "added" or "removed": the words of the
// API and of the page's CSS classes.
func (m Mark) String() string {
	switch m {
	case Changed:
		return "changed"
	case Added:
		return "added"
	case Removed:
		return "removed"
	}
	return "same"
}

// A matched pair is Changed when its durations differ by more than both
// thresholds: by more than ChangedMin, so that jitter of microseconds in
// fast spans is not news, and by more than ChangedRatio of the A duration,
// so that a few milliseconds more in a ten-second span is not either.
const (
	ChangedMin   = time.Millisecond
	ChangedRatio = 0.10
)

// IsChanged reports whether durations a and b differ by more than both
// thresholds.
func IsChanged(a, b time.Duration) bool {
	d := b - a
	if d < 0 {
		d = -d
	}
	return d > ChangedMin && float64(d) > ChangedRatio*float64(a)
}

// Row is one line of the comparison: a matched pair of spans, or a span
// found on one side only.
type Row struct {
	// Depth is 0 for a root, its parent row's depth plus one otherwise.
	Depth int32
	// A and B are the indexes of the row's spans in the slices given to
	// Compare; -1 on the side the span is missing from.
	A, B int32
	// Service and Operation are the spans' (equal on both sides when both
	// are present).
	Service, Operation string
	// ADuration and BDuration are the spans' durations, zero on a missing
	// side; Delta is BDuration - ADuration.
	ADuration, BDuration, Delta time.Duration
	Mark                        Mark
}

// Result is the comparison of trace A with trace B.
type Result struct {
	// A and B summarise the two traces as the search results do.
	A, B store.TraceSummary
	// Rows are in tree order: each row is followed by its subtree. Under
	// a matched pair, rows follow A's order of children, with B's
	// unmatched children placed before the first matched child that
	// follows them in B's order.
	Rows []Row
	// Same, Changed, Added and Removed count the rows of each mark.
	Same, Changed, Added, Removed int
	// Delta is B's duration minus A's, first start to last end.
	Delta time.Duration
}

// side is one trace laid out as a tree, with each row's key interned.
type side struct {
	spans []telemetry.Span
	rows  []tracetree.Node
	key   []int32 // per row: the interned (service, operation)
}

// Compare compares trace A with trace B. Either may be empty, and they may
// be the same slice (every row is then Same).
func Compare(a, b []telemetry.Span) Result {
	res := Result{A: store.Summarize(a), B: store.Summarize(b)}
	res.Delta = res.B.Duration - res.A.Duration
	keys := make(map[opKey]int32)
	sa, sb := newSide(a, keys), newSide(b, keys)
	res.Rows = make([]Row, 0, max(len(a), len(b)))

	m := matcher{
		a: sa, b: sb,
		head:     make([]int32, len(keys)),
		nextSame: make([]int32, len(sb.rows)),
		usedB:    make([]bool, len(sb.rows)),
	}
	for k := range m.head {
		m.head[k] = -1
	}
	m.merge(roots(sa.rows, m.la[:0]), roots(sb.rows, m.lb[:0]), 0)
	for len(m.stack) > 0 {
		it := m.stack[len(m.stack)-1]
		m.stack = m.stack[:len(m.stack)-1]
		switch {
		case it.a >= 0 && it.b >= 0:
			res.Rows = append(res.Rows, m.pair(it))
			m.merge(children(sa.rows, it.a, m.la[:0]), children(sb.rows, it.b, m.lb[:0]), it.depth+1)
		case it.a >= 0:
			res.Rows = appendSubtree(res.Rows, sa, it.a, it.depth, Removed)
		default:
			res.Rows = appendSubtree(res.Rows, sb, it.b, it.depth, Added)
		}
	}
	for i := range res.Rows {
		switch res.Rows[i].Mark {
		case Same:
			res.Same++
		case Changed:
			res.Changed++
		case Added:
			res.Added++
		case Removed:
			res.Removed++
		}
	}
	return res
}

type opKey struct{ service, operation string }

func newSide(spans []telemetry.Span, keys map[opKey]int32) side {
	s := side{spans: spans, rows: tracetree.Build(tracetree.Stored(spans))}
	s.key = make([]int32, len(s.rows))
	for r, nd := range s.rows {
		sp := &spans[nd.Span]
		k := opKey{sp.Service(), sp.Name}
		id, ok := keys[k]
		if !ok {
			id = int32(len(keys))
			keys[k] = id
		}
		s.key[r] = id
	}
	return s
}

// roots appends the rows of the tree's roots to out.
func roots(rows []tracetree.Node, out []int32) []int32 {
	for r := int32(0); int(r) < len(rows); r += rows[r].Subtree + 1 {
		out = append(out, r)
	}
	return out
}

// children appends the rows of row p's children to out: in tree order the
// first follows p, and each next one follows its elder sibling's subtree.
func children(rows []tracetree.Node, p int32, out []int32) []int32 {
	for r := p + 1; r <= p+rows[p].Subtree; r += rows[r].Subtree + 1 {
		out = append(out, r)
	}
	return out
}

// item is a row to emit: a pair of rows of A and B, or one of them (the
// other is -1).
type item struct{ a, b, depth int32 }

// matcher holds what matching reuses from one set of siblings to the next.
type matcher struct {
	a, b side
	// head[k] is the first B sibling with key k not yet matched, -1 for
	// none; nextSame[r] is the next B sibling after row r with r's key.
	head, nextSame []int32
	usedB          []bool
	la, lb         []int32 // sibling rows of A and B being matched
	partner        []int32 // per A sibling: its B row, or -1
	merged         []item
	stack          []item
}

// merge matches sibling rows la of A with lb of B, the k-th of a key with
// the k-th, and pushes the rows they make, first on top.
func (m *matcher) merge(la, lb []int32, depth int32) {
	m.la, m.lb = la, lb // keep the grown buffers
	for i := len(lb) - 1; i >= 0; i-- {
		r := lb[i]
		k := m.b.key[r]
		m.nextSame[r] = m.head[k]
		m.head[k] = r
	}
	m.partner = m.partner[:0]
	for _, r := range la {
		k := m.a.key[r]
		j := m.head[k]
		if j >= 0 {
			m.head[k] = m.nextSame[j]
			m.usedB[j] = true
		}
		m.partner = append(m.partner, j)
	}
	for _, r := range lb {
		m.head[m.b.key[r]] = -1
	}

	m.merged = m.merged[:0]
	bi := 0
	for i, r := range la {
		j := m.partner[i]
		if j < 0 {
			m.merged = append(m.merged, item{r, -1, depth})
			continue
		}
		for ; bi < len(lb) && lb[bi] <= j; bi++ {
			if !m.usedB[lb[bi]] {
				m.merged = append(m.merged, item{-1, lb[bi], depth})
			}
		}
		m.merged = append(m.merged, item{r, j, depth})
	}
	for ; bi < len(lb); bi++ {
		if !m.usedB[lb[bi]] {
			m.merged = append(m.merged, item{-1, lb[bi], depth})
		}
	}
	for i := len(m.merged) - 1; i >= 0; i-- {
		m.stack = append(m.stack, m.merged[i])
	}
}

// pair is the row of a matched pair.
func (m *matcher) pair(it item) Row {
	na, nb := m.a.rows[it.a], m.b.rows[it.b]
	sa, sb := &m.a.spans[na.Span], &m.b.spans[nb.Span]
	r := Row{Depth: it.depth, A: na.Span, B: nb.Span, Service: sa.Service(), Operation: sa.Name,
		ADuration: sa.Duration(), BDuration: sb.Duration()}
	r.Delta = r.BDuration - r.ADuration
	if IsChanged(r.ADuration, r.BDuration) {
		r.Mark = Changed
	}
	return r
}

// appendSubtree appends row top of s and its whole subtree, all marked
// mark (Added for B, Removed for A), top at depth.
func appendSubtree(out []Row, s side, top, depth int32, mark Mark) []Row {
	base := s.rows[top].Depth
	for r := top; r <= top+s.rows[top].Subtree; r++ {
		nd := s.rows[r]
		sp := &s.spans[nd.Span]
		row := Row{Depth: depth + nd.Depth - base, A: -1, B: -1, Service: sp.Service(), Operation: sp.Name, Mark: mark}
		if mark == Removed {
			row.A, row.ADuration = nd.Span, sp.Duration()
			row.Delta = -row.ADuration
		} else {
			row.B, row.BDuration = nd.Span, sp.Duration()
			row.Delta = row.BDuration
		}
		out = append(out, row)
	}
	return out
}
