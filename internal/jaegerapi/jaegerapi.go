// Package jaegerapi serves Jaeger's HTTP query API, version 1 (the /api
// JSON of jaeger-query that the Jaeger UI and Grafana's Jaeger data source
// read), under /jaeger/api: services, operations, trace search, traces by
// ID and service dependencies, with Jaeger's parameters, JSON shapes
// (processes, span references, typed tags, microsecond times) and error
// envelope. Spans appear as Jaeger shows OTLP data: kind, status and
// instrumentation scope as tags, events as logs, links as FOLLOWS_FROM
// references.
//
// Keys are checked as for the native API (an admin key, whose project is
// the only one it reads), sent as X-API-Key, a bearer token or a basic-auth
// password. The package owns the translation of parameters and shapes; it
// does not own storage, the native API (package api) or how the service
// map is aggregated (the store's ServiceMapReader).
package jaegerapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sort"
	"time"

	"github.com/tracekit-oss/tracekit/internal/api"
	"github.com/tracekit-oss/tracekit/internal/auth"
	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// Prefix is where the API is served: a Jaeger client is given the server's
// URL with /jaeger, and adds /api/... itself.
const Prefix = "/jaeger/api"

// Store is what the API reads. A store that also implements
// store.ServiceMapReader answers /dependencies; without it the list is
// empty.
type Store interface {
	store.TraceReader
}

// Handler serves the Jaeger query API over a store.
type Handler struct {
	st  Store
	log *slog.Logger
	now func() time.Time
}

// New returns the handler over st.
func New(st Store, log *slog.Logger) *Handler {
	return &Handler{st: st, log: log, now: time.Now}
}

// Register adds the routes under Prefix to mux, each guarded by an admin
// key; other paths under it answer 404 in Jaeger's envelope.
func (h *Handler) Register(mux api.Router, authn api.Authenticator) {
	admin := authn.Require(store.ScopeAdmin, func(w http.ResponseWriter, _ *http.Request, status int, err error) {
		writeError(w, status, err.Error())
	})
	handle := func(pattern string, fn http.HandlerFunc) { mux.Handle("GET "+Prefix+pattern, admin(fn)) }
	handle("/services", h.services)
	handle("/services/{service}/operations", h.operationNames)
	handle("/operations", h.operations)
	handle("/traces", h.search)
	handle("/traces/{traceID}", h.trace)
	handle("/dependencies", h.dependencies)
	mux.HandleFunc(Prefix+"/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such Jaeger API route: "+r.Method+" "+r.URL.Path)
	})
}

func project(r *http.Request) string {
	p, _ := auth.PrincipalFrom(r.Context())
	return p.Project
}

func writeJSON(w http.ResponseWriter, status int, v *envelope) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers with Jaeger's error envelope.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, &envelope{Errors: []apiError{{Code: status, Msg: msg}}})
}

// fail answers a store error: 503 when the store or the request gave up,
// 500 (logged) otherwise, as Jaeger answers storage errors.
func (h *Handler) fail(w http.ResponseWriter, what string, err error) {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		writeError(w, http.StatusServiceUnavailable, what+": request cancelled or timed out")
	case errors.Is(err, store.ErrUnavailable):
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, what+": the store is unavailable: retry later")
	default:
		h.log.Error("jaeger api: "+what, "err", err)
		writeError(w, http.StatusInternalServerError, what+": internal error")
	}
}

func (h *Handler) services(w http.ResponseWriter, r *http.Request) {
	svcs, err := h.st.Services(r.Context(), project(r))
	if err != nil {
		h.fail(w, "list services", err)
		return
	}
	if svcs == nil {
		svcs = []string{}
	}
	writeJSON(w, http.StatusOK, &envelope{Data: svcs, Total: len(svcs)})
}

// operationNames is the UI's older route: the names alone, of every kind.
func (h *Handler) operationNames(w http.ResponseWriter, r *http.Request) {
	ops, err := h.st.Operations(r.Context(), project(r), r.PathValue("service"))
	if err != nil {
		h.fail(w, "list operations", err)
		return
	}
	names := make([]string, 0, len(ops))
	for _, o := range ops {
		names = append(names, o.Name)
	}
	sort.Strings(names)
	names = compactSorted(names)
	writeJSON(w, http.StatusOK, &envelope{Data: names, Total: len(names)})
}

func compactSorted(s []string) []string {
	out := s[:0]
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}

