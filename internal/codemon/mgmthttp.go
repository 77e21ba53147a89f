package codemon

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/tracekit-oss/tracekit/internal/api"
	"github.com/tracekit-oss/tracekit/internal/store"
)

// RegisterAPI adds the management API (admin keys) to mux.
func (s *Service) RegisterAPI(mux api.Router, authn Authenticator) {
	admin := authn.Require(store.ScopeAdmin, authFail)
	h := func(pattern string, f http.HandlerFunc) { mux.Handle(pattern, admin(f)) }
	h("GET /api/v1/breakpoints", s.listBreakpoints)
	h("POST /api/v1/breakpoints", s.createBreakpoint)
	h("GET /api/v1/breakpoints/{id}", s.getBreakpoint)
	h("PATCH /api/v1/breakpoints/{id}", s.updateBreakpoint)
	h("DELETE /api/v1/breakpoints/{id}", s.deleteBreakpoint)
	h("POST /api/v1/breakpoints/{id}/pause", s.pauseBreakpoint(true))
	h("POST /api/v1/breakpoints/{id}/resume", s.pauseBreakpoint(false))
	h("GET /api/v1/services/{service}/killswitch", s.getKillSwitch)
	h("PUT /api/v1/services/{service}/killswitch", s.putKillSwitch)
	h("GET /api/v1/services/{service}/instances", s.listInstances)
	h("GET /api/v1/services/{service}/capture-points", s.listCapturePoints)
	h("GET /api/v1/snapshots", s.findSnapshots)
	h("GET /api/v1/snapshots/compare", s.compareSnapshots)
	h("GET /api/v1/snapshots/{id}", s.getSnapshot)
	h("GET /api/v1/logs", s.findLogs)
}

func (s *Service) fail(w http.ResponseWriter, what string, err error) {
	var ve *ValidationError
	switch {
	case errors.As(err, &ve):
		api.WriteJSON(w, http.StatusBadRequest, map[string]any{"error": ve.Error(), "field": ve.Field, "message": ve.Message})
	case errors.Is(err, store.ErrNotFound):
		api.WriteError(w, http.StatusNotFound, what+": not found")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		api.WriteError(w, http.StatusServiceUnavailable, what+": cancelled")
	case errors.Is(err, store.ErrUnavailable):
		w.Header().Set("Retry-After", "5")
		api.WriteError(w, http.StatusServiceUnavailable, what+": the store is not accepting writes (disk full or failing): retry later")
	default:
		s.log.Error(what, "err", err)
		api.WriteError(w, http.StatusInternalServerError, what+": internal error")
	}
}

func (s *Service) view(b store.Breakpoint) BreakpointJSON {
	st := "active"
	switch {
	case b.Paused:
		st = "paused"
	case !s.now().Before(b.ExpiresAt):
		st = "expired"
	}
	return BreakpointJSON{
		Breakpoint: sdkBreakpoint(b), Project: b.Project, Service: b.Service, Paused: b.Paused,
		CreatedAt: b.CreatedAt, UpdatedAt: b.UpdatedAt, Hits: b.Hits, LastHitAt: b.LastHitAt, Status: st,
	}
}

func decodeInput(w http.ResponseWriter, r *http.Request) (BreakpointInput, error) {
	var in BreakpointInput
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return in, invalid("body", "not a valid breakpoint: %v", err)
	}
	return in, nil
}

func (s *Service) createBreakpoint(w http.ResponseWriter, r *http.Request) {
	in, err := decodeInput(w, r)
	if err != nil {
		s.fail(w, "create breakpoint", err)
		return
	}
	b, err := s.CreateBreakpoint(r.Context(), projectOf(r), in)
	if err != nil {
		s.fail(w, "create breakpoint", err)
		return
	}
	api.WriteJSON(w, http.StatusCreated, s.view(b))
}

func (s *Service) listBreakpoints(w http.ResponseWriter, r *http.Request) {
	bps, err := s.st.ListBreakpoints(r.Context(), projectOf(r), r.URL.Query().Get("service"))
	if err != nil {
		s.fail(w, "list breakpoints", err)
		return
	}
	out := make([]BreakpointJSON, 0, len(bps))
	for _, b := range bps {
		out = append(out, s.view(b))
	}
	api.WriteJSON(w, http.StatusOK, map[string]any{"breakpoints": out})
}

func (s *Service) getBreakpoint(w http.ResponseWriter, r *http.Request) {
	b, err := s.st.Breakpoint(r.Context(), projectOf(r), r.PathValue("id"))
	if err != nil {
		s.fail(w, "breakpoint "+r.PathValue("id"), err)
		return
	}
	api.WriteJSON(w, http.StatusOK, s.view(b))
}

func (s *Service) updateBreakpoint(w http.ResponseWriter, r *http.Request) {
	in, err := decodeInput(w, r)
	if err != nil {
		s.fail(w, "update breakpoint", err)
		return
	}
	b, err := s.UpdateBreakpoint(r.Context(), projectOf(r), r.PathValue("id"), in)
	if err != nil {
		s.fail(w, "breakpoint "+r.PathValue("id"), err)
		return
	}
	api.WriteJSON(w, http.StatusOK, s.view(b))
}

func (s *Service) pauseBreakpoint(paused bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, err := s.UpdateBreakpoint(r.Context(), projectOf(r), r.PathValue("id"), BreakpointInput{Paused: &paused})
		if err != nil {
			s.fail(w, "breakpoint "+r.PathValue("id"), err)
			return
		}
		api.WriteJSON(w, http.StatusOK, s.view(b))
	}
}

