package tracekit

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tracekit-oss/tracekit/sdk/go/internal/agent"
	"github.com/tracekit-oss/tracekit/sdk/go/pii"
)

// codemonServer is a fake TraceKit server for code monitoring: it serves
// one breakpoint set and keeps the snapshots it is sent.
type codemonServer struct {
	srv  *httptest.Server
	done chan struct{}
	set  []byte

	mu    sync.Mutex
	snaps []map[string]any
	lines []map[string]any // logpoint lines
}

// newCodemonServer serves a set holding one line breakpoint on each named
// capture point.
func newCodemonServer(tb testing.TB, capturePoints ...string) *codemonServer {
	tb.Helper()
	bps := make([]map[string]any, len(capturePoints))
	for i, name := range capturePoints {
		bps[i] = lineBreakpoint(name)
	}
	return newCodemonServerOf(tb, bps...)
}

// lineBreakpoint is a line breakpoint on the capture point name, as the
// server sends it; tests add a condition or a message to it.
func lineBreakpoint(name string) map[string]any {
	return map[string]any{"id": "bp_" + name, "type": "line", "capturePoint": name, "captureDepth": 3,
		"rateLimit": 600, "maxStringLength": 256, "expiresAt": "2100-01-01T00:00:00Z"}
}

// newCodemonServerOf serves a set holding bps.
func newCodemonServerOf(tb testing.TB, bps ...map[string]any) *codemonServer {
	tb.Helper()
	set, _ := json.Marshal(map[string]any{"service": "test-service", "version": "v1", "breakpoints": bps})
	f := &codemonServer{done: make(chan struct{}), set: set}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/codemon/stream", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprintf(w, "id: v1\nevent: breakpoints\ndata: %s\n\n", f.set)
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-f.done:
		}
	})
	mux.HandleFunc("GET /v1/codemon/breakpoints", func(w http.ResponseWriter, r *http.Request) { w.Write(f.set) })
	mux.HandleFunc("POST /v1/codemon/capture-points", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /v1/codemon/snapshots", func(w http.ResponseWriter, r *http.Request) {
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		var req struct {
			Snapshots []map[string]any `json:"snapshots"`
			Logs      []map[string]any `json:"logs"`
		}
		if err := json.NewDecoder(body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.snaps = append(f.snaps, req.Snapshots...)
		f.lines = append(f.lines, req.Logs...)
		f.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, `{"accepted":%d}`, len(req.Snapshots)+len(req.Logs))
	})
	f.srv = httptest.NewServer(mux)
	tb.Cleanup(func() {
		close(f.done)
		f.srv.Close()
	})
	return f
}

func (f *codemonServer) snapshots() []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]map[string]any{}, f.snaps...)
}

// logLines returns the logpoint lines uploaded so far.
func (f *codemonServer) logLines() []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]map[string]any{}, f.lines...)
}

// newTestSnapshotClient returns a client with code monitoring on, talking
// to endpoint; cfg may be nil and tune adjusts the agent. It is shut down
// when the test ends.
func newTestSnapshotClient(tb testing.TB, endpoint string, cfg *Config, tune func(*agent.Options)) *SnapshotClient {
	tb.Helper()
	c := Config{}
	if cfg != nil {
		c = *cfg
	}
	c.ServiceName, c.EnableCodeMonitoring, c.CodeMonitoringEndpoint = "test-service", true, endpoint
	c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	r, err := resolve(&c)
	if err != nil {
		tb.Fatalf("resolve: %v", err)
	}
	sc, err := newSnapshotClient(r.Config, tune)
	if err != nil {
		tb.Fatalf("newSnapshotClient: %v", err)
	}
	tb.Cleanup(func() { sc.shutdown(context.Background()) })
	return sc
}

func waitCodemon(tb testing.TB, c *SnapshotClient, what string, cond func(CodeMonitoringStats) bool) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.WaitFor(ctx, cond); err != nil {
		tb.Fatalf("waiting for %s: %v; stats %+v", what, err, c.Stats())
	}
}

// The guide's breakpoints package: the snapshot client held directly and
// called through one level of wrapper.
var bpClient *SnapshotClient

func breakpointsInit(s *SDK) {
	if s != nil {
		bpClient = s.SnapshotClient()
	}
}

func breakpointsCapture(ctx context.Context, name string, data map[string]interface{}) {
	if bpClient == nil {
		return
	}
	bpClient.CheckAndCaptureWithContext(ctx, name, data)
}

func breakpointsCaptureNoContext(name string, data map[string]interface{}) {
	if bpClient == nil {
		return
	}
	bpClient.CheckAndCapture(name, data)
}

