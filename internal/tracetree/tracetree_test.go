package tracetree

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// span is a test span; trace implements Spans over string IDs.
type span struct {
	id, parent string
	start      int64
}

type trace []span

func (t trace) Len() int                    { return len(t) }
func (t trace) ID(i int) string             { return t[i].id }
func (t trace) Parent(i int) (string, bool) { return t[i].parent, t[i].parent != "" }
func (t trace) Start(i int) int64           { return t[i].start }
func (t trace) String() string              { return fmt.Sprint([]span(t)) }
func (s span) String() string               { return s.id + "<" + s.parent + "@" + strconv.FormatInt(s.start, 10) }

var _ Spans[string] = trace(nil)

// parse reads "id@start" (a root) and "id<parent@start" words.
func parse(t *testing.T, spec string) trace {
	t.Helper()
	var tr trace
	for _, w := range strings.Fields(spec) {
		link, at, ok := strings.Cut(w, "@")
		start, err := strconv.ParseInt(at, 10, 64)
		if !ok || err != nil {
			t.Fatalf("bad span %q: use id@start or id<parent@start", w)
		}
		id, parent, _ := strings.Cut(link, "<")
		tr = append(tr, span{id, parent, start})
	}
	return tr
}

// show writes rows as ids indented by one dot per level; * marks an orphan.
func show(tr trace, rows []Node) string {
	var b strings.Builder
	for k, nd := range rows {
		if k > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strings.Repeat(".", int(nd.Depth)))
		b.WriteString(tr[nd.Span].id)
		if nd.Orphan {
			b.WriteByte('*')
		}
	}
	return b.String()
}

// checkShape asserts what holds of every tree: each span once, parents
// before children one level up, Parent matching the link, Subtree the run
// of deeper rows, Orphan only on roots whose link is broken.
func checkShape(t *testing.T, tr trace, rows []Node) {
	t.Helper()
	if len(rows) != len(tr) {
		t.Fatalf("%d rows for %d spans", len(rows), len(tr))
	}
	rowOf := make([]int, len(tr))
	seen := make([]bool, len(tr))
	for k, nd := range rows {
		if seen[nd.Span] {
			t.Fatalf("span %d (%s) placed twice", nd.Span, tr[nd.Span].id)
		}
		seen[nd.Span] = true
		rowOf[nd.Span] = k
	}
	var open []int // rows of the current ancestors
	for k, nd := range rows {
		for len(open) > 0 && rows[open[len(open)-1]].Depth >= nd.Depth {
			open = open[:len(open)-1]
		}
		if int(nd.Depth) != len(open) {
			t.Fatalf("row %d (%s) at depth %d under %d open ancestors", k, tr[nd.Span].id, nd.Depth, len(open))
		}
		switch {
		case nd.Parent < 0:
			wantOrphan := tr[nd.Span].parent != ""
			if nd.Orphan != wantOrphan {
				t.Errorf("root %s: Orphan = %v, want %v", tr[nd.Span].id, nd.Orphan, wantOrphan)
			}
		case nd.Orphan:
			t.Errorf("child %s is marked orphan", tr[nd.Span].id)
		case rowOf[nd.Parent] != open[len(open)-1]:
			t.Errorf("row %d (%s): Parent is not the row above it at depth %d", k, tr[nd.Span].id, nd.Depth-1)
		case tr[nd.Parent].id != tr[nd.Span].parent:
			t.Errorf("%s is placed under %s, but names %s", tr[nd.Span].id, tr[nd.Parent].id, tr[nd.Span].parent)
		}
		end := k + 1
		for end < len(rows) && rows[end].Depth > nd.Depth {
			end++
		}
		if int(nd.Subtree) != end-k-1 {
			t.Errorf("row %d (%s): Subtree = %d, want %d", k, tr[nd.Span].id, nd.Subtree, end-k-1)
		}
		open = append(open, k)
	}
}

