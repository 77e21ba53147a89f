package web

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"math"
	"net/url"
	"strconv"
	"time"

	"github.com/tracekit-oss/tracekit/internal/api"
	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/web/chart"
)

// The pages' charts (issue 18): the search scatter above the trace
// results, RED series on the services page and a breakpoint's hits over
// time. Package chart draws them; here they get their data.

// maxScatterPoints caps the dots of the search scatter.
const maxScatterPoints = 10_000

// scatterView is the search scatter of the traces page.
type scatterView struct {
	Chart template.HTML
	// Note says when the dots are fewer than the traces found.
	Note string
	Log  bool
	// Linear and LogURL switch the duration axis.
	LinearURL, LogURL string
	Unavailable       bool
}

// traceScatter draws every trace the search finds, up to
// maxScatterPoints, as a dot at its start and duration.
func (d *Dashboard) traceScatter(ctx context.Context, project string, tq store.TraceQuery, q url.Values, from, to time.Time) (scatterView, error) {
	path := "/p/" + url.PathEscape(project) + "/traces"
	sv := scatterView{Log: q.Get("scale") == "log", LinearURL: withQuery(path, q, "scale", ""), LogURL: withQuery(path, q, "scale", "log")}
	tr, ok := d.st.(store.TracePointReader)
	if !ok {
		sv.Unavailable = true
		return sv, nil
	}
	points, err := tr.FindTracePoints(ctx, project, tq, maxScatterPoints+1)
	if errors.Is(err, errors.ErrUnsupported) {
		sv.Unavailable = true
		return sv, nil
	}
	if err != nil {
		return sv, fmt.Errorf("trace points: %w", err)
	}
	if len(points) > maxScatterPoints {
		points = points[:maxScatterPoints]
		sv.Note = "Showing the 10,000 newest of more traces found: narrow the search to see them all."
	}
	c := chart.Chart{
		ID: "trace-scatter", Width: 1200, Height: 260, From: from, To: to, Unit: chart.Duration, Log: sv.Log,
		YLabel: "Duration of each trace found, by start time (UTC)", Selectable: true,
		Label: "Scatter plot of the traces found: start time across, duration up" + map[bool]string{true: " (log scale)", false: ""}[sv.Log],
		Dots:  make([]chart.Dot, 0, len(points)),
	}
	var errs int
	var lo, hi time.Duration
	prefix := path + "/"
	var svc, op, group string // the previous dot's: most dots share their neighbour's
	for i, p := range points {
		if p.Error {
			errs++
		}
		if i == 0 || p.RootService != svc || p.RootOperation != op {
			svc, op, group = p.RootService, p.RootOperation, p.RootService+": "+p.RootOperation
		}
		c.Dots = append(c.Dots, chart.Dot{T: p.Start, V: float64(p.Duration), Error: p.Error, Href: prefix + p.TraceID.String(), Group: group})
		if i == 0 || p.Duration < lo {
			lo = p.Duration
		}
		hi = max(hi, p.Duration)
	}
	c.Legend = []chart.LegendItem{
		{Name: "Trace without errors (" + strconv.Itoa(len(points)-errs) + ")", Shape: chart.ShapeCircle},
		{Name: "Trace with errors (" + strconv.Itoa(errs) + ")", Shape: chart.ShapeTriangle},
	}
	if len(points) == 0 {
		c.Summary = "No trace found in this range."
	} else {
		c.Summary = fmt.Sprintf("%d traces found, %d with errors, lasting %s to %s. Point at a dot for its trace, click to open it; drag across the chart to search that time range. Keyboard: focus the chart, then arrow keys and Enter; the results below link the newest traces.",
			len(points), errs, chart.FormatDuration(lo), chart.FormatDuration(hi))
	}
	sv.Chart = c.HTML()
	return sv, nil
}

// redCharts are the RED charts of a service, or of one of its operations.
type redCharts struct {
	Service, Operation string
	Rate, Errors, Dur  template.HTML
}

