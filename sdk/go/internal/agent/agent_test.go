package agent

import (
	"github.com/tracekit-oss/tracekit/sdk/go/protocol"

	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeServer speaks the SDK half of docs/protocol.md from memory.
type fakeServer struct {
	t    *testing.T
	srv  *httptest.Server
	done chan struct{}

	mu           sync.Mutex
	set          Set
	versions     int
	subs         map[chan Set]chan struct{} // stream -> its kill channel
	streamStatus int                        // answer streams with this status when set
	silent       bool                       // streams send headers, then nothing
	snapStatus   int                        // answer uploads with this status when set
	block        chan struct{}              // uploads wait for it to close when set
	reqs         map[string]int
	lastEventIDs []string
	notModified  int
	gzipped      int
	snapshots    []protocol.Snapshot
	logs         []protocol.LogLine
	points       []protocol.CapturePoint
	checked      []map[string]any
	checkFn      func(vars map[string]any) bool
	uploadSeen   chan struct{} // signalled when an upload arrives
}

func newFakeServer(t *testing.T) *fakeServer {
	t.Helper()
	f := &fakeServer{t: t, done: make(chan struct{}), subs: map[chan Set]chan struct{}{}, reqs: map[string]int{},
		uploadSeen: make(chan struct{}, 100)}
	f.set = Set{Service: "svc", Version: "v0", Breakpoints: []Breakpoint{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/codemon/stream", f.stream)
	mux.HandleFunc("GET /v1/codemon/breakpoints", f.poll)
	mux.HandleFunc("POST /v1/codemon/snapshots", f.upload)
	mux.HandleFunc("POST /v1/codemon/capture-points", f.capturePoints)
	mux.HandleFunc("POST /v1/codemon/check", f.check)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		close(f.done)
		f.srv.Close()
	})
	return f
}

func (f *fakeServer) count(r *http.Request) {
	f.mu.Lock()
	f.reqs[r.URL.Path]++
	f.mu.Unlock()
	if r.Header.Get("X-API-Key") != "test-key" {
		f.t.Errorf("%s without the API key", r.URL.Path)
	}
	if q := r.URL.Query(); r.Method == http.MethodGet && (q.Get("service") != "svc" || q.Get("instance") == "" || q.Get("sdk") != "go/test") {
		f.t.Errorf("%s: instance parameters %v", r.URL.Path, q)
	}
}

// with runs change under the server's lock, for settings its handlers read.
func (f *fakeServer) with(change func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change()
}

func (f *fakeServer) requests(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reqs[path]
}

// setBreakpoints publishes a new set to streams and polls.
func (f *fakeServer) setBreakpoints(kill bool, bps ...Breakpoint) {
	f.mu.Lock()
	f.versions++
	f.set = Set{Service: "svc", Version: fmt.Sprintf("v%d", f.versions), KillSwitch: kill, Breakpoints: append([]Breakpoint{}, bps...)}
	s := f.set
	for ch := range f.subs {
		select {
		case ch <- s:
		default:
		}
	}
	f.mu.Unlock()
}

// dropStreams ends every open stream, as a server restart does.
func (f *fakeServer) dropStreams() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for ch, kill := range f.subs {
		close(kill)
		delete(f.subs, ch)
	}
}

func (f *fakeServer) stream(w http.ResponseWriter, r *http.Request) {
	f.count(r)
	f.mu.Lock()
	f.lastEventIDs = append(f.lastEventIDs, r.Header.Get("Last-Event-ID"))
	status, cur, silent := f.streamStatus, f.set, f.silent
	if status != 0 {
		f.mu.Unlock()
		http.Error(w, `{"error":"stream refused"}`, status)
		return
	}
	ch, kill := make(chan Set, 8), make(chan struct{})
	f.subs[ch] = kill
	f.mu.Unlock()
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	write := func(s Set) {
		body, _ := json.Marshal(s)
		fmt.Fprintf(w, "id: %s\nevent: breakpoints\ndata: %s\n\n", s.Version, body)
		w.(http.Flusher).Flush()
	}
	switch {
	case silent:
		w.(http.Flusher).Flush()
	case r.Header.Get("Last-Event-ID") != cur.Version:
		write(cur)
	default:
		io.WriteString(w, ": connected\n\n")
		w.(http.Flusher).Flush()
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-f.done:
			return
		case <-kill:
			return
		case s := <-ch:
			write(s)
		}
	}
}