// operations lists a service's operations with their span kind, of one
// kind if spanKind is given (server, client, producer, consumer, internal).
func (h *Handler) operations(w http.ResponseWriter, r *http.Request) {
	service := r.FormValue("service")
	if service == "" {
		writeError(w, http.StatusBadRequest, errServiceRequired.Error())
		return
	}
	kind := r.FormValue("spanKind")
	ops, err := h.st.Operations(r.Context(), project(r), service)
	if err != nil {
		h.fail(w, "list operations", err)
		return
	}
	out := make([]operation, 0, len(ops))
	for _, o := range ops {
		if k := spanKind(o.Kind); kind == "" || k == kind {
			out = append(out, operation{Name: o.Name, SpanKind: k})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	writeJSON(w, http.StatusOK, &envelope{Data: out, Total: len(out)})
}

// search answers /traces with whole traces, newest first, as Jaeger does.
func (h *Handler) search(w http.ResponseWriter, r *http.Request) {
	sq, err := parseSearch(r.URL.Query(), h.now())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	ctx, proj := r.Context(), project(r)
	traces := []trace{}
	var missing []apiError
	if len(sq.traceIDs) > 0 {
		for _, id := range sq.traceIDs {
			var spans []telemetry.Span
			err := store.ErrNotFound
			if id.IsValid() {
				spans, err = h.st.Trace(ctx, proj, id)
			}
			if errors.Is(err, store.ErrNotFound) {
				missing = append(missing, apiError{Msg: "trace not found", TraceID: traceIDString(id)})
				continue
			}
			if err != nil {
				h.fail(w, "read trace "+id.String(), err)
				return
			}
			traces = append(traces, convertTrace(spans))
		}
		writeJSON(w, http.StatusOK, &envelope{Data: traces, Errors: missing})
		return
	}
	if !sq.empty {
		found, err := h.st.FindTraces(ctx, proj, sq.q)
		if err != nil {
			h.fail(w, "search traces", err)
			return
		}
		traces = make([]trace, 0, len(found))
		for _, s := range found {
			spans, err := h.st.Trace(ctx, proj, s.TraceID)
			if errors.Is(err, store.ErrNotFound) {
				continue // dropped by retention since the search
			}
			if err != nil {
				h.fail(w, "read trace "+s.TraceID.String(), err)
				return
			}
			traces = append(traces, convertTrace(spans))
		}
	}
	writeJSON(w, http.StatusOK, &envelope{Data: traces})
}

// trace answers /traces/{traceID}. start and end (microseconds), which
// clients may send as hints of where the trace lies, are checked and not
// needed: the store finds a trace by ID alone.
func (h *Handler) trace(w http.ResponseWriter, r *http.Request) {
	id, err := parseTraceID(r.PathValue("traceID"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	q := r.URL.Query()
	for _, name := range [...]string{"start", "end"} {
		if _, err := parseMicros(q, name, time.Time{}); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	if !id.IsValid() {
		writeError(w, http.StatusNotFound, "trace not found")
		return
	}
	spans, err := h.st.Trace(r.Context(), project(r), id)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "trace not found")
		return
	}
	if err != nil {
		h.fail(w, "read trace "+id.String(), err)
		return
	}
	writeJSON(w, http.StatusOK, &envelope{Data: []trace{convertTrace(spans)}})
}

// dependencies answers the service graph over [endTs-lookback, endTs]:
// the calls between services, and from services to the databases, queues
// and hosts they call, optionally those of one service.
func (h *Handler) dependencies(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	start, end, err := dependenciesRange(q, h.now())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	links := []dependencyLink{}
	sm, ok := h.st.(store.ServiceMapReader)
	if !ok || start.After(end) {
		writeJSON(w, http.StatusOK, &envelope{Data: links})
		return
	}
	edges, err := sm.ServiceMap(r.Context(), project(r), start, end)
	if err != nil {
		h.fail(w, "read dependencies", err)
		return
	}
	service := q.Get("service")
	for _, e := range edges {
		if service != "" && e.Caller != service && e.Callee != service {
			continue
		}
		// Edges are sorted by caller then callee; one pair may come once
		// per callee kind, and Jaeger has one link per pair.
		if n := len(links); n > 0 && links[n-1].Parent == e.Caller && links[n-1].Child == e.Callee {
			links[n-1].CallCount += e.Calls
			continue
		}
		links = append(links, dependencyLink{Parent: e.Caller, Child: e.Callee, CallCount: e.Calls})
	}
	writeJSON(w, http.StatusOK, &envelope{Data: links})
}
