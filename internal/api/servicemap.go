package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/tracekit-oss/tracekit/internal/store"
)

// ServiceMapJSON is the body of GET /api/v1/servicemap.
type ServiceMapJSON struct {
	Nodes []ServiceNodeJSON `json:"nodes"`
	Edges []ServiceEdgeJSON `json:"edges"`
}

// ServiceNodeJSON is a node of the service map.
type ServiceNodeJSON struct {
	Name string `json:"name"`
	// Kind is service, database, messaging or external.
	Kind string `json:"kind"`
}

// ServiceEdgeJSON is the calls from one service to another or to a leaf.
type ServiceEdgeJSON struct {
	Caller     string  `json:"caller"`
	Callee     string  `json:"callee"`
	CalleeKind string  `json:"calleeKind"`
	Calls      int64   `json:"calls"`
	Errors     int64   `json:"errors"`
	ErrorRate  float64 `json:"errorRate"`
	P50Ms      float64 `json:"p50Ms"`
	P95Ms      float64 `json:"p95Ms"`
	P99Ms      float64 `json:"p99Ms"`
	// TraceIDs are a few recent traces holding such a call, newest first.
	TraceIDs []string `json:"traceIds"`
}

// ServiceMapOf converts edges for output.
func ServiceMapOf(edges []store.ServiceEdge) ServiceMapJSON {
	out := ServiceMapJSON{Nodes: []ServiceNodeJSON{}, Edges: make([]ServiceEdgeJSON, 0, len(edges))}
	for _, n := range store.ServiceMapNodes(edges) {
		out.Nodes = append(out.Nodes, ServiceNodeJSON{Name: n.Name, Kind: string(n.Kind)})
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	for _, e := range edges {
		j := ServiceEdgeJSON{Caller: e.Caller, Callee: e.Callee, CalleeKind: string(e.CalleeKind), Calls: e.Calls, Errors: e.Errors,
			P50Ms: ms(e.P50), P95Ms: ms(e.P95), P99Ms: ms(e.P99), TraceIDs: make([]string, 0, len(e.Traces))}
		if e.Calls > 0 {
			j.ErrorRate = float64(e.Errors) / float64(e.Calls)
		}
		for _, id := range e.Traces {
			j.TraceIDs = append(j.TraceIDs, id.String())
		}
		out.Edges = append(out.Edges, j)
	}
	return out
}

// defaultMapLookback is the service map's range when the request names
// no start.
const defaultMapLookback = time.Hour

// serviceMap answers GET /api/v1/servicemap?lookback=1h (or start=&end=).
func (a *API) serviceMap(w http.ResponseWriter, r *http.Request) {
	sm, ok := a.st.(store.ServiceMapReader)
	if !ok {
		WriteError(w, http.StatusNotImplemented, "the service map is not available with this storage backend")
		return
	}
	now := a.now()
	start, end, err := ParseTimeRange(r.URL.Query(), now)
	if err != nil {
		WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	if end.IsZero() {
		end = now
	}
	if start.IsZero() {
		start = end.Add(-defaultMapLookback)
	}
	edges, err := sm.ServiceMap(r.Context(), project(r), start, end)
	if errors.Is(err, errors.ErrUnsupported) {
		WriteError(w, http.StatusNotImplemented, "the service map is not available with this storage backend: "+err.Error())
		return
	}
	if err != nil {
		a.fail(w, "service map", err)
		return
	}
	WriteJSON(w, http.StatusOK, ServiceMapOf(edges))
}
