package waterfall

import (
	"cmp"
	"slices"

	"github.com/tracekit-oss/tracekit/internal/api"
)

// treeOrder returns every span exactly once, depth first: roots in start
// order, each followed by its children in start order. A span whose parent
// is not in the trace is a root marked orphan; so is the earliest span of a
// cycle of parent links that no root reaches. Orphans sit among the roots in
// start order. It also returns how many rows are marked orphan.
func treeOrder(spans []api.SpanJSON, start, end []int64) ([]row, int) {
	n := len(spans)
	byID := make(map[string]int32, n)
	for i := range spans {
		if id := spans[i].SpanID; id != "" {
			if _, dup := byID[id]; !dup {
				byID[id] = int32(i)
			}
		}
	}

	// parent[i] is the index of i's parent, -1 for a root, -2 for a span
	// whose parent is missing.
	parent := make([]int32, n)
	for i := range spans {
		parent[i] = -1
		if pid := spans[i].ParentSpanID; pid != "" {
			p, ok := byID[pid]
			switch {
			case !ok:
				parent[i] = -2
			case int(p) != i:
				parent[i] = p
			default:
				parent[i] = int32(i) // its own parent: a cycle of one
			}
		}
	}

	// Spans by start; ties by longer first, then by ID, so output never
	// depends on the order the API listed them in.
	order := make([]int32, n)
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int {
		if c := cmp.Compare(start[a], start[b]); c != 0 {
			return c
		}
		if c := cmp.Compare(end[b], end[a]); c != 0 {
			return c
		}
		if c := cmp.Compare(spans[a].SpanID, spans[b].SpanID); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})

	// Children lists in one array (CSR): children of p are
	// kids[first[p]:first[p+1]], already in start order.
	first := make([]int32, n+1)
	for i := range parent {
		if p := parent[i]; p >= 0 {
			first[p+1]++
		}
	}
	for i := 1; i <= n; i++ {
		first[i] += first[i-1]
	}
	kids := make([]int32, first[n])
	fill := slices.Clone(first[:n])
	for _, i := range order {
		if p := parent[i]; p >= 0 {
			kids[fill[p]] = i
			fill[p]++
		}
	}

	type frame struct{ span, parent, depth int32 }
	rows := make([]row, 0, n)
	visited := make([]bool, n)
	stack := make([]frame, 0, 64)
	walk := func(root int32, orphan, emit bool) {
		stack = append(stack[:0], frame{root, -1, 0})
		visited[root] = true
		for len(stack) > 0 {
			f := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if emit {
				r := row{span: f.span, depth: f.depth, orphan: f.parent < 0 && orphan}
				r.showService = f.parent < 0 || spans[f.parent].Service != spans[f.span].Service
				rows = append(rows, r)
			}
			// Push in reverse so the earliest child is drawn first.
			ks := kids[first[f.span]:first[f.span+1]]
			for k := len(ks) - 1; k >= 0; k-- {
				if c := ks[k]; !visited[c] {
					visited[c] = true
					stack = append(stack, frame{c, f.span, f.depth + 1})
				}
			}
		}
	}

	// What no root reaches hangs off a cycle of parent links: break each
	// at its earliest span and treat that span as an orphan root.
	head := make([]bool, n)
	for _, i := range order {
		if parent[i] < 0 {
			head[i] = true
			walk(i, false, false)
		}
	}
	for _, i := range order {
		if !visited[i] {
			head[i] = true
			walk(i, false, false)
		}
	}
	clear(visited)
	orphans := 0
	for _, i := range order {
		if head[i] {
			orphan := parent[i] != -1
			if orphan {
				orphans++
			}
			walk(i, orphan, true)
		}
	}
	return rows, orphans
}
