package e2e_test

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tracekit-oss/tracekit/internal/api"
	"github.com/tracekit-oss/tracekit/sdk/go/tracekit"
)

// TestBreakpointToSnapshot follows a breakpoint from the API to the SDK and
// its snapshot back: call site, redacted variables, and the link from the
// trace of the request.
func TestBreakpointToSnapshot(t *testing.T) {
	srv := startServer(t)
	sdk, _ := startSDK(t, srv, "checkout", nil)
	app := startApp(t, sdk)
	byName := srv.createBreakpoint(t, map[string]any{"service": "checkout", "capturePoint": "checkout"})
	waitStats(t, sdk, "the breakpoint", func(s tracekit.CodeMonitoringStats) bool { return s.Breakpoints == 1 })

	traceID := order(t, app, "o-1", 42)
	waitStats(t, sdk, "the upload", func(s tracekit.CodeMonitoringStats) bool { return s.Uploaded == 1 })
	snaps := srv.snapshots(t, byName)
	if len(snaps) != 1 {
		t.Fatalf("%d snapshots, want 1", len(snaps))
	}
	sn, site := snaps[0], checkoutSite.Load()
	if sn.File != site.file || filepath.Base(sn.File) != "main_test.go" || sn.Line != site.line ||
		!strings.HasSuffix(sn.Function, ".checkout") || sn.CapturePoint != "checkout" {
		t.Errorf("snapshot at %s:%d in %s, want the call of Capture at %s:%d in checkout", sn.File, sn.Line, sn.Function, site.file, site.line)
	}
	if len(sn.Stack) == 0 || sn.Stack[0].File != site.file || sn.Stack[0].Line != site.line {
		t.Errorf("stack does not start at the call site: %+v", sn.Stack)
	}
	want := map[string]any{"order_id": "o-1", "email": "[REDACTED:email]", "card": "[REDACTED:credit_card]", "total": 42.0}
	for k, v := range want {
		if sn.Variables[k] != v {
			t.Errorf("variables[%s] = %#v, want %#v (all: %v)", k, sn.Variables[k], v, sn.Variables)
		}
	}
	if sn.TraceID != traceID || sn.SpanID == "" {
		t.Errorf("snapshot trace %q span %q, want the request's trace %s", sn.TraceID, sn.SpanID, traceID)
	}

	// The trace lists the snapshot once the SDK's spans are in.
	if err := sdk.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	var tr api.TraceJSON
	srv.do(t, http.MethodGet, "/api/v1/traces/"+traceID, nil, &tr)
	if len(tr.Spans) == 0 || len(tr.Snapshots) != 1 || tr.Snapshots[0].ID != sn.ID || tr.Snapshots[0].SpanID != sn.SpanID {
		t.Errorf("trace %s: %d spans, snapshots %+v; want snapshot %s linked", traceID, len(tr.Spans), tr.Snapshots, sn.ID)
	}

	// A breakpoint on the file and line, as the dashboard sets from a
	// registered capture point, matches the same call site.
	var points struct {
		CapturePoints []struct {
			Name, File string
			Line       int
		} `json:"capturePoints"`
	}
	eventually(t, "the capture point's registration", func() bool {
		srv.do(t, http.MethodGet, "/api/v1/services/checkout/capture-points", nil, &points)
		return len(points.CapturePoints) > 0
	})
	if len(points.CapturePoints) != 1 || points.CapturePoints[0].File != site.file || points.CapturePoints[0].Line != site.line {
		t.Fatalf("registered capture points %+v, want checkout at %s:%d", points.CapturePoints, site.file, site.line)
	}
	byLine := srv.createBreakpoint(t, map[string]any{"service": "checkout", "file": "e2e/main_test.go", "line": site.line})
	waitStats(t, sdk, "the second breakpoint", func(s tracekit.CodeMonitoringStats) bool { return s.Breakpoints == 2 })
	order(t, app, "o-2", 43)
	waitStats(t, sdk, "two more uploads", func(s tracekit.CodeMonitoringStats) bool { return s.Uploaded == 3 })
	if n := len(srv.snapshots(t, byLine)); n != 1 {
		t.Errorf("the file and line breakpoint captured %d snapshots, want 1", n)
	}
}

