package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/tracekit-oss/tracekit/internal/api"
	"github.com/tracekit-oss/tracekit/internal/codemon"
	"github.com/tracekit-oss/tracekit/internal/store"
)

type snapshotsView struct {
	Q           url.Values
	Range       timeRange
	Ranges      any
	Error       string
	Breakpoints []store.Breakpoint
	Services    []string
	Snapshots   []store.Snapshot
	LiveURL     string
	Hits        *hitsView
}

// snapshotQuery reads the snapshot filters of a page or live request.
func (d *Dashboard) snapshotQuery(r *http.Request) (store.SnapshotQuery, timeRange, string) {
	q := r.URL.Query()
	tr, msg := parseRange(q, "1h", d.now())
	sq := store.SnapshotQuery{BreakpointID: q.Get("breakpoint"), Service: q.Get("service"), Environment: q.Get("environment"), Limit: 100}
	sq.Start = tr.from
	if tr.Range == "custom" && tr.End != "" {
		sq.End = tr.to
	}
	return sq, tr, msg
}

func (d *Dashboard) snapshotsPage(w http.ResponseWriter, r *http.Request) {
	sv := snapshotsView{Q: r.URL.Query(), Ranges: ranges}
	var sq store.SnapshotQuery
	sq, sv.Range, sv.Error = d.snapshotQuery(r)
	svcs, bps, err := d.monitoredServices(r)
	if err != nil {
		d.fail(w, r, "list services", err)
		return
	}
	sv.Services, sv.Breakpoints = svcs, bps
	if sv.Error == "" {
		if sv.Snapshots, err = d.st.FindSnapshots(r.Context(), visitOf(r).project, sq); err != nil {
			d.fail(w, r, "find snapshots", err)
			return
		}
		if bp := sv.Q.Get("breakpoint"); bp != "" {
			if sv.Hits, err = d.hitsChart(r.Context(), visitOf(r).project, bp, sv.Range.from, sv.Range.to); err != nil {
				d.fail(w, r, "hits of breakpoint", err)
				return
			}
		}
	}
	sv.LiveURL = projectPath(r, "/live/snapshots?"+r.URL.RawQuery)
	d.render(w, r, http.StatusOK, "snapshots", "Snapshots", "snapshots", sv)
}

// liveSnapshot is a snapshot as the live endpoint sends it: what a row of
// the list shows, no variables.
type liveSnapshot struct {
	ID           string    `json:"id"`
	Time         time.Time `json:"time"`
	Service      string    `json:"service"`
	Environment  string    `json:"environment"`
	Host         string    `json:"host"`
	BreakpointID string    `json:"breakpointId"`
	CapturePoint string    `json:"capturePoint"`
	File         string    `json:"file"`
	Line         int       `json:"line"`
	TraceID      string    `json:"traceId"`
	SpanID       string    `json:"spanId"`
}

// liveSnapshots answers the list page's poll: the newest matching
// snapshots; the page adds those it does not show yet.
func (d *Dashboard) liveSnapshots(w http.ResponseWriter, r *http.Request) {
	sq, _, msg := d.snapshotQuery(r)
	if msg != "" {
		api.WriteError(w, http.StatusBadRequest, msg)
		return
	}
	sq.Limit = 50
	snaps, err := d.st.FindSnapshots(r.Context(), visitOf(r).project, sq)
	if err != nil {
		d.log.Error("live snapshots", "err", err)
		api.WriteError(w, http.StatusInternalServerError, "could not read snapshots")
		return
	}
	out := make([]liveSnapshot, 0, len(snaps))
	for _, s := range snaps {
		out = append(out, liveSnapshot{ID: s.ID, Time: s.Time, Service: s.Service, Environment: s.Environment, Host: s.Host,
			BreakpointID: s.BreakpointID, CapturePoint: s.CapturePoint, File: s.File, Line: s.Line, TraceID: s.TraceID, SpanID: s.SpanID})
	}
	w.Header().Set("Cache-Control", "no-store")
	api.WriteJSON(w, http.StatusOK, map[string]any{"snapshots": out})
}

type snapshotView struct {
	Snapshot store.Snapshot
	Vars     varNode
	Previous string
}

func (d *Dashboard) snapshotPage(w http.ResponseWriter, r *http.Request) {
	ctx, project := r.Context(), visitOf(r).project
	sn, err := d.st.Snapshot(ctx, project, r.PathValue("id"))
	if err != nil {
		d.fail(w, r, "snapshot "+r.PathValue("id"), err)
		return
	}
	sv := snapshotView{Snapshot: sn, Vars: parseVars(sn.Variables)}
	prev, err := d.st.FindSnapshots(ctx, project, store.SnapshotQuery{BreakpointID: sn.BreakpointID, End: sn.Time.Add(-time.Nanosecond), Limit: 1})
	if err == nil && len(prev) == 1 {
		sv.Previous = prev[0].ID
	}
	d.render(w, r, http.StatusOK, "snapshot", "Snapshot "+sn.ID, "snapshots", sv)
}

type compareView struct {
	A, B                  store.Snapshot
	Rows                  []diffRow
	Added, Removed, Moved int
}

