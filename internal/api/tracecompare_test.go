package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tracekit-oss/tracekit/internal/server/servertest"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// compareTraces is a checkout before and after a change: the charge got
// slower, it writes three rows instead of two, and the cache call is gone.
func compareTraces(start time.Time) (a, b []telemetry.Span) {
	gw, pay, db := &telemetry.Resource{ServiceName: "gateway"}, &telemetry.Resource{ServiceName: "payments"}, &telemetry.Resource{ServiceName: "postgres"}
	ms := func(n int) int64 { return start.Add(time.Duration(n) * time.Millisecond).UnixNano() }
	span := func(tid byte, id, parent byte, res *telemetry.Resource, name string, from, to int) telemetry.Span {
		s := telemetry.Span{TraceID: telemetry.TraceID{0xc0, tid}, SpanID: telemetry.SpanID{tid, id}, Name: name, Resource: res,
			StartUnixNano: ms(from), EndUnixNano: ms(to)}
		if parent != 0 {
			s.ParentSpanID = telemetry.SpanID{tid, parent}
		}
		return s
	}
	a = []telemetry.Span{
		span(1, 1, 0, gw, "POST /checkout", 0, 100),
		span(1, 2, 1, pay, "charge", 10, 50),
		span(1, 3, 2, db, "INSERT", 12, 17),
		span(1, 4, 2, db, "INSERT", 20, 25),
		span(1, 5, 1, gw, "cache get", 60, 62),
	}
	b = []telemetry.Span{
		span(2, 1, 0, gw, "POST /checkout", 0, 130),
		span(2, 2, 1, pay, "charge", 10, 80),
		span(2, 3, 2, db, "INSERT", 12, 17),
		span(2, 4, 2, db, "INSERT", 20, 25),
		span(2, 5, 2, db, "INSERT", 30, 35),
	}
	return a, b
}

func TestCompareTracesAPI(t *testing.T) {
	srv := servertest.Start(t, nil)
	a, b := compareTraces(time.Now().Add(-time.Minute))
	for _, tr := range [][]telemetry.Span{a, b} {
		if err := srv.Store().Traces.WriteSpans(context.Background(), "default", tr); err != nil {
			t.Fatal(err)
		}
	}
	ida, idb := a[0].TraceID.String(), b[0].TraceID.String()
	get := func(query string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.Base+"/api/v1/traces/compare?"+query, nil)
		req.Header.Set("X-API-Key", servertest.AdminKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, body
	}

	status, body := get("a=" + ida + "&b=" + idb)
	if status != http.StatusOK {
		t.Fatalf("compare: %d %s", status, body)
	}
	var res struct {
		A, B    struct{ TraceID string }
		Summary struct {
			Same, Changed, Added, Removed int
			DurationDeltaNanos            int64
		}
		Rows []struct {
			Depth                          int
			Service, Operation, Mark       string
			ASpanID, BSpanID               string
			ADurationNanos, BDurationNanos *int64
			DeltaNanos                     int64
		}
	}
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range res.Rows {
		got = append(got, fmt.Sprintf("%d %s/%s %s %+dms a=%t b=%t", r.Depth, r.Service, r.Operation, r.Mark, r.DeltaNanos/1e6,
			r.ASpanID != "" && r.ADurationNanos != nil, r.BSpanID != "" && r.BDurationNanos != nil))
	}
	want := []string{
		"0 gateway/POST /checkout changed +30ms a=true b=true",
		"1 payments/charge changed +30ms a=true b=true",
		"2 postgres/INSERT same +0ms a=true b=true",
		"2 postgres/INSERT same +0ms a=true b=true",
		"2 postgres/INSERT added +5ms a=false b=true",
		"1 gateway/cache get removed -2ms a=true b=false",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if s := res.Summary; s.Same != 2 || s.Changed != 2 || s.Added != 1 || s.Removed != 1 || s.DurationDeltaNanos != 30e6 {
		t.Errorf("summary %+v", s)
	}
	if res.A.TraceID != ida || res.B.TraceID != idb {
		t.Errorf("traces %s and %s, want %s and %s", res.A.TraceID, res.B.TraceID, ida, idb)
	}

	missing := "0123456789abcdef0123456789abcdef"
	f := func(query string, wantStatus int, wantMsg string) {
		t.Helper()
		status, body := get(query)
		var e struct{ Error string }
		_ = json.Unmarshal(body, &e)
		if status != wantStatus || !strings.Contains(e.Error, wantMsg) {
			t.Errorf("?%s: %d %s, want %d and an error saying %q", query, status, body, wantStatus, wantMsg)
		}
	}
	f("b="+idb, http.StatusBadRequest, "a: give the ID")
	f("a="+ida, http.StatusBadRequest, "b: give the ID")
	f("a=xyz&b="+idb, http.StatusBadRequest, "a: ")
	f("a="+ida+"&b="+idb+"zz", http.StatusBadRequest, "b: ")
	f("a="+missing+"&b="+idb, http.StatusNotFound, "trace a "+missing+": not found")
	f("a="+ida+"&b="+missing, http.StatusNotFound, "trace b "+missing+": not found")
	f("a="+ida+"&b="+ida, http.StatusOK, "")
}
