package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// testServiceMap checks the edges a backend aggregates from spans: exact
// counts for traces of known shape, whatever the order and grouping in
// which a trace's spans arrive.
func testServiceMap(t *testing.T, open TraceOpener) {
	s := openStore(t, open)
	sm, ok := s.(store.ServiceMapReader)
	if !ok {
		t.Skip("backend does not implement store.ServiceMapReader")
	}
	ctx := context.Background()
	edges := func(project string, from, to time.Time) string {
		t.Helper()
		got, err := sm.ServiceMap(ctx, project, from, to)
		if err != nil {
			t.Fatalf("ServiceMap(%s): %v", project, err)
		}
		return describeEdges(got)
	}
	hour := func(project string) string { return edges(project, base.Add(-time.Hour), base) }

	t.Run("KnownShape", func(t *testing.T) {
		// 20 requests: frontend calls backend through a client span naming
		// its host; backend queries PostgreSQL and publishes to Kafka.
		// Every fifth backend request fails; every tenth publish fails.
		fe, be := Resource("frontend"), Resource("backend")
		var spans []telemetry.Span
		t0 := base.Add(-40 * time.Minute)
		for i := 1; i <= 20; i++ {
			at := t0.Add(time.Duration(i) * time.Second)
			root := span(fe, 1000+i, 1, 0, "GET /", at, 200*time.Millisecond)
			cl := span(fe, 1000+i, 2, 1, "GET /api", at, 150*time.Millisecond, str("server.address", "backend.internal"))
			cl.Kind = telemetry.KindClient
			srv := span(be, 1000+i, 3, 2, "GET /api", at, time.Duration(i)*time.Millisecond)
			srv.Kind = telemetry.KindServer
			if i%5 == 0 {
				srv.StatusCode = telemetry.StatusError
			}
			db := span(be, 1000+i, 4, 3, "SELECT", at, time.Millisecond, str("db.system.name", "postgresql"))
			db.Kind = telemetry.KindClient
			pub := span(be, 1000+i, 5, 3, "orders publish", at, time.Millisecond, str("messaging.system", "kafka"))
			pub.Kind = telemetry.KindProducer
			if i%10 == 0 {
				pub.StatusCode = telemetry.StatusError
			}
			spans = append(spans, pub, db, srv, cl, root)
		}
		write(t, s, "shape", spans...)
		want := "backend→kafka(messaging) calls=20 errors=2\n" +
			"backend→postgresql(database) calls=20 errors=0\n" +
			"frontend→backend(service) calls=20 errors=4"
		if got := hour("shape"); got != want {
			t.Errorf("edges:\n%s\nwant:\n%s", got, want)
		}
		got, _ := sm.ServiceMap(ctx, "shape", base.Add(-time.Hour), base)
		for _, e := range got {
			if e.Caller != "frontend" {
				continue
			}
			// Latency is the callee's span's: 1..20 ms.
			near(t, "p50", e.P50, 10*time.Millisecond)
			near(t, "p95", e.P95, 19*time.Millisecond)
			near(t, "p99", e.P99, 20*time.Millisecond)
			if len(e.Traces) == 0 {
				t.Errorf("frontend→backend lists no trace")
			}
			for _, id := range e.Traces {
				if n := int(id[14])<<8 | int(id[15]); id[0] != 0xab || n < 1001 || n > 1020 {
					t.Errorf("trace %s is not one of the calls'", id)
				}
			}
		}
		// A retried batch counts once.
		write(t, s, "shape", spans...)
		if got := hour("shape"); got != want {
			t.Errorf("after a retry:\n%s\nwant:\n%s", got, want)
		}
		if got := hour("other"); got != "" {
			t.Errorf("another project sees:\n%s", got)
		}
		if got := edges("shape", base.Add(-30*time.Minute), base); got != "" {
			t.Errorf("a window without calls has:\n%s", got)
		}
	})

	t.Run("BatchesInAnyOrder", func(t *testing.T) {
		// One trace, three services, in three batches, in each of the six
		// orders: A's root and client span (naming B's host); B's server
		// span and a client span without a leaf attribute; C's server span
		// and its MySQL query (db.system, the older attribute).
		a, b, c := Resource("a"), Resource("b"), Resource("c")
		at := base.Add(-20 * time.Minute)
		s1 := span(a, 1, 1, 0, "GET /", at, 90*time.Millisecond)
		s2 := span(a, 1, 2, 1, "GET /b", at, 80*time.Millisecond, str("server.address", "b.internal"))
		s2.Kind = telemetry.KindClient
		s3 := span(b, 1, 3, 2, "GET /b", at, 70*time.Millisecond)
		s3.Kind, s3.StatusCode = telemetry.KindServer, telemetry.StatusError
		s4 := span(b, 1, 4, 3, "call c", at, 60*time.Millisecond)
		s4.Kind = telemetry.KindClient
		s5 := span(c, 1, 5, 4, "work", at, 50*time.Millisecond)
		s5.Kind = telemetry.KindConsumer
		s6 := span(c, 1, 6, 5, "SELECT", at, 10*time.Millisecond, str("db.system", "mysql"))
		s6.Kind = telemetry.KindClient
		batches := [][]telemetry.Span{{s1, s2}, {s3, s4}, {s5, s6}}
		want := "a→b(service) calls=1 errors=1\n" +
			"b→c(service) calls=1 errors=0\n" +
			"c→mysql(database) calls=1 errors=0"
		for i, order := range [][3]int{{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}} {
			project := fmt.Sprintf("order-%d", i)
			for _, n := range order {
				write(t, s, project, batches[n]...)
			}
			if got := hour(project); got != want {
				t.Errorf("batches in order %v:\n%s\nwant:\n%s", order, got, want)
			}
		}
		// All in one batch, children first.
		write(t, s, "one-batch", s6, s5, s4, s3, s2, s1)
		if got := hour("one-batch"); got != want {
			t.Errorf("one batch:\n%s\nwant:\n%s", got, want)
		}
	})

	t.Run("TimeRange", func(t *testing.T) {
		// Calls at 09:30, 10:30 and 11:50 on the suite's day (base is
		// 12:00), caller first: ranges read whole hours and minutes at
		// either end.
		a, b := Resource("a"), Resource("b")
		for i, ago := range []time.Duration{150 * time.Minute, 90 * time.Minute, 10 * time.Minute} {
			p := span(a, 50+i, 1, 0, "GET /", base.Add(-ago), 20*time.Millisecond)
			p.Kind = telemetry.KindClient
			c := span(b, 50+i, 2, 1, "GET /b", base.Add(-ago), 10*time.Millisecond)
			c.Kind = telemetry.KindServer
			write(t, s, "range", p)
			write(t, s, "range", c)
		}
		f := func(from, to time.Time, calls int) {
			t.Helper()
			want := ""
			if calls > 0 {
				want = fmt.Sprintf("a→b(service) calls=%d errors=0", calls)
			}
			if got := edges("range", from, to); got != want {
				t.Errorf("[%s, %s]: %q, want %q", from.Format("15:04"), to.Format("15:04"), got, want)
			}
		}
		f(base.Add(-3*time.Hour), base, 3)
		f(base.Add(-100*time.Minute), base, 2)
		f(base.Add(-90*time.Minute), base.Add(-90*time.Minute), 1)
		f(base.Add(-89*time.Minute), base.Add(-11*time.Minute), 0)
		f(base.Add(-24*time.Hour), base.Add(time.Hour), 3)
	})
}

func near(t *testing.T, what string, got, want time.Duration) {
	t.Helper()
	if diff := got - want; diff > want/100 || -diff > want/100 {
		t.Errorf("%s = %v, want %v within 1%%", what, got, want)
	}
}

// describeEdges prints edges one a line, in the order given.
func describeEdges(edges []store.ServiceEdge) string {
	var b strings.Builder
	for i, e := range edges {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s→%s(%s) calls=%d errors=%d", e.Caller, e.Callee, e.CalleeKind, e.Calls, e.Errors)
	}
	return b.String()
}
