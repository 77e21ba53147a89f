package codemon_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tracekit-oss/tracekit/internal/auth"
	"github.com/tracekit-oss/tracekit/internal/codemon"
	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/store/pebble"
	"github.com/tracekit-oss/tracekit/sdk/go/protocol"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	srv        *httptest.Server
	svc        *codemon.Service
	st         *pebble.Store
	clock      *clock
	admin, sdk string
	sdkKey     store.APIKey
	otherAdmin string
	cancel     func()
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, codemon.Options{})
}

// newEnvWith is newEnv with opts; Now and Heartbeat default to the test's.
func newEnvWith(t *testing.T, opts codemon.Options) *env {
	t.Helper()
	st, err := pebble.Open(t.TempDir(), pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := time.Now().UTC()
	for _, p := range []string{"p", "q"} {
		if err := st.CreateProject(ctx, store.Project{ID: p, Name: p, CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	admin, _, _ := auth.CreateKey(ctx, st, "p", "admin", store.ScopeAdmin, "", now)
	sdk, sdkKey, _ := auth.CreateKey(ctx, st, "p", "sdk", store.ScopeIngest, "", now)
	other, _, _ := auth.CreateKey(ctx, st, "q", "admin", store.ScopeAdmin, "", now)
	clk := &clock{t: now}
	if opts.Now == nil {
		opts.Now = clk.now
	}
	if opts.Heartbeat == 0 {
		opts.Heartbeat = 50 * time.Millisecond
	}
	svc := codemon.New(st, slog.New(slog.NewTextHandler(io.Discard, nil)), opts)
	mux := http.NewServeMux()
	authn := auth.NewAuthenticator(st)
	svc.RegisterSDK(mux, authn)
	svc.RegisterAPI(mux, authn)
	srv := httptest.NewServer(mux)
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { svc.Run(runCtx); close(done) }()
	e := &env{srv: srv, svc: svc, st: st, clock: clk, admin: admin, sdk: sdk, sdkKey: sdkKey, otherAdmin: other, cancel: cancel}
	t.Cleanup(func() {
		cancel()
		<-done
		srv.Close()
		st.Close()
	})
	return e
}

// call sends a JSON request and decodes the answer into out.
func (e *env) call(t *testing.T, key, method, path string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, rd)
	req.Header.Set("X-API-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, path, data, err)
		}
	}
	return resp.StatusCode
}

type bpJSON struct {
	ID              string `json:"id"`
	Type            string `json:"type"`
	Status          string `json:"status"`
	CaptureDepth    int    `json:"captureDepth"`
	RateLimit       int    `json:"rateLimit"`
	MaxStringLength int    `json:"maxStringLength"`
	ExpiresAt       time.Time
	Hits            int64      `json:"hits"`
	LastHitAt       *time.Time `json:"lastHitAt"`
	Error           string     `json:"error"`
	Field           string     `json:"field"`
}

func (e *env) create(t *testing.T, body map[string]any) bpJSON {
	t.Helper()
	var b bpJSON
	if code := e.call(t, e.admin, "POST", "/api/v1/breakpoints", body, &b); code != 201 {
		t.Fatalf("create %v: %d %+v", body, code, b)
	}
	return b
}

func TestCreateDefaultsAndValidation(t *testing.T) {
	e := newEnv(t)
	b := e.create(t, map[string]any{"service": "pay", "file": "handlers/pay.go", "line": 42})
	if b.Type != "line" || b.CaptureDepth != 3 || b.RateLimit != 10 || b.MaxStringLength != 256 || b.Status != "active" {
		t.Errorf("defaults: %+v", b)
	}
	if d := b.ExpiresAt.Sub(e.clock.now()); d < 23*time.Hour || d > 25*time.Hour {
		t.Errorf("default expiry in %s, want 24h", d)
	}
	if c := e.create(t, map[string]any{"service": "pay", "capturePoint": "payment-failed", "condition": `user.id == "abc123"`}); c.Type != "conditional" {
		t.Errorf("a condition without a type makes a conditional breakpoint, got %q", c.Type)
	}
	// The guide's conditions, in each SDK language's spelling.
	for _, cond := range []string{`user.id == "abc123"`, `response.statusCode >= 500`, `order.total > 10000`, `err != nil`, `err !== null`, `err is not None`} {
		e.create(t, map[string]any{"service": "pay", "type": "conditional", "capturePoint": "x", "condition": cond})
	}
	e.create(t, map[string]any{"service": "pay", "type": "logpoint", "capturePoint": "x", "message": `Cache {cache.hit ? "HIT" : "MISS"} for key {cache.key}`})

	f := func(body map[string]any, field, want string) {
		t.Helper()
		var b bpJSON
		code := e.call(t, e.admin, "POST", "/api/v1/breakpoints", body, &b)
		if code != 400 || b.Field != field || !strings.Contains(b.Error, want) {
			t.Errorf("%v: %d field=%q error=%q; want 400 on %q mentioning %q", body, code, b.Field, b.Error, field, want)
		}
	}
	f(map[string]any{"file": "a.go", "line": 1}, "service", "service")
	f(map[string]any{"service": "pay", "type": "watch", "file": "a.go", "line": 1}, "type", "line, conditional or logpoint")
	f(map[string]any{"service": "pay"}, "file", "capture point")
	f(map[string]any{"service": "pay", "file": "a.go"}, "line", "line")
	f(map[string]any{"service": "pay", "type": "conditional", "file": "a.go", "line": 1}, "condition", "needs a condition")
	f(map[string]any{"service": "pay", "type": "conditional", "file": "a.go", "line": 1, "condition": "user.id == "}, "condition", "1:")
	f(map[string]any{"service": "pay", "type": "logpoint", "file": "a.go", "line": 1}, "message", "needs a message")
	f(map[string]any{"service": "pay", "type": "logpoint", "file": "a.go", "line": 1, "message": "x {user.}"}, "message", "")
	f(map[string]any{"service": "pay", "file": "a.go", "line": 1, "captureDepth": 11}, "captureDepth", "1 to 10")
	f(map[string]any{"service": "pay", "file": "a.go", "line": 1, "rateLimit": 0}, "rateLimit", "per minute")
	f(map[string]any{"service": "pay", "file": "a.go", "line": 1, "expiresIn": "soon"}, "expiresIn", "duration")
	f(map[string]any{"service": "pay", "file": "a.go", "line": 1, "bogus": 1}, "body", "unknown field")

	// Nothing was stored by the refused requests.
	var list struct{ Breakpoints []bpJSON }
	e.call(t, e.admin, "GET", "/api/v1/breakpoints?service=pay", nil, &list)
	if len(list.Breakpoints) != 9 {
		t.Errorf("%d breakpoints stored, want 9", len(list.Breakpoints))
	}
}

func TestLifecycleAndIsolation(t *testing.T) {
	e := newEnv(t)
	b := e.create(t, map[string]any{"service": "pay", "file": "pay.go", "line": 7})
	var got bpJSON
	if code := e.call(t, e.admin, "POST", "/api/v1/breakpoints/"+b.ID+"/pause", nil, &got); code != 200 || got.Status != "paused" {
		t.Errorf("pause: %d %+v", code, got)
	}
	if code := e.call(t, e.admin, "POST", "/api/v1/breakpoints/"+b.ID+"/resume", nil, &got); code != 200 || got.Status != "active" {
		t.Errorf("resume: %d %+v", code, got)
	}
	if code := e.call(t, e.admin, "PATCH", "/api/v1/breakpoints/"+b.ID, map[string]any{"rateLimit": 2, "captureDepth": 5}, &got); code != 200 || got.RateLimit != 2 || got.CaptureDepth != 5 {
		t.Errorf("update: %d %+v", code, got)
	}
	if code := e.call(t, e.admin, "PATCH", "/api/v1/breakpoints/"+b.ID, map[string]any{"captureDepth": 0}, &got); code != 400 {
		t.Errorf("bad update: %d", code)
	}
	e.call(t, e.admin, "GET", "/api/v1/breakpoints/"+b.ID, nil, &got)
	if got.CaptureDepth != 5 {
		t.Errorf("a refused update changed the breakpoint: %+v", got)
	}
	// Another project neither sees nor changes it; an ingest key cannot manage.
	if code := e.call(t, e.otherAdmin, "GET", "/api/v1/breakpoints/"+b.ID, nil, nil); code != 404 {
		t.Errorf("other project reads: %d", code)
	}
	if code := e.call(t, e.otherAdmin, "DELETE", "/api/v1/breakpoints/"+b.ID, nil, nil); code != 404 {
		t.Errorf("other project deletes: %d", code)
	}
	if code := e.call(t, e.sdk, "GET", "/api/v1/breakpoints", nil, nil); code != 403 {
		t.Errorf("ingest key manages: %d", code)
	}
	e.clock.add(25 * time.Hour)
	e.call(t, e.admin, "GET", "/api/v1/breakpoints/"+b.ID, nil, &got)
	if got.Status != "expired" {
		t.Errorf("after 25h: %q", got.Status)
	}
	if code := e.call(t, e.admin, "DELETE", "/api/v1/breakpoints/"+b.ID, nil, nil); code != 204 {
		t.Errorf("delete: %d", code)
	}
	if code := e.call(t, e.admin, "GET", "/api/v1/breakpoints/"+b.ID, nil, nil); code != 404 {
		t.Errorf("after delete: %d", code)
	}
}

// sseClient reads events from the stream.
type sseClient struct {
	resp   *http.Response
	events chan sseEvent
	close  func()
}

type sseEvent struct {
	id, name, data string
	comment        bool
}

// defaultStream is the stream query of openStream.
const defaultStream = "service=pay&instance=i-1&host=web-1&sdk=go/test&environment=prod"

func (e *env) openStream(t *testing.T, lastID string) *sseClient {
	t.Helper()
	c, code := e.tryStream(t, e.sdk, defaultStream, lastID)
	if c == nil {
		t.Fatalf("stream: %d", code)
	}
	return c
}

// tryStream opens a stream with key and query; it returns nil and the
// status when the server does not answer 200 with an event stream.
func (e *env) tryStream(t *testing.T, key, query, lastID string) (*sseClient, int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/v1/codemon/stream?"+query, nil)
	req.Header.Set("X-API-Key", key)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		resp.Body.Close()
		cancel()
		return nil, resp.StatusCode
	}
	c := &sseClient{resp: resp, events: make(chan sseEvent, 100), close: func() { cancel(); resp.Body.Close() }}
	go func() {
		defer close(c.events)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev != (sseEvent{}) {
					select {
					case c.events <- ev:
					case <-ctx.Done():
						return
					}
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, ":"):
				ev.comment = true
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.name = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev.data = line[6:]
			}
		}
	}()
	t.Cleanup(c.close)
	return c, resp.StatusCode
}

