package tracecompare

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// parse reads a trace from words "id[<parent]:service/operation@start+duration",
// numbers in milliseconds, ids numbers above 0, _ in an operation a space.
func parse(t testing.TB, spec string) []telemetry.Span {
	t.Helper()
	res := map[string]*telemetry.Resource{}
	var out []telemetry.Span
	for _, w := range strings.Fields(spec) {
		link, rest, ok1 := strings.Cut(w, ":")
		name, times, ok2 := strings.Cut(rest, "@")
		svc, op, ok3 := strings.Cut(name, "/")
		op = strings.ReplaceAll(op, "_", " ")
		at, dur, ok4 := strings.Cut(times, "+")
		start, err1 := strconv.ParseFloat(at, 64)
		d, err2 := strconv.ParseFloat(dur, 64)
		if !ok1 || !ok2 || !ok3 || !ok4 || err1 != nil || err2 != nil {
			t.Fatalf("bad span %q: use id[<parent]:service/operation@start+duration", w)
		}
		id, parent, _ := strings.Cut(link, "<")
		if res[svc] == nil {
			res[svc] = &telemetry.Resource{ServiceName: svc}
		}
		s := telemetry.Span{SpanID: spanID(t, id), Name: op, Resource: res[svc],
			StartUnixNano: int64(start * 1e6), EndUnixNano: int64((start + d) * 1e6)}
		if parent != "" {
			s.ParentSpanID = spanID(t, parent)
		}
		out = append(out, s)
	}
	return out
}

func spanID(t testing.TB, s string) telemetry.SpanID {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n == 0 {
		t.Fatalf("span id %q: use a number above 0", s)
	}
	var id telemetry.SpanID
	binary.BigEndian.PutUint64(id[:], n)
	return id
}

// show writes rows as a mark (= same, ~ changed, + added, - removed), one
// dot per level, service/operation and the delta when not zero.
func show(res Result) string {
	var b strings.Builder
	for k, r := range res.Rows {
		if k > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(map[Mark]string{Same: "=", Changed: "~", Added: "+", Removed: "-"}[r.Mark])
		b.WriteString(strings.Repeat(".", int(r.Depth)))
		b.WriteString(r.Service + "/" + r.Operation)
		if r.Delta != 0 {
			if r.Delta > 0 {
				b.WriteByte('+')
			}
			b.WriteString(r.Delta.String())
		}
	}
	return b.String()
}

func TestCompare(t *testing.T) {
	f := func(a, b, want string) {
		t.Helper()
		res := Compare(parse(t, a), parse(t, b))
		if got := show(res); got != want {
			t.Errorf("Compare\n A: %s\n B: %s\ngot  %s\nwant %s", a, b, got, want)
		}
		check(t, res)
	}
	// The same trace: all same.
	gw := "1:gw/GET@0+100 2<1:api/list@5+50 3<2:db/query@10+5 4<2:db/query@20+5 5<1:cache/get@70+2"
	f(gw, gw, "=gw/GET =.api/list =..db/query =..db/query =.cache/get")
	// Durations: changed beyond both 1 ms and 10%; 0.5 ms, or 2 ms on
	// 100 ms, is not.
	f("1:a/x@0+100 2<1:b/y@0+10 3<1:b/z@20+10 4<1:b/w@40+0.2",
		"1:a/x@0+102 2<1:b/y@0+15 3<1:b/z@20+10.5 4<1:b/w@40+1.5",
		"=a/x+2ms ~.b/y+5ms =.b/z+500µs ~.b/w+1.3ms")
	// Repeated siblings: three queries against five pair up in order; the
	// last two are added.
	f("1:a/x@0+100 2<1:db/q@1+1 3<1:db/q@2+1 4<1:db/q@3+1",
		"1:a/x@0+100 2<1:db/q@1+1 3<1:db/q@2+1 4<1:db/q@3+1 5<1:db/q@4+1 6<1:db/q@5+1",
		"=a/x =.db/q =.db/q =.db/q +.db/q+1ms +.db/q+1ms")
	// ... and five against three: the last two are removed.
	f("1:a/x@0+100 2<1:db/q@1+1 3<1:db/q@2+1 4<1:db/q@3+1 5<1:db/q@4+1 6<1:db/q@5+1",
		"1:a/x@0+100 2<1:db/q@1+1 3<1:db/q@2+1 4<1:db/q@3+1",
		"=a/x =.db/q =.db/q =.db/q -.db/q-1ms -.db/q-1ms")
	// A removed span takes its subtree along, nothing under it matched,
	// even where B has the same names under another parent.
	f("1:a/x@0+100 2<1:b/y@10+20 3<2:c/z@12+5 4<3:d/w@13+1 5<1:e/v@50+5",
		"1:a/x@0+100 5<1:e/v@50+5 6<5:c/z@51+3",
		"=a/x -.b/y-20ms -..c/z-5ms -...d/w-1ms =.e/v +..c/z+3ms")
	// A's unmatched children keep their place in A's order; B's sit just
	// before the next matched child after them in B's order.
	f("1:a/x@0+100 2<1:s/one@10+1 3<1:s/two@20+1 4<1:s/three@30+1",
		"1:a/x@0+100 5<1:s/new@5+1 2<1:s/one@10+1 6<1:s/extra@15+1 4<1:s/three@30+1",
		"=a/x +.s/new+1ms =.s/one -.s/two-1ms +.s/extra+1ms =.s/three")
	// Crossed order: matched by key, shown in A's order.
	f("1:a/x@0+100 2<1:s/p@10+1 3<1:s/q@20+1",
		"1:a/x@0+100 3<1:s/q@5+1 2<1:s/p@30+1",
		"=a/x =.s/p =.s/q")
	// Different roots: nothing matches.
	f("1:gw/GET_/a@0+10 2<1:db/q@1+1", "7:gw/GET_/b@0+12 8<7:db/q@1+1",
		"-gw/GET /a-10ms -.db/q-1ms +gw/GET /b+12ms +.db/q+1ms")
	// Same operation, other service: not a match.
	f("1:gw/GET@0+10", "1:edge/GET@0+10", "-gw/GET-10ms +edge/GET+10ms")
	// Orphans are roots, matched by name among the roots.
	f("1:a/x@0+10 2<99:b/late@20+5 3<2:c/z@21+1", "1:a/x@0+10 2<98:b/late@20+5",
		"=a/x =b/late -.c/z-1ms")
	// Empty traces.
	f("", "", "")
	f("", "1:a/x@0+3", "+a/x+3ms")
	f("1:a/x@0+3", "", "-a/x-3ms")
}

