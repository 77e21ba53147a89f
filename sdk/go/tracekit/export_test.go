package tracekit

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// logBuffer collects what an slog.Logger writes.
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

func (b *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(b, nil)) }

// closedPort returns the address of a loopback port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// eventually polls cond until it holds; the test's deadline bounds it.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-t.Context().Done():
			t.Fatalf("gave up waiting until %s", what)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// serveN sends n requests straight to h and checks each succeeds.
func serveN(t *testing.T, h http.Handler, n int) {
	t.Helper()
	for range n {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/work", nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("GET /work: %d", rec.Code)
		}
	}
}

func okHandler(s *SDK) http.Handler {
	return s.HTTPMiddleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
	}))
}

// TestExportServerDown: with nothing listening, requests are served, every
// span is counted as lost, and one warning (not one per export) says so.
func TestExportServerDown(t *testing.T) {
	var logs logBuffer
	s, err := NewSDK(&Config{
		ServiceName: "lonely-service",
		Endpoint:    "http://" + closedPort(t) + "/v1/traces",
		Logger:      logs.logger(),
		// Only Flush exports, so that each export holds one round's spans.
		BatchTimeout: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	h := okHandler(s)
	for range 3 {
		serveN(t, h, 10)
		err := s.Flush(context.Background())
		if err == nil || !strings.Contains(err.Error(), "10 spans lost") {
			t.Errorf("Flush with the server down: %v, want 10 spans lost", err)
		}
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown with nothing queued: %v", err)
	}
	st := s.Stats()
	if st != (Stats{ExportFailed: 30, Dropped: 30}) {
		t.Errorf("Stats = %+v, want 30 failed exports", st)
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 {
		t.Errorf("%d warnings, want 1:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "connection refused") {
		t.Errorf("warning does not say why:\n%s", logs.String())
	}
}

// TestExportServerHangs: a server that never answers holds one export; the
// application keeps being served, spans beyond the queue are dropped and
// counted, and Shutdown gives up at its deadline, cancelling the export.
func TestExportServerHangs(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 1)
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
		default:
		}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(hung.Close)
	t.Cleanup(func() { close(release) }) // runs first: lets hung.Close finish

	var logs logBuffer
	const queue = 8
	s, err := NewSDK(&Config{
		ServiceName:   "patient-service",
		Endpoint:      hung.URL + "/v1/traces",
		MaxQueueSize:  queue,
		ExportTimeout: time.Hour, // only Shutdown's deadline ends the export
		Logger:        logs.logger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	h := okHandler(s)
	serveN(t, h, queue) // a full batch: the processor starts exporting it
	<-arrived
	serveN(t, h, 100) // served while the export hangs

	if st := s.Stats(); st.Pending != queue || st.QueueFull != 100 || st.Exported != 0 {
		t.Errorf("while the export hangs: Stats = %+v, want %d pending and 100 dropped", st, queue)
	}
	if !strings.Contains(logs.String(), "export queue full") {
		t.Errorf("no warning about the full queue:\n%s", logs.String())
	}

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v, want its context's deadline", err)
	}
	// The cancelled export is counted as it unwinds.
	eventually(t, "the hung export is counted", func() bool { return s.Stats().Pending == 0 })
	if st := s.Stats(); st.ExportFailed != queue || st.Dropped != 100+queue {
		t.Errorf("after Shutdown: Stats = %+v, want %d failed", st, queue)
	}
}

// TestExportRejected: a server that refuses the API key costs the spans, and
// Flush says why.
func TestExportRejected(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-API-Key") != "right" {
			http.Error(w, "invalid API key", http.StatusUnauthorized)
		}
	}))
	t.Cleanup(srv.Close)
	s, err := NewSDK(&Config{ServiceName: "svc", APIKey: "wrong", Endpoint: srv.URL, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	serveN(t, okHandler(s), 1)
	err = s.Flush(context.Background())
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "invalid API key") {
		t.Errorf("Flush = %v, want the 401 and the server's message", err)
	}
	if st := s.Stats(); st.ExportFailed != 1 {
		t.Errorf("Stats = %+v, want 1 failed", st)
	}
}

// TestShutdownExpiredContext: a Shutdown whose context has already ended
// still stops the exporter's goroutine (TestMain checks for leaks).
func TestShutdownExpiredContext(t *testing.T) {
	rc := newReceiver(t)
	s, err := NewSDK(&Config{ServiceName: "svc", Endpoint: rc.endpoint(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	serveN(t, okHandler(s), 3)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown = %v, want context.Canceled", err)
	}
	if st := s.Stats(); st.Pending != 0 || st.Exported+st.Dropped != 3 {
		t.Errorf("Stats = %+v, want all 3 spans accounted for", st)
	}
}
