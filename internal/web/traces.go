package web

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/tracekit-oss/tracekit/internal/api"
	"github.com/tracekit-oss/tracekit/internal/critpath"
	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
	"github.com/tracekit-oss/tracekit/internal/tracetree"
)

// ranges are the time ranges offered by every page that has one.
var ranges = []struct{ Value, Label string }{
	{"15m", "Last 15 minutes"}, {"1h", "Last hour"}, {"6h", "Last 6 hours"}, {"24h", "Last 24 hours"}, {"168h", "Last 7 days"}, {"custom", "Custom (UTC)"},
}

// timeRange is the range a page's query asks for: range=15m|1h|...|custom,
// with start and end (UTC, as a datetime-local input sends them) when
// custom.
type timeRange struct {
	Range      string
	Start, End string // as typed, for the form
	from, to   time.Time
}

// parseRange reads a page's time range. The range must be one of ranges
// (def when missing): a lookback, or custom with start and end (end empty
// means now). The times themselves are read by api.ParseTimeRange, as they
// are for the API, so that both take the same forms and bounds.
func parseRange(q url.Values, def string, now time.Time) (timeRange, string) {
	tr := timeRange{Range: q.Get("range"), Start: q.Get("start"), End: q.Get("end")}
	if tr.Range == "" {
		tr.Range = def
	}
	v := url.Values{}
	switch {
	case tr.Range == "custom":
		if strings.TrimSpace(tr.Start) == "" {
			return tr, "Start: give the date and time the range starts (UTC), such as 2026-01-02T15:04."
		}
		v.Set("start", tr.Start)
		v.Set("end", tr.End)
		if strings.TrimSpace(tr.End) == "" {
			v.Set("end", now.UTC().Format(time.RFC3339Nano))
		}
	case slices.ContainsFunc(ranges, func(r struct{ Value, Label string }) bool { return r.Value == tr.Range }):
		v.Set("lookback", tr.Range)
	default:
		bad := tr.Range
		tr.Range = def
		return tr, fmt.Sprintf("Range %q: choose one of the ranges offered.", bad)
	}
	var err error
	if tr.from, tr.to, err = api.ParseTimeRange(v, now); err != nil {
		return tr, "Time range: " + err.Error() + "."
	}
	if tr.to.IsZero() {
		tr.to = now
	}
	return tr, ""
}

type tracesView struct {
	Services   []string
	Operations []store.Operation
	Q          url.Values
	Attrs      []string
	Range      timeRange
	Ranges     any
	Error      string
	Results    []store.TraceSummary
	Searched   bool
	Scatter    scatterView
}

func (d *Dashboard) tracesPage(w http.ResponseWriter, r *http.Request) {
	ctx, project := r.Context(), visitOf(r).project
	q := r.URL.Query()
	tv := tracesView{Q: q, Ranges: ranges}
	var err error
	if tv.Services, err = d.st.Services(ctx, project); err != nil {
		d.fail(w, r, "list services", err)
		return
	}
	if svc := q.Get("service"); svc != "" {
		if tv.Operations, err = d.st.Operations(ctx, project, svc); err != nil {
			d.fail(w, r, "list operations", err)
			return
		}
	}
	for _, a := range q["attr"] {
		if strings.TrimSpace(a) != "" {
			tv.Attrs = append(tv.Attrs, a)
		}
	}
	tv.Range, tv.Error = parseRange(q, "1h", d.now())
	if tv.Error == "" {
		params := url.Values{"attr": tv.Attrs}
		for _, k := range []string{"service", "operation", "minDuration", "maxDuration"} {
			params.Set(k, q.Get(k))
		}
		if q.Get("errors") != "" {
			params.Set("errors", "true")
		}
		params.Set("limit", "50")
		var tq store.TraceQuery
		if tq, err = api.ParseQuery(params, d.now()); err != nil {
			tv.Error = "Search: " + err.Error() + "."
		} else {
			tq.Start, tq.End = tv.Range.from, tv.Range.to
			tv.Searched = true
			if tv.Results, err = d.st.FindTraces(ctx, project, tq); err != nil {
				d.fail(w, r, "search traces", err)
				return
			}
			if tv.Scatter, err = d.traceScatter(ctx, project, tq, q, tv.Range.from, tv.Range.to); err != nil {
				d.fail(w, r, "search traces", err)
				return
			}
		}
	}
	status := http.StatusOK
	if tv.Error != "" {
		status = http.StatusBadRequest
	}
	d.render(w, r, status, "traces", "Traces", "traces", tv)
}

