package critpath_test

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/tracekit-oss/tracekit/internal/critpath"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// sid is the span ID of a test span named by up to 8 letters.
func sid(name string) telemetry.SpanID {
	var id telemetry.SpanID
	copy(id[:], name)
	return id
}

// parse reads "id@start-end" (a root) and "id<parent@start-end" words;
// times are nanoseconds.
func parse(t testing.TB, spec string) []telemetry.Span {
	t.Helper()
	var spans []telemetry.Span
	for _, w := range strings.Fields(spec) {
		link, times, ok1 := strings.Cut(w, "@")
		a, b, ok2 := strings.Cut(times, "-")
		start, err1 := strconv.ParseInt(a, 10, 64)
		end, err2 := strconv.ParseInt(b, 10, 64)
		if !ok1 || !ok2 || err1 != nil || err2 != nil {
			t.Fatalf("bad span %q: use id@start-end or id<parent@start-end", w)
		}
		id, parent, _ := strings.Cut(link, "<")
		s := telemetry.Span{SpanID: sid(id), StartUnixNano: start, EndUnixNano: end}
		if parent != "" {
			s.ParentSpanID = sid(parent)
		}
		spans = append(spans, s)
	}
	return spans
}

// show writes segments as "id:start-end" words.
func show(spans []telemetry.Span, p critpath.Path) string {
	var b strings.Builder
	for k, s := range p.Segments {
		if k > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s:%d-%d", strings.TrimRight(string(spans[s.Span].SpanID[:]), "\x00"), s.Start, s.End)
	}
	return b.String()
}

func TestCompute(t *testing.T) {
	f := func(name, spec, want string) {
		t.Helper()
		spans := parse(t, spec)
		p := critpath.Compute(spans)
		if got := show(spans, p); got != want {
			t.Errorf("%s: %s\n got  %s\n want %s", name, spec, got, want)
		}
		checkPath(t, spans, p)
	}
	f("empty", "", "")
	f("one span", "a@0-100", "a:0-100")

	// Sequential children are each on the path; the gaps are the parent's.
	f("sequential", "a@0-100 b<a@10-30 c<a@40-70", "a:0-10 b:10-30 a:30-40 c:40-70 a:70-100")
	f("sequential, back to back", "a@0-100 b<a@0-50 c<a@50-100", "b:0-50 c:50-100")
	f("nested", "a@0-100 b<a@10-90 c<b@20-80", "a:0-10 b:10-20 c:20-80 b:80-90 a:90-100")

	// Parallel children: only the one that ended last, whatever its own
	// children, however many spans the other chains hold.
	f("parallel", "a@0-100 b<a@10-80 c<a@10-50", "a:0-10 b:10-80 a:80-100")
	f("parallel, longest chain", "a@0-100 b<a@10-60 d<b@20-55 e<d@21-54 c<a@10-70", "a:0-10 c:10-70 a:70-100")
	f("parallel, equal ends: the earlier start", "a@0-100 b<a@20-80 c<a@10-80", "a:0-10 c:10-80 a:80-100")
	f("parallel, equal spans: tree order", "a@0-100 c<a@10-80 b<a@10-80", "a:0-10 b:10-80 a:80-100")

	// Overlapping: a child still running when the next child on the path
	// started is not on it; one that ended before is.
	f("overlapping", "a@0-100 b<a@10-50 c<a@40-90", "a:0-40 c:40-90 a:90-100")
	f("overlapping, earlier one ended", "a@0-100 b<a@5-20 c<a@10-50 d<a@40-90", "a:0-5 b:5-20 a:20-40 d:40-90 a:90-100")
	f("overlapping, touching", "a@0-100 b<a@10-40 c<a@40-90", "a:0-10 b:10-40 c:40-90 a:90-100")

	// Async: a child that outlived its parent is cut at the parent's end;
	// one that started after it is not on the path.
	f("async, outlives parent", "a@0-100 b<a@50-200", "a:0-50 b:50-100")
	f("async, after parent", "a@0-100 b<a@150-200", "a:0-100")
	f("async grandchild", "a@0-100 b<a@10-60 c<b@50-300", "a:0-10 b:10-50 c:50-60 a:60-100")

	// Clock skew: children clamped into their parents.
	f("skew, starts before parent", "a@100-200 b<a@50-150", "b:100-150 a:150-200")
	f("skew, ends after parent", "a@100-200 b<a@150-250", "a:100-150 b:150-200")
	f("skew, wholly before parent", "a@100-200 b<a@0-50", "a:100-200")
	f("skew, clamped into a clamped parent", "a@100-200 b<a@50-150 c<b@60-120", "c:100-120 b:120-150 a:150-200")
	f("skew, wider than parent", "a@100-200 b<a@0-300", "b:100-200")

	// Spans that last no time are never on the path.
	f("zero length", "a@0-100 b<a@50-50", "a:0-100")
	f("end before start", "a@0-100 b<a@60-40", "a:0-100")
	f("root of no time", "a@50-50 b<a@40-60", "")

	// Roots and orphans: no one owns the time between them.
	f("two roots", "a@0-50 b@100-150", "a:0-50 b:100-150")
	f("overlapping roots", "a@0-100 o@90-150", "a:0-90 o:90-150")
	f("orphan within the root", "a@0-100 o<x@30-60", "a:0-100")
	f("orphan outliving the root", "a@0-100 o<x@30-160 p<o@100-150", "a:0-30 o:30-100 p:100-150 o:150-160")
	f("cycle", "a<b@0-100 b<a@10-50", "a:0-10 b:10-50 a:50-100")
}