// check tests what every result holds: counts add up, deltas are B - A,
// each span appears exactly once, and depths step by at most one.
func check(t *testing.T, res Result) {
	t.Helper()
	n := map[Mark]int{}
	seenA, seenB := map[int32]bool{}, map[int32]bool{}
	for k, r := range res.Rows {
		n[r.Mark]++
		if r.Delta != r.BDuration-r.ADuration {
			t.Errorf("row %d: delta %v, durations %v and %v", k, r.Delta, r.ADuration, r.BDuration)
		}
		if (r.A < 0) != (r.Mark == Added) || (r.B < 0) != (r.Mark == Removed) {
			t.Errorf("row %d: marked %v with spans %d and %d", k, r.Mark, r.A, r.B)
		}
		if r.A >= 0 && seenA[r.A] || r.B >= 0 && seenB[r.B] {
			t.Errorf("row %d: span shown twice", k)
		}
		seenA[r.A], seenB[r.B] = true, true
		if k == 0 && r.Depth != 0 || k > 0 && r.Depth > res.Rows[k-1].Depth+1 {
			t.Errorf("row %d: depth %d after %d", k, r.Depth, res.Rows[max(k-1, 0)].Depth)
		}
	}
	if n[Same] != res.Same || n[Changed] != res.Changed || n[Added] != res.Added || n[Removed] != res.Removed {
		t.Errorf("counts %+v, rows have %v", res, n)
	}
	if a, b := res.A.SpanCount, res.B.SpanCount; res.Same+res.Changed+res.Removed != a || res.Same+res.Changed+res.Added != b {
		t.Errorf("rows account for %d and %d spans, traces hold %d and %d", res.Same+res.Changed+res.Removed, res.Same+res.Changed+res.Added, a, b)
	}
	if res.Delta != res.B.Duration-res.A.Duration {
		t.Errorf("trace delta %v, durations %v and %v", res.Delta, res.A.Duration, res.B.Duration)
	}
}

func TestIsChanged(t *testing.T) {
	f := func(a, b time.Duration, want bool) {
		t.Helper()
		if got := IsChanged(a, b); got != want {
			t.Errorf("IsChanged(%v, %v) = %v, want %v", a, b, got, want)
		}
	}
	f(0, 0, false)
	f(0, time.Millisecond, false) // not more than 1 ms
	f(0, time.Millisecond+1, true)
	f(10*time.Millisecond, 11*time.Millisecond+1, true)
	f(100*time.Millisecond, 110*time.Millisecond, false) // not more than 10%
	f(100*time.Millisecond, 110*time.Millisecond+1, true)
	f(100*time.Millisecond, 89*time.Millisecond, true) // faster counts too
	f(time.Hour, time.Hour+time.Minute, false)
}

// TestCompareDeep compares chains as deep as the traces are long, which
// recursion would not survive, and a trace whose parents form a cycle.
func TestCompareDeep(t *testing.T) {
	chain := func(n int, op string) []telemetry.Span {
		var b strings.Builder
		for i := 1; i <= n; i++ {
			if i > 1 {
				fmt.Fprintf(&b, " %d<%d:s/%s@%d+1", i, i-1, op, i)
			} else {
				fmt.Fprintf(&b, "%d:s/%s@%d+1", i, op, i)
			}
		}
		return parse(t, b.String())
	}
	a, b := chain(100_000, "x"), chain(100_001, "x")
	res := Compare(a, b)
	check(t, res)
	if res.Same != 100_000 || res.Added != 1 || res.Rows[len(res.Rows)-1].Depth != 100_000 {
		t.Errorf("chains of 100,000 and 100,001: %d same, %d added, last depth %d", res.Same, res.Added, res.Rows[len(res.Rows)-1].Depth)
	}
	cycle := parse(t, "1<3:s/x@0+5 2<1:s/y@1+1 3<2:s/z@2+1")
	res = Compare(cycle, cycle)
	check(t, res)
	if got := show(res); got != "=s/x =.s/y =..s/z" {
		t.Errorf("a cycle compared with itself: %s", got)
	}
}
