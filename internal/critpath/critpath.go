// Package critpath owns the critical path of a trace: the chain of spans
// whose work determined the trace's end-to-end duration, as a list of
// segments of time, each owned by one span, and each span's total time on
// the path. The JSON API and the dashboard's waterfall both show it from
// here, so that they agree.
//
// It takes the trace's structure from internal/tracetree, the one span
// tree, and so treats broken and cyclic parent links as tracetree does. It
// does not fetch, store or draw spans.
//
// # The walk
//
// The path is found walking backward in time. Within a span, the walk
// starts at the span's end; it takes the child that ended last at or before
// that point, gives the span itself the time between that child's end and
// the point (the span's own work, or idle time it spent), descends into the
// child, and then continues in the span from the child's start. When no
// child ended before the point, the rest, back to the span's start, is the
// span's own. A span can so own several disjoint segments.
//
// The rules, case by case:
//
//   - Sequential children: each is on the path, the gaps between them are
//     the parent's.
//   - Parallel children: only the one that ended last is on the path (the
//     parent waited for it); the others ran in its shadow. Equal ends go to
//     the child that started first, then to the first in tree order.
//   - Overlapping children: a child still running at the start of the
//     child after it on the path did not hold its parent up, so it is not
//     on the path (as with parallel children); the walk looks for one that
//     ended before that start.
//   - Clock skew: a child is clamped into its parent (as clamped itself): a
//     start before the parent's is moved to the parent's start, an end
//     after the parent's to the parent's end. A span whose end precedes its
//     start lasts no time.
//   - Async children: the same clamp cuts a child that outlived its parent
//     at the parent's end. Work done after a parent ended was not waited
//     for by it, so it does not lengthen the parent's path; a child that
//     starts after its parent ended is not on the path at all.
//   - Roots: spans with no parent, and orphans whose parent is missing (or
//     whose link closed a cycle), are not clamped. The walk starts at the
//     root that ended last; before its start, it continues in the root that
//     ended last among those that started earlier, cut at that start if it
//     was still running then; and so on. Nothing owns the time between
//     roots: it is in no segment.
//   - Spans that last no time (after clamping) are never on the path.
//
// The segments so tile each root's stretch of the path exactly: within a
// single-rooted trace they cover the root from its start to its end, and
// their sum is the root's duration.
//
// Nothing recurses: a chain of parents can be as deep as the trace is long.
package critpath

import (
	"cmp"
	"slices"

	"github.com/tracekit-oss/tracekit/internal/telemetry"
	"github.com/tracekit-oss/tracekit/internal/tracetree"
)

// Segment is a stretch of the critical path owned by one span.
type Segment struct {
	// Span is the span's index in the slice Compute was given.
	Span int
	// Start and End are Unix nanoseconds; End is after Start.
	Start, End int64
}

// Path is the critical path of one trace.
type Path struct {
	// Segments are in time order and never overlap.
	Segments []Segment
	// Critical is, for each span by its index in the slice Compute was
	// given, its total time on the path in nanoseconds.
	Critical []int64
}

// Compute returns the critical path of spans, the spans of one trace in
// any order. It reads nothing but their IDs, parent IDs and times.
func Compute(spans []telemetry.Span) Path {
	n := len(spans)
	out := Path{Critical: make([]int64, n)}
	if n == 0 {
		return out
	}
	rows := tracetree.Build(tracetree.Stored(spans))

	// Each span's interval clamped into its parent's (clamped) interval.
	// Rows list a parent before its children. An empty interval (end at
	// or before start) keeps its start as its end.
	start := make([]int64, n)
	end := make([]int64, n)
	for _, nd := range rows {
		i, s := nd.Span, &spans[nd.Span]
		a, b := s.StartUnixNano, max(s.EndUnixNano, s.StartUnixNano)
		if p := nd.Parent; p >= 0 {
			a = min(max(a, start[p]), end[p])
			b = max(min(b, end[p]), a)
		}
		start[i], end[i] = a, b
	}

	// Children of each span in one array, those of p at
	// kids[first[p]:first[p+1]], and the roots as the children of a
	// virtual span n. Each list is ordered by the walk's preference: latest
	// end first, then earliest start, then tree order. Spans that last no
	// time are left out.
	first := make([]int32, n+2)
	for _, nd := range rows {
		if end[nd.Span] > start[nd.Span] {
			first[parentOf(nd, n)+1]++
		}
	}
	for p := 1; p <= n+1; p++ {
		first[p] += first[p-1]
	}
	kids := make([]int32, first[n+1])
	fill := slices.Clone(first[:n+1])
	for _, nd := range rows {
		if end[nd.Span] > start[nd.Span] {
			p := parentOf(nd, n)
			kids[fill[p]] = nd.Span
			fill[p]++
		}
	}
	for p := range n + 1 {
		// Children were filled in tree order, which the stable sort keeps
		// among equals.
		slices.SortStableFunc(kids[first[p]:first[p+1]], func(x, y int32) int {
			if c := cmp.Compare(end[y], end[x]); c != 0 {
				return c
			}
			return cmp.Compare(start[x], start[y])
		})
	}

	// The walk, with an explicit stack of the spans it is in. A frame's
	// cursor is the point the walk has reached in its span going back in
	// time; next is its first child not yet passed over. Children are
	// passed in order of end, latest first, and the cursor only moves
	// back, so a child that ended after the cursor never qualifies again:
	// each child is looked at once.
	type frame struct {
		span   int32 // n for the virtual span over the roots
		cursor int64
		next   int32
	}
	var segs []Segment // backward in time
	stack := []frame{{span: int32(n), cursor: maxTime, next: first[n]}}
	for len(stack) > 0 {
		f := &stack[len(stack)-1]
		virtual := f.span == int32(n)
		c := int32(-1)
		for ; f.next < first[f.span+1]; f.next++ {
			k := kids[f.next]
			// Inside a span, a child qualifies if it ended by the cursor.
			// Among the roots, one qualifies if it started before the
			// cursor; it is cut there if it still ran.
			if (!virtual && end[k] <= f.cursor) || (virtual && start[k] < f.cursor) {
				c = k
				f.next++
				break
			}
		}
		if c < 0 {
			if !virtual && start[f.span] < f.cursor {
				segs = append(segs, Segment{Span: int(f.span), Start: start[f.span], End: f.cursor})
			}
			stack = stack[:len(stack)-1]
			continue
		}
		top := min(end[c], f.cursor)
		if !virtual && top < f.cursor {
			segs = append(segs, Segment{Span: int(f.span), Start: top, End: f.cursor})
		}
		f.cursor = start[c]
		stack = append(stack, frame{span: c, cursor: top, next: first[c]}) // f is stale from here
	}

	slices.Reverse(segs)
	for _, s := range segs {
		out.Critical[s.Span] += s.End - s.Start
	}
	out.Segments = segs
	return out
}

const maxTime = int64(^uint64(0) >> 1)

// parentOf is the index of a row's parent, or n, the virtual span over the
// roots.
func parentOf(nd tracetree.Node, n int) int32 {
	if nd.Parent < 0 {
		return int32(n)
	}
	return nd.Parent
}