func TestCriticalTotals(t *testing.T) {
	spans := parse(t, "a@0-100 b<a@10-30 c<a@40-70 d<c@45-50 e<a@40-60")
	p := critpath.Compute(spans)
	// a:0-10 b:10-30 a:30-40 c:40-45 d:45-50 c:50-70 a:70-100; e ran
	// in c's shadow.
	want := []int64{50, 20, 25, 5, 0}
	for i, w := range want {
		if p.Critical[i] != w {
			t.Errorf("span %d: %d ns critical, want %d (path %s)", i, p.Critical[i], w, show(spans, p))
		}
	}
}

// TestDeepChain checks that a chain of parents as long as the trace does
// not exhaust the stack: nothing recurses.
func TestDeepChain(t *testing.T) {
	const n = 100_000
	spans := make([]telemetry.Span, n)
	for i := range spans {
		spans[i] = telemetry.Span{SpanID: idOf(i), StartUnixNano: int64(i), EndUnixNano: int64(2*n - i)}
		if i > 0 {
			spans[i].ParentSpanID = idOf(i - 1)
		}
	}
	p := critpath.Compute(spans)
	if len(p.Segments) != 2*n-1 {
		t.Errorf("%d segments, want %d", len(p.Segments), 2*n-1)
	}
	checkPath(t, spans, p)
}

// TestRandom checks what holds of every path on random traces with skew,
// async children, orphans and ties.
func TestRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 2))
	for range 300 {
		spans := randomTrace(rng, 1+rng.IntN(60))
		checkPath(t, spans, critpath.Compute(spans))
		if t.Failed() {
			return
		}
	}
}

func idOf(i int) telemetry.SpanID {
	return telemetry.SpanID{1, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}
}

// randomTrace is a trace of n spans under one root, with children of
// random times around their parents', some missing parents and some
// repeated times.
func randomTrace(rng *rand.Rand, n int) []telemetry.Span {
	spans := make([]telemetry.Span, n)
	for i := range spans {
		s := &spans[i]
		s.SpanID = idOf(i)
		if i == 0 {
			s.StartUnixNano, s.EndUnixNano = 0, 1000
			continue
		}
		p := &spans[rng.IntN(i)]
		s.ParentSpanID = p.SpanID
		if rng.IntN(20) == 0 {
			s.ParentSpanID = idOf(n + i) // missing
		}
		d := p.EndUnixNano - p.StartUnixNano
		s.StartUnixNano = p.StartUnixNano + rng.Int64N(d+1) - d/10
		s.EndUnixNano = s.StartUnixNano + rng.Int64N(d+1)
		if rng.IntN(10) == 0 {
			s.EndUnixNano = p.EndUnixNano + rng.Int64N(100) // async
		}
		s.StartUnixNano -= s.StartUnixNano % 10 // ties
		s.EndUnixNano -= s.EndUnixNano % 10
	}
	rng.Shuffle(n, func(a, b int) { spans[a], spans[b] = spans[b], spans[a] })
	return spans
}