func (d *Dashboard) comparePage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	a, b := q.Get("a"), q.Get("b")
	if ids := q["id"]; len(ids) == 2 && a == "" && b == "" {
		a, b = ids[0], ids[1]
	}
	if a == "" || b == "" {
		d.renderError(w, r, http.StatusBadRequest, "Compare: choose exactly two snapshots (tick two rows of the snapshot list).")
		return
	}
	ctx, project := r.Context(), visitOf(r).project
	sa, err := d.st.Snapshot(ctx, project, a)
	if err != nil {
		d.fail(w, r, "snapshot "+a, err)
		return
	}
	sb, err := d.st.Snapshot(ctx, project, b)
	if err != nil {
		d.fail(w, r, "snapshot "+b, err)
		return
	}
	if sb.Time.Before(sa.Time) {
		sa, sb = sb, sa // older on the left
	}
	diff, err := codemon.Compare(sa.Variables, sb.Variables)
	if err != nil {
		d.fail(w, r, "compare snapshots", err)
		return
	}
	cv := compareView{A: sa, B: sb, Rows: diffRows(sa.Variables, sb.Variables, diff),
		Added: len(diff.Added), Removed: len(diff.Removed), Moved: len(diff.Changed)}
	d.render(w, r, http.StatusOK, "compare", "Compare snapshots", "snapshots", cv)
}

type logsView struct {
	Q        url.Values
	Range    timeRange
	Ranges   any
	Error    string
	Services []string
	Lines    []store.LogLine
	LiveURL  string
	Hits     *hitsView
}

func (d *Dashboard) logQuery(r *http.Request) (store.LogQuery, timeRange, string) {
	q := r.URL.Query()
	tr, msg := parseRange(q, "1h", d.now())
	lq := store.LogQuery{Service: q.Get("service"), BreakpointID: q.Get("breakpoint"), Text: q.Get("q"), Start: tr.from, Limit: 200}
	if tr.Range == "custom" && tr.End != "" {
		lq.End = tr.to
	}
	return lq, tr, msg
}

func (d *Dashboard) logsPage(w http.ResponseWriter, r *http.Request) {
	lv := logsView{Q: r.URL.Query(), Ranges: ranges}
	var lq store.LogQuery
	lq, lv.Range, lv.Error = d.logQuery(r)
	svcs, _, err := d.monitoredServices(r)
	if err != nil {
		d.fail(w, r, "list services", err)
		return
	}
	lv.Services = svcs
	if lv.Error == "" {
		if lv.Lines, err = d.st.FindLogs(r.Context(), visitOf(r).project, lq); err != nil {
			d.fail(w, r, "find log lines", err)
			return
		}
		if bp := lv.Q.Get("breakpoint"); bp != "" {
			if lv.Hits, err = d.hitsChart(r.Context(), visitOf(r).project, bp, lv.Range.from, lv.Range.to); err != nil {
				d.fail(w, r, "hits of breakpoint", err)
				return
			}
		}
	}
	lv.LiveURL = projectPath(r, "/live/logs?"+r.URL.RawQuery)
	d.render(w, r, http.StatusOK, "logs", "Logs", "logs", lv)
}

func (d *Dashboard) liveLogs(w http.ResponseWriter, r *http.Request) {
	lq, _, msg := d.logQuery(r)
	if msg != "" {
		api.WriteError(w, http.StatusBadRequest, msg)
		return
	}
	lq.Limit = 100
	lines, err := d.st.FindLogs(r.Context(), visitOf(r).project, lq)
	if err != nil {
		d.log.Error("live logs", "err", err)
		api.WriteError(w, http.StatusInternalServerError, "could not read log lines")
		return
	}
	if lines == nil {
		lines = []store.LogLine{}
	}
	w.Header().Set("Cache-Control", "no-store")
	api.WriteJSON(w, http.StatusOK, map[string]any{"logs": lines})
}

// varNode is one captured variable, as the snapshot page's tree shows it.
type varNode struct {
	Key      string
	Depth    int
	Kind     string // object, array, string, number, bool, null
	Value    string
	Children []varNode
}

// maxVarDepth bounds the tree the page renders; deeper values are shown
// as JSON text.
const maxVarDepth = 24

// parseVars decodes captured variables keeping the SDK's key order.
func parseVars(raw json.RawMessage) varNode {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	n, err := decodeNode(dec, "", 0)
	if err != nil {
		return varNode{Kind: "string", Value: string(raw)}
	}
	return n
}

func decodeNode(dec *json.Decoder, key string, depth int) (varNode, error) {
	tok, err := dec.Token()
	if err != nil {
		return varNode{}, err
	}
	n := varNode{Key: key, Depth: depth}
	switch t := tok.(type) {
	case json.Delim:
		if depth >= maxVarDepth {
			// Re-encode the rest of this value as text.
			var rest []any
			for dec.More() {
				var v any
				if t == '{' {
					if _, err := dec.Token(); err != nil {
						return n, err
					}
				}
				if err := dec.Decode(&v); err != nil {
					return n, err
				}
				rest = append(rest, v)
			}
			_, err := dec.Token()
			b, _ := json.Marshal(rest)
			return varNode{Key: key, Depth: depth, Kind: "string", Value: "… deeper values: " + string(b)}, err
		}
		if t == '{' {
			n.Kind = "object"
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return n, err
				}
				k, _ := kt.(string)
				c, err := decodeNode(dec, k, depth+1)
				if err != nil {
					return n, err
				}
				n.Children = append(n.Children, c)
			}
		} else {
			n.Kind = "array"
			for i := 0; dec.More(); i++ {
				c, err := decodeNode(dec, "["+itoa(i)+"]", depth+1)
				if err != nil {
					return n, err
				}
				n.Children = append(n.Children, c)
			}
		}
		if _, err := dec.Token(); err != nil && !errors.Is(err, io.EOF) {
			return n, err
		}
	case string:
		n.Kind, n.Value = "string", t
	case json.Number:
		n.Kind, n.Value = "number", t.String()
	case bool:
		n.Kind, n.Value = "bool", "false"
		if t {
			n.Value = "true"
		}
	case nil:
		n.Kind, n.Value = "null", "null"
	}
	return n, nil
}