func TestConditionalBreakpoint(t *testing.T) {
	for _, serverChecks := range []bool{false, true} {
		name := map[bool]string{false: "in-process", true: "server-checks"}[serverChecks]
		t.Run(name, func(t *testing.T) {
			srv := startServer(t)
			sdk, _ := startSDK(t, srv, "checkout", func(c *tracekit.Config) { c.CodeMonitoringServerChecks = serverChecks })
			app := startApp(t, sdk)
			id := srv.createBreakpoint(t, map[string]any{"service": "checkout", "capturePoint": "checkout", "condition": "total > 100"})
			waitStats(t, sdk, "the breakpoint", func(s tracekit.CodeMonitoringStats) bool { return s.Breakpoints == 1 })
			order(t, app, "small", 50)
			order(t, app, "large", 150)
			waitStats(t, sdk, "the upload", func(s tracekit.CodeMonitoringStats) bool {
				return s.Uploaded == 1 && (!serverChecks || s.Checks == 2)
			})
			snaps := srv.snapshots(t, id)
			if s := sdk.SnapshotClient().Stats(); len(snaps) != 1 || snaps[0].Variables["order_id"] != "large" || s.Captures != 1 {
				t.Errorf("snapshots %+v, stats %+v; want only the order over 100", snaps, s)
			}
		})
	}
}

func TestLogpoint(t *testing.T) {
	srv := startServer(t)
	sdk, logs := startSDK(t, srv, "checkout", nil)
	app := startApp(t, sdk)
	id := srv.createBreakpoint(t, map[string]any{
		"service": "checkout", "type": "logpoint", "capturePoint": "checkout", "message": "order {order_id} by {email} for {total}",
	})
	waitStats(t, sdk, "the logpoint", func(s tracekit.CodeMonitoringStats) bool { return s.Breakpoints == 1 })
	traceID := order(t, app, "o-7", 99.5)
	waitStats(t, sdk, "the upload", func(s tracekit.CodeMonitoringStats) bool { return s.Uploaded == 1 })

	const want = "order o-7 by [REDACTED:email] for 99.5"
	var out struct {
		Logs []struct {
			Message, TraceID, File string
			Line                   int
		} `json:"logs"`
	}
	srv.do(t, http.MethodGet, "/api/v1/logs?breakpoint="+id, nil, &out)
	site := checkoutSite.Load()
	if len(out.Logs) != 1 || out.Logs[0].Message != want || out.Logs[0].TraceID != traceID || out.Logs[0].Line != site.line {
		t.Errorf("logs %+v, want %q from trace %s at line %d", out.Logs, want, traceID, site.line)
	}
	for _, w := range []string{`msg="` + want + `"`, "breakpoint_id=" + id, "trace_id=" + traceID} {
		if !strings.Contains(logs.String(), w) {
			t.Errorf("the application's log lacks %s:\n%s", w, logs.String())
		}
	}
	if n := len(srv.snapshots(t, id)); n != 0 {
		t.Errorf("a logpoint captured %d snapshots", n)
	}
}

func TestRateLimit(t *testing.T) {
	srv := startServer(t)
	sdk, _ := startSDK(t, srv, "checkout", nil)
	app := startApp(t, sdk)
	id := srv.createBreakpoint(t, map[string]any{"service": "checkout", "capturePoint": "checkout", "rateLimit": 2})
	waitStats(t, sdk, "the breakpoint", func(s tracekit.CodeMonitoringStats) bool { return s.Breakpoints == 1 })
	for range 10 {
		order(t, app, "o", 1)
	}
	waitStats(t, sdk, "the uploads", func(s tracekit.CodeMonitoringStats) bool { return s.Uploaded == 2 })
	if s := sdk.SnapshotClient().Stats(); s.Captures != 2 || s.RateLimited != 8 || len(srv.snapshots(t, id)) != 2 {
		t.Errorf("stats %+v, %d snapshots stored; want exactly 2 of 10 hits", s, len(srv.snapshots(t, id)))
	}
}

func TestExpiry(t *testing.T) {
	srv := startServer(t)
	sdk, _ := startSDK(t, srv, "checkout", nil)
	app := startApp(t, sdk)
	id := srv.createBreakpoint(t, map[string]any{"service": "checkout", "capturePoint": "checkout", "expiresIn": "2s"})
	waitStats(t, sdk, "the breakpoint", func(s tracekit.CodeMonitoringStats) bool { return s.Breakpoints == 1 })
	order(t, app, "before", 1)
	waitStats(t, sdk, "the expiry", func(s tracekit.CodeMonitoringStats) bool { return s.Breakpoints == 0 })
	for range 3 {
		order(t, app, "after", 1)
	}
	waitStats(t, sdk, "the upload", func(s tracekit.CodeMonitoringStats) bool { return s.Uploaded == 1 })
	if snaps := srv.snapshots(t, id); len(snaps) != 1 || snaps[0].Variables["order_id"] != "before" || sdk.SnapshotClient().Stats().Captures != 1 {
		t.Errorf("snapshots %+v: want only the one from before the expiry", snaps)
	}
}