// checkPath asserts what holds of every path: segments in order, none
// empty or overlapping, each within its span's own times, totals summing
// them, two segments of one span never touching; and a trace with one root is covered
// from its start to its end.
func checkPath(t *testing.T, spans []telemetry.Span, p critpath.Path) {
	t.Helper()
	if len(p.Critical) != len(spans) {
		t.Fatalf("%d critical totals for %d spans", len(p.Critical), len(spans))
	}
	parent := map[telemetry.SpanID]telemetry.SpanID{}
	for _, s := range spans {
		parent[s.SpanID] = s.ParentSpanID
	}
	sum := make([]int64, len(spans))
	for k, sg := range p.Segments {
		s := &spans[sg.Span]
		if sg.End <= sg.Start || sg.Start < s.StartUnixNano || sg.End > s.EndUnixNano {
			t.Fatalf("segment %d %+v is empty or outside its span %d-%d", k, sg, s.StartUnixNano, s.EndUnixNano)
		}
		if k > 0 {
			prev := p.Segments[k-1]
			if prev.End > sg.Start {
				t.Fatalf("segments %d %+v and %d %+v overlap or are out of order", k-1, prev, k, sg)
			}
			if prev.End == sg.Start && prev.Span == sg.Span {
				t.Fatalf("segments %d and %d of span %d touch: they should be one", k-1, k, sg.Span)
			}
		}
		sum[sg.Span] += sg.End - sg.Start
	}
	for i := range sum {
		if sum[i] != p.Critical[i] {
			t.Fatalf("span %d: %d ns critical, its segments sum to %d", i, p.Critical[i], sum[i])
		}
	}
	root := oneRoot(spans)
	if root != nil && root.EndUnixNano > root.StartUnixNano {
		first, last := p.Segments[0], p.Segments[len(p.Segments)-1]
		if first.Start != root.StartUnixNano || last.End != root.EndUnixNano {
			t.Fatalf("the path runs %d-%d, the root %d-%d", first.Start, last.End, root.StartUnixNano, root.EndUnixNano)
		}
		for k := 1; k < len(p.Segments); k++ {
			if p.Segments[k-1].End != p.Segments[k].Start {
				t.Fatalf("a gap between segments %d and %d of a one-rooted trace", k-1, k)
			}
		}
	}
}

// oneRoot returns the root of a trace whose IDs are unique and whose every
// span leads up to that one root, and nil for any other trace.
func oneRoot(spans []telemetry.Span) *telemetry.Span {
	byID := make(map[telemetry.SpanID]int, len(spans))
	var root *telemetry.Span
	for i := range spans {
		if _, dup := byID[spans[i].SpanID]; dup {
			return nil
		}
		byID[spans[i].SpanID] = i
		if !spans[i].ParentSpanID.IsValid() {
			if root != nil {
				return nil
			}
			root = &spans[i]
		}
	}
	// Each span's chain of parents, once: 1 on the chain being followed,
	// 2 known to lead to the root.
	state := make([]uint8, len(spans))
	if root != nil {
		state[byID[root.SpanID]] = 2
	}
	var chain []int
	for i := range spans {
		chain = chain[:0]
		k := i
		for state[k] == 0 {
			state[k] = 1
			chain = append(chain, k)
			p, ok := byID[spans[k].ParentSpanID]
			if !ok {
				return nil // a missing parent
			}
			k = p
		}
		if state[k] == 1 {
			return nil // a cycle
		}
		for _, c := range chain {
			state[c] = 2
		}
	}
	return root
}
