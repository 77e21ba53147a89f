package codemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/tracekit-oss/tracekit/internal/auth"
	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/store/pebble"
)

// stuckWriter is a client that stopped reading: every write blocks until a
// write deadline in the past is set.
type stuckWriter struct {
	header    http.Header
	writing   chan struct{} // closed at the first write
	onWrite   sync.Once
	unblocked chan struct{} // closed by a past write deadline
	unblock   sync.Once
}

func newStuckWriter() *stuckWriter {
	return &stuckWriter{header: http.Header{}, writing: make(chan struct{}), unblocked: make(chan struct{})}
}

func (w *stuckWriter) Header() http.Header { return w.header }
func (w *stuckWriter) WriteHeader(int)     {}
func (w *stuckWriter) FlushError() error   { return nil }
func (w *stuckWriter) release()            { w.unblock.Do(func() { close(w.unblocked) }) }

func (w *stuckWriter) Write(p []byte) (int, error) {
	w.onWrite.Do(func() { close(w.writing) })
	<-w.unblocked
	return 0, os.ErrDeadlineExceeded
}

func (w *stuckWriter) SetWriteDeadline(d time.Time) error {
	if !d.IsZero() && d.Before(time.Now()) {
		w.release()
	}
	return nil
}

func TestStreamEndsWhileBlockedWriting(t *testing.T) {
	cases := []struct {
		name string
		end  func(s *Service)
	}{
		{"key revoked", func(s *Service) { s.KeyRevoked("p", "k1") }},
		{"shutdown", func(s *Service) { s.Close() }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, err := pebble.Open(t.TempDir(), pebble.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			svc := New(st, slog.New(slog.NewTextHandler(io.Discard, nil)), Options{Heartbeat: time.Hour})
			w := newStuckWriter()
			ctx := auth.WithPrincipal(context.Background(), auth.Principal{Project: "p", Scope: store.ScopeIngest, KeyID: "k1"})
			req := httptest.NewRequestWithContext(ctx, "GET", "/v1/codemon/stream?service=pay&instance=i-1", nil)
			done := make(chan struct{})
			go func() { defer close(done); svc.stream(w, req) }()
			t.Cleanup(func() { w.release(); <-done })

			select {
			case <-w.writing:
			case <-time.After(20 * time.Second):
				t.Fatal("the stream did not start writing")
			}
			c.end(svc)
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("the stream is still blocked writing")
			}
			svc.hub.mu.Lock()
			n := svc.hub.streams
			svc.hub.mu.Unlock()
			if n != 0 {
				t.Errorf("%d streams counted after the handler returned", n)
			}
		})
	}
}

// registrySize counts what the hub holds for instances.
func registrySize(h *hub) (services, instances int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, p := range h.projects {
		services += len(p.services)
		for _, sv := range p.services {
			instances += len(sv.byID)
			if sv.idle.Len()+sv.streaming != len(sv.byID) {
				panic(fmt.Sprintf("service %s: %d idle + %d streaming != %d instances", sv.name, sv.idle.Len(), sv.streaming, len(sv.byID)))
			}
		}
	}
	return services, instances
}

func TestHubRegistryStaysAtItsCaps(t *testing.T) {
	cases := []struct {
		instancesPerService, servicesPerProject, streaming int
	}{
		{1, 1, 0},
		{5, 3, 0},
		{5, 3, 2},
		{50, 20, 10},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%d per service, %d services, %d streaming", c.instancesPerService, c.servicesPerProject, c.streaming), func(t *testing.T) {
			h := newHub(hubLimits{instancesPerService: c.instancesPerService, servicesPerProject: c.servicesPerProject})
			now := time.Unix(1_700_000_000, 0)
			for i := range c.streaming {
				if !h.seen("p", Instance{ID: fmt.Sprintf("s-%d", i), Service: "pay"}, now, 1) {
					t.Fatalf("streaming instance %d not recorded", i)
				}
			}
			// Ten times the cap of distinct instance IDs, then of services.
			for i := range 10 * c.instancesPerService {
				now = now.Add(time.Second)
				h.seen("p", Instance{ID: fmt.Sprintf("r-%d", i), Service: "pay"}, now, 0)
			}
			if _, n := registrySize(h); n != c.instancesPerService {
				t.Errorf("%d instances held, want the cap %d", n, c.instancesPerService)
			}
			for i := range 10 * c.servicesPerProject {
				now = now.Add(time.Second)
				h.seen("p", Instance{ID: "x", Service: fmt.Sprintf("svc-%d", i)}, now, 0)
			}
			if n, _ := registrySize(h); n != c.servicesPerProject {
				t.Errorf("%d services held, want the cap %d", n, c.servicesPerProject)
			}
			// Streaming instances are never evicted.
			var streaming int
			for _, in := range h.listInstances("p", "pay") {
				if in.Streaming {
					streaming++
				}
			}
			if streaming != c.streaming {
				t.Errorf("%d streaming instances listed, want %d", streaming, c.streaming)
			}
		})
	}
}

func TestHubRegistryFullOfStreams(t *testing.T) {
	h := newHub(hubLimits{instancesPerService: 2, servicesPerProject: 1})
	now := time.Unix(1_700_000_000, 0)
	seen := func(service, id string, delta int) bool {
		now = now.Add(time.Second)
		return h.seen("p", Instance{ID: id, Service: service}, now, delta)
	}
	seen("pay", "a", 1)
	seen("pay", "b", 1)
	if seen("pay", "c", 0) {
		t.Error("an instance was recorded in a service full of streaming ones")
	}
	if seen("web", "x", 0) {
		t.Error("a service was recorded in a project whose only service streams")
	}
	if seen("pay", "c", -1) {
		t.Error("the end of an unrecorded stream recorded its instance")
	}
	seen("pay", "b", -1)
	if !seen("pay", "c", 0) {
		t.Error("an instance was not recorded once one stopped streaming")
	}
	if ids := h.listInstances("p", "pay"); len(ids) != 2 || ids[0].ID != "a" || ids[1].ID != "c" {
		t.Errorf("instances = %+v, want a and c", ids)
	}
	// Pruning forgets idle instances and emptied services, never streams.
	now = now.Add(2 * instanceTTL)
	h.prune(now)
	if ids := h.listInstances("p", "pay"); len(ids) != 1 || ids[0].ID != "a" || !ids[0].Streaming {
		t.Errorf("after pruning: %+v, want the streaming a", ids)
	}
	seen("pay", "a", -1)
	h.prune(now.Add(2 * instanceTTL))
	if s, n := registrySize(h); s != 0 || n != 0 {
		t.Errorf("after pruning everything: %d services, %d instances held", s, n)
	}
}