// redCharts draws request rate, error rate and duration percentiles of a
// service's entry spans (operation "") or of one operation, over [from,
// to) in buckets of api.AutoStep. It returns ok false when the store keeps
// no series.
func (d *Dashboard) redCharts(ctx context.Context, project, service, operation string, from, to time.Time, id string) (redCharts, bool, error) {
	sr, ok := d.st.(store.SeriesReader)
	if !ok {
		return redCharts{}, false, nil
	}
	step := api.AutoStep(to.Sub(from))
	from = from.UTC().Truncate(step)
	pts, err := sr.REDSeries(ctx, project, service, operation, from, to, step)
	if errors.Is(err, errors.ErrUnsupported) {
		return redCharts{}, false, nil
	}
	if err != nil {
		return redCharts{}, false, fmt.Errorf("RED series of %s: %w", service, err)
	}
	what := service
	if operation != "" {
		what += ": " + operation
	}
	secs := step.Seconds()
	var rate, errRate, errPct, p50, p95, p99 []chart.Point
	for _, p := range pts {
		rate = append(rate, chart.Point{T: p.Start, V: float64(p.Count) / secs})
		errRate = append(errRate, chart.Point{T: p.Start, V: float64(p.Errors) / secs})
		pct, d50, d95, d99 := math.NaN(), math.NaN(), math.NaN(), math.NaN()
		if p.Count > 0 {
			pct = 100 * float64(p.Errors) / float64(p.Count)
			d50, d95, d99 = float64(p.P50), float64(p.P95), float64(p.P99)
		}
		errPct = append(errPct, chart.Point{T: p.Start, V: pct})
		p50 = append(p50, chart.Point{T: p.Start, V: d50})
		p95 = append(p95, chart.Point{T: p.Start, V: d95})
		p99 = append(p99, chart.Point{T: p.Start, V: d99})
	}
	per := "per " + chart.FormatDuration(step) + " bucket"
	rc := redCharts{Service: service, Operation: operation}
	base := chart.Chart{Width: 420, Height: 200, From: from, To: to, Step: step}
	c := base
	c.ID, c.Label, c.YLabel = id+"-rate", what+": requests and errors per second, "+per, "requests / s"
	c.Lines = []chart.Line{{Name: "requests / s", Class: "ch-c0", Points: rate}, {Name: "errors / s", Class: "ch-c-err", Points: errRate}}
	c.Legend = []chart.LegendItem{{Name: "requests", Class: "ch-c0", Shape: chart.ShapeLine}, {Name: "errors", Class: "ch-c-err", Shape: chart.ShapeLine}}
	rc.Rate = c.HTML()
	c = base
	c.ID, c.Label, c.YLabel, c.Unit = id+"-errors", what+": error rate, percent of requests, "+per, "error rate, % of requests", chart.Percent
	c.Lines = []chart.Line{{Name: "error rate", Class: "ch-c-err", Points: errPct}}
	c.Legend = []chart.LegendItem{{Name: "errors ÷ requests", Class: "ch-c-err", Shape: chart.ShapeLine}}
	rc.Errors = c.HTML()
	c = base
	c.ID, c.Label, c.YLabel, c.Unit = id+"-duration", what+": duration percentiles p50, p95 and p99, "+per, "duration", chart.Duration
	c.Lines = []chart.Line{{Name: "p50", Class: "ch-c0", Points: p50}, {Name: "p95", Class: "ch-c1", Points: p95}, {Name: "p99", Class: "ch-c2", Points: p99}}
	c.Legend = []chart.LegendItem{{Name: "p50", Class: "ch-c0", Shape: chart.ShapeLine}, {Name: "p95", Class: "ch-c1", Shape: chart.ShapeLine}, {Name: "p99", Class: "ch-c2", Shape: chart.ShapeLine}}
	rc.Dur = c.HTML()
	return rc, true, nil
}

// maxHits caps the snapshots and log lines read to count a breakpoint's
// hits; the rate limit bounds them well below this in most ranges.
const maxHits = 50_000

// hitsView is a breakpoint's hits over time.
type hitsView struct {
	Breakpoint store.Breakpoint
	Chart      template.HTML
	Throttled  int
	Note       string
}

// hitsChart counts a breakpoint's stored snapshots and log lines per
// minute over [from, to), draws them as bars (a bucket of several minutes
// when the range is long) under its rate limit, and marks the buckets
// with a minute that reached the limit: there the SDK was throttled.
func (d *Dashboard) hitsChart(ctx context.Context, project, bpID string, from, to time.Time) (*hitsView, error) {
	bp, err := d.st.Breakpoint(ctx, project, bpID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("breakpoint %s: %w", bpID, err)
	}
	snaps, err := d.st.FindSnapshots(ctx, project, store.SnapshotQuery{BreakpointID: bpID, Start: from, End: to, Limit: maxHits})
	if err != nil {
		return nil, fmt.Errorf("snapshots of breakpoint %s: %w", bpID, err)
	}
	lines, err := d.st.FindLogs(ctx, project, store.LogQuery{BreakpointID: bpID, Start: from, End: to, Limit: maxHits})
	if err != nil {
		return nil, fmt.Errorf("log lines of breakpoint %s: %w", bpID, err)
	}
	hv := &hitsView{Breakpoint: bp}
	if len(snaps) == maxHits || len(lines) == maxHits {
		hv.Note = fmt.Sprintf("Counting the newest %d hits only: choose a shorter range for all of them.", maxHits)
	}
	perMinute := map[int64]int{}
	for _, s := range snaps {
		perMinute[s.Time.Unix()/60]++
	}
	for _, l := range lines {
		perMinute[l.Time.Unix()/60]++
	}
	step := max(api.AutoStep(to.Sub(from)), time.Minute)
	start := from.UTC().Truncate(step)
	minutes := int64(step / time.Minute)
	c := chart.Chart{ID: "bp-hits", Width: 1200, Height: 220, From: start, To: to, Step: step,
		YLabel: "hits per " + chart.FormatDuration(step) + " (snapshots and log lines stored)", BarName: "hits",
		Label: "Hits of breakpoint " + bp.ID + " per " + chart.FormatDuration(step) + " over time"}
	for t := start; t.Before(to); t = t.Add(step) {
		var n int
		throttled := false
		for m := t.Unix() / 60; m < t.Unix()/60+minutes; m++ {
			n += perMinute[m]
			if bp.RateLimit > 0 && perMinute[m] >= bp.RateLimit {
				throttled = true
			}
		}
		b := chart.Bar{Start: t, End: t.Add(step), V: float64(n)}
		if throttled {
			b.Class, b.Note = "ch-throttled", "throttled"
			hv.Throttled++
		}
		c.Bars = append(c.Bars, b)
	}
	c.Legend = []chart.LegendItem{{Name: "hits", Shape: chart.ShapeBar}, {Name: "throttled: a minute reached the rate limit", Class: "ch-throttled", Shape: chart.ShapeBar}}
	if bp.RateLimit > 0 {
		ceiling := float64(int64(bp.RateLimit) * minutes)
		c.Rules = []chart.Rule{{V: ceiling, Name: "rate limit " + strconv.Itoa(bp.RateLimit) + "/min", Class: "ch-ceiling"}}
		c.Legend = append(c.Legend, chart.LegendItem{Name: "rate limit (" + chart.FormatValue(ceiling, chart.Number) + " per bucket)", Class: "ch-ceiling", Shape: chart.ShapeDashed})
	}
	hv.Chart = c.HTML()
	return hv, nil
}
