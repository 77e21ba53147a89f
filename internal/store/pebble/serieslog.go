package pebble

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	pdb "github.com/cockroachdb/pebble/v2"

	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// Pending series sums and their log. Nearly every write adds to the rows of
// the current buckets: each service's entry spans and each operation, at
// three widths, about 60 rows per write of `tracekit bench ingest`'s load.
// Adding them at every group commit cost a tenth of the server's CPU at
// 140,000 spans/s: memtable inserts, folds, and merges in flushes and
// compactions. So the leader sums a group's rows into pending, in memory,
// and adds pending to the rows in the batch of the first group to commit
// seriesFlushEvery after pending's first sums; a read of the series, and
// Close, add it at once.
//
// A crash must lose no count of a stored span. A group whose sums stay
// pending writes, in its batch, a record of where its spans are instead:
//
//	U seq      per write: project, arrival time, column blocks (day, seq)
//
// The batch that adds pending to the rows deletes the records of the
// groups in it. Open sums the spans of the records left (a crash came
// before their rows were written) from their column blocks, and adds them
// to the rows in one batch with the records' deletion: each span is
// counted once, whenever the crash came.

// seriesFlushEvery is how long sums stay pending at most, while writes
// come; a row of the current 10 s bucket then takes ten operands per
// bucket instead of one per write.
const seriesFlushEvery = time.Second

// maxPendingSeries bounds pending's rows: a group that would hold more
// adds them at once.
const maxPendingSeries = 1 << 14

// seriesLogVersion is the first byte of a log record.
const seriesLogVersion = 1

func seriesLogKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{kindSeriesLog}, seq)
}

// colBlockID names a column block (kindSpanBlock) of a project.
type colBlockID struct {
	day uint32
	seq uint64
}

// encodeSeriesLog encodes a group's record: where its writes' spans are.
func encodeSeriesLog(b []byte, writes []*queuedWrite) []byte {
	b = append(b, seriesLogVersion)
	b = binary.AppendUvarint(b, uint64(len(writes)))
	for _, w := range writes {
		b = appendName(b, w.project)
		b = binary.AppendVarint(b, w.arrived)
		b = binary.AppendUvarint(b, uint64(len(w.blocks)))
		for _, id := range w.blocks {
			b = binary.AppendUvarint(b, uint64(id.day))
			b = binary.AppendUvarint(b, id.seq)
		}
	}
	return b
}

// loggedWrite is a write named by a log record.
type loggedWrite struct {
	project string
	arrived int64
	blocks  []colBlockID
}

func decodeSeriesLog(v []byte) ([]loggedWrite, error) {
	d := &dec{s: string(v)}
	if d.byte1() != seriesLogVersion {
		return nil, errCorrupt
	}
	ws := make([]loggedWrite, d.count(1+1+1))
	for i := range ws {
		w := &ws[i]
		w.project = d.bytes(int(d.byte1()))
		w.arrived = d.varint()
		w.blocks = make([]colBlockID, d.count(2))
		for j := range w.blocks {
			day := d.uvarint()
			if day > 1<<32-1 {
				d.fail()
			}
			w.blocks[j] = colBlockID{day: uint32(day), seq: d.uvarint()}
		}
	}
	if d.err != nil || d.off != len(d.s) {
		return nil, errCorrupt
	}
	return ws, nil
}

// pendingRow is a row's pending sum: a dense sketch, to which a write's
// delta adds without a sort.
type pendingRow struct {
	errors int64
	sketch store.DenseSketch
}

func (r *pendingRow) add(d *seriesDelta) {
	r.errors += d.errors
	r.sketch.AddDelta(&d.sketch)
}

// encode encodes the sum as a row (seriesRow.encode).
func (r *pendingRow) encode(b []byte) []byte {
	b = binary.AppendVarint(b, r.errors)
	b, _ = r.sketch.AppendBinary(b)
	return b
}

// addWidths adds d, a finest-width row's delta (seriesRows), to the rows
// of key k at every width: to the row get returns for each key.
func addWidths(k seriesKey, d *seriesDelta, get func(seriesKey) *pendingRow) {
	for w := range seriesWidths {
		wk := k
		wk.width, wk.bucket = w, k.bucket-k.bucket%seriesWidths[w].secs
		get(wk).add(d)
	}
}

// rowIn returns rows' row of k, added if missing.
func rowIn(rows map[seriesKey]*pendingRow) func(seriesKey) *pendingRow {
	return func(k seriesKey) *pendingRow {
		r := rows[k]
		if r == nil {
			r = &pendingRow{}
			rows[k] = r
		}
		return r
	}
}

// addPending sums committed writes' rows into pending.
func (st *seriesState) addPending(writes []*queuedWrite) {
	if st.pending == nil {
		st.pending, st.since = map[seriesKey]*pendingRow{}, time.Now()
	}
	get := rowIn(st.pending)
	for _, w := range writes {
		for k, d := range w.series {
			addWidths(k, d, get)
		}
	}
}

// due reports whether a group adding to rows rows should add pending to
// the rows.
func (st *seriesState) due(rows int) bool {
	return st.pending != nil && (time.Since(st.since) >= st.flushEvery || len(st.pending)+rows > maxPendingSeries) ||
		st.flushEvery <= 0
}

