package store

import (
	"context"
	"time"

	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// REDPoint is one bucket of a RED series: the requests (entry spans of a
// service, or spans of one operation) that started in [Start, Start+step).
type REDPoint struct {
	Start  time.Time
	Count  int64
	Errors int64
	// P50, P95 and P99 are percentiles of the durations, within 1% (merged
	// DurationSketch buckets); zero when Count is.
	P50, P95, P99 time.Duration
}

// SeriesReader reads request rate, error rate and duration over time,
// aggregated as spans arrive (per bucket, service and operation, with
// mergeable sketches), so that a day's chart is not a scan of its spans.
// It is optional: callers find it by type assertion.
type SeriesReader interface {
	// REDSeries returns the buckets of width step that cover [start, end)
	// for a service's entry spans (operation "") or one of its operations,
	// oldest first, empty buckets included. step is a multiple of the
	// backend's finest bucket (SeriesResolution).
	REDSeries(ctx context.Context, project, service, operation string, start, end time.Time, step time.Duration) ([]REDPoint, error)
}

// SeriesResolution is the finest bucket of RED series.
const SeriesResolution = 10 * time.Second

// TracePoint is one trace found by a search, as the scatter plot above the
// results draws it.
type TracePoint struct {
	TraceID       telemetry.TraceID
	Start         time.Time
	Duration      time.Duration
	Error         bool
	RootService   string
	RootOperation string
}

// TracePointReader lists every trace a search finds, up to a cap, without
// reading the traces. It is optional: callers find it by type assertion.
type TracePointReader interface {
	// FindTracePoints returns the traces that FindTraces would find for q,
	// newest first, at most limit of them (q.Limit is ignored).
	FindTracePoints(ctx context.Context, project string, q TraceQuery, limit int) ([]TracePoint, error)
}