func TestPauseAndResume(t *testing.T) {
	srv := startServer(t)
	sdk, _ := startSDK(t, srv, "checkout", nil)
	app := startApp(t, sdk)
	id := srv.createBreakpoint(t, map[string]any{"service": "checkout", "capturePoint": "checkout"})
	waitStats(t, sdk, "the breakpoint", func(s tracekit.CodeMonitoringStats) bool { return s.Breakpoints == 1 })
	srv.do(t, http.MethodPost, "/api/v1/breakpoints/"+id+"/pause", nil, nil)
	waitStats(t, sdk, "the pause", func(s tracekit.CodeMonitoringStats) bool { return s.Breakpoints == 0 })
	order(t, app, "paused", 1)
	srv.do(t, http.MethodPost, "/api/v1/breakpoints/"+id+"/resume", nil, nil)
	waitStats(t, sdk, "the resume", func(s tracekit.CodeMonitoringStats) bool { return s.Breakpoints == 1 })
	order(t, app, "resumed", 1)
	waitStats(t, sdk, "the upload", func(s tracekit.CodeMonitoringStats) bool { return s.Uploaded == 1 })
	if snaps := srv.snapshots(t, id); len(snaps) != 1 || snaps[0].Variables["order_id"] != "resumed" {
		t.Errorf("snapshots %+v: want only the one after the resume", snaps)
	}
}

func TestKillSwitch(t *testing.T) {
	srv := startServer(t)
	sdk, _ := startSDK(t, srv, "checkout", nil)
	app := startApp(t, sdk)
	id := srv.createBreakpoint(t, map[string]any{"service": "checkout", "capturePoint": "checkout", "rateLimit": 100})
	waitStats(t, sdk, "the breakpoint", func(s tracekit.CodeMonitoringStats) bool { return s.Breakpoints == 1 })
	order(t, app, "before", 1)
	// Uploaded before the switch: with it on, the server refuses uploads too.
	waitStats(t, sdk, "the upload", func(s tracekit.CodeMonitoringStats) bool { return s.Uploaded == 1 })
	srv.do(t, http.MethodPut, "/api/v1/services/checkout/killswitch", map[string]bool{"enabled": true}, nil)
	waitStats(t, sdk, "the kill switch", func(s tracekit.CodeMonitoringStats) bool { return s.KillSwitch })
	for range 5 {
		order(t, app, "killed", 1)
	}
	if snaps := srv.snapshots(t, id); len(snaps) != 1 || sdk.SnapshotClient().Stats().Captures != 1 {
		t.Errorf("%d snapshots: want only the one from before the kill switch", len(snaps))
	}
	srv.do(t, http.MethodPut, "/api/v1/services/checkout/killswitch", map[string]bool{"enabled": false}, nil)
	waitStats(t, sdk, "the kill switch off", func(s tracekit.CodeMonitoringStats) bool { return !s.KillSwitch && s.Breakpoints == 1 })
	order(t, app, "after", 1)
	waitStats(t, sdk, "the upload", func(s tracekit.CodeMonitoringStats) bool { return s.Uploaded == 2 })
}

// TestCircuitBreakerWithTheServerDown stops the server: the application
// keeps answering, and code monitoring turns itself off.
func TestCircuitBreakerWithTheServerDown(t *testing.T) {
	srv := startServer(t)
	sdk, logs := startSDK(t, srv, "checkout", nil)
	app := startApp(t, sdk)
	srv.createBreakpoint(t, map[string]any{"service": "checkout", "capturePoint": "checkout", "rateLimit": 600})
	waitStats(t, sdk, "the breakpoint", func(s tracekit.CodeMonitoringStats) bool { return s.Breakpoints == 1 })
	order(t, app, "up", 1)
	waitStats(t, sdk, "the upload", func(s tracekit.CodeMonitoringStats) bool { return s.Uploaded == 1 })

	srv.stop()
	var slowest time.Duration
	requests := 0
	for !sdk.SnapshotClient().Stats().BreakerOpen {
		if requests == 20 {
			t.Fatalf("breaker still closed after %d requests; stats %+v", requests, sdk.SnapshotClient().Stats())
		}
		before := sdk.SnapshotClient().Stats().UploadFailures
		start := time.Now()
		order(t, app, "down", 1) // fails the test unless the application answers
		slowest = max(slowest, time.Since(start))
		requests++
		waitStats(t, sdk, "a failed upload", func(s tracekit.CodeMonitoringStats) bool { return s.UploadFailures > before || s.BreakerOpen })
	}
	s := sdk.SnapshotClient().Stats()
	if s.UploadFailures < 3 || !strings.Contains(logs.String(), "circuit breaker open") {
		t.Errorf("stats %+v, log:\n%s\nwant 3 failures and \"circuit breaker open\"", s, logs.String())
	}
	for range 5 {
		order(t, app, "open", 1)
	}
	if after := sdk.SnapshotClient().Stats(); after.Captures != s.Captures {
		t.Errorf("captured %d while the breaker was open", after.Captures-s.Captures)
	}
	t.Logf("%d requests answered while the server was down; slowest %v", requests+5, slowest)
}