// TestOneLevelWrapperReportsItsCaller checks runtime.Caller(2) in both
// methods: the snapshot names the line that called the wrapper.
func TestOneLevelWrapperReportsItsCaller(t *testing.T) {
	fake := newCodemonServer(t, "wrapped")
	s, _ := newTestSDK(t, &Config{ServiceName: "test-service", EnableCodeMonitoring: true, CodeMonitoringEndpoint: fake.srv.URL})
	breakpointsInit(s)
	t.Cleanup(func() { bpClient = nil })
	waitCodemon(t, s.SnapshotClient(), "the breakpoint", func(st CodeMonitoringStats) bool { return st.Breakpoints == 1 })

	_, file, line, _ := runtime.Caller(0)
	breakpointsCapture(context.Background(), "wrapped", map[string]interface{}{"via": "ctx"})
	_, _, line2, _ := runtime.Caller(0)
	breakpointsCaptureNoContext("wrapped", map[string]interface{}{"via": "no-ctx"})

	waitCodemon(t, s.SnapshotClient(), "the uploads", func(st CodeMonitoringStats) bool { return st.Uploaded == 2 })
	want := map[string]float64{"ctx": float64(line + 1), "no-ctx": float64(line2 + 1)}
	for _, sn := range fake.snapshots() {
		via := sn["variables"].(map[string]any)["via"].(string)
		if sn["file"] != file || sn["line"] != want[via] || !strings.HasSuffix(sn["function"].(string), ".TestOneLevelWrapperReportsItsCaller") {
			t.Errorf("%s: snapshot at %v:%v in %v, want %s:%v in this test", via, sn["file"], sn["line"], sn["function"], file, want[via])
		}
	}
}

// TestConditionsSeeTheCodesValues: through the guide's wrapper, a
// breakpoint's condition is evaluated on the values the code has, and what
// leaves the process (the snapshot, the logpoint line in the application's
// log and uploaded) is scrubbed.
func TestConditionsSeeTheCodesValues(t *testing.T) {
	type user struct{ ID, Email string }
	data := map[string]interface{}{"user": &user{ID: "u-7", Email: "jane@example.com"}, "amount": 42}
	for _, c := range []struct {
		name       string
		breakpoint map[string]any // added to a line breakpoint
		wantVars   map[string]any // uploaded; nil: no snapshot
		wantLine   string         // logged and uploaded; "": no line
	}{
		{name: "a condition on a raw email matches and the uploaded snapshot shows [REDACTED:email]",
			breakpoint: map[string]any{"type": "conditional", "condition": `user.Email == "jane@example.com"`},
			wantVars:   map[string]any{"user": map[string]any{"ID": "u-7", "Email": "[REDACTED:email]"}, "amount": 42.0}},
		{name: "a condition that does not match the raw value captures nothing",
			breakpoint: map[string]any{"type": "conditional", "condition": `user.Email == "john@example.com"`}},
		{name: "a logpoint {user.Email} prints the marker",
			breakpoint: map[string]any{"type": "logpoint", "message": "paid {amount} by {user.Email}"},
			wantLine:   "paid 42 by [REDACTED:email]"},
		{name: "a conditional logpoint on the raw email prints the marker",
			breakpoint: map[string]any{"type": "logpoint", "condition": `user.Email endsWith "@example.com"`, "message": "by {user.Email} ({user.ID})"},
			wantLine:   "by [REDACTED:email] (u-7)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			bp := lineBreakpoint("checkout")
			maps.Copy(bp, c.breakpoint)
			fake := newCodemonServerOf(t, bp)
			logs := &logBuffer{}
			s, _ := newTestSDK(t, &Config{ServiceName: "test-service", EnableCodeMonitoring: true,
				CodeMonitoringEndpoint: fake.srv.URL, Logger: logs.logger()})
			breakpointsInit(s)
			t.Cleanup(func() { bpClient = nil })
			sc := s.SnapshotClient()
			waitCodemon(t, sc, "the breakpoint", func(st CodeMonitoringStats) bool { return st.Breakpoints == 1 })

			breakpointsCapture(context.Background(), "checkout", data)
			if err := sc.agent.Close(context.Background()); err != nil { // uploads what is queued
				t.Fatal(err)
			}
			if strings.Contains(logs.String(), "jane@example.com") {
				t.Errorf("the application's log holds the email:\n%s", logs.String())
			}
			snaps, lines := fake.snapshots(), fake.logLines()
			if c.wantVars == nil && len(snaps) != 0 {
				t.Errorf("snapshots %v, want none", snaps)
			}
			if c.wantVars != nil && (len(snaps) != 1 || !reflect.DeepEqual(snaps[0]["variables"], c.wantVars)) {
				t.Errorf("snapshots %v, want one with %v", snaps, c.wantVars)
			}
			if c.wantLine == "" {
				if len(lines) != 0 {
					t.Errorf("log lines %v, want none", lines)
				}
				return
			}
			if len(lines) != 1 || lines[0]["message"] != c.wantLine {
				t.Errorf("uploaded log lines %v, want %q", lines, c.wantLine)
			}
			if !strings.Contains(logs.String(), fmt.Sprintf("msg=%q", c.wantLine)) {
				t.Errorf("the application's log lacks %q:\n%s", c.wantLine, logs.String())
			}
		})
	}
}