// wfTrace is the waterfall's payload, embedded in the page as JSON (never
// as script) and drawn by static/waterfall.js. Spans come in tree order
// (depth first, children by start time), each with its depth and the size
// of its subtree, so that collapsing a span skips a contiguous range.
// Times are microseconds from the trace start.
type wfTrace struct {
	TraceID   string           `json:"traceId"`
	Project   string           `json:"project"`
	Start     time.Time        `json:"start"`
	Duration  float64          `json:"duration"`
	Services  []string         `json:"services"`
	Colors    []string         `json:"colors"`
	Resources []map[string]any `json:"resources"`
	Spans     []wfSpan         `json:"spans"`
	Focus     string           `json:"focus,omitempty"`
}

type wfSpan struct {
	ID        string         `json:"id"`
	Parent    string         `json:"parent,omitempty"`
	Service   int            `json:"svc"`
	Resource  int            `json:"res"`
	Operation string         `json:"op"`
	Kind      string         `json:"kind"`
	Start     float64        `json:"t"`
	Duration  float64        `json:"d"`
	Gap       float64        `json:"gap,omitempty"` // idle time before the span started, after its parent or previous sibling
	Depth     int            `json:"depth"`
	Subtree   int            `json:"n"` // descendants
	Error     bool           `json:"err,omitempty"`
	Status    string         `json:"status,omitempty"`
	Orphan    bool           `json:"orphan,omitempty"`
	Attrs     map[string]any `json:"attrs,omitempty"`
	Events    []wfEvent      `json:"events,omitempty"`
	Snapshots []wfSnap       `json:"snaps,omitempty"`
	// Critical lists the span's segments of the critical path as start,
	// end pairs; CriticalTotal is their sum. The page highlights them when
	// its "Critical path" toggle is on.
	Critical      []float64 `json:"crit,omitempty"`
	CriticalTotal float64   `json:"ct,omitempty"`
}

type wfEvent struct {
	Name  string         `json:"name"`
	T     float64        `json:"t"`
	Attrs map[string]any `json:"attrs,omitempty"`
}

type wfSnap struct {
	ID           string    `json:"id"`
	CapturePoint string    `json:"cp,omitempty"`
	Time         time.Time `json:"time"`
}

type traceView struct {
	Summary store.TraceSummary
	Payload wfTrace
	Snaps   int
}

func (d *Dashboard) tracePage(w http.ResponseWriter, r *http.Request) {
	id, err := telemetry.ParseTraceID(r.PathValue("traceID"))
	if err != nil {
		d.renderError(w, r, http.StatusBadRequest, "Trace ID: "+err.Error())
		return
	}
	ctx, project := r.Context(), visitOf(r).project
	spans, err := d.st.Trace(ctx, project, id)
	if err != nil {
		d.fail(w, r, "trace "+id.String(), err)
		return
	}
	sum := store.Summarize(spans)
	snaps, err := d.cm.SnapshotsOfTrace(ctx, project, id.String(), sum.Start, sum.Start.Add(sum.Duration))
	if err != nil {
		d.fail(w, r, "snapshots of trace "+id.String(), err)
		return
	}
	tv := traceView{Summary: sum, Payload: buildWaterfall(spans, snaps), Snaps: len(snaps)}
	tv.Payload.Project = project
	colors := d.colors(r)
	for _, svc := range tv.Payload.Services {
		c, ok := colors[svc]
		if !ok {
			c = serviceClass(svc)
		}
		tv.Payload.Colors = append(tv.Payload.Colors, c)
	}
	tv.Payload.Focus = r.URL.Query().Get("span")
	d.render(w, r, http.StatusOK, "trace", "Trace "+id.String(), "traces", tv)
}

