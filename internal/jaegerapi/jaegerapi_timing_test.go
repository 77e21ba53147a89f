package jaegerapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/tracekit-oss/tracekit/internal/auth"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// benchTraces writes n traces of spansPer spans each (three services,
// attributes on every span, an event on some) into the fixture's store.
func benchTraces(b *testing.B, f *fixture, n, spansPer int) []telemetry.TraceID {
	b.Helper()
	svcs := []*telemetry.Resource{
		{ServiceName: "frontend", Attributes: []telemetry.Attribute{str("service.name", "frontend"), str("host.name", "web-1")}},
		{ServiceName: "payments", Attributes: []telemetry.Attribute{str("service.name", "payments"), str("host.name", "pay-1")}},
		{ServiceName: "db-proxy", Attributes: []telemetry.Attribute{str("service.name", "db-proxy")}},
	}
	ids := make([]telemetry.TraceID, n)
	var batch []telemetry.Span
	for i := range n {
		var id telemetry.TraceID
		copy(id[:], fmt.Sprintf("bench-trace-%04d", i))
		ids[i] = id
		start := at(time.Duration(i) * time.Second)
		for j := range spansPer {
			var sp telemetry.SpanID
			copy(sp[:], fmt.Sprintf("s%03d%04d", j, i%10000))
			s := telemetry.Span{
				TraceID: id, SpanID: sp, Name: fmt.Sprintf("op-%d", j%5), Kind: telemetry.SpanKind(1 + j%3),
				StartUnixNano: start + int64(j)*int64(time.Millisecond), EndUnixNano: start + int64(j+5)*int64(time.Millisecond),
				Resource: svcs[j%3], ScopeName: "bench",
				Attributes: []telemetry.Attribute{
					str("http.request.method", "GET"), str("url.path", "/api/items/42"),
					{Key: "http.response.status_code", Value: telemetry.IntValue(200)}, {Key: "retry", Value: telemetry.BoolValue(false)},
				},
			}
			if j > 0 {
				copy(s.ParentSpanID[:], fmt.Sprintf("s%03d%04d", j-1, i%10000))
			}
			if j%4 == 3 {
				s.StatusCode, s.StatusMessage = telemetry.StatusError, "boom"
				s.Events = []telemetry.Event{{Name: "exception", TimeUnixNano: s.EndUnixNano, Attributes: []telemetry.Attribute{str("exception.message", "boom")}}}
			}
			batch = append(batch, s)
		}
	}
	if err := f.st.WriteSpans(context.Background(), auth.DefaultProject, batch); err != nil {
		b.Fatal(err)
	}
	return ids
}

// BenchmarkJaegerVsNative measures the Jaeger API against the native API
// on the same store and traces, through the same HTTP server: a search
// (Jaeger answers whole traces, the native API summaries, so the native
// search is also measured followed by reading each trace it found, the
// same data a Jaeger answer carries) and a trace by ID. It prints each
// case's time and the ratio; no time is asserted.
//
//	go test -run '^$' -bench JaegerVsNative -benchmem ./internal/jaegerapi
func BenchmarkJaegerVsNative(b *testing.B) {
	f := newFixture(b, false)
	ids := benchTraces(b, f, 200, 20)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	b.Cleanup(client.CloseIdleConnections)
	get := func(b *testing.B, url string) []byte {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("X-API-Key", adminKey)
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
		}
		return body
	}
	from, to := t0.Add(-time.Minute), fixtureNow
	jaegerSearch := fmt.Sprintf("%s/traces?service=payments&limit=20&start=%d&end=%d", f.base, from.UnixMicro(), to.UnixMicro())
	nativeSearch := fmt.Sprintf("%s/api/v1/traces?service=payments&limit=20&start=%d&end=%d", f.srv.URL, from.Unix(), to.Unix()+1)
	id := ids[len(ids)/2].String()
	// Each case is a sub-benchmark; its time per request is kept to print
	// the ratios once all have run (testing.Benchmark cannot run inside a
	// benchmark: it waits for the lock the running one holds).
	perOp := map[string]float64{}
	run := func(name string, fn func(b *testing.B)) string {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				fn(b)
			}
			perOp[name] = float64(b.Elapsed()) / float64(b.N)
		})
		return name
	}
	var answer struct{ Data []json.RawMessage }
	if err := json.Unmarshal(get(b, jaegerSearch), &answer); err != nil || len(answer.Data) != 20 {
		b.Fatalf("Jaeger search: %d traces, %v", len(answer.Data), err)
	}
	searchJ := run("search/jaeger", func(b *testing.B) { get(b, jaegerSearch) })
	searchN := run("search/native-summaries", func(b *testing.B) { get(b, nativeSearch) })
	// The native search, then each trace found: what a native client
	// reads to show the spans a Jaeger search answer holds.
	searchNT := run("search/native+traces", func(b *testing.B) {
		var found struct {
			Traces []struct {
				TraceID string `json:"traceId"`
			} `json:"traces"`
		}
		if err := json.Unmarshal(get(b, nativeSearch), &found); err != nil || len(found.Traces) != 20 {
			b.Fatalf("native search: %d traces, %v", len(found.Traces), err)
		}
		for _, s := range found.Traces {
			get(b, f.srv.URL+"/api/v1/traces/"+s.TraceID)
		}
	})
	traceJ := run("trace/jaeger", func(b *testing.B) { get(b, f.base+"/traces/"+id) })
	traceN := run("trace/native", func(b *testing.B) { get(b, f.srv.URL+"/api/v1/traces/"+id) })
	ratio := func(a, b string) float64 { return perOp[a] / perOp[b] }
	b.Logf("Jaeger/native: trace by ID %.2f; search %.2f against native search + traces, %.2f against native summaries alone",
		ratio(traceJ, traceN), ratio(searchJ, searchNT), ratio(searchJ, searchN))
}

func BenchmarkConvertTrace(b *testing.B) {
	f := newFixture(b, false)
	ids := benchTraces(b, f, 1, 20)
	spans, err := f.st.Trace(context.Background(), auth.DefaultProject, ids[0])
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = convertTrace(spans)
	}
}