func TestBuild(t *testing.T) {
	tests := []struct {
		name, spans, want string
	}{
		{"empty", "", ""},
		{"one span", "a@0", "a"},
		{"roots by start", "b@20 a@30 c@10", "c b a"},
		{"equal starts by ID", "b@0 c@0 a@0", "a b c"},
		{"children by start", "r@0 x<r@30 y<r@10 z<r@20", "r .y .z .x"},
		{"equal child starts by ID", "r@0 y<r@10 x<r@10", "r .x .y"},
		{"depth of each row", "a@0 b<a@1 c<b@2 d<c@3 e<a@4", "a .b ..c ...d .e"},
		{"child before its parent (clock skew)", "r@10 k<r@0", "r .k"},
		{"orphan among roots by start", "r1@0 o<gone@5 r2@10 c<o@6", "r1 o* .c r2"},
		{"orphan first when earliest", "r@5 o<gone@0", "o* r"},
		{"own parent", "r@0 s<s@3 c<s@4", "r s* .c"},
		{"cycle of two cut at the earliest", "a<b@5 b<a@3", "b* .a"},
		{"cycle of equal starts cut at the lowest ID", "b<a@3 a<b@3", "a* .b"},
		{"cycle of three", "r@0 c<a@7 a<b@9 b<c@8", "r c* .b ..a"},
		{"cycle among roots by start", "r1@0 a<b@20 b<a@21 r2@30", "r1 a* .b r2"},
		// x hangs off the cycle and starts before it: the cut is still
		// in the cycle, and x stays under its parent.
		{"span hanging off a cycle", "x<a@1 a<b@5 b<a@6", "a* .x .b"},
		{"two cycles", "a<b@4 b<a@3 c<d@1 d<c@2", "c* .d b* .a"},
		{"repeated ID: children join the first", "d@5 d@1 c<d@7", "d .c d"},
		{"no ID, no parent", "@3 @1", " "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := parse(t, tt.spans)
			rows := Build(tr)
			checkShape(t, tr, rows)
			got := show(tr, rows)
			if got != tt.want {
				t.Fatalf("Build(%s) = %q, want %q", tt.spans, got, tt.want)
			}
			// Whatever order the spans arrive in.
			rng := rand.New(rand.NewPCG(uint64(len(tt.name)), 1))
			for range 10 {
				tr := slices.Clone(tr)
				rng.Shuffle(len(tr), func(i, j int) { tr[i], tr[j] = tr[j], tr[i] })
				if got := show(tr, Build(tr)); got != tt.want && !repeatsIDs(tr) {
					t.Fatalf("Build(%v) = %q, want %q", tr, got, tt.want)
				}
			}
		})
	}
}

func repeatsIDs(tr trace) bool {
	seen := map[string]bool{}
	for _, s := range tr {
		if seen[s.id] {
			return true
		}
		seen[s.id] = true
	}
	return false
}

// TestBuildLarge builds 10,000-span traces shaped to defeat recursion: a
// chain, a ring (one cycle through every span) and a wide fan-out.
func TestBuildLarge(t *testing.T) {
	const n = 10_000
	id := func(i int) string { return fmt.Sprintf("s%05d", i) }
	chain, ring, fan := make(trace, n), make(trace, n), make(trace, n)
	for i := range n {
		chain[i] = span{id(i), "", int64(i)}
		if i > 0 {
			chain[i].parent = id(i - 1)
		}
		ring[i] = span{id(i), id((i + 1) % n), int64(n - i)}
		fan[i] = span{id(i), id(0), int64(i % 7)}
	}
	fan[0].parent = ""
	slices.Reverse(chain)

	rows := Build(chain)
	checkShape(t, chain, rows)
	if last := rows[n-1]; last.Depth != n-1 || rows[0].Subtree != n-1 {
		t.Errorf("chain: last depth %d, root subtree %d; want %d and %d", last.Depth, rows[0].Subtree, n-1, n-1)
	}

	rows = Build(ring)
	checkShape(t, ring, rows)
	// The earliest member, s09999, is cut loose; the ring hangs below it.
	if r := rows[0]; ring[r.Span].id != id(n-1) || !r.Orphan || rows[n-1].Depth != n-1 {
		t.Errorf("ring: first row %s (orphan %v), last depth %d", ring[r.Span].id, r.Orphan, rows[n-1].Depth)
	}

	rows = Build(fan)
	checkShape(t, fan, rows)
	if rows[0].Subtree != n-1 || rows[1].Depth != 1 {
		t.Errorf("fan: root subtree %d, first child depth %d", rows[0].Subtree, rows[1].Depth)
	}
}

// FuzzBuild feeds arbitrary parent links: every span must be placed once
// in a well-formed tree.
func FuzzBuild(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3}, []byte{9, 0, 1, 2})
	f.Add([]byte{1, 1, 1}, []byte{1, 2, 0})
	f.Add([]byte{5, 5, 5, 5, 5}, []byte{3, 3, 3, 3, 3})
	f.Fuzz(func(t *testing.T, starts, parents []byte) {
		n := min(len(starts), len(parents), 200)
		tr := make(trace, n)
		for i := range n {
			tr[i] = span{id: strconv.Itoa(i % 50), start: int64(starts[i] % 8)}
			if p := int(parents[i]); p < 2*n {
				tr[i].parent = strconv.Itoa(p % 60)
			}
		}
		checkShape(t, tr, Build(tr))
	})
}
