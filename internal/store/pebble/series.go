package pebble

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	pdb "github.com/cockroachdb/pebble/v2"

	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// RED series are aggregated in WriteSpans: a group commit's sums are kept
// pending in memory for up to seriesFlushEvery, with a log record in the
// batch that stores the spans, and then added to the rows in a later
// group's batch (serieslog.go). A retried batch skipped by its fingerprint
// adds nothing, a failed one adds nothing either, and a crash loses no
// count.
//
// A series row sums the spans of one service that started in one bucket:
// those of one operation, or the service's entry spans (server or consumer
// kind, or root spans: the requests it handled, as store.OperationStats
// counts them). It holds the errors and a store.DurationSketch, whose count
// is the spans'. Rows are kept at three widths, written together: 10 s (the
// finest, store.SeriesResolution), 1 min and 1 h. A read takes the widest
// that divides its step, so a day at 1 min steps merges 1,440 rows, at 5 min
// or more 24 to 1,440, never 8,640.
//
//	R day project width service target bucket   errors, sketch
//
// target is 0 for entry spans or 1 and the operation's name; bucket is the
// bucket's start in Unix seconds. The day is the partition day of the spans
// counted, so retention drops the rows with them. A span is counted in the
// bucket of its start, or of its arrival when its partition is its arrival
// day (a start too far in the past or the future), as the service map does.
//
// A flush adds the pending sums to the rows as merge operands (merge.go),
// one per row, without reading them; every foldOperands writes of a row it
// reads the row and writes it whole (aggregateWriter), so that a read
// merges few operands. A row written whole before operands existed is the
// base they add to. Rows stay one key each, and a range is one scan of one
// series's keys.

var _ store.SeriesReader = (*Store)(nil)

// seriesWidth is a row width.
type seriesWidth struct {
	code byte
	secs int64
}

// seriesWidths are the widths rows are kept at, finest first; each divides
// the next and a day.
var seriesWidths = [...]seriesWidth{{'s', 10}, {'m', 60}, {'h', 3600}}

// maxSeriesPoints bounds the buckets one REDSeries call may ask for, so that
// a mistaken step cannot make it allocate without bound.
const maxSeriesPoints = 100_000

// seriesState is the write side's state.
type seriesState struct {
	// mu is held from a write's first row to its commit: a fold reads its
	// row, and no other write may change it before the fold commits.
	mu sync.Mutex
	// rows writes the rows; a chart reads a day of them at once, so they
	// fold every seriesFold operands (a read merges at most that many).
	rows aggregateWriter
	// pending sums the rows of the groups committed since the rows were
	// last added to, from since (nil: none); serieslog.go.
	pending map[seriesKey]*pendingRow
	since   time.Time
	// flushEvery is seriesFlushEvery; tests of the row writer set 0, so
	// that each group adds to the rows.
	flushEvery time.Duration
	// logged is the seq of the last log record committed; those up to
	// deleted are deleted.
	logged, deleted uint64
}

// seriesFold is the series rows' fold threshold: with 32 operands a 24 h
// read at 1 min steps took p99 53 ms at 10 M spans, against 23 ms before the
// merge operator.
const seriesFold = 4

// seriesID names a row without its width and bucket.
type seriesID struct {
	service string
	op      string
	entry   bool
}

type seriesKey struct {
	project string
	id      seriesID
	day     uint32
	width   int
	bucket  int64 // Unix seconds
}

type seriesRow struct {
	errors int64
	sketch store.DenseSketch
	// held is the one encoded row merged into an empty row, kept as it
	// came until a second one is merged (holding): a merge of one operand
	// (most of the merges a read sets off) neither decodes nor re-encodes
	// it. A row holding one is not added to otherwise.
	held    []byte
	holding bool
}

var _ reusable = (*seriesRow)(nil)

// reset empties the row and keeps its buffers.
func (r *seriesRow) reset() {
	r.errors, r.held, r.holding = 0, r.held[:0], false
	r.sketch.Reset()
}

func (r *seriesRow) encode(b []byte) []byte {
	if r.holding {
		return append(b, r.held...)
	}
	b = binary.AppendVarint(b, r.errors)
	b, _ = r.sketch.AppendBinary(b)
	return b
}