// ended waits until the server ends the stream, skipping what it still sends.
func (c *sseClient) ended(t *testing.T) {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case _, ok := <-c.events:
			if !ok {
				return
			}
		case <-timeout:
			t.Fatal("stream still open after 20s")
		}
	}
}

// next returns the next breakpoints event, skipping heartbeats.
func (c *sseClient) next(t *testing.T) protocol.BreakpointSet {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-c.events:
			if !ok {
				t.Fatal("stream closed")
			}
			if ev.comment {
				continue
			}
			var cfg protocol.BreakpointSet
			if ev.name != "breakpoints" || json.Unmarshal([]byte(ev.data), &cfg) != nil || ev.id != cfg.Version {
				t.Fatalf("bad event %+v", ev)
			}
			return cfg
		case <-timeout:
			t.Fatal("no event within 10s")
		}
	}
}

func TestStreamDeliversChanges(t *testing.T) {
	e := newEnv(t)
	c := e.openStream(t, "")
	first := c.next(t)
	if first.Service != "pay" || first.KillSwitch || len(first.Breakpoints) != 0 {
		t.Fatalf("initial set = %+v", first)
	}
	b := e.create(t, map[string]any{"service": "pay", "capturePoint": "payment-failed", "condition": "order.total > 10000"})
	cfg := c.next(t)
	if len(cfg.Breakpoints) != 1 || cfg.Breakpoints[0].ID != b.ID || cfg.Breakpoints[0].Condition != "order.total > 10000" || cfg.Version == first.Version {
		t.Fatalf("after create: %+v", cfg)
	}
	e.create(t, map[string]any{"service": "other", "file": "x.go", "line": 1}) // another service: no event for pay
	e.call(t, e.admin, "POST", "/api/v1/breakpoints/"+b.ID+"/pause", nil, nil)
	if cfg := c.next(t); len(cfg.Breakpoints) != 0 {
		t.Fatalf("after pause: %+v", cfg)
	}
	e.call(t, e.admin, "POST", "/api/v1/breakpoints/"+b.ID+"/resume", nil, nil)
	resumed := c.next(t)
	if len(resumed.Breakpoints) != 1 {
		t.Fatalf("after resume: %+v", resumed)
	}
	var ks store.KillSwitch
	if code := e.call(t, e.admin, "PUT", "/api/v1/services/pay/killswitch", map[string]bool{"enabled": true}, &ks); code != 200 || !ks.Enabled {
		t.Fatalf("kill switch: %d %+v", code, ks)
	}
	if cfg := c.next(t); !cfg.KillSwitch {
		t.Fatalf("after kill switch: %+v", cfg)
	}
	e.call(t, e.admin, "PUT", "/api/v1/services/pay/killswitch", map[string]bool{"enabled": false}, nil)
	last := c.next(t)
	if last.KillSwitch || len(last.Breakpoints) != 1 {
		t.Fatalf("after kill switch off: %+v", last)
	}
	// Expiry reaches the stream without any user action.
	e.clock.add(25 * time.Hour)
	if cfg := c.next(t); len(cfg.Breakpoints) != 0 {
		t.Fatalf("after expiry: %+v", cfg)
	}
	// The instance is listed while it streams.
	var inst struct{ Instances []codemon.Instance }
	e.call(t, e.admin, "GET", "/api/v1/services/pay/instances", nil, &inst)
	if len(inst.Instances) != 1 || inst.Instances[0].Host != "web-1" || !inst.Instances[0].Streaming || inst.Instances[0].SDKVersion != "go/test" {
		t.Errorf("instances = %+v", inst.Instances)
	}
}

