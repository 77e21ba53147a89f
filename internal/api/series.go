package api

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tracekit-oss/tracekit/internal/store"
)

// REDSeriesJSON is the body of GET /api/v1/services/{service}/red.
type REDSeriesJSON struct {
	Service string `json:"service"`
	// Operation is "" for the service's entry spans (its requests).
	Operation   string         `json:"operation"`
	Step        string         `json:"step"`
	StepSeconds int64          `json:"stepSeconds"`
	Points      []REDPointJSON `json:"points"`
}

// REDPointJSON is one bucket of a RED series.
type REDPointJSON struct {
	Start         time.Time `json:"start"`
	Count         int64     `json:"count"`
	Errors        int64     `json:"errors"`
	RatePerSecond float64   `json:"ratePerSecond"`
	ErrorRate     float64   `json:"errorRate"`
	P50Ms         float64   `json:"p50Ms"`
	P95Ms         float64   `json:"p95Ms"`
	P99Ms         float64   `json:"p99Ms"`
}

// TracePointsJSON is the body of GET /api/v1/traces/points.
type TracePointsJSON struct {
	Points []TracePointJSON `json:"points"`
	// Truncated says the search found more traces than the limit.
	Truncated bool `json:"truncated"`
}

// TracePointJSON is one trace of a search, as the scatter plot draws it.
type TracePointJSON struct {
	TraceID       string    `json:"traceId"`
	Start         time.Time `json:"start"`
	DurationMs    float64   `json:"durationMs"`
	Error         bool      `json:"error"`
	RootService   string    `json:"rootService"`
	RootOperation string    `json:"rootOperation"`
}

const (
	// defaultSeriesLookback is a RED series' range when the request names
	// no start.
	defaultSeriesLookback = time.Hour
	// maxSeriesPoints bounds the buckets of one RED series request.
	maxSeriesPoints = 2000
	// maxSeriesStep is the widest step.
	maxSeriesStep = 24 * time.Hour
	// maxTracePoints bounds, and is the default of, a scatter's points.
	maxTracePoints = 10_000
)

// autoStepBuckets is the most buckets AutoStep gives a range.
const autoStepBuckets = 300

// seriesSteps are the steps AutoStep chooses from, finest first: multiples
// of store.SeriesResolution (10 s), each dividing a day so that buckets
// start at the same UTC times whoever asks.
var seriesSteps = []time.Duration{
	10 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute,
	15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour,
}

// AutoStep is the bucket width of a time series over a range this long,
// for the API and the dashboard's charts alike: the finest of 10 s, 30 s,
// 1, 2, 5, 10, 15, 30 min, 1, 2, 3, 6, 12 h and 1 day that gives at most
// 300 buckets (15 min: 10 s, 90 buckets; 1 h: 30 s, 120; 24 h: 5 min,
// 288; 7 days: 1 h, 168), and 1 day beyond 300 days.
func AutoStep(span time.Duration) time.Duration {
	for _, s := range seriesSteps {
		if span <= autoStepBuckets*s {
			return s
		}
	}
	return maxSeriesStep
}

// FormatStep writes a step as the shortest Go duration of one unit that
// reads back as it: 10s, 90s, 5m, 24h.
func FormatStep(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return strconv.FormatInt(int64(d/time.Second), 10) + "s"
}

// ParseSeriesRange reads a RED series request's range (ParseTimeRange's
// parameters; the last hour by default) and step (optional: AutoStep). A
// step must be a multiple of store.SeriesResolution up to a day, and give
// at most maxSeriesPoints buckets. Errors name the parameter.
func ParseSeriesRange(v url.Values, now time.Time) (start, end time.Time, step time.Duration, err error) {
	if start, end, err = ParseTimeRange(v, now); err != nil {
		return
	}
	if end.IsZero() {
		end = now
	}
	if start.IsZero() {
		start = end.Add(-defaultSeriesLookback)
	}
	if !end.After(start) {
		return start, end, 0, fmt.Errorf("end %s: must be after start %s", end.Format(time.RFC3339), start.Format(time.RFC3339))
	}
	if s := strings.TrimSpace(v.Get("step")); s != "" {
		step, err = time.ParseDuration(s)
		if err != nil || step < store.SeriesResolution || step > maxSeriesStep || step%store.SeriesResolution != 0 {
			return start, end, 0, fmt.Errorf("step %q: use a multiple of %s from %s to %s, such as 1m",
				s, FormatStep(store.SeriesResolution), FormatStep(store.SeriesResolution), FormatStep(maxSeriesStep))
		}
	} else {
		step = AutoStep(end.Sub(start))
	}
	// Buckets are aligned on multiples of step; count those the range meets.
	first := start.UnixNano() / int64(step)
	last := (end.UnixNano() - 1) / int64(step)
	if n := last - first + 1; n > maxSeriesPoints {
		if v.Get("step") != "" {
			return start, end, 0, fmt.Errorf("step %q: gives %d points over this range, at most %d; use a wider step", v.Get("step"), n, maxSeriesPoints)
		}
		return start, end, 0, fmt.Errorf("start %s (or lookback): the range is too long for a chart (%d days at most); use a later start", start.Format(time.RFC3339), maxSeriesPoints)
	}
	return start, end, step, nil
}