// mergeEncoded adds an encoded row; the order does not matter to a sum.
func (r *seriesRow) mergeEncoded(v []byte, _ bool) error {
	if !r.holding && r.errors == 0 && r.sketch.Count() == 0 {
		if !validSeriesRow(v) {
			return errCorrupt
		}
		r.held, r.holding = append(r.held[:0], v...), true
		return nil
	}
	if r.holding {
		r.holding = false
		if err := mergeSeriesRow(r.held, &r.errors, &r.sketch); err != nil {
			return err // checked when held: not reached
		}
	}
	return mergeSeriesRow(v, &r.errors, &r.sketch)
}

// validSeriesRow reports whether v is an encoded row, whole.
func validSeriesRow(v []byte) bool {
	_, n := binary.Varint(v)
	if n <= 0 {
		return false
	}
	rest, err := store.SkipSketch(v[n:])
	return err == nil && len(rest) == 0
}

// mergeSeriesRow adds an encoded row to errors and sk, checking it as it
// goes; on error it has added nothing.
func mergeSeriesRow(v []byte, errs *int64, sk *store.DenseSketch) error {
	e, n := binary.Varint(v)
	if n <= 0 {
		return errCorrupt
	}
	if err := sk.MergeBinaryAll(v[n:]); err != nil {
		return errCorrupt
	}
	*errs += e
	return nil
}

// seriesKeyPrefix is the key prefix of one series's rows of one width and
// day; the bucket follows.
func seriesKeyPrefix(b []byte, d uint32, project string, width byte, id *seriesID) []byte {
	b = append(b, kindSeries)
	b = binary.BigEndian.AppendUint32(b, d)
	b = appendName(b, project)
	b = append(b, width)
	b = appendName(b, id.service)
	if id.entry {
		return append(b, 0)
	}
	return appendName(append(b, 1), id.op)
}

// seriesDelta is what a write adds to a series row.
type seriesDelta struct {
	errors int64
	sketch store.SketchDelta
}

// seriesRows sums spans of project into the rows of the finest width
// they add to; addWidths adds each to the wider rows too. It is CPU work
// alone: a write does it before it joins the commit queue.
func seriesRows(project string, ps []placed) map[seriesKey]*seriesDelta {
	rows := map[seriesKey]*seriesDelta{}
	add := func(k seriesKey, sp *telemetry.Span) {
		r := rows[k]
		if r == nil {
			r = &seriesDelta{}
			rows[k] = r
		}
		r.sketch.AddN(sp.Duration(), 1)
		if sp.IsError() {
			r.errors++
		}
	}
	for i := range ps {
		sp := ps[i].span
		secs := ps[i].at / int64(time.Second)
		k := seriesKey{project: project, id: seriesID{service: sp.Service(), op: sp.Name}, day: ps[i].day, bucket: secs - secs%seriesWidths[0].secs}
		add(k, sp)
		if !sp.ParentSpanID.IsValid() || sp.Kind == telemetry.KindServer || sp.Kind == telemetry.KindConsumer {
			k.id.op, k.id.entry = "", true
			add(k, sp)
		}
	}
	return rows
}

// addSeries adds the RED series rows of a group's writes to b, each row
// once. It returns with the series lock held; the caller calls done after
// committing b (or dropping it), with whether b was committed.
func (s *Store) addSeries(b *pdb.Batch, writes []*queuedWrite) (done func(committed bool), err error) {
	if s.opts.NoSeries {
		return func(bool) {}, nil
	}
	st := &s.series
	st.mu.Lock()
	if !st.due(len(seriesWidths) * len(writes[0].series)) {
		seq := st.logged + 1
		if err := b.Set(seriesLogKey(seq), encodeSeriesLog(nil, writes), nil); err != nil {
			st.mu.Unlock()
			return nil, fmt.Errorf("series log: %w", err)
		}
		return func(committed bool) {
			if committed {
				st.logged = seq
				st.addPending(writes)
			}
			st.mu.Unlock()
		}, nil
	}
	if err := s.writePending(b, writes); err != nil {
		st.rows.discard()
		st.mu.Unlock()
		return nil, err
	}
	return func(committed bool) {
		st.settlePending(committed)
		st.mu.Unlock()
	}, nil
}