func (f *fakeServer) poll(w http.ResponseWriter, r *http.Request) {
	f.count(r)
	f.mu.Lock()
	defer f.mu.Unlock()
	etag := `"` + f.set.Version + `"`
	w.Header().Set("ETag", etag)
	if r.Header.Get("If-None-Match") == etag {
		f.notModified++
		w.WriteHeader(http.StatusNotModified)
		return
	}
	json.NewEncoder(w).Encode(f.set)
}

func readBody(t *testing.T, r *http.Request, v any) bool {
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			t.Errorf("gzip: %v", err)
			return false
		}
		body = zr
	}
	if err := json.NewDecoder(body).Decode(v); err != nil {
		t.Errorf("%s: decode body: %v", r.URL.Path, err)
		return false
	}
	return true
}

func (f *fakeServer) upload(w http.ResponseWriter, r *http.Request) {
	f.count(r)
	f.mu.Lock()
	block, status := f.block, f.snapStatus
	if r.Header.Get("Content-Encoding") == "gzip" {
		f.gzipped++
	}
	f.mu.Unlock()
	select {
	case f.uploadSeen <- struct{}{}:
	default:
	}
	if block != nil {
		select {
		case <-block:
		case <-f.done:
		}
	}
	if status != 0 {
		http.Error(w, `{"error":"upload refused"}`, status)
		return
	}
	var req protocol.UploadRequest
	if !readBody(f.t, r, &req) {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	if req.Service != "svc" || req.Instance.Instance == "" || req.SDK != "go/test" {
		f.t.Errorf("upload envelope %+v", req.Instance)
	}
	f.mu.Lock()
	f.snapshots = append(f.snapshots, req.Snapshots...)
	f.logs = append(f.logs, req.Logs...)
	f.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
	fmt.Fprintf(w, `{"accepted":%d}`, len(req.Snapshots)+len(req.Logs))
}

func (f *fakeServer) capturePoints(w http.ResponseWriter, r *http.Request) {
	f.count(r)
	var req struct {
		Points []protocol.CapturePoint `json:"points"`
	}
	if readBody(f.t, r, &req) {
		f.mu.Lock()
		f.points = append(f.points, req.Points...)
		f.mu.Unlock()
	}
	w.WriteHeader(http.StatusNoContent)
}

func (f *fakeServer) check(w http.ResponseWriter, r *http.Request) {
	f.count(r)
	var req struct {
		BreakpointID string         `json:"breakpointId"`
		Variables    map[string]any `json:"variables"`
	}
	if !readBody(f.t, r, &req) {
		return
	}
	f.mu.Lock()
	f.checked = append(f.checked, req.Variables)
	fn := f.checkFn
	f.mu.Unlock()
	json.NewEncoder(w).Encode(map[string]any{"capture": fn != nil && fn(req.Variables)})
}

func (f *fakeServer) received() ([]protocol.Snapshot, []protocol.LogLine) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]protocol.Snapshot{}, f.snapshots...), append([]protocol.LogLine{}, f.logs...)
}

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// logBuffer collects what the agent logs.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newAgent starts an agent against f (nil: a closed address) with test
// timings; mod adjusts its options. It is closed when the test ends.
func newAgent(t *testing.T, f *fakeServer, mod func(*Options)) (*Agent, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	opts := Options{
		Endpoint: "http://127.0.0.1:1", APIKey: "test-key", Service: "svc", Environment: "prod", SDK: "go/test",
		Logger:     slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		BackoffMin: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond, PollInterval: 20 * time.Millisecond,
		FlushInterval: 10 * time.Millisecond, Discovery: Discovery{Off: true},
	}
	if f != nil {
		opts.Endpoint = f.srv.URL
	}
	if mod != nil {
		mod(&opts)
	}
	a, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return a, logs
}

// waitFor fails the test when cond does not hold within 10 seconds.
func waitFor(t *testing.T, a *Agent, what string, cond func(Stats) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.WaitFor(ctx, cond); err != nil {
		t.Fatalf("waiting for %s: %v; stats %+v", what, err, a.Stats())
	}
}

// eventually polls cond until it holds, for conditions outside the agent.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// hit reports a hit of capture point name at the caller's line.
func hit(a *Agent, ctx context.Context, name string, data map[string]any) (file string, line int) {
	pc, file, line, _ := runtime.Caller(1)
	a.Hit(ctx, name, data, pc, file, line)
	return file, line
}

// applied waits until the agent holds version v of the set.
func applied(t *testing.T, a *Agent, v string) {
	t.Helper()
	waitFor(t, a, "version "+v, func(s Stats) bool { return s.Version == v })
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
