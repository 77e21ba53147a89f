package pebble

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"sort"
	"time"

	pdb "github.com/cockroachdb/pebble/v2"

	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

var _ store.SpanStatsReader = (*Store)(nil)

// OperationStats reads the rows of every index block whose start range
// meets [start, end] (they carry each span's start, duration, error flag
// and operation) without touching the spans themselves. Percentiles come
// from a store.DurationSketch.
func (s *Store) OperationStats(ctx context.Context, project string, start, end time.Time) ([]store.OperationStats, error) {
	services, err := s.Services(ctx, project)
	if err != nil {
		return nil, err
	}
	it, err := s.db.NewIterWithContext(ctx, &pdb.IterOptions{LowerBound: []byte{kindBlockRows}, UpperBound: []byte{kindBlockRows + 1}})
	if err != nil {
		return nil, fmt.Errorf("operation stats: %w", err)
	}
	defer it.Close()
	lo, hi := start.UnixNano(), end.UnixNano()
	minDay, maxDay := s.dayBounds()
	firstDay, lastDay := max(dayOf(lo-int64(maxBlockSpread)), minDay), min(dayOf(hi), maxDay)
	var out []store.OperationStats
	for _, svc := range services {
		ops, err := s.Operations(ctx, project, svc)
		if err != nil {
			return nil, err
		}
		kinds := make(map[string]telemetry.SpanKind, len(ops))
		for _, o := range ops {
			kinds[o.Name] = o.Kind
		}
		acc := newStatsAcc()
		var prefix, lower, upper []byte
		for d := firstDay; d <= lastDay && firstDay <= lastDay; d++ {
			prefix = blockKeyPrefix(prefix[:0], kindBlockRows, d, project, svc)
			lower = binary.BigEndian.AppendUint64(append(lower[:0], prefix...), uint64(max(lo-int64(maxBlockSpread), 0)))
			upper = binary.BigEndian.AppendUint64(append(upper[:0], prefix...), uint64(max(hi, 0))+1)
			for ok := it.SeekGE(lower); ok && bytes.Compare(it.Key(), upper) < 0; ok = it.Next() {
				k := it.Key()
				if len(k) != len(prefix)+16 || !bytes.HasPrefix(k, prefix) {
					continue
				}
				minStart := int64(binary.BigEndian.Uint64(k[len(prefix):]))
				v, err := it.ValueAndErr()
				if err == nil {
					err = walkRows(minStart, v, func(op string, st, dur int64, flags byte) {
						if st >= lo && st <= hi {
							kind := kinds[op]
							entry := flags&rowRoot != 0 || kind == telemetry.KindServer || kind == telemetry.KindConsumer
							acc.add(op, time.Duration(dur), flags&rowError != 0, entry)
						}
					})
				}
				if err != nil {
					return nil, fmt.Errorf("operation stats of %s: %w", svc, err)
				}
			}
			if err := it.Error(); err != nil {
				return nil, fmt.Errorf("operation stats of %s: %w", svc, err)
			}
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		out = append(out, acc.stats(svc, kinds)...)
	}
	return out, nil
}

type opAcc struct {
	sketch store.DurationSketch
	errors int64
}

type statsAcc struct {
	ops     map[string]*opAcc
	service opAcc
}

func newStatsAcc() *statsAcc { return &statsAcc{ops: map[string]*opAcc{}} }

func (a *statsAcc) add(op string, d time.Duration, isErr, entry bool) {
	o := a.ops[op]
	if o == nil {
		o = &opAcc{}
		a.ops[op] = o
	}
	for _, x := range []*opAcc{o, &a.service} {
		if x == &a.service && !entry {
			continue
		}
		x.sketch.Add(d)
		if isErr {
			x.errors++
		}
	}
}

func (a *statsAcc) stats(svc string, kinds map[string]telemetry.SpanKind) []store.OperationStats {
	if len(a.ops) == 0 {
		return nil
	}
	row := func(op string, o *opAcc, kind telemetry.SpanKind) store.OperationStats {
		q := o.sketch.Quantiles(0.50, 0.95, 0.99)
		return store.OperationStats{Service: svc, Operation: op, Kind: kind, Count: o.sketch.Count(), Errors: o.errors, P50: q[0], P95: q[1], P99: q[2]}
	}
	out := []store.OperationStats{row("", &a.service, telemetry.KindUnspecified)}
	names := make([]string, 0, len(a.ops))
	for n := range a.ops {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		out = append(out, row(n, a.ops[n], kinds[n]))
	}
	return out
}

// walkRows decodes a rows record (see encodeRows) without allocating per
// row, calling fn with each span's operation, start, duration and flags.
func walkRows(minStart int64, value []byte, fn func(op string, start, dur int64, flags byte)) error {
	if len(value) > 0 && value[0] != codecVersion {
		br, err := decodeRows(minStart, value)
		if err != nil {
			return err
		}
		for i := range br.rows {
			r := &br.rows[i]
			fn(br.ops[r.op], r.start, r.duration, r.flags)
		}
		return nil
	}
	d := &dec{s: string(value)}
	if d.byte1() != codecVersion {
		return errCorrupt
	}
	ops := make([]string, d.count(1))
	for i := range ops {
		ops[i] = d.str()
	}
	nres := d.count(1)
	for range nres {
		d.bytes(4 * d.count(4))
	}
	n := d.count(21)
	for range n {
		d.bytes(16)
		st := minStart + int64(d.uvarint())
		dur := int64(d.uvarint())
		flags := d.byte1()
		op := int(d.uvarint())
		res := int(d.uvarint())
		d.bytes(4 * d.count(4))
		if d.err != nil {
			break
		}
		if op >= len(ops) || res >= nres {
			return errCorrupt
		}
		fn(ops[op], st, dur, flags)
	}
	return d.err
}
