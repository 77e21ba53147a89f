package storetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// testREDSeries checks RED series against spans of known times, kinds and
// durations: exact counts and errors per bucket whatever the step, the
// bucket a span on an edge belongs to, empty ranges, ranges reaching past
// retention, and percentiles within 1%.
func testREDSeries(t *testing.T, open TraceOpener) {
	s := openStore(t, open)
	sr, ok := s.(store.SeriesReader)
	if !ok {
		t.Skip("backend does not implement store.SeriesReader")
	}
	ctx := context.Background()
	series := func(project, service, op string, from, to time.Time, step time.Duration) []store.REDPoint {
		t.Helper()
		got, err := sr.REDSeries(ctx, project, service, op, from, to, step)
		if err != nil {
			t.Fatalf("REDSeries(%s, %q, %s..%s, %s): %v", service, op, from.Format(time.TimeOnly), to.Format(time.TimeOnly), step, err)
		}
		return got
	}
	// t0 is on a bucket edge of every step used here.
	t0 := base.Add(-time.Hour)
	api := Resource("api")
	// Per 10 s bucket from t0: requests (root server spans of "GET /"),
	// each with an internal child "db" (not an entry span) and, for the
	// second bucket, one consumer span "job" (an entry span, not a root).
	// Every third request fails.
	var spans []telemetry.Span
	n := 0
	request := func(at time.Time, d time.Duration) {
		n++
		root := span(api, n, 1, 0, "GET /", at, d)
		if n%3 == 0 {
			root.StatusCode = telemetry.StatusError
		}
		spans = append(spans, root, span(api, n, 2, 1, "db", at, d/2))
	}
	// Bucket 0: 3 requests, the first exactly on its start edge.
	request(t0, 10*time.Millisecond)
	request(t0.Add(4*time.Second), 20*time.Millisecond)
	request(t0.Add(10*time.Second-time.Nanosecond), 30*time.Millisecond) // its last instant
	// Bucket 1: 2 requests, the first exactly on its start edge, and a job.
	request(t0.Add(10*time.Second), 40*time.Millisecond)
	request(t0.Add(15*time.Second), 50*time.Millisecond)
	job := span(api, 900, 1, 77, "job", t0.Add(12*time.Second), 5*time.Millisecond)
	job.Kind = telemetry.KindConsumer
	spans = append(spans, job)
	// Bucket 7 (t0+70s, the second minute): 1 request.
	request(t0.Add(70*time.Second), 60*time.Millisecond)
	write(t, s, "red", spans...)
	write(t, s, "red", spans...) // a retried batch adds nothing

	counts := func(ps []store.REDPoint) string {
		var b strings.Builder
		for i, p := range ps {
			if i > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "%d/%d", p.Count, p.Errors)
		}
		return b.String()
	}
	check := func(name, got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("%s: got\n %s\nwant\n %s", name, got, want)
		}
	}

	t.Run("ExactCountsAndEdges", func(t *testing.T) {
		ps := series("red", "api", "", t0, t0.Add(90*time.Second), 10*time.Second)
		if len(ps) != 9 {
			t.Fatalf("%d points over 90 s at 10 s, want 9", len(ps))
		}
		for i, p := range ps {
			if want := t0.Add(time.Duration(i) * 10 * time.Second); !p.Start.Equal(want) {
				t.Errorf("point %d starts at %s, want %s", i, p.Start, want)
			}
		}
		// Requests 3 and 6 fail: request 3 is bucket 0's last, 6 bucket 7's.
		check("entry spans at 10 s", counts(ps), "3/1 3/0 0/0 0/0 0/0 0/0 0/0 1/1 0/0")
		check("operation db at 10 s", counts(series("red", "api", "db", t0, t0.Add(90*time.Second), 10*time.Second)),
			"3/0 2/0 0/0 0/0 0/0 0/0 0/0 1/0 0/0")
		check("operation job at 10 s", counts(series("red", "api", "job", t0, t0.Add(30*time.Second), 10*time.Second)),
			"0/0 1/0 0/0")
		check("entry spans at 1 min", counts(series("red", "api", "", t0, t0.Add(3*time.Minute), time.Minute)), "6/1 1/1 0/0")
		check("entry spans at 30 s", counts(series("red", "api", "", t0, t0.Add(90*time.Second), 30*time.Second)), "6/1 0/0 1/1")
		check("entry spans at 1 h", counts(series("red", "api", "", t0, base, time.Hour)), "7/2")
		check("entry spans at 1 day", counts(series("red", "api", "", t0, base, 24*time.Hour)), "7/2")
		// A range starting inside a bucket covers the whole bucket; one
		// ending on an edge does not include the bucket that starts there.
		check("unaligned range", counts(series("red", "api", "", t0.Add(5*time.Second), t0.Add(20*time.Second), 10*time.Second)), "3/1 3/0")
		check("range ending on an edge", counts(series("red", "api", "", t0, t0.Add(10*time.Second), 10*time.Second)), "3/1")
	})

	t.Run("EmptyRanges", func(t *testing.T) {
		check("no spans in range", counts(series("red", "api", "", base.Add(-3*time.Hour), base.Add(-2*time.Hour), 20*time.Minute)), "0/0 0/0 0/0")
		check("unknown service", counts(series("red", "nobody", "", t0, t0.Add(30*time.Second), 10*time.Second)), "0/0 0/0 0/0")
		check("unknown operation", counts(series("red", "api", "nothing", t0, t0.Add(30*time.Second), 10*time.Second)), "0/0 0/0 0/0")
		check("other project", counts(series("other", "api", "", t0, t0.Add(30*time.Second), 10*time.Second)), "0/0 0/0 0/0")
		for _, p := range series("red", "nobody", "", t0, t0.Add(time.Minute), time.Minute) {
			if p.P50 != 0 || p.P95 != 0 || p.P99 != 0 {
				t.Errorf("empty bucket has percentiles %v %v %v", p.P50, p.P95, p.P99)
			}
		}
		if got := series("red", "api", "", t0, t0, 10*time.Second); len(got) != 0 {
			t.Errorf("an empty range has %d points", len(got))
		}
	})

	t.Run("Percentiles", func(t *testing.T) {
		// 100 entry spans of 1..100 ms, over two minutes' buckets.
		at := base.Add(-30 * time.Minute)
		var ps []telemetry.Span
		for i := 1; i <= 100; i++ {
			ps = append(ps, span(Resource("pct"), 2000+i, 1, 0, "op", at.Add(time.Duration(i)*time.Second), time.Duration(i)*time.Millisecond))
		}
		write(t, s, "red", ps[:37]...)
		write(t, s, "red", ps[37:]...)
		for _, step := range []time.Duration{5 * time.Minute, time.Hour} {
			got := series("red", "pct", "", at, at.Add(5*time.Minute), step)
			if len(got) != 1 || got[0].Count != 100 {
				t.Fatalf("step %s: %+v, want one bucket of 100", step, got)
			}
			near(t, fmt.Sprintf("p50 at %s", step), got[0].P50, 50*time.Millisecond)
			near(t, fmt.Sprintf("p95 at %s", step), got[0].P95, 95*time.Millisecond)
			near(t, fmt.Sprintf("p99 at %s", step), got[0].P99, 99*time.Millisecond)
		}
		one := series("red", "api", "", t0, t0.Add(10*time.Second), 10*time.Second)[0]
		near(t, "p50 of 10, 20, 30 ms", one.P50, 20*time.Millisecond)
		near(t, "p99 of 10, 20, 30 ms", one.P99, 30*time.Millisecond)
	})

	t.Run("BeyondRetention", func(t *testing.T) {
		old := base.Add(-10 * 24 * time.Hour).Truncate(24 * time.Hour).Add(time.Hour)
		write(t, s, "ret", span(Resource("r"), 1, 1, 0, "op", old, time.Millisecond))
		write(t, s, "ret", span(Resource("r"), 2, 1, 0, "op", base.Add(-time.Minute), time.Millisecond))
		// 400 days at one day, from a bucket holding the middle of its day
		// to the day after tomorrow: 402 buckets, far more than kept.
		from, to := base.Add(-400*24*time.Hour), base.Add(24*time.Hour)
		total := func() (n int64, days int) {
			got := series("ret", "r", "", from, to, 24*time.Hour)
			for _, p := range got {
				n += p.Count
			}
			return n, len(got)
		}
		if n, days := total(); n != 2 || days != 402 {
			t.Errorf("before retention: %d spans in %d days, want 2 in 402", n, days)
		}
		if err := s.DeleteSpansBefore(ctx, base.Add(-5*24*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if n, _ := total(); n != 1 {
			t.Errorf("after retention: %d spans, want 1 (the old day's buckets dropped with its spans)", n)
		}
		check("recent hour after retention", counts(series("ret", "r", "", base.Add(-time.Hour), base, time.Hour)), "1/0")
	})

	t.Run("BadStep", func(t *testing.T) {
		for _, step := range []time.Duration{0, -10 * time.Second, time.Second, 15 * time.Second} {
			if _, err := sr.REDSeries(ctx, "red", "api", "", t0, base, step); err == nil {
				t.Errorf("step %s accepted", step)
			}
		}
	})
}

// testTracePoints checks that the points of a search are the traces
// FindTraces finds, newest first, and that a point describes the root span
// when the root itself matches.
func testTracePoints(t *testing.T, open TraceOpener) {
	s := openStore(t, open)
	pr, ok := s.(store.TracePointReader)
	if !ok {
		t.Skip("backend does not implement store.TracePointReader")
	}
	ctx := context.Background()
	fe, be := Resource("frontend"), Resource("backend", str("region", "eu"))
	var spans []telemetry.Span
	for i := 1; i <= 40; i++ {
		at := base.Add(-time.Duration(i) * 37 * time.Second)
		root := span(fe, i, 1, 0, fmt.Sprintf("GET /%d", i%3), at, time.Duration(50+i)*time.Millisecond, str("tenant", fmt.Sprint(i%4)))
		if i%5 == 0 {
			root.StatusCode = telemetry.StatusError
		}
		child := span(be, i, 2, 1, "query", at.Add(5*time.Millisecond), time.Duration(i)*time.Millisecond)
		if i%7 == 0 {
			child.StatusCode = telemetry.StatusError
		}
		spans = append(spans, child, root)
	}
	write(t, s, "pts", spans[:30]...)
	write(t, s, "pts", spans[30:]...)

	queries := []struct {
		name string
		q    store.TraceQuery
		// rootMatches: the root span matches q, so points describe it.
		rootMatches bool
	}{
		{"all", store.TraceQuery{}, true},
		{"root service", store.TraceQuery{Service: "frontend"}, true},
		{"root operation", store.TraceQuery{Service: "frontend", Operation: "GET /1"}, true},
		{"attribute", store.TraceQuery{Attributes: []store.AttributeFilter{{Key: "tenant", Value: "2"}}}, true},
		{"child service", store.TraceQuery{Service: "backend"}, false},
		{"child errors", store.TraceQuery{Service: "backend", ErrorsOnly: true}, false},
		{"errors anywhere", store.TraceQuery{ErrorsOnly: true}, false},
		{"resource attribute", store.TraceQuery{Attributes: []store.AttributeFilter{{Key: "region", Value: "eu"}}}, false},
		{"min duration", store.TraceQuery{Service: "backend", MinDuration: 30 * time.Millisecond}, false},
		{"window", store.TraceQuery{Start: base.Add(-10 * time.Minute), End: base.Add(-5 * time.Minute)}, true},
		{"nothing", store.TraceQuery{Service: "nobody"}, false},
	}
	for _, tc := range queries {
		t.Run(tc.name, func(t *testing.T) {
			q := tc.q
			q.Limit = store.MaxLimit
			want, err := s.FindTraces(ctx, "pts", q)
			if err != nil {
				t.Fatal(err)
			}
			got, err := pr.FindTracePoints(ctx, "pts", tc.q, 10_000)
			if err != nil {
				t.Fatal(err)
			}
			if g, w := pointIDs(got), summaryIDs(want); g != w {
				t.Fatalf("points of traces\n %s\nFindTraces found\n %s", g, w)
			}
			checkPoints(t, got, want, tc.rootMatches)
			// The limit keeps the newest, as FindTraces' does.
			if len(want) > 3 {
				q.Limit = 3
				want3, err := s.FindTraces(ctx, "pts", q)
				if err != nil {
					t.Fatal(err)
				}
				got3, err := pr.FindTracePoints(ctx, "pts", tc.q, 3)
				if err != nil {
					t.Fatal(err)
				}
				if g, w := pointIDs(got3), summaryIDs(want3); g != w {
					t.Errorf("limit 3: points of traces\n %s\nFindTraces found\n %s", g, w)
				}
			}
		})
	}
	if got, err := pr.FindTracePoints(ctx, "other", store.TraceQuery{}, 10); err != nil || len(got) != 0 {
		t.Errorf("another project's points: %d, %v", len(got), err)
	}
}

func checkPoints(t *testing.T, got []store.TracePoint, want []store.TraceSummary, rootMatches bool) {
	t.Helper()
	byID := map[telemetry.TraceID]store.TraceSummary{}
	for _, w := range want {
		byID[w.TraceID] = w
	}
	for i, p := range got {
		if i > 0 && p.Start.After(got[i-1].Start) {
			t.Errorf("point %d (%s) is newer than point %d (%s): not newest first", i, p.Start, i-1, got[i-1].Start)
		}
		w := byID[p.TraceID]
		if rootMatches {
			if !p.Start.Equal(w.Start) || p.RootService != w.RootService || p.RootOperation != w.RootOperation {
				t.Errorf("point %s: %s %s/%s, want its root %s %s/%s", p.TraceID, p.Start, p.RootService, p.RootOperation,
					w.Start, w.RootService, w.RootOperation)
			}
			if p.Duration != w.Duration {
				t.Errorf("point %s: duration %s, want the root's %s", p.TraceID, p.Duration, w.Duration)
			}
			if p.Error != isRootError(p.TraceID) {
				t.Errorf("point %s: error %v, want the root's", p.TraceID, p.Error)
			}
			continue
		}
		end := w.Start.Add(w.Duration)
		if p.Start.Before(w.Start) || p.Start.After(end) || p.Duration > w.Duration {
			t.Errorf("point %s at %s for %s lies outside its trace (%s for %s)", p.TraceID, p.Start, p.Duration, w.Start, w.Duration)
		}
		if p.RootService != w.RootService && p.RootService != "backend" {
			t.Errorf("point %s names service %q: neither the root's %q nor a matching span's", p.TraceID, p.RootService, w.RootService)
		}
	}
}

// isRootError says whether the root of a testTracePoints trace failed.
func isRootError(id telemetry.TraceID) bool { return (int(id[14])<<8|int(id[15]))%5 == 0 }

func pointIDs(ps []store.TracePoint) string {
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.TraceID.String()
	}
	slices.Sort(ids)
	return fmt.Sprint(len(ids), ids)
}

func summaryIDs(ss []store.TraceSummary) string {
	ids := make([]string, len(ss))
	for i, s := range ss {
		ids[i] = s.TraceID.String()
	}
	slices.Sort(ids)
	return fmt.Sprint(len(ids), ids)
}
