package codemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tracekit-oss/tracekit/internal/api"
	"github.com/tracekit-oss/tracekit/internal/auth"
	"github.com/tracekit-oss/tracekit/internal/reqbody"
	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
	"github.com/tracekit-oss/tracekit/sdk/go/protocol"
)

// Authenticator is the middleware factory the endpoints are guarded by.
type Authenticator interface {
	Require(scope store.Scope, fail func(w http.ResponseWriter, r *http.Request, status int, err error)) func(http.Handler) http.Handler
}

// maxUpload bounds one snapshot upload after decompression.
const maxUpload = 4 << 20

func authFail(w http.ResponseWriter, _ *http.Request, status int, err error) {
	api.WriteError(w, status, err.Error())
}

func projectOf(r *http.Request) string {
	p, _ := auth.PrincipalFrom(r.Context())
	return p.Project
}

// RegisterSDK adds the SDK endpoints of docs/protocol.md to mux.
func (s *Service) RegisterSDK(mux api.Router, authn Authenticator) {
	ingest := authn.Require(store.ScopeIngest, authFail)
	mux.Handle("GET /v1/codemon/stream", ingest(http.HandlerFunc(s.stream)))
	mux.Handle("GET /v1/codemon/breakpoints", ingest(http.HandlerFunc(s.poll)))
	mux.Handle("POST /v1/codemon/capture-points", ingest(http.HandlerFunc(s.capturePoints)))
	mux.Handle("POST /v1/codemon/check", ingest(http.HandlerFunc(s.check)))
	mux.Handle("POST /v1/codemon/snapshots", ingest(http.HandlerFunc(s.upload)))
}

// Limits of the fields an SDK describes itself with.
const (
	maxServiceName = 255
	maxInstanceID  = 128
	maxHost        = 255
	maxSDKVersion  = 64
	maxEnvironment = 255
)

// newInstance checks the fields an SDK describes itself with, the same way
// whether they come in a query string or a request body.
func newInstance(id, service, environment, host, sdk string) (Instance, error) {
	in := Instance{ID: id, Service: strings.TrimSpace(service), Environment: environment, Host: host, SDKVersion: sdk}
	if in.Service == "" {
		return in, errors.New("service: required (the SDK's ServiceName)")
	}
	for _, f := range []struct {
		name  string
		value string
		max   int
	}{
		{"service", in.Service, maxServiceName}, {"instance", in.ID, maxInstanceID}, {"host", in.Host, maxHost},
		{"sdk", in.SDKVersion, maxSDKVersion}, {"environment", in.Environment, maxEnvironment},
	} {
		if len(f.value) > f.max {
			return in, fmt.Errorf("%s: at most %d characters", f.name, f.max)
		}
	}
	return in, nil
}

// instanceFrom reads the SDK instance fields of the query string.
func instanceFrom(r *http.Request) (Instance, error) {
	q := r.URL.Query()
	return newInstance(q.Get("instance"), q.Get("service"), q.Get("environment"), q.Get("host"), q.Get("sdk"))
}

