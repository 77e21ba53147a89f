package server

import (
	"net/http"
	"sort"
	"sync"
)

// routeTable is the server's mux, recording every pattern registered on it
// so that the route table can be checked against the OpenAPI document.
type routeTable struct {
	*http.ServeMux
	mu       sync.Mutex
	patterns []string
}

func newRouteTable() *routeTable { return &routeTable{ServeMux: http.NewServeMux()} }

// Handle registers h for pattern and records the pattern.
func (t *routeTable) Handle(pattern string, h http.Handler) {
	t.record(pattern)
	t.ServeMux.Handle(pattern, h)
}

// HandleFunc registers h for pattern and records the pattern.
func (t *routeTable) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	t.record(pattern)
	t.ServeMux.HandleFunc(pattern, h)
}

func (t *routeTable) record(pattern string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.patterns = append(t.patterns, pattern)
}

// Routes returns every pattern registered on the server's HTTP mux
// ("GET /api/v1/traces/{traceID}", "/api/"), sorted.
func (s *Server) Routes() []string {
	s.routes.mu.Lock()
	defer s.routes.mu.Unlock()
	out := append([]string(nil), s.routes.patterns...)
	sort.Strings(out)
	return out
}