// writePending adds pending and writes' rows to the rows in b, and
// deletes the log records of the groups pending holds. It leaves pending
// as it was: the caller, holding st.mu, calls settlePending with whether
// b was committed.
func (s *Store) writePending(b *pdb.Batch, writes []*queuedWrite) error {
	st := &s.series
	rows := make(map[seriesKey]*pendingRow, len(st.pending))
	for k, p := range st.pending {
		rows[k] = p
	}
	get := func(k seriesKey) *pendingRow {
		r := rows[k]
		switch {
		case r == nil:
			r = &pendingRow{}
			rows[k] = r
		case r == st.pending[k]: // a copy, so that pending stays as it was
			c := &pendingRow{errors: r.errors}
			c.sketch.Merge(&r.sketch)
			r, rows[k] = c, c
		}
		return r
	}
	for _, w := range writes {
		for k, d := range w.series {
			addWidths(k, d, get)
		}
	}
	var key, buf []byte
	var err error
	for k, r := range rows {
		key = seriesKeyPrefix(key[:0], k.day, k.project, seriesWidths[k.width].code, &k.id)
		key = binary.BigEndian.AppendUint64(key, uint64(k.bucket))
		st.rows.fold = seriesFold
		if buf, err = st.rows.add(s.db, b, key, r, buf); err != nil {
			return fmt.Errorf("series row: %w", err)
		}
	}
	if st.logged > st.deleted {
		if err := b.DeleteRange(seriesLogKey(st.deleted+1), seriesLogKey(st.logged+1), nil); err != nil {
			return fmt.Errorf("series log: %w", err)
		}
	}
	return nil
}

// settlePending ends writePending: pending is in the rows once b has
// committed; the sums the row writer holds are wrong otherwise.
func (st *seriesState) settlePending(committed bool) {
	if committed {
		st.pending, st.deleted = nil, st.logged
	} else {
		st.rows.discard()
	}
}

// flushSeries adds pending to the rows now, in a batch of its own.
func (s *Store) flushSeries() error {
	if s.opts.NoSeries {
		return nil
	}
	s.series.mu.Lock()
	defer s.series.mu.Unlock()
	if s.series.pending == nil {
		return nil
	}
	b := s.db.NewBatch()
	defer b.Close()
	err := s.writePending(b, nil)
	if err == nil {
		// Unsynced: a crash that loses the batch loses the deletion of the
		// log records with it, and Open counts them again.
		err = s.commit(b, pdb.NoSync)
	}
	s.series.settlePending(err == nil)
	if err != nil {
		return fmt.Errorf("write pending RED series: %w", err)
	}
	return nil
}

// recoverSeries adds to the rows the spans of the writes whose sums were
// pending when the store last stopped without adding them (a crash). Only
// a failed read fails it.
func (s *Store) recoverSeries() error {
	it, err := s.db.NewIter(&pdb.IterOptions{LowerBound: []byte{kindSeriesLog}, UpperBound: []byte{kindSeriesLog + 1}})
	if err != nil {
		return fmt.Errorf("read the RED series log: %w", err)
	}
	defer it.Close()
	rows := map[seriesKey]*pendingRow{}
	records, blocks := 0, 0
	var key []byte
	for it.First(); it.Valid(); it.Next() {
		if len(it.Key()) == 9 {
			s.series.logged = max(s.series.logged, binary.BigEndian.Uint64(it.Key()[1:]))
		}
		records++
		v, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("read the RED series log: %w", err)
		}
		ws, err := decodeSeriesLog(v)
		if err != nil {
			// Not ours to fail Open over: the counts of its spans are lost.
			s.guard.log.Warn("RED series: skipping a corrupt log record", "key", fmt.Sprintf("%x", it.Key()))
			continue
		}
		for _, w := range ws {
			for _, id := range w.blocks {
				key = seqKey(key[:0], kindSpanBlock, id.day, w.project, id.seq)
				n, err := s.sumColBlock(rows, key, id.day, w)
				if errors.Is(err, errCorrupt) {
					s.guard.log.Warn("RED series: skipping a corrupt column block", "key", fmt.Sprintf("%x", key))
					continue
				}
				if err != nil {
					return fmt.Errorf("recover RED series from block %x: %w", key, err)
				}
				blocks += n
			}
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("read the RED series log: %w", err)
	}
	if records == 0 {
		return nil
	}
	// The sums go to pending, which holds every record up to logged: the
	// flush below, or the first one after should it fail (a full disk),
	// adds them to the rows and deletes the records.
	st := &s.series
	st.mu.Lock()
	st.pending, st.since, st.deleted = rows, time.Now(), 0
	st.mu.Unlock()
	if err := s.flushSeries(); err != nil {
		s.guard.log.Warn("RED series: the counts recovered from the log are pending until a write can store them", "err", err)
		return nil
	}
	s.guard.log.Info("RED series: counted the spans of writes a crash left uncounted", "records", records, "blocks", blocks)
	return nil
}

// sumColBlock sums the spans of the column block at key, of write w, into
// rows. It returns 0 when the block is gone (retention dropped its day).
func (s *Store) sumColBlock(rows map[seriesKey]*pendingRow, key []byte, day uint32, w loggedWrite) (int, error) {
	v, closer, err := s.db.Get(key)
	if errors.Is(err, pdb.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer closer.Close()
	cb, err := openColBlock(v)
	if err != nil {
		return 0, err
	}
	var spans []telemetry.Span
	for t := range cb.counts {
		if spans, err = cb.spans(spans, t, telemetry.TraceID{}); err != nil {
			return 0, err
		}
	}
	arrived := time.Unix(0, w.arrived)
	ps := make([]placed, len(spans))
	for i := range spans {
		ps[i] = s.place(&spans[i], arrived)
		ps[i].day = day // where it is stored, whatever retention says now
	}
	get := rowIn(rows)
	for k, d := range seriesRows(w.project, ps) {
		addWidths(k, d, get)
	}
	return 1, nil
}
