// Package tracetree owns the shape of one trace as it is shown: which spans
// are roots, which are orphans, the depth-first order of the rows and each
// row's depth. The terminal waterfall (internal/waterfall) and the web
// dashboard (internal/web) both lay their rows out with it, so that a trace
// reads the same in both.
//
// Spans come from clients, so nothing about their parent links is trusted:
// a parent may be missing, links may form cycles, IDs may repeat and a
// chain may be thousands of spans deep. Build places every span exactly once
// whatever it is given, never recursing. It does not fetch, store or draw
// spans, and it reads them through Spans, so it knows no span type.
package tracetree

import (
	"cmp"
	"slices"
)

// Spans is a trace as Build reads it, by index from 0 to Len()-1.
type Spans[ID cmp.Ordered] interface {
	// Len is the number of spans.
	Len() int
	// ID is span i's ID. Ties of start time are ordered by it, so its order
	// should be that of the IDs' hex form.
	ID(i int) ID
	// Parent is span i's parent ID, and false when the span names none.
	Parent(i int) (ID, bool)
	// Start is span i's start time, in any unit; it is only compared.
	Start(i int) int64
}

// Node is one row of the tree.
//
// Its numbers are int32, as a trace holds far fewer than 2³¹ spans: a tree
// of 10,000 rows then takes 200 KB rather than 400.
type Node struct {
	// Span is the span's index in the Spans the tree was built from.
	Span int32
	// Parent is the index of the span's parent, -1 for a root.
	Parent int32
	// Depth is 0 for a root, its parent's depth plus one otherwise.
	Depth int32
	// Subtree is the number of the span's descendants: the rows that follow
	// this one and are deeper than it.
	Subtree int32
	// Orphan marks a root whose parent link is broken: the parent is not in
	// the trace, or the link closes a cycle (the span names itself, or a
	// chain of parents leads back to it).
	Orphan bool
}

// Build returns every span exactly once, depth first: the roots by start
// time, each followed by its descendants, children also by start time. Equal
// start times are ordered by span ID, then by index, so that the order never
// depends on the order spans were listed in (except between spans with the
// same ID and start).
//
// A span whose parent is not in the trace is a root marked Orphan, placed
// among the roots by its start time. A cycle of parent links is broken at
// its member with the earliest start (then the lowest ID), which becomes
// such an orphan root; spans that hang off the cycle stay under their
// parents. When IDs repeat, children attach to the first span of that ID in
// start order.
func Build[ID cmp.Ordered](spans Spans[ID]) []Node {
	n := spans.Len()
	if n == 0 {
		return nil
	}

	// Work on ranks, positions in display order: ranks compare like the
	// spans, and children listed by rank are already in order. IDs are
	// read only to break ties of start, so keys hold no pointers to move.
	type key struct {
		start int64
		span  int32
	}
	keys := make([]key, n)
	for i := range keys {
		keys[i] = key{spans.Start(i), int32(i)}
	}
	slices.SortFunc(keys, func(a, b key) int {
		if c := cmp.Compare(a.start, b.start); c != 0 {
			return c
		}
		if c := cmp.Compare(spans.ID(int(a.span)), spans.ID(int(b.span))); c != 0 {
			return c
		}
		return cmp.Compare(a.span, b.span)
	})
	byID := make(map[ID]int32, n)
	for r := range keys {
		id := spans.ID(int(keys[r].span))
		if _, dup := byID[id]; !dup {
			byID[id] = int32(r)
		}
	}

	// parent[r] is the rank of r's parent, or one of:
	const (
		root    = -1 // names no parent
		missing = -2 // names a parent that is not in the trace
		cut     = -3 // its link closed a cycle and was cut
	)
	parent := make([]int32, n)
	for r := range keys {
		parent[r] = root
		if pid, ok := spans.Parent(int(keys[r].span)); ok {
			parent[r] = missing
			if p, found := byID[pid]; found {
				parent[r] = p
			}
		}
	}

	// Follow each span's chain of parents until it ends at a root or at a
	// span already settled; a chain that comes back to itself is a cycle,
	// cut at its lowest rank. Every span is on a chain once, so this is
	// linear. state: 0 unseen, 1 on the current chain, 2 settled.
	state := make([]uint8, n)
	var chain []int32
	for r := range int32(n) {
		chain = chain[:0]
		p := r
		for p >= 0 && state[p] == 0 {
			state[p] = 1
			chain = append(chain, p)
			p = parent[p]
		}
		if p >= 0 && state[p] == 1 {
			low := p
			for k := len(chain) - 1; chain[k] != p; k-- {
				low = min(low, chain[k])
			}
			parent[low] = cut
		}
		for _, c := range chain {
			state[c] = 2
		}
	}

	// Children in one array: those of p are kids[first[p]:first[p+1]], in
	// rank order because they are filled by ascending rank.
	first := make([]int32, n+1)
	for _, p := range parent {
		if p >= 0 {
			first[p+1]++
		}
	}
	for r := 1; r <= n; r++ {
		first[r] += first[r-1]
	}
	kids := make([]int32, n)
	fill := slices.Clone(first[:n])
	for r, p := range parent {
		if p >= 0 {
			kids[fill[p]] = int32(r)
			fill[p]++
		}
	}

	// Depth first with an explicit stack: a chain of parents can be as long
	// as the trace. With the cycles cut, the links form a forest, so each
	// span is reached once, from its root.
	out := make([]Node, 0, n)
	up := fill // reused: up[k] is the row of row k's parent, -1 for a root
	type frame struct{ rank, depth, up int32 }
	stack := make([]frame, 0, 64)
	for r := range int32(n) {
		if parent[r] >= 0 {
			continue
		}
		stack = append(stack[:0], frame{r, 0, -1})
		for len(stack) > 0 {
			f := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			nd := Node{Span: keys[f.rank].span, Parent: -1, Depth: f.depth}
			if p := parent[f.rank]; p >= 0 {
				nd.Parent = keys[p].span
			} else {
				nd.Orphan = p != root
			}
			k := int32(len(out))
			up[k] = f.up
			out = append(out, nd)
			// Pushed in reverse, so the earliest child comes out first.
			ks := kids[first[f.rank]:first[f.rank+1]]
			for c := len(ks) - 1; c >= 0; c-- {
				stack = append(stack, frame{ks[c], f.depth + 1, k})
			}
		}
	}

	// Descendants, summed from the last row up: a row's parent comes
	// before it.
	for k := len(out) - 1; k >= 0; k-- {
		if u := up[k]; u >= 0 {
			out[u].Subtree += out[k].Subtree + 1
		}
	}
	return out
}
