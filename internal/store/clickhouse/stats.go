package clickhouse

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// sketchGamma is store.DurationSketch's bucket ratio: the server groups
// durations into buckets of that width, and each bucket's count is added to
// a DurationSketch at the bucket's shortest duration, so the percentile rule
// stays store's own while only bucket counts cross the network.
const sketchGamma = 1.01

// OperationStats sums up the spans of [start, end] per service and
// operation, each span counted once however often it was written.
func (s *Store) OperationStats(ctx context.Context, project string, start, end time.Time) ([]store.OperationStats, error) {
	if err := s.check(project); err != nil {
		return nil, err
	}
	lo, hi := start.UnixNano(), end.UnixNano()
	if lo > hi {
		return nil, nil
	}
	kinds := map[[2]string]telemetry.SpanKind{}
	err := s.c.query(ctx, "SELECT service, name, argMin(kind, first_ns) FROM operations WHERE project = "+quote(project)+" GROUP BY service, name",
		func(r *rowReader) error {
			k := [2]string{r.str(), r.str()}
			kinds[k] = telemetry.SpanKind(r.u8())
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("operation stats: read operations: %w", err)
	}
	sql := fmt.Sprintf(`SELECT service, name, entry, is_error, bucket, count(), min(d) FROM (
  SELECT service, name, duration_ns AS d,
    parent_span_id = unhex('0000000000000000') OR kind IN (%d, %d) AS entry,
    status_code = %d AS is_error,
    if(duration_ns <= 0, toInt32(-2147483648), toInt32(ceil(log(duration_ns) / log(%v)))) AS bucket
  FROM spans
  WHERE project = %s AND day BETWEEN %s AND %s AND start_ns BETWEEN %d AND %d
  LIMIT 1 BY trace_id, span_id
) GROUP BY service, name, entry, is_error, bucket`,
		telemetry.KindServer, telemetry.KindConsumer, telemetry.StatusError, sketchGamma,
		quote(project), dateLiteral(dayNumber(lo)), dateLiteral(dayNumber(hi)), lo, hi)
	type acc struct {
		sketch store.DurationSketch
		errors int64
	}
	ops := map[[2]string]*acc{}
	services := map[string]*acc{}
	err = s.c.query(ctx, sql, func(r *rowReader) error {
		svc, op := r.str(), r.str()
		entry, isErr := r.u8() != 0, r.u8() != 0
		r.u32() // bucket
		n := int64(r.u64())
		d := time.Duration(r.i64())
		o := ops[[2]string{svc, op}]
		if o == nil {
			o = &acc{}
			ops[[2]string{svc, op}] = o
		}
		sv := services[svc]
		if sv == nil {
			sv = &acc{}
			services[svc] = sv
		}
		targets := []*acc{o}
		if entry {
			targets = append(targets, sv)
		}
		for _, a := range targets {
			for range n {
				a.sketch.Add(d)
			}
			if isErr {
				a.errors += n
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("operation stats: %w", err)
	}
	row := func(svc, op string, kind telemetry.SpanKind, a *acc) store.OperationStats {
		q := a.sketch.Quantiles(0.50, 0.95, 0.99)
		return store.OperationStats{Service: svc, Operation: op, Kind: kind, Count: a.sketch.Count(), Errors: a.errors,
			P50: q[0], P95: q[1], P99: q[2]}
	}
	out := make([]store.OperationStats, 0, len(ops)+len(services))
	for svc, a := range services {
		out = append(out, row(svc, "", telemetry.KindUnspecified, a))
	}
	for k, a := range ops {
		out = append(out, row(k[0], k[1], kinds[k], a))
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Service != out[j].Service {
			return out[i].Service < out[j].Service
		}
		return out[i].Operation < out[j].Operation
	})
	return out, nil
}
