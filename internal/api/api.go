// Package api serves TraceKit's JSON query and management API under /api/v1:
// traces by ID, trace search, services and operations, API keys, and the
// OpenAPI document that describes them. Every route needs an admin key of the
// project it reads; the project comes from the key, never from the URL.
//
// It owns request parsing and the JSON shapes, not storage or ingest.
package api

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tracekit-oss/tracekit/internal/auth"
	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// Store is what the API reads and manages.
type Store interface {
	store.TraceReader
	ListKeys(ctx context.Context, project string) ([]store.APIKey, error)
	CreateKey(ctx context.Context, k store.APIKey) error
	RevokeKey(ctx context.Context, project, id string, at time.Time) error
}

// Authenticator is the middleware factory the API is guarded by.
type Authenticator interface {
	Require(scope store.Scope, fail func(w http.ResponseWriter, r *http.Request, status int, err error)) func(http.Handler) http.Handler
}

// OpenAPI is the API's OpenAPI 3 document.
//
//go:embed openapi.json
var OpenAPI []byte

// SnapshotLinker finds the code-monitoring snapshots captured within a
// trace, so that the trace API can point to them.
type SnapshotLinker interface {
	SnapshotsOfTrace(ctx context.Context, project, traceID string, start, end time.Time) ([]store.Snapshot, error)
}

// Codemon is what the API needs of code monitoring: the snapshots of a
// trace, and ending the SSE streams of a key it revokes.
type Codemon interface {
	SnapshotLinker
	KeyRevoked(project, keyID string)
}

// API is the /api/v1 handler set.
type API struct {
	st  Store
	cm  Codemon
	log *slog.Logger
	now func() time.Time
}

// New returns the API over st; cm may be nil.
func New(st Store, cm Codemon, log *slog.Logger) *API {
	return &API{st: st, cm: cm, log: log, now: time.Now}
}

// Router is where handlers register their routes: an *http.ServeMux, or a
// wrapper of one that records the route table (the server checks it
// against the OpenAPI document).
type Router interface {
	Handle(pattern string, handler http.Handler)
	HandleFunc(pattern string, handler func(http.ResponseWriter, *http.Request))
}

// Register adds the API's routes to mux, guarded by a.
func (a *API) Register(mux Router, authn Authenticator) {
	admin := authn.Require(store.ScopeAdmin, func(w http.ResponseWriter, _ *http.Request, status int, err error) {
		WriteError(w, status, err.Error())
	})
	handle := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, admin(h)) }
	handle("GET /api/v1/traces", a.findTraces)
	handle("GET /api/v1/traces/{traceID}", a.getTrace)
	handle("GET /api/v1/traces/{traceID}/critical-path", a.criticalPath)
	handle("GET /api/v1/traces/compare", a.compareTraces)
	handle("GET /api/v1/traces/points", a.tracePoints)
	handle("GET /api/v1/services", a.services)
	handle("GET /api/v1/services/{service}/operations", a.operations)
	handle("GET /api/v1/services/{service}/red", a.redSeries)
	handle("GET /api/v1/servicemap", a.serviceMap)
	handle("GET /api/v1/keys", a.listKeys)
	handle("POST /api/v1/keys", a.createKey)
	handle("DELETE /api/v1/keys/{id}", a.revokeKey)
	mux.HandleFunc("GET /api/v1/openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(OpenAPI)
	})
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, http.StatusNotFound, fmt.Sprintf("no such API route: %s %s (see /api/v1/openapi.json)", r.Method, r.URL.Path))
	})
}

// WriteJSON writes v with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v)
}

// WriteError writes {"error": msg} with status.
func WriteError(w http.ResponseWriter, status int, msg string) {
	WriteJSON(w, status, map[string]string{"error": msg})
}

func project(r *http.Request) string {
	p, _ := auth.PrincipalFrom(r.Context())
	return p.Project
}