func (s *Service) deleteBreakpoint(w http.ResponseWriter, r *http.Request) {
	if err := s.DeleteBreakpoint(r.Context(), projectOf(r), r.PathValue("id")); err != nil {
		s.fail(w, "breakpoint "+r.PathValue("id"), err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Service) getKillSwitch(w http.ResponseWriter, r *http.Request) {
	ks, err := s.st.KillSwitch(r.Context(), projectOf(r), r.PathValue("service"))
	if err != nil {
		s.fail(w, "kill switch", err)
		return
	}
	api.WriteJSON(w, http.StatusOK, KillSwitchJSON(ks))
}

func (s *Service) putKillSwitch(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Enabled *bool `json:"enabled"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&req); err != nil || req.Enabled == nil {
		api.WriteError(w, http.StatusBadRequest, `body: send {"enabled": true} or {"enabled": false}`)
		return
	}
	ks, err := s.SetKillSwitch(r.Context(), projectOf(r), r.PathValue("service"), *req.Enabled)
	if err != nil {
		s.fail(w, "kill switch", err)
		return
	}
	api.WriteJSON(w, http.StatusOK, KillSwitchJSON(ks))
}

func (s *Service) listInstances(w http.ResponseWriter, r *http.Request) {
	api.WriteJSON(w, http.StatusOK, map[string]any{"instances": s.Instances(projectOf(r), r.PathValue("service"))})
}

// Instances lists the SDK instances of a service that streamed or polled
// recently, oldest connection first.
func (s *Service) Instances(project, service string) []Instance {
	return s.hub.listInstances(project, service)
}

func (s *Service) listCapturePoints(w http.ResponseWriter, r *http.Request) {
	cps, err := s.st.ListCapturePoints(r.Context(), projectOf(r), r.PathValue("service"))
	if err != nil {
		s.fail(w, "capture points", err)
		return
	}
	out := make([]CapturePointJSON, len(cps))
	for i, cp := range cps {
		out[i] = CapturePointJSON(cp)
	}
	api.WriteJSON(w, http.StatusOK, map[string]any{"capturePoints": out})
}

// window reads the time range and result limit of a listing.
func (s *Service) window(q map[string][]string) (start, end time.Time, limit int, err error) {
	if start, end, err = api.ParseTimeRange(q, s.now()); err != nil {
		return
	}
	var l string
	if v := q["limit"]; len(v) > 0 {
		l = v[0]
	}
	limit, err = api.ParseLimit(l)
	return
}

func (s *Service) findSnapshots(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	start, end, limit, err := s.window(q)
	if err != nil {
		api.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	snaps, err := s.st.FindSnapshots(r.Context(), projectOf(r), store.SnapshotQuery{
		BreakpointID: q.Get("breakpoint"), Service: q.Get("service"), Environment: q.Get("environment"),
		TraceID: q.Get("traceId"), Start: start, End: end, Limit: limit,
	})
	if err != nil {
		s.fail(w, "find snapshots", err)
		return
	}
	api.WriteJSON(w, http.StatusOK, map[string]any{"snapshots": snapshotViews(snaps)})
}

func (s *Service) getSnapshot(w http.ResponseWriter, r *http.Request) {
	sn, err := s.st.Snapshot(r.Context(), projectOf(r), r.PathValue("id"))
	if err != nil {
		s.fail(w, "snapshot "+r.PathValue("id"), err)
		return
	}
	api.WriteJSON(w, http.StatusOK, SnapshotView(sn))
}

func (s *Service) compareSnapshots(w http.ResponseWriter, r *http.Request) {
	a, b := r.URL.Query().Get("a"), r.URL.Query().Get("b")
	if a == "" || b == "" {
		api.WriteError(w, http.StatusBadRequest, "a and b: give the IDs of the two snapshots to compare")
		return
	}
	sa, err := s.st.Snapshot(r.Context(), projectOf(r), a)
	if err != nil {
		s.fail(w, "snapshot "+a, err)
		return
	}
	sb, err := s.st.Snapshot(r.Context(), projectOf(r), b)
	if err != nil {
		s.fail(w, "snapshot "+b, err)
		return
	}
	d, err := Compare(sa.Variables, sb.Variables)
	if err != nil {
		s.fail(w, "compare snapshots", err)
		return
	}
	api.WriteJSON(w, http.StatusOK, map[string]any{"a": SnapshotView(sa), "b": SnapshotView(sb), "diff": d})
}

func (s *Service) findLogs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	start, end, limit, err := s.window(q)
	if err != nil {
		api.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	lines, err := s.st.FindLogs(r.Context(), projectOf(r), store.LogQuery{
		BreakpointID: q.Get("breakpoint"), Service: q.Get("service"), Text: q.Get("q"), Start: start, End: end, Limit: limit,
	})
	if err != nil {
		s.fail(w, "find logs", err)
		return
	}
	api.WriteJSON(w, http.StatusOK, map[string]any{"logs": logViews(lines)})
}

// SnapshotsOfTrace lists the snapshots linked to a trace that spans
// [start, end]; the trace API embeds them.
func (s *Service) SnapshotsOfTrace(ctx context.Context, project, traceID string, start, end time.Time) ([]store.Snapshot, error) {
	return s.st.FindSnapshots(ctx, project, store.SnapshotQuery{TraceID: traceID, Start: start.Add(-time.Minute), End: end.Add(time.Minute), Limit: store.MaxLimit})
}