func (s *Service) poll(w http.ResponseWriter, r *http.Request) {
	in, err := instanceFrom(r)
	if err != nil {
		api.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	project := projectOf(r)
	s.hub.seen(project, in, s.now(), 0)
	c, err := s.BreakpointSet(r.Context(), project, in.Service)
	if err != nil {
		s.log.Error("breakpoint set", "err", err)
		api.WriteError(w, http.StatusInternalServerError, "could not read breakpoints")
		return
	}
	etag := `"` + c.Version + `"`
	w.Header().Set("ETag", etag)
	w.Header().Set("Cache-Control", "no-cache")
	if match := r.Header.Get("If-None-Match"); match == etag || match == c.Version {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	api.WriteJSON(w, http.StatusOK, c)
}

// aLongTimeAgo is a write deadline that makes a write in progress fail.
var aLongTimeAgo = time.Unix(1, 0)

// errStreamEnded is a write skipped because the stream was closed.
var errStreamEnded = errors.New("stream closed")

func (s *Service) stream(w http.ResponseWriter, r *http.Request) {
	in, err := instanceFrom(r)
	if err != nil {
		api.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	rc := http.NewResponseController(w)
	p, _ := auth.PrincipalFrom(r.Context())
	project := p.Project
	sub, err := s.hub.subscribe(serviceKey{project, in.Service}, keyRef{project, p.KeyID}, func() {
		_ = rc.SetWriteDeadline(aLongTimeAgo)
	})
	if err != nil {
		refuseStream(w, err)
		return
	}
	defer s.hub.unsubscribe(sub)
	// A full registry may not list the instance now; a heartbeat retries.
	listed := s.hub.seen(project, in, s.now(), 1)
	defer func() {
		if listed {
			s.hub.seen(project, in, s.now(), -1)
		}
	}()

	c, err := s.BreakpointSet(r.Context(), project, in.Service)
	if err != nil {
		api.WriteError(w, http.StatusInternalServerError, "could not read breakpoints")
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	// write runs f and flushes while the stream may be aborted by its end
	// (key revocation, shutdown), even if the client stopped reading.
	write := func(f func() error) error {
		if !sub.beginWrite() {
			return errStreamEnded
		}
		defer sub.endWrite()
		if err := f(); err != nil {
			return err
		}
		return rc.Flush()
	}
	sent := r.Header.Get("Last-Event-ID")
	send := func(c protocol.BreakpointSet) error {
		if c.Version == sent {
			return nil
		}
		body, _ := json.Marshal(c)
		err := write(func() error {
			_, err := fmt.Fprintf(w, "id: %s\nevent: breakpoints\ndata: %s\n\n", c.Version, body)
			return err
		})
		if err == nil {
			sent = c.Version
		}
		return err
	}
	comment := func(text string) error {
		return write(func() error {
			_, err := io.WriteString(w, text)
			return err
		})
	}
	if c.Version == sent {
		// Nothing to send on a resume: still flush the headers.
		err = comment(": connected\n\n")
	} else {
		err = send(c)
	}
	if err != nil {
		return
	}
	beat := time.NewTicker(s.heartbeat)
	defer beat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-sub.closed:
			return
		case c := <-sub.ch:
			if err := send(c); err != nil {
				return
			}
		case <-beat.C:
			if listed {
				s.hub.seen(project, in, s.now(), 0)
			} else {
				listed = s.hub.seen(project, in, s.now(), 1)
			}
			if err := comment(": heartbeat\n\n"); err != nil {
				return
			}
		}
	}
}

// streamRetryAfter is the Retry-After of a stream refused by a cap, in
// seconds: the polling interval SDKs fall back to.
const streamRetryAfter = "30"

func refuseStream(w http.ResponseWriter, err error) {
	var limit *streamLimitError
	switch {
	case errors.As(err, &limit):
		w.Header().Set("Retry-After", streamRetryAfter)
		api.WriteError(w, http.StatusTooManyRequests, err.Error())
	case errors.Is(err, errKeyRevoked):
		api.WriteError(w, http.StatusUnauthorized, err.Error())
	default:
		w.Header().Set("Retry-After", "5")
		api.WriteError(w, http.StatusServiceUnavailable, err.Error())
	}
}

// maxUploadDepth bounds how deep a JSON body nests: SDKs capture at most 10
// levels of variables, and the dashboard and compare walk what is stored.
const maxUploadDepth = 64

// decodeBody reads a JSON body (gzip allowed) of at most maxUpload bytes,
// charged to the server's in-flight budget while it is decoded.
func (s *Service) decodeBody(r *http.Request, v any) error {
	charge := reqbody.NewCharge(s.budget, projectOf(r))
	defer charge.Release()
	data, err := reqbody.Read(r, reqbody.Limits{MaxBytes: maxUpload, MaxDecodedBytes: maxUpload, MaxRatio: 100, RatioFloor: 1 << 20}, charge)
	if err != nil {
		return err
	}
	if err := reqbody.CheckJSONDepth(data, maxUploadDepth); err != nil {
		return err
	}
	if err := charge.Add(2 * int64(len(data))); err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("body is not valid JSON for this endpoint: %w", err)
	}
	return nil
}

// writeBodyError answers a body that could not be read or decoded.
func writeBodyError(w http.ResponseWriter, err error) {
	var re *reqbody.Error
	if errors.As(err, &re) && re.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(re.RetryAfter))
	}
	api.WriteError(w, reqbody.StatusOf(err, http.StatusBadRequest), err.Error())
}

// instanceOf checks the instance part of a POST body.
func instanceOf(e protocol.Instance) (Instance, error) {
	return newInstance(e.Instance, e.Service, e.Environment, e.Host, e.SDK)
}