func (a *API) fail(w http.ResponseWriter, what string, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		WriteError(w, http.StatusNotFound, what+": not found")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		WriteError(w, http.StatusServiceUnavailable, what+": request cancelled or timed out")
	case errors.Is(err, store.ErrUnavailable):
		w.Header().Set("Retry-After", "5")
		WriteError(w, http.StatusServiceUnavailable, what+": the store is not accepting writes (disk full or failing): retry later")
	default:
		a.log.Error(what, "err", err)
		WriteError(w, http.StatusInternalServerError, what+": internal error")
	}
}

func (a *API) getTrace(w http.ResponseWriter, r *http.Request) {
	id, err := telemetry.ParseTraceID(r.PathValue("traceID"))
	if err != nil {
		WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	spans, err := a.st.Trace(r.Context(), project(r), id)
	if err != nil {
		a.fail(w, "trace "+id.String(), err)
		return
	}
	out := TraceJSON{TraceID: id.String(), Spans: SpansJSON(spans), Snapshots: []SnapshotRefJSON{}}
	if a.cm != nil {
		sum := store.Summarize(spans)
		snaps, err := a.cm.SnapshotsOfTrace(r.Context(), project(r), id.String(), sum.Start, sum.Start.Add(sum.Duration))
		if err != nil {
			a.fail(w, "snapshots of trace "+id.String(), err)
			return
		}
		for _, sn := range snaps {
			out.Snapshots = append(out.Snapshots, SnapshotRefJSON{ID: sn.ID, SpanID: sn.SpanID, BreakpointID: sn.BreakpointID, CapturePoint: sn.CapturePoint, Time: sn.Time})
		}
	}
	WriteJSON(w, http.StatusOK, out)
}

func (a *API) findTraces(w http.ResponseWriter, r *http.Request) {
	q, err := ParseQuery(r.URL.Query(), a.now())
	if err != nil {
		WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	res, err := a.st.FindTraces(r.Context(), project(r), q)
	if err != nil {
		a.fail(w, "search traces", err)
		return
	}
	out := make([]TraceSummaryJSON, 0, len(res))
	for _, s := range res {
		out = append(out, SummaryJSON(s))
	}
	WriteJSON(w, http.StatusOK, map[string]any{"traces": out})
}

// ParseQuery reads a trace search from URL parameters: service, operation,
// attr (key=value, repeatable), minDuration, maxDuration (Go durations such as
// 150ms), errors (true/false), start and end (RFC 3339 or Unix seconds),
// lookback (a duration before end) and limit. Errors name the parameter.
func ParseQuery(v map[string][]string, now time.Time) (store.TraceQuery, error) {
	get := func(k string) string {
		if x := v[k]; len(x) > 0 {
			return strings.TrimSpace(x[0])
		}
		return ""
	}
	q := store.TraceQuery{Service: get("service"), Operation: get("operation")}
	for _, kv := range v["attr"] {
		k, val, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return q, fmt.Errorf("attr %q: use key=value", kv)
		}
		q.Attributes = append(q.Attributes, store.AttributeFilter{Key: strings.TrimSpace(k), Value: val})
	}
	var err error
	dur := func(name string) time.Duration {
		s := get(name)
		if s == "" || err != nil {
			return 0
		}
		d, e := time.ParseDuration(s)
		if e != nil || d < 0 {
			err = fmt.Errorf("%s %q: use a duration such as 250ms or 1.5s", name, s)
		}
		return d
	}
	q.MinDuration, q.MaxDuration = dur("minDuration"), dur("maxDuration")
	if err != nil {
		return q, err
	}
	if q.MaxDuration > 0 && q.MinDuration > q.MaxDuration {
		return q, fmt.Errorf("minDuration %s is above maxDuration %s", q.MinDuration, q.MaxDuration)
	}
	if s := get("errors"); s != "" {
		if q.ErrorsOnly, err = strconv.ParseBool(s); err != nil {
			return q, fmt.Errorf("errors %q: use true or false", s)
		}
	}
	if q.Start, q.End, err = ParseTimeRange(v, now); err != nil {
		return q, err
	}
	q.Limit, err = ParseLimit(get("limit"))
	return q, err
}

// ParseTimeRange reads the time range of a query: start and end (RFC 3339,
// a date and time without zone read as UTC as an HTML datetime-local input
// sends it, or Unix seconds) and lookback (a duration before end, or before
// now when end is not set; it takes the place of start). A bound left out is
// the zero time: no lower bound, or now. Times must fall between 1970 and
// 2262, what Unix nanoseconds hold. Errors name the parameter. The API, code
// monitoring and the dashboard all read their ranges here.
func ParseTimeRange(v map[string][]string, now time.Time) (start, end time.Time, err error) {
	get := func(k string) string {
		if x := v[k]; len(x) > 0 {
			return strings.TrimSpace(x[0])
		}
		return ""
	}
	if start, err = parseTime("start", get("start")); err != nil {
		return
	}
	if end, err = parseTime("end", get("end")); err != nil {
		return
	}
	if lb := get("lookback"); lb != "" {
		d, e := time.ParseDuration(lb)
		if e != nil || d <= 0 {
			return start, end, fmt.Errorf("lookback %q: use a duration such as 1h", lb)
		}
		ref := end
		if ref.IsZero() {
			ref = now
		}
		if start = ref.Add(-d); start.Before(minTime) {
			return start, end, fmt.Errorf("lookback %q: reaches back before 1970; use a shorter duration", lb)
		}
	}
	if !start.IsZero() && !end.IsZero() && start.After(end) {
		return start, end, fmt.Errorf("start %s is after end %s", start.Format(time.RFC3339), end.Format(time.RFC3339))
	}
	return start, end, nil
}

// ParseLimit reads a result limit from 1 to store.MaxLimit; "" is 0 (the
// default).
func ParseLimit(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > store.MaxLimit {
		return 0, fmt.Errorf("limit %q: use a whole number from 1 to %d", s, store.MaxLimit)
	}
	return n, nil
}

// minTime and maxTime bound the times a range may name: those that Unix
// nanoseconds, the stores' unit, can hold.
var minTime, maxTime = time.Unix(0, 0), time.Unix(0, math.MaxInt64)

// timeLayouts are the forms start and end are read in, besides Unix seconds.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04"}

func parseTime(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, ok := time.Time{}, false
	for _, layout := range timeLayouts {
		if t1, err := time.Parse(layout, s); err == nil {
			t, ok = t1, true
			break
		}
	}
	if n, err := strconv.ParseInt(s, 10, 64); !ok && err == nil {
		// Clamped first, so that time.Unix cannot overflow; the bounds
		// below still refuse it.
		t, ok = time.Unix(min(max(n, -1), maxTime.Unix()+1), 0), true
	}
	if !ok {
		return time.Time{}, fmt.Errorf("%s %q: use RFC 3339 (2026-01-02T15:04:05Z), a UTC date and time (2026-01-02T15:04) or Unix seconds", name, s)
	}
	if t.Before(minTime) || t.After(maxTime) {
		return time.Time{}, fmt.Errorf("%s %q: use a time between 1970 and 2262", name, s)
	}
	return t, nil
}

func (a *API) services(w http.ResponseWriter, r *http.Request) {
	svcs, err := a.st.Services(r.Context(), project(r))
	if err != nil {
		a.fail(w, "list services", err)
		return
	}
	if svcs == nil {
		svcs = []string{}
	}
	WriteJSON(w, http.StatusOK, map[string]any{"services": svcs})
}

func (a *API) operations(w http.ResponseWriter, r *http.Request) {
	ops, err := a.st.Operations(r.Context(), project(r), r.PathValue("service"))
	if err != nil {
		a.fail(w, "list operations", err)
		return
	}
	out := make([]map[string]string, 0, len(ops))
	for _, o := range ops {
		out = append(out, map[string]string{"name": o.Name, "kind": o.Kind.String()})
	}
	WriteJSON(w, http.StatusOK, map[string]any{"operations": out})
}
