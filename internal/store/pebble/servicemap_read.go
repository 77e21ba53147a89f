package pebble

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	pdb "github.com/cockroachdb/pebble/v2"

	"github.com/tracekit-oss/tracekit/internal/store"
)

// ServiceMap merges the rows that cover [start, end] (an end of zero means
// now): whole hours from the hour rows, the minutes at either end from the
// minute rows. A call is in the range when its minute meets it.
func (s *Store) ServiceMap(ctx context.Context, project string, start, end time.Time) ([]store.ServiceEdge, error) {
	if s.opts.NoServiceMap {
		return nil, fmt.Errorf("service map: turned off in this store's options: %w", errors.ErrUnsupported)
	}
	if end.IsZero() {
		end = s.opts.Now()
	}
	if end.Before(start) {
		return nil, nil
	}
	first, last := minuteOf(start.UnixNano()), minuteOf(end.UnixNano())+1 // [first, last)
	hourFrom := (first + 59) / 60 * 60
	hourTo := last / 60 * 60
	type segment struct {
		gran     byte
		from, to uint32 // minutes, [from, to)
	}
	var segs []segment
	if hourFrom < hourTo {
		segs = []segment{{granMinute, first, hourFrom}, {granHour, hourFrom, hourTo}, {granMinute, hourTo, last}}
	} else {
		segs = []segment{{granMinute, first, last}}
	}
	minDay, maxDay := s.dayBounds()
	it, err := s.db.NewIterWithContext(ctx, &pdb.IterOptions{LowerBound: []byte{kindEdge}, UpperBound: []byte{kindEdge + 1}})
	if err != nil {
		return nil, fmt.Errorf("service map: %w", err)
	}
	defer it.Close()
	acc := map[edgeID]*row{}
	var order []edgeID
	var prefix, lower, upper []byte
	for _, sg := range segs {
		if sg.from >= sg.to {
			continue
		}
		const minutesPerDay = 24 * 60
		for d := max(sg.from/minutesPerDay, minDay); d <= min((sg.to-1)/minutesPerDay, maxDay); d++ {
			prefix = edgeKeyPrefix(prefix[:0], d, project, sg.gran)
			lower = binary.BigEndian.AppendUint32(append(lower[:0], prefix...), max(sg.from, d*minutesPerDay))
			upper = binary.BigEndian.AppendUint32(append(upper[:0], prefix...), min(sg.to, (d+1)*minutesPerDay))
			for ok := it.SeekGE(lower); ok && bytes.Compare(it.Key(), upper) < 0; ok = it.Next() {
				k := it.Key()
				if len(k) < len(prefix)+4 {
					continue
				}
				id := k[len(prefix)+4:]
				r := acc[edgeID(id)]
				if r == nil {
					r = &row{}
					acc[edgeID(id)] = r
					order = append(order, edgeID(id))
				}
				v, err := it.ValueAndErr()
				if err == nil {
					err = r.mergeEncoded(v, false)
				}
				if err != nil {
					return nil, fmt.Errorf("service map row: %w", err)
				}
			}
			if err := it.Error(); err != nil {
				return nil, fmt.Errorf("service map: %w", err)
			}
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
	}
	out := make([]store.ServiceEdge, 0, len(order))
	for _, id := range order {
		r := acc[id]
		if r.calls <= 0 {
			continue // every call taken back
		}
		caller, kind, callee, ok := id.parse()
		if !ok {
			return nil, fmt.Errorf("service map row key: %w", errCorrupt)
		}
		sk := r.sketch.Sketch()
		q := sk.Quantiles(0.50, 0.95, 0.99)
		out = append(out, store.ServiceEdge{Caller: caller, Callee: callee, CalleeKind: kind,
			Calls: r.calls, Errors: max(r.errors, 0), P50: q[0], P95: q[1], P99: q[2], Traces: r.traces})
	}
	slices.SortFunc(out, func(a, b store.ServiceEdge) int {
		if c := strings.Compare(a.Caller, b.Caller); c != 0 {
			return c
		}
		if c := strings.Compare(a.Callee, b.Callee); c != 0 {
			return c
		}
		return strings.Compare(string(a.CalleeKind), string(b.CalleeKind))
	})
	return out, nil
}
