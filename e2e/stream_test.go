package e2e_test

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"

	"github.com/tracekit-oss/tracekit/sdk/go/tracekit"
)

// TestPollingWhenTheStreamIsBlocked puts a proxy that refuses Server-Sent
// Events in front of the server, as some corporate proxies do: breakpoints
// still arrive, by polling, and snapshots still go out.
func TestPollingWhenTheStreamIsBlocked(t *testing.T) {
	srv := startServer(t)
	target, err := url.Parse(srv.base)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	tr := &http.Transport{}
	rp.Transport = tr
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/codemon/stream" {
			http.Error(w, `{"error":"event streams are blocked here"}`, http.StatusServiceUnavailable)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		proxy.Close()
		tr.CloseIdleConnections()
	})

	sdk, _ := startSDK(t, srv, "checkout", func(c *tracekit.Config) { c.CodeMonitoringEndpoint = proxy.URL })
	app := startApp(t, sdk)
	id := srv.createBreakpoint(t, map[string]any{"service": "checkout", "capturePoint": "checkout"})
	waitStats(t, sdk, "the breakpoint, polled", func(s tracekit.CodeMonitoringStats) bool { return s.Breakpoints == 1 })
	if sdk.SnapshotClient().Stats().Streaming {
		t.Fatal("streaming through a proxy that refuses streams")
	}
	order(t, app, "polled", 1)
	waitStats(t, sdk, "the upload", func(s tracekit.CodeMonitoringStats) bool { return s.Uploaded == 1 })
	if snaps := srv.snapshots(t, id); len(snaps) != 1 {
		t.Errorf("%d snapshots, want 1", len(snaps))
	}
}