// REDSeries merges the rows of the widest width that divides step. Buckets
// are aligned on multiples of step since the Unix epoch (whole UTC days for
// a step of a day): the first is the one holding start, the last the one
// holding the instant before end, so they cover [start, end). A span is in
// the bucket its start falls in.
func (s *Store) REDSeries(ctx context.Context, project, service, operation string, start, end time.Time, step time.Duration) ([]store.REDPoint, error) {
	if s.opts.NoSeries {
		return nil, fmt.Errorf("RED series: turned off in this store's options: %w", errors.ErrUnsupported)
	}
	if step < store.SeriesResolution || step%store.SeriesResolution != 0 {
		return nil, fmt.Errorf("RED series: step %s is not a multiple of %s", step, store.SeriesResolution)
	}
	lo, hi := max(start.UnixNano(), 0), end.UnixNano()
	if hi <= lo {
		return nil, nil
	}
	// The sums of the last writes are added to the rows first. Should that
	// fail (a full disk), the rows say what they held at the last flush.
	_ = s.flushSeries()
	st := int64(step)
	first := lo - lo%st
	last := hi + (st-hi%st)%st // exclusive
	if n := (last - first) / st; n > maxSeriesPoints {
		return nil, fmt.Errorf("RED series: %d buckets of %s asked for; at most %d", n, step, maxSeriesPoints)
	}
	points := make([]store.REDPoint, (last-first)/st)
	for i := range points {
		points[i].Start = time.Unix(0, first+int64(i)*st).UTC()
	}
	width := seriesWidths[0]
	for _, w := range seriesWidths {
		if st%(w.secs*int64(time.Second)) == 0 {
			width = w
		}
	}
	id := seriesID{service: service, op: operation, entry: operation == ""}
	minDay, maxDay := s.dayBounds()
	it, err := s.db.NewIterWithContext(ctx, &pdb.IterOptions{LowerBound: []byte{kindSeries}, UpperBound: []byte{kindSeries + 1}})
	if err != nil {
		return nil, fmt.Errorf("RED series of %s: %w", service, err)
	}
	defer it.Close()
	// Rows come in bucket order, so one point is summed at a time.
	cur := -1
	var sk store.DenseSketch
	flush := func() {
		if cur < 0 || sk.Count() == 0 {
			return
		}
		p := &points[cur]
		p.Count = sk.Count()
		var qs [3]time.Duration
		sk.ReadQuantiles(qs[:], 0.50, 0.95, 0.99)
		p.P50, p.P95, p.P99 = qs[0], qs[1], qs[2]
	}
	var prefix, lower, upper []byte
	firstSec, lastSec := first/int64(time.Second), last/int64(time.Second)
	const daySecs = int64(day / time.Second)
	for d := max(dayOf(first), minDay); d <= min(dayOf(last-1), maxDay); d++ {
		prefix = seriesKeyPrefix(prefix[:0], d, project, width.code, &id)
		lower = binary.BigEndian.AppendUint64(append(lower[:0], prefix...), uint64(max(firstSec, int64(d)*daySecs)))
		upper = binary.BigEndian.AppendUint64(append(upper[:0], prefix...), uint64(min(lastSec, int64(d+1)*daySecs)))
		for ok := it.SeekGE(lower); ok && bytes.Compare(it.Key(), upper) < 0; ok = it.Next() {
			k := it.Key()
			if len(k) != len(prefix)+8 {
				continue
			}
			idx := int((int64(binary.BigEndian.Uint64(k[len(prefix):]))*int64(time.Second) - first) / st)
			if idx < 0 || idx >= len(points) {
				continue
			}
			if idx != cur {
				flush()
				cur = idx
				sk.Reset()
			}
			v, err := it.ValueAndErr()
			if err == nil {
				err = mergeSeriesRow(v, &points[idx].Errors, &sk)
			}
			if err != nil {
				return nil, fmt.Errorf("RED series of %s: %w", service, err)
			}
		}
		if err := it.Error(); err != nil {
			return nil, fmt.Errorf("RED series of %s: %w", service, err)
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	flush()
	return points, nil
}