func (s *Service) capturePoints(w http.ResponseWriter, r *http.Request) {
	var req protocol.CapturePointsRequest
	if err := s.decodeBody(r, &req); err != nil {
		writeBodyError(w, err)
		return
	}
	in, err := instanceOf(req.Instance)
	if err != nil {
		api.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	if len(req.Points) > 1000 {
		api.WriteError(w, http.StatusBadRequest, "points: at most 1000 per request")
		return
	}
	now := s.now().UTC()
	pts := make([]store.CapturePoint, 0, len(req.Points))
	for i, p := range req.Points {
		if (p.Name == "" && p.File == "") || p.Line < 0 || len(p.Name) > 255 || len(p.File) > 1024 || len(p.Function) > 1024 {
			api.WriteError(w, http.StatusBadRequest, fmt.Sprintf("points[%d]: needs a name or a file, a line of 0 or more, and short strings", i))
			return
		}
		pts = append(pts, store.CapturePoint{Service: in.Service, Name: p.Name, File: p.File, Line: p.Line, Function: p.Function, FirstSeen: now, LastSeen: now})
	}
	project := projectOf(r)
	s.hub.seen(project, in, now, 0)
	if err := s.st.PutCapturePoints(r.Context(), project, pts); err != nil {
		s.log.Error("capture points", "err", err)
		api.WriteError(w, http.StatusInternalServerError, "could not store capture points")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Service) check(w http.ResponseWriter, r *http.Request) {
	var req protocol.CheckRequest
	if err := s.decodeBody(r, &req); err != nil {
		writeBodyError(w, err)
		return
	}
	in, err := instanceOf(req.Instance)
	if err != nil {
		api.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	res, err := s.Check(r.Context(), projectOf(r), in.Service, req.BreakpointID, req.Variables)
	switch {
	case errors.Is(err, ErrKillSwitch):
		api.WriteJSON(w, http.StatusOK, protocol.CheckResponse{KillSwitch: true})
	case errors.Is(err, store.ErrNotFound), errors.Is(err, errNotActive):
		api.WriteError(w, http.StatusNotFound, fmt.Sprintf("breakpoint %q is not active for service %q", req.BreakpointID, in.Service))
	case err != nil:
		api.WriteJSON(w, http.StatusOK, protocol.CheckResponse{Error: err.Error()})
	default:
		api.WriteJSON(w, http.StatusOK, protocol.CheckResponse{Capture: res.Capture, Message: res.Message})
	}
}

func checkIDs(traceID, spanID string) error {
	if traceID != "" {
		if _, err := telemetry.ParseTraceID(traceID); err != nil {
			return err
		}
	}
	if spanID != "" {
		if _, err := telemetry.ParseSpanID(spanID); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) upload(w http.ResponseWriter, r *http.Request) {
	var req protocol.UploadRequest
	if err := s.decodeBody(r, &req); err != nil {
		writeBodyError(w, err)
		return
	}
	in, err := instanceOf(req.Instance)
	if err != nil {
		api.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	ctx, project, now := r.Context(), projectOf(r), s.now().UTC()
	s.hub.seen(project, in, now, 0)
	// An SDK that missed the kill switch, or ignores it, stores nothing.
	ks, err := s.st.KillSwitch(ctx, project, in.Service)
	if err != nil {
		s.log.Error("read kill switch", "project", project, "service", in.Service, "err", err)
		w.Header().Set("Retry-After", "5")
		api.WriteError(w, http.StatusServiceUnavailable, "could not read the kill switch: retry later")
		return
	}
	if ks.Enabled {
		api.WriteError(w, http.StatusConflict, fmt.Sprintf("kill switch of service %q is on: snapshots and log lines are refused until it is turned off", in.Service))
		return
	}
	if err := s.checkTimes(req.Snapshots, req.Logs, now); err != nil {
		api.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	bps := map[string]*store.Breakpoint{}
	breakpoint := func(id string) *store.Breakpoint {
		if b, ok := bps[id]; ok {
			return b
		}
		b, err := s.st.Breakpoint(ctx, project, id)
		if err != nil || b.Service != in.Service {
			bps[id] = nil
			return nil
		}
		bps[id] = &b
		return &b
	}
	var rejected []string
	// accept checks what snapshots and log lines share and returns the ID
	// and the time to store (the server's when the SDK sent none).
	accept := func(kind string, i int, id, bpID, traceID, spanID string, t time.Time, extra error) (string, time.Time, bool) {
		err := extra
		if breakpoint(bpID) == nil {
			err = fmt.Errorf("breakpoint %q is unknown for service %q", bpID, in.Service)
		} else if e := checkIDs(traceID, spanID); e != nil {
			err = e
		} else if e := s.checkRecordID(id, now); e != nil {
			err = e
		}
		if err != nil {
			rejected = append(rejected, fmt.Sprintf("%s[%d]: %v", kind, i, err))
			return "", t, false
		}
		if t.IsZero() {
			t = now
		}
		if id == "" {
			id = protocol.NewRecordID(t)
		}
		return id, t.UTC(), true
	}
	snaps := make([]store.Snapshot, 0, len(req.Snapshots))
	for i, u := range req.Snapshots {
		var bad error
		if len(u.Variables) > 0 && !isObject(u.Variables) {
			bad = errors.New("variables must be a JSON object")
		}
		id, t, ok := accept("snapshots", i, u.ID, u.BreakpointID, u.TraceID, u.SpanID, u.Time, bad)
		if !ok {
			continue
		}
		vars := u.Variables
		if len(vars) == 0 {
			vars = json.RawMessage(`{}`)
		}
		snaps = append(snaps, store.Snapshot{
			ID: id, BreakpointID: u.BreakpointID, Service: in.Service, Environment: in.Environment, Host: in.Host, Instance: in.ID,
			SDKVersion: in.SDKVersion, CapturePoint: u.CapturePoint, File: u.File, Line: u.Line, Function: u.Function,
			Time: t, TraceID: strings.ToLower(u.TraceID), SpanID: strings.ToLower(u.SpanID), Variables: vars,
			Stack: frames(u.Stack), Truncated: u.Truncated,
		})
	}
	logs := make([]store.LogLine, 0, len(req.Logs))
	for i, u := range req.Logs {
		var bad error
		if len(u.Message) > 64<<10 {
			bad = errors.New("message longer than 64 KiB")
		}
		id, t, ok := accept("logs", i, u.ID, u.BreakpointID, u.TraceID, u.SpanID, u.Time, bad)
		if !ok {
			continue
		}
		logs = append(logs, store.LogLine{
			ID: id, BreakpointID: u.BreakpointID, Service: in.Service, Environment: in.Environment, Host: in.Host,
			CapturePoint: u.CapturePoint, File: u.File, Line: u.Line, Time: t,
			TraceID: strings.ToLower(u.TraceID), SpanID: strings.ToLower(u.SpanID), Message: u.Message,
		})
	}
	// A breakpoint's rate limit holds across SDK instances and servers: the
	// metadata store admits hits; what it does not admit is refused.
	snaps, logs, limited, nLimited, err := s.admit(ctx, project, bps, snaps, logs)
	if err != nil {
		s.log.Error("count breakpoint hits", "err", err)
		w.Header().Set("Retry-After", "5")
		api.WriteError(w, http.StatusServiceUnavailable, "could not count breakpoint hits: retry later")
		return
	}
	nRejected := len(rejected) + nLimited
	rejected = append(rejected, limited...)
	if err := s.store(ctx, project, snaps, logs); err != nil {
		s.log.Error("store snapshots", "err", err)
		w.Header().Set("Retry-After", "5")
		api.WriteError(w, http.StatusServiceUnavailable, "could not store snapshots: retry later")
		return
	}
	resp := protocol.UploadResponse{Accepted: len(snaps) + len(logs)}
	if nRejected > 0 {
		resp.Rejected, resp.Errors = nRejected, rejected[:min(len(rejected), 10)]
	}
	api.WriteJSON(w, http.StatusAccepted, resp)
}

// checkTimes refuses a batch holding a time outside the window around now
// that the store can file: a time in 1900 is a broken or hostile clock, and
// would be dropped by retention anyway. A zero time means "not sent".
// frames converts a snapshot's stack for storage.
func frames(in []protocol.Frame) []store.Frame {
	out := make([]store.Frame, len(in))
	for i, f := range in {
		out[i] = store.Frame(f)
	}
	return out
}

func (s *Service) checkTimes(snaps []protocol.Snapshot, logs []protocol.LogLine, now time.Time) error {
	from, to := now.Add(-s.maxAge), now.Add(s.maxAhead)
	check := func(kind string, i int, t time.Time) error {
		if t.IsZero() || (!t.Before(from) && !t.After(to)) {
			return nil
		}
		return fmt.Errorf("%s[%d].time: %s is outside the accepted window, from %s before to %s after the server's time (%s); check the clock of the host",
			kind, i, t.UTC().Format(time.RFC3339Nano), span(s.maxAge), span(s.maxAhead), now.Format(time.RFC3339))
	}
	for i, u := range snaps {
		if err := check("snapshots", i, u.Time); err != nil {
			return err
		}
	}
	for i, u := range logs {
		if err := check("logs", i, u.Time); err != nil {
			return err
		}
	}
	return nil
}

// span spells a duration for people: 30 days, 1h, 1h30m.
func span(d time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d == day:
		return "1 day"
	case d > day && d%day == 0:
		return fmt.Sprintf("%d days", d/day)
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// admit asks the store to admit each breakpoint's hits in this upload
// within its rate limit, and keeps the admitted ones, in order; the others
// are refused, with one message per breakpoint and their number.
func (s *Service) admit(ctx context.Context, project string, bps map[string]*store.Breakpoint, snaps []store.Snapshot, logs []store.LogLine) ([]store.Snapshot, []store.LogLine, []string, int, error) {
	type count struct {
		n    int64
		last time.Time
	}
	counts := map[string]*count{}
	var order []string
	note := func(id string, t time.Time) {
		c := counts[id]
		if c == nil {
			c = &count{}
			counts[id] = c
			order = append(order, id)
		}
		c.n++
		c.last = maxTime(c.last, t)
	}
	for i := range snaps {
		note(snaps[i].BreakpointID, snaps[i].Time)
	}
	for i := range logs {
		note(logs[i].BreakpointID, logs[i].Time)
	}
	left := map[string]int64{}
	var limited []string
	nLimited := 0
	for _, id := range order {
		c := counts[id]
		got, err := s.st.AdmitHits(ctx, project, id, c.n, bps[id].RateLimit, c.last)
		if errors.Is(err, store.ErrNotFound) {
			got, err = 0, nil // deleted meanwhile
		}
		if err != nil {
			return nil, nil, nil, 0, err
		}
		left[id] = got
		if got < c.n {
			nLimited += int(c.n - got)
			limited = append(limited, fmt.Sprintf("breakpoint %q: %d of %d refused, its rate limit of %d per minute is reached", id, c.n-got, c.n, bps[id].RateLimit))
		}
	}
	keptSnaps := snaps[:0]
	for _, sn := range snaps {
		if left[sn.BreakpointID] > 0 {
			left[sn.BreakpointID]--
			keptSnaps = append(keptSnaps, sn)
		}
	}
	keptLogs := logs[:0]
	for _, l := range logs {
		if left[l.BreakpointID] > 0 {
			left[l.BreakpointID]--
			keptLogs = append(keptLogs, l)
		}
	}
	return keptSnaps, keptLogs, limited, nLimited, nil
}

// checkRecordID accepts an SDK's record ID (protocol.NewRecordID) whose
// time lies in the window uploads are accepted in; empty is fine.
func (s *Service) checkRecordID(id string, now time.Time) error {
	if id == "" {
		return nil
	}
	t, ok := protocol.RecordIDTime(id)
	if !ok {
		return fmt.Errorf("id %q: want 24 lowercase hex digits, the capture time in Unix nanoseconds and 4 random bytes", id)
	}
	if t.Before(now.Add(-s.maxAge)) || t.After(now.Add(s.maxAhead)) {
		return fmt.Errorf("id %q holds the time %s, outside the accepted window; check the clock of the host", id, t.Format(time.RFC3339Nano))
	}
	return nil
}

func (s *Service) store(ctx context.Context, project string, snaps []store.Snapshot, logs []store.LogLine) error {
	if len(snaps) > 0 {
		if err := s.st.WriteSnapshots(ctx, project, snaps); err != nil {
			return err
		}
	}
	if len(logs) > 0 {
		if err := s.st.WriteLogs(ctx, project, logs); err != nil {
			return err
		}
	}
	return nil
}

func isObject(raw json.RawMessage) bool {
	for _, c := range raw {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		case '{':
			return true
		}
		return false
	}
	return false
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
