package pebble

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

var _ store.TracePointReader = (*Store)(nil)

// defaultTracePoints is FindTracePoints' cap when its limit is not positive:
// the most points the search scatter draws.
const defaultTracePoints = 10_000

// FindTracePoints walks the index as FindTraces does (the same blocks, the
// same row matching, the same traces: the limit newest by their latest
// matching span) but reads no trace: a point is made of index rows.
//
// A point describes the trace's root span when the search read the root's
// row: a row without a parent in a block the walk visited, whether it
// matched or not (the root usually shares its service and time with the
// spans that match, so a search of the root's service, or of none, sees
// it). Otherwise it describes the trace's earliest matching span: its start,
// duration and error flag, and its service and operation as RootService and
// RootOperation. Points are ordered by that start, newest first.
//
// Unlike FindTraces it cannot confirm a candidate against the spans: a
// search by attribute may, once in about 2^32 rows, take a row whose
// attribute hash collides with the one asked for.
func (s *Store) FindTracePoints(ctx context.Context, project string, q store.TraceQuery, limit int) ([]store.TracePoint, error) {
	if limit <= 0 {
		limit = defaultTracePoints
	}
	c, err := s.searchCursor(ctx, project, &q)
	if c == nil {
		return nil, err
	}
	defer c.close()
	f := c.f
	// The traces found, in the order found (about newest first, which the
	// sorts below are quick to finish), and where each is in points.
	var points []pointOf
	found := map[telemetry.TraceID]int{}
	// roots are root rows seen before any matching row of their trace (a
	// block of another service that starts later than the match's).
	roots := map[telemetry.TraceID]pointRow{}
	var newest []int64 // as in FindTraces
	for ; c.valid; c.next() {
		v, closer, err := s.db.Get(c.rowsKey)
		if err != nil {
			return nil, fmt.Errorf("read index rows of service %q: %w", c.svc, err)
		}
		br, err := decodeRows(c.meta.minStart, v)
		closer.Close()
		if err != nil {
			return nil, fmt.Errorf("decode index rows of service %q: %w", c.svc, err)
		}
		for i := len(br.rows) - 1; i >= 0; i-- {
			r := &br.rows[i]
			isRoot := r.flags&rowRoot != 0
			match := f.rowMatches(br, r)
			if !match && !isRoot {
				continue
			}
			gone, err := c.resolve(br)
			if err != nil {
				return nil, err
			}
			if gone {
				break
			}
			id := br.ids[r.trace]
			row := pointRow{service: c.svc, op: br.ops[r.op], start: r.start, duration: r.duration, err: r.flags&rowError != 0}
			var p *pointOf
			if k, ok := found[id]; ok {
				p = &points[k]
			}
			if match {
				switch {
				case p == nil:
					found[id] = len(points)
					points = append(points, pointOf{id: id, newest: r.start, row: row})
					p = &points[len(points)-1]
					if rt, ok := roots[id]; ok {
						p.row, p.root = rt, true
						delete(roots, id)
					}
					newest = insertDesc(newest, r.start, limit)
				case r.start > p.newest:
					newest = insertDesc(removeDesc(newest, p.newest), r.start, limit)
					p.newest = r.start
				}
				if !p.root && r.start < p.row.start {
					p.row = row
				}
			}
			if isRoot {
				switch rt, ok := roots[id]; {
				case p != nil:
					if !p.root || r.start < p.row.start {
						p.row, p.root = row, true
					}
				case !ok || r.start < rt.start:
					roots[id] = row
				}
			}
		}
		if len(newest) >= limit {
			c.raiseFloor(newest[limit-1])
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	if c.err != nil {
		return nil, c.err
	}
	// The sort keys are copied beside the ID: ten thousand candidates sort
	// without following a pointer per comparison.
	type cand struct {
		id            telemetry.TraceID
		newest, start int64
		p             *pointOf
	}
	cands := make([]cand, len(points))
	for i := range points {
		p := &points[i]
		cands[i] = cand{p.id, p.newest, p.row.start, p}
	}
	if len(cands) > limit { // else every candidate is among the limit newest
		slices.SortFunc(cands, func(a, b cand) int {
			if a.newest != b.newest {
				return compareDesc(a.newest, b.newest)
			}
			return bytes.Compare(a.id[:], b.id[:])
		})
		cands = cands[:limit]
	}
	slices.SortFunc(cands, func(a, b cand) int {
		if a.start != b.start {
			return compareDesc(a.start, b.start)
		}
		return bytes.Compare(a.id[:], b.id[:])
	})
	out := make([]store.TracePoint, len(cands))
	for i, c := range cands {
		r := &c.p.row
		out[i] = store.TracePoint{TraceID: c.id, Start: time.Unix(0, r.start).UTC(), Duration: time.Duration(r.duration),
			Error: r.err, RootService: r.service, RootOperation: r.op}
	}
	return out, nil
}

// pointRow is the index row a point describes.
type pointRow struct {
	service, op     string
	start, duration int64
	err             bool
}

// pointOf is a trace found by FindTracePoints.
type pointOf struct {
	id     telemetry.TraceID
	newest int64 // the latest start of its matching rows
	row    pointRow
	root   bool // row is the trace's root
}

func compareDesc(a, b int64) int {
	switch {
	case a > b:
		return -1
	case a < b:
		return 1
	}
	return 0
}