func TestStreamResumeSendsNothingStale(t *testing.T) {
	e := newEnv(t)
	first := e.openStream(t, "").next(t)
	c := e.openStream(t, first.Version)
	// Only heartbeats until a change.
	for i := 0; i < 2; i++ {
		select {
		case ev := <-c.events:
			if !ev.comment {
				t.Fatalf("resume resent the set: %+v", ev)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no heartbeat")
		}
	}
	e.create(t, map[string]any{"service": "pay", "file": "a.go", "line": 3})
	if cfg := c.next(t); len(cfg.Breakpoints) != 1 {
		t.Fatalf("after create: %+v", cfg)
	}
}

func TestPollingETag(t *testing.T) {
	e := newEnv(t)
	get := func(etag string) (int, string, protocol.BreakpointSet) {
		req, _ := http.NewRequest("GET", e.srv.URL+"/v1/codemon/breakpoints?service=pay", nil)
		req.Header.Set("X-API-Key", e.sdk)
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var cfg protocol.BreakpointSet
		json.NewDecoder(resp.Body).Decode(&cfg)
		return resp.StatusCode, resp.Header.Get("ETag"), cfg
	}
	code, etag, _ := get("")
	if code != 200 || etag == "" {
		t.Fatalf("first poll: %d %q", code, etag)
	}
	if code, _, _ := get(etag); code != 304 {
		t.Errorf("unchanged poll: %d, want 304", code)
	}
	e.create(t, map[string]any{"service": "pay", "file": "a.go", "line": 3})
	code, etag2, cfg := get(etag)
	if code != 200 || etag2 == etag || len(cfg.Breakpoints) != 1 {
		t.Errorf("poll after change: %d %q %+v", code, etag2, cfg)
	}
	req, _ := http.NewRequest("GET", e.srv.URL+"/v1/codemon/breakpoints", nil)
	req.Header.Set("X-API-Key", e.sdk)
	resp, _ := http.DefaultClient.Do(req)
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("poll without service: %d", resp.StatusCode)
	}
}
