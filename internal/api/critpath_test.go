package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tracekit-oss/tracekit/internal/server/servertest"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// TestCriticalPathAPI reads the critical path of a stored trace through a
// real server: a request with two parallel calls, of which the slower is
// on the path, and an async call cut at the request's end.
func TestCriticalPathAPI(t *testing.T) {
	srv := servertest.Start(t, nil)
	start := time.Unix(1_700_000_000, 0)
	ms := func(n int) int64 { return start.Add(time.Duration(n) * time.Millisecond).UnixNano() }
	tid := telemetry.TraceID{0xc9, 1}
	span := func(id, parent byte, from, to int) telemetry.Span {
		s := telemetry.Span{TraceID: tid, SpanID: telemetry.SpanID{0xc9, id}, Name: "op", Resource: &telemetry.Resource{ServiceName: "svc"},
			StartUnixNano: ms(from), EndUnixNano: ms(to)}
		if parent != 0 {
			s.ParentSpanID = telemetry.SpanID{0xc9, parent}
		}
		return s
	}
	spans := []telemetry.Span{
		span(1, 0, 0, 100),  // the request
		span(2, 1, 10, 40),  // parallel calls: 3 ends later
		span(3, 1, 10, 50),  //
		span(4, 3, 20, 30),  // 3's own call
		span(5, 1, 90, 200), // async, outlives the request
	}
	if err := srv.Store().Traces.WriteSpans(context.Background(), "default", spans); err != nil {
		t.Fatal(err)
	}
	get := func(id, key string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.Base+"/api/v1/traces/"+id+"/critical-path", nil)
		req.Header.Set("X-API-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	status, body := get(tid.String(), servertest.AdminKey)
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, body)
	}
	var got struct {
		TraceID  string `json:"traceId"`
		Segments []struct {
			SpanID string `json:"spanId"`
			Start  string `json:"startTimeUnixNano"`
			End    string `json:"endTimeUnixNano"`
		} `json:"segments"`
		Spans []struct {
			SpanID        string `json:"spanId"`
			CriticalNanos int64  `json:"criticalNanos"`
		} `json:"spans"`
	}
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	if got.TraceID != tid.String() {
		t.Errorf("traceId = %q", got.TraceID)
	}
	// Segments as "span byte: from-to ms".
	var segs []string
	for _, s := range got.Segments {
		id, _ := telemetry.ParseSpanID(s.SpanID)
		from, err1 := strconv.ParseInt(s.Start, 10, 64)
		to, err2 := strconv.ParseInt(s.End, 10, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("segment times %q %q are not decimal nanoseconds", s.Start, s.End)
		}
		segs = append(segs, string(rune('0'+id[1]))+":"+itoa((from-ms(0))/1e6)+"-"+itoa((to-ms(0))/1e6))
	}
	if g, w := strings.Join(segs, " "), "1:0-10 3:10-20 4:20-30 3:30-50 1:50-90 5:90-100"; g != w {
		t.Errorf("segments %s, want %s", g, w)
	}
	var totals []string
	for _, s := range got.Spans {
		id, _ := telemetry.ParseSpanID(s.SpanID)
		totals = append(totals, string(rune('0'+id[1]))+"="+itoa(s.CriticalNanos/1e6))
	}
	if g, w := strings.Join(totals, " "), "1=50 3=30 4=10 5=10"; g != w {
		t.Errorf("critical ms per span %s, want %s", g, w)
	}

	for _, c := range []struct {
		id, key string
		status  int
	}{
		{"0123456789abcdef0123456789abcdef", servertest.AdminKey, http.StatusNotFound},
		{"nothex", servertest.AdminKey, http.StatusBadRequest},
		{tid.String(), "tk_wrong", http.StatusUnauthorized},
	} {
		if status, body := get(c.id, c.key); status != c.status || !strings.Contains(body, `"error"`) {
			t.Errorf("%s with key %s: %d %s, want %d and an error", c.id, c.key, status, body, c.status)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
