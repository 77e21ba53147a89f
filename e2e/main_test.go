// Package e2e_test runs TraceKit end to end: a real server started in
// process on a loopback port, and services instrumented with the Go SDK
// talking to it over HTTP, as deployed ones do. Breakpoints are managed
// through the management API, as the dashboard does.
package e2e_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tracekit-oss/tracekit/internal/client"
	"github.com/tracekit-oss/tracekit/internal/server"
	"github.com/tracekit-oss/tracekit/internal/server/servertest"
	"github.com/tracekit-oss/tracekit/internal/testsupport"
	"github.com/tracekit-oss/tracekit/sdk/go/tracekit"
)

// TestMain checks for leaks after the databases that some tests start
// (startBackends) have stopped.
func TestMain(m *testing.M) { goleak.VerifyTestMain(stoppingBackends{m}) }

const adminKey = servertest.AdminKey

// tracekitServer is a running server and an API client with its own
// connections.
type tracekitServer struct {
	base string
	api  *client.Client
	// stop stops the server; it runs at cleanup if the test has not.
	stop func()
}

// startServer starts a server; configure, if given, changes its
// configuration.
func startServer(tb testing.TB, configure ...func(*server.Config)) *tracekitServer {
	tb.Helper()
	srv := servertest.Start(tb, func(c *server.Config) {
		c.GRPCAddr, c.Heartbeat = "", 200*time.Millisecond
		for _, f := range configure {
			f(c)
		}
	})
	tr := &http.Transport{}
	s := &tracekitServer{base: srv.Base, api: client.New(srv.Base, adminKey, &http.Client{Transport: tr})}
	s.stop = sync.OnceFunc(func() {
		srv.Stop()
		tr.CloseIdleConnections()
	})
	tb.Cleanup(s.stop)
	return s
}

// do calls the management API and fails the test on an error answer.
func (s *tracekitServer) do(tb testing.TB, method, path string, body, out any) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.api.Do(ctx, method, path, body, out); err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
}

// createBreakpoint creates a breakpoint through the API and returns its ID.
func (s *tracekitServer) createBreakpoint(tb testing.TB, fields map[string]any) string {
	tb.Helper()
	var out struct {
		ID string `json:"id"`
	}
	s.do(tb, http.MethodPost, "/api/v1/breakpoints", fields, &out)
	return out.ID
}

// snapshot is a snapshot as GET /api/v1/snapshots lists it.
type snapshot struct {
	ID           string         `json:"id"`
	BreakpointID string         `json:"breakpointId"`
	CapturePoint string         `json:"capturePoint"`
	File         string         `json:"file"`
	Line         int            `json:"line"`
	Function     string         `json:"function"`
	TraceID      string         `json:"traceId"`
	SpanID       string         `json:"spanId"`
	Variables    map[string]any `json:"variables"`
	Stack        []struct {
		Function, File string
		Line           int
	} `json:"stack"`
}

func (s *tracekitServer) snapshots(tb testing.TB, breakpointID string) []snapshot {
	tb.Helper()
	var out struct {
		Snapshots []snapshot `json:"snapshots"`
	}
	s.do(tb, http.MethodGet, "/api/v1/snapshots?breakpoint="+breakpointID, nil, &out)
	return out.Snapshots
}

// startSDK starts the SDK of a service with code monitoring, exporting to
// s; mod adjusts its configuration. It is shut down when the test ends. The
// buffer holds the instrumented service's log.
func startSDK(tb testing.TB, s *tracekitServer, service string, mod func(*tracekit.Config)) (*tracekit.SDK, *testsupport.LogBuffer) {
	tb.Helper()
	logs := &testsupport.LogBuffer{}
	cfg := tracekit.Config{
		APIKey: adminKey, ServiceName: service, Endpoint: s.base + "/v1/traces", Environment: "e2e",
		EnableCodeMonitoring: true, BatchTimeout: 100 * time.Millisecond, ExportTimeout: time.Second,
		CodeMonitoringPollInterval: 100 * time.Millisecond,
		Logger:                     slog.New(slog.NewTextHandler(logs, nil)),
	}
	if mod != nil {
		mod(&cfg)
	}
	sdk, err := tracekit.NewSDK(&cfg)
	if err != nil {
		tb.Fatalf("NewSDK: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := sdk.Shutdown(ctx); err != nil {
			tb.Logf("SDK shutdown: %v", err) // a test may have stopped the server
		}
	})
	return sdk, logs
}

// waitStats waits until the SDK's code-monitoring stats satisfy cond.
func waitStats(tb testing.TB, sdk *tracekit.SDK, what string, cond func(tracekit.CodeMonitoringStats) bool) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testsupport.Timeout(15*time.Second))
	defer cancel()
	if err := sdk.SnapshotClient().WaitFor(ctx, cond); err != nil {
		tb.Fatalf("waiting for %s: %v; stats %+v", what, err, sdk.SnapshotClient().Stats())
	}
}

// eventually polls cond, for what only the server's API shows.
func eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(testsupport.Timeout(15 * time.Second))
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// snapshotClient holds the TraceKit snapshot client directly, as the
// guide's breakpoints package does (call site → Capture →
// SnapshotClient.CheckAndCaptureWithContext).
var snapshotClient *tracekit.SnapshotClient

// Init stores the TraceKit snapshot client for code monitoring.
func Init(s *tracekit.SDK) {
	if s != nil {
		snapshotClient = s.SnapshotClient()
	}
}

// Capture fires a code monitoring snapshot. No-op when tracing is disabled.
func Capture(ctx context.Context, name string, data map[string]interface{}) {
	if snapshotClient == nil {
		return
	}
	snapshotClient.CheckAndCaptureWithContext(ctx, name, data)
}

// callSite is where checkout calls Capture.
type callSite struct {
	file string
	line int
}

var checkoutSite atomic.Pointer[callSite]

// checkout is the instrumented service's handler: it reaches the capture
// point "checkout" through Capture.
func checkout(w http.ResponseWriter, r *http.Request) {
	total, _ := strconv.ParseFloat(r.URL.Query().Get("total"), 64)
	_, file, line, _ := runtime.Caller(0)
	Capture(r.Context(), "checkout", map[string]interface{}{ // the capture point: line+1
		"order_id": r.URL.Query().Get("order"),
		"email":    r.URL.Query().Get("email"),
		"card":     "4111 1111 1111 1111",
		"total":    total,
	})
	checkoutSite.Store(&callSite{file, line + 1})
	w.WriteHeader(http.StatusNoContent)
}

// startApp serves checkout through the SDK's middleware.
func startApp(tb testing.TB, sdk *tracekit.SDK) *httptest.Server {
	tb.Helper()
	Init(sdk)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /checkout", checkout)
	app := httptest.NewServer(sdk.HTTPMiddleware(mux))
	tb.Cleanup(app.Close)
	return app
}

// order sends one checkout request within a new trace and returns the
// trace's ID.
func order(tb testing.TB, app *httptest.Server, id string, total float64) string {
	tb.Helper()
	var b [24]byte
	_, _ = rand.Read(b[:])
	traceID := hex.EncodeToString(b[:16])
	req, _ := http.NewRequest(http.MethodPost, app.URL+"/checkout?order="+id+"&email=jane.doe@example.com&total="+
		strconv.FormatFloat(total, 'f', -1, 64), nil)
	req.Header.Set("traceparent", "00-"+traceID+"-"+hex.EncodeToString(b[16:])+"-01")
	resp, err := app.Client().Do(req)
	if err != nil {
		tb.Fatalf("POST /checkout: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		tb.Fatalf("POST /checkout: %s", resp.Status)
	}
	return traceID
}