func TestSnapshotClientOffIsANoOp(t *testing.T) {
	var nilClient *SnapshotClient
	nilClient.CheckAndCaptureWithContext(context.Background(), "x", map[string]interface{}{"a": 1})
	nilClient.CheckAndCapture("x", nil)
	if nilClient.Stats() != (CodeMonitoringStats{}) {
		t.Error("a nil client has stats")
	}
	var nilSDK *SDK
	if nilSDK.SnapshotClient() != nil {
		t.Error("a nil SDK returned a client")
	}
	s, _ := newTestSDK(t, nil)
	c := s.SnapshotClient()
	if c == nil {
		t.Fatal("SnapshotClient is nil with code monitoring off")
	}
	c.CheckAndCaptureWithContext(context.Background(), "x", nil)
	c.CheckAndCapture("x", nil)
	if c.Stats() != (CodeMonitoringStats{}) {
		t.Errorf("stats %+v with code monitoring off", c.Stats())
	}
	if err := c.WaitFor(context.Background(), func(s CodeMonitoringStats) bool { return s.Breakpoints == 0 }); err != nil {
		t.Errorf("WaitFor of a condition that holds: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.WaitFor(ctx, func(s CodeMonitoringStats) bool { return s.Breakpoints == 1 }); !errors.Is(err, context.Canceled) {
		t.Errorf("WaitFor of a condition that cannot hold: %v", err)
	}
}

func TestCaptureConfigScrubbing(t *testing.T) {
	fake := newCodemonServer(t, "p")
	off := false
	for _, tc := range []struct {
		name string
		cc   CaptureConfig
		want map[string]any
	}{
		{"default", CaptureConfig{}, map[string]any{"email": "[REDACTED:email]", "id": "CUSTOM-123"}},
		{"custom", CaptureConfig{PIIPatterns: []pii.Pattern{{Name: "custom_id", Regexp: regexp.MustCompile(`CUSTOM-\d+`), Marker: "[REDACTED:custom_id]"}}},
			map[string]any{"email": "[REDACTED:email]", "id": "[REDACTED:custom_id]"}},
		{"off", CaptureConfig{PIIScrubbing: &off}, map[string]any{"email": "jane@example.com", "id": "CUSTOM-123"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestSnapshotClient(t, fake.srv.URL, &Config{CaptureConfig: &tc.cc}, nil)
			waitCodemon(t, c, "the breakpoint", func(s CodeMonitoringStats) bool { return s.Breakpoints == 1 })
			before := len(fake.snapshots())
			c.CheckAndCapture("p", map[string]interface{}{"email": "jane@example.com", "id": "CUSTOM-123"})
			waitCodemon(t, c, "the upload", func(s CodeMonitoringStats) bool { return s.Uploaded == 1 })
			vars := fake.snapshots()[before]["variables"].(map[string]any)
			for k, v := range tc.want {
				if vars[k] != v {
					t.Errorf("%s = %v, want %v", k, vars[k], v)
				}
			}
		})
	}
}

func TestCodeMonitoringConfig(t *testing.T) {
	r, err := resolve(&Config{ServiceName: "s", Endpoint: "https://tk.example.com:8443/v1/traces"})
	if err != nil {
		t.Fatal(err)
	}
	cb := r.CaptureConfig.CircuitBreaker
	if r.CodeMonitoringEndpoint != "https://tk.example.com:8443" || r.CodeMonitoringPollInterval != 30*time.Second ||
		r.CaptureConfig.CaptureDepth != 10 || cb.MaxFailures != 3 || cb.Window != time.Minute || cb.Cooldown != 5*time.Minute {
		t.Errorf("defaults: %+v", r.Config)
	}
	r, err = resolve(&Config{ServiceName: "s", CodeMonitoringEndpoint: "https://gw.example.com/tracekit/"})
	if err != nil || r.CodeMonitoringEndpoint != "https://gw.example.com/tracekit" {
		t.Errorf("CodeMonitoringEndpoint with a prefix: %q, %v", r.CodeMonitoringEndpoint, err)
	}
	for setting, cfg := range map[string]Config{
		"CodeMonitoringEndpoint":       {CodeMonitoringEndpoint: "ftp://tk.example.com"},
		"CodeMonitoringPollInterval":   {CodeMonitoringPollInterval: -time.Second},
		"CaptureConfig.CaptureDepth":   {CaptureConfig: &CaptureConfig{CaptureDepth: 11}},
		"CaptureConfig.CircuitBreaker": {CaptureConfig: &CaptureConfig{CircuitBreaker: CircuitBreakerConfig{Cooldown: -1}}},
		"CaptureConfig.PIIPatterns":    {CaptureConfig: &CaptureConfig{PIIPatterns: []pii.Pattern{{Name: "x", Marker: "[X]"}}}},
	} {
		cfg.ServiceName = "s"
		_, err := resolve(&cfg)
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), setting) {
			t.Errorf("%s: error %v, want ErrInvalidConfig naming the setting", setting, err)
		}
	}
}