// redSeries answers GET /api/v1/services/{service}/red?operation=&start=&end=|lookback=&step=.
func (a *API) redSeries(w http.ResponseWriter, r *http.Request) {
	sr, ok := a.st.(store.SeriesReader)
	if !ok {
		WriteError(w, http.StatusNotImplemented, "RED series are not available with this storage backend")
		return
	}
	v := r.URL.Query()
	start, end, step, err := ParseSeriesRange(v, a.now())
	if err != nil {
		WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	service, op := r.PathValue("service"), strings.TrimSpace(v.Get("operation"))
	points, err := sr.REDSeries(r.Context(), project(r), service, op, start, end, step)
	if errors.Is(err, errors.ErrUnsupported) {
		WriteError(w, http.StatusNotImplemented, "RED series are not available with this storage backend: "+err.Error())
		return
	}
	if err != nil {
		a.fail(w, "RED series of "+service, err)
		return
	}
	out := REDSeriesJSON{Service: service, Operation: op, Step: FormatStep(step), StepSeconds: int64(step / time.Second),
		Points: make([]REDPointJSON, 0, len(points))}
	for _, p := range points {
		j := REDPointJSON{Start: p.Start, Count: p.Count, Errors: p.Errors,
			RatePerSecond: float64(p.Count) / step.Seconds(), P50Ms: millis(p.P50), P95Ms: millis(p.P95), P99Ms: millis(p.P99)}
		if p.Count > 0 {
			j.ErrorRate = float64(p.Errors) / float64(p.Count)
		}
		out.Points = append(out.Points, j)
	}
	WriteJSON(w, http.StatusOK, out)
}

// tracePoints answers GET /api/v1/traces/points with the parameters of
// GET /api/v1/traces, its limit going to maxTracePoints.
func (a *API) tracePoints(w http.ResponseWriter, r *http.Request) {
	tp, ok := a.st.(store.TracePointReader)
	if !ok {
		WriteError(w, http.StatusNotImplemented, "trace points are not available with this storage backend")
		return
	}
	v := r.URL.Query()
	limit := maxTracePoints
	if s := strings.TrimSpace(v.Get("limit")); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxTracePoints {
			WriteError(w, http.StatusBadRequest, fmt.Sprintf("limit %q: use a whole number from 1 to %d", s, maxTracePoints))
			return
		}
		limit = n
	}
	v.Del("limit") // ParseQuery's limit is the trace list's, a tenth of this one
	q, err := ParseQuery(v, a.now())
	if err != nil {
		WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	points, err := tp.FindTracePoints(r.Context(), project(r), q, limit+1)
	if errors.Is(err, errors.ErrUnsupported) {
		WriteError(w, http.StatusNotImplemented, "trace points are not available with this storage backend: "+err.Error())
		return
	}
	if err != nil {
		a.fail(w, "trace points", err)
		return
	}
	out := TracePointsJSON{Points: make([]TracePointJSON, 0, min(len(points), limit))}
	if len(points) > limit {
		// Of the newest limit+1 traces, the one drawn oldest goes.
		out.Truncated = true
		points = points[:limit]
	}
	for _, p := range points {
		out.Points = append(out.Points, TracePointJSON{TraceID: p.TraceID.String(), Start: p.Start, DurationMs: millis(p.Duration),
			Error: p.Error, RootService: p.RootService, RootOperation: p.RootOperation})
	}
	WriteJSON(w, http.StatusOK, out)
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
