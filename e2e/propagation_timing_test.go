package e2e_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/tracekit-oss/tracekit/sdk/go/tracekit"
)

// reportLatency reports the median and 99th percentile of lat in
// milliseconds.
func reportLatency(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	ms := func(q float64) float64 {
		return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))]) / float64(time.Millisecond)
	}
	b.ReportMetric(ms(0.5), "p50-ms")
	b.ReportMetric(ms(0.99), "p99-ms")
	b.ReportMetric(float64(len(lat)), "trials")
}

// BenchmarkBreakpointPropagation measures, against a real server over
// Server-Sent Events, the time from the API call that creates a breakpoint
// until the SDK has it active (the API call included). Each iteration is one
// trial; run about 50:
//
//	go test -run '^$' -bench BreakpointPropagation -benchtime 50x ./e2e/
func BenchmarkBreakpointPropagation(b *testing.B) {
	srv := startServer(b)
	sdk, _ := startSDK(b, srv, "checkout", nil)
	waitStats(b, sdk, "the stream", func(s tracekit.CodeMonitoringStats) bool { return s.Streaming })
	lat := make([]time.Duration, 0, b.N)
	for b.Loop() {
		start := time.Now()
		id := srv.createBreakpoint(b, map[string]any{"service": "checkout", "capturePoint": "checkout"})
		waitStats(b, sdk, "the breakpoint", func(s tracekit.CodeMonitoringStats) bool { return s.Breakpoints == 1 })
		lat = append(lat, time.Since(start))
		srv.do(b, http.MethodDelete, "/api/v1/breakpoints/"+id, nil, nil)
		waitStats(b, sdk, "the deletion", func(s tracekit.CodeMonitoringStats) bool { return s.Breakpoints == 0 })
	}
	reportLatency(b, lat)
}

// BenchmarkKillSwitchPropagation measures the time from the API call that
// turns a service's kill switch on until the SDK has stopped capturing.
//
//	go test -run '^$' -bench KillSwitchPropagation -benchtime 50x ./e2e/
func BenchmarkKillSwitchPropagation(b *testing.B) {
	srv := startServer(b)
	sdk, _ := startSDK(b, srv, "checkout", nil)
	srv.createBreakpoint(b, map[string]any{"service": "checkout", "capturePoint": "checkout"})
	waitStats(b, sdk, "the breakpoint", func(s tracekit.CodeMonitoringStats) bool { return s.Streaming && s.Breakpoints == 1 })
	const path = "/api/v1/services/checkout/killswitch"
	lat := make([]time.Duration, 0, b.N)
	for b.Loop() {
		start := time.Now()
		srv.do(b, http.MethodPut, path, map[string]bool{"enabled": true}, nil)
		waitStats(b, sdk, "the kill switch", func(s tracekit.CodeMonitoringStats) bool { return s.KillSwitch })
		lat = append(lat, time.Since(start))
		srv.do(b, http.MethodPut, path, map[string]bool{"enabled": false}, nil)
		waitStats(b, sdk, "the kill switch off", func(s tracekit.CodeMonitoringStats) bool { return !s.KillSwitch })
	}
	reportLatency(b, lat)
}