func buildWaterfall(spans []telemetry.Span, snaps []store.Snapshot) wfTrace {
	sum := store.Summarize(spans)
	t0 := sum.Start.UnixNano()
	us := func(ns int64) float64 { return float64(ns-t0) / 1e3 }
	out := wfTrace{TraceID: sum.TraceID.String(), Start: sum.Start, Duration: float64(sum.Duration) / 1e3, Spans: make([]wfSpan, 0, len(spans))}
	svcIdx := map[string]int{}
	resIdx := map[*telemetry.Resource]int{}
	bySpan := map[string][]wfSnap{}
	for _, sn := range snaps {
		bySpan[sn.SpanID] = append(bySpan[sn.SpanID], wfSnap{ID: sn.ID, CapturePoint: sn.CapturePoint, Time: sn.Time})
	}
	rows := tracetree.Build(tracetree.Stored(spans))
	gap := gaps(spans, rows)
	cp := critpath.Compute(spans)
	crit := make([][]float64, len(spans))
	for _, sg := range cp.Segments {
		crit[sg.Span] = append(crit[sg.Span], us(sg.Start), us(sg.End))
	}
	for k, nd := range rows {
		s := &spans[nd.Span]
		svc := s.Service()
		si, ok := svcIdx[svc]
		if !ok {
			si = len(out.Services)
			svcIdx[svc] = si
			out.Services = append(out.Services, svc)
		}
		ri, ok := resIdx[s.Resource]
		if !ok {
			ri = len(out.Resources)
			resIdx[s.Resource] = ri
			attrs := map[string]any{}
			if s.Resource != nil {
				attrs = telemetry.AttributesMap(s.Resource.Attributes)
			}
			out.Resources = append(out.Resources, attrs)
		}
		ws := wfSpan{
			ID: s.SpanID.String(), Parent: s.ParentSpanID.String(), Service: si, Resource: ri, Operation: s.Name,
			Kind: s.Kind.String(), Start: us(s.StartUnixNano), Duration: float64(s.Duration()) / 1e3,
			Gap: float64(gap[k]) / 1e3, Depth: int(nd.Depth), Subtree: int(nd.Subtree), Error: s.IsError(), Status: s.StatusMessage, Orphan: nd.Orphan,
			Snapshots: bySpan[s.SpanID.String()],
			Critical:  crit[nd.Span], CriticalTotal: float64(cp.Critical[nd.Span]) / 1e3,
		}
		if len(s.Attributes) > 0 {
			ws.Attrs = telemetry.AttributesMap(s.Attributes)
		}
		for _, e := range s.Events {
			ws.Events = append(ws.Events, wfEvent{Name: e.Name, T: us(e.TimeUnixNano), Attrs: telemetry.AttributesMap(e.Attributes)})
		}
		out.Spans = append(out.Spans, ws)
	}
	return out
}

// gaps returns, for each row of the tree, the idle time in nanoseconds
// between its parent's start or its previous sibling's end, whichever is
// later, and its own start.
func gaps(spans []telemetry.Span, rows []tracetree.Node) []int64 {
	out := make([]int64, len(rows))
	busy := make([]int64, len(spans)) // per parent: when its last child seen so far ended
	for k, nd := range rows {
		s := &spans[nd.Span]
		busy[nd.Span] = s.StartUnixNano // a parent's row precedes its children's
		if nd.Parent < 0 {
			continue
		}
		ref := busy[nd.Parent]
		out[k] = max(s.StartUnixNano-ref, 0)
		busy[nd.Parent] = max(ref, s.EndUnixNano)
	}
	return out
}

// servicesOf lists a summary's services by name, for the results table.
func servicesOf(s store.TraceSummary) []string {
	out := make([]string, 0, len(s.Services))
	for _, sv := range s.Services {
		out = append(out, sv.Service)
	}
	slices.Sort(out)
	return out
}
