package pebble

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/cespare/xxhash/v2"
	pdb "github.com/cockroachdb/pebble/v2"
)

// Aggregate rows (the service map's, kindEdge, and the RED series',
// kindSeries) are written as blind deltas with Batch.Merge: a write adds
// its batch's sums without reading the row, and Pebble sums a row's
// deltas when it is read and when it is compacted. A delta is encoded as
// the row itself: the sum of two rows is a row, and a row written whole by
// Set (as before deltas) is the base the deltas below it add to. A delta
// may be negative (a call taken back).
//
// The merger is database-wide and its name is persisted, in the OPTIONS
// file and in every sstable's properties: Pebble refuses to open a
// database whose OPTIONS name another merger, and to read a table written
// under another name. Stores created before the merger existed were
// written under Pebble's default, "pebble.concatenate", and never used
// Merge; the merger keeps that name, and concatenates the operands of
// every key that is not an aggregate row, as the default does. A store
// written with deltas must not be opened by a TraceKit that predates them:
// it would concatenate them and read its rows as corrupt.
//
// An aggregation joins by giving its row type the aggregate methods, its
// key kind a case in newAggregate, and writing through an aggregateWriter.

// newAggregateMerger returns the store's pebble.Options.Merger; it logs
// the operands it leaves out to g.
func newAggregateMerger(g *diskGuard) *pdb.Merger {
	// Merges of series rows are reused: a chart's read merges a row per
	// bucket, and would allocate a row and its sum per bucket.
	series := &sync.Pool{}
	series.New = func() any {
		r := &seriesRow{}
		return &aggregateMerge{agg: r, g: g, kind: kindSeries, reuse: r, pool: series}
	}
	return &pdb.Merger{Name: pdb.DefaultMerger.Name, Merge: func(key, value []byte) (pdb.ValueMerger, error) {
		var m *aggregateMerge
		if len(key) > 0 && key[0] == kindSeries {
			m = series.Get().(*aggregateMerge)
		} else {
			agg := newAggregate(key)
			if agg == nil {
				return pdb.DefaultMerger.Merge(key, value)
			}
			m = &aggregateMerge{agg: agg, g: g, kind: key[0]}
		}
		m.add(value, false)
		return m, nil
	}}
}

// aggregate is a row whose encoded deltas sum.
type aggregate interface {
	// mergeEncoded adds an encoded row, older or newer than every row
	// added before (where the order matters, as for exemplars); on error
	// it has added nothing.
	mergeEncoded(v []byte, older bool) error
	encode(b []byte) []byte
}

// newAggregate returns an empty row of the aggregate kind of a key, or nil
// for a key of another kind. An aggregation stored by merges adds its key
// kind here.
func newAggregate(key []byte) aggregate {
	if len(key) == 0 {
		return nil
	}
	switch key[0] {
	case kindEdge:
		return &row{}
	case kindSeries:
		return &seriesRow{}
	}
	return nil
}

// aggregateMerge sums a row's operands. An operand that does not decode
// (a bug, or a disk fault the checksums missed) is left out and logged,
// never returned as an error: Pebble merges in compactions, and a merge
// that failed would stop every compaction over that key for good.
type aggregateMerge struct {
	agg  aggregate
	g    *diskGuard
	kind byte // the key's
	// reuse is agg when it can be emptied: the merge then goes back to
	// pool once Pebble closes its sum, which it encodes in buf.
	reuse reusable
	pool  *sync.Pool
	buf   []byte
}

// reusable is an aggregate that can be emptied and used again.
type reusable interface {
	aggregate
	reset()
}

func (m *aggregateMerge) add(v []byte, older bool) {
	if err := m.agg.mergeEncoded(v, older); err != nil && m.g != nil {
		m.g.logLimited(slog.LevelError, "merge a row of kind %q: left out a corrupt delta of %d bytes", m.kind, len(v))
	}
}

func (m *aggregateMerge) MergeNewer(v []byte) error { m.add(v, false); return nil }
func (m *aggregateMerge) MergeOlder(v []byte) error { m.add(v, true); return nil }

// Finish returns the sum; includesBase does not matter, as a sum of some
// of a row's deltas is a delta.
func (m *aggregateMerge) Finish(bool) ([]byte, io.Closer, error) {
	if m.reuse == nil {
		return m.agg.encode(nil), nil, nil
	}
	m.buf = m.agg.encode(m.buf[:0])
	return m.buf, m, nil
}

// Close empties a reusable merge and puts it back in its pool: Pebble is
// done with the sum Finish returned.
func (m *aggregateMerge) Close() error {
	m.reuse.reset()
	m.pool.Put(m)
	return nil
}

// foldOperands is how many merge operands a row gets before a write folds
// them into one value: a read merges at most that many per row from the
// memtable (flushes and compactions merge the rest), and a write reads one
// row for that many it merges.
const foldOperands = 32

// aggregateWriter writes an aggregation's rows: each write's delta as a
// merge operand, and every foldOperands writes of a row the row summed
// with the delta, set whole. Its user holds a lock from add to the commit
// of the batch (so that no other write changes a row between a fold's read
// and its commit), which guards the writer too, and calls discard when the
// batch is not committed.
//
// A fold's read was most of a group commit's RED series work (issue 15:
// Pebble merges the row's operands for it): the writer keeps, for the rows
// it folded, their sum with every delta added since, which is what the
// store holds once the batches commit, and folds those without reading.
type aggregateWriter struct {
	// operands counts, per row (by the hash of its key), the operands
	// written since it was last set whole.
	operands map[uint64]uint32
	// fold is how many operands a row takes before a write folds them;
	// zero means foldOperands. Rows read many at a time (a chart reads
	// a day of them) fold sooner, so that a read merges few operands.
	fold uint32
	// sums holds rows as the store will hold them, by key: those folded
	// since the last discard (at most maxAggregateSums).
	sums map[string]aggregate
}

// maxAggregateSums bounds the rows an aggregateWriter keeps summed; past
// it, it forgets them all, and reads each again at its next fold. Rows of
// the current buckets are the ones written: a 10 s, minute and hour row
// per service and operation, and per edge. A series row's sketch is a
// couple of KiB for durations of a few decades: a few MiB in all.
const maxAggregateSums = 1 << 11

// add adds delta to the row of key, in b; buf is scratch space, returned
// for reuse. A batch adds to a row once (its deltas summed before).
func (aw *aggregateWriter) add(db *pdb.DB, b *pdb.Batch, key []byte, delta interface{ encode([]byte) []byte }, buf []byte) ([]byte, error) {
	if aw.operands == nil || len(aw.operands) > 1<<16 {
		aw.operands = map[uint64]uint32{} // counts restart: at most foldOperands more each
	}
	buf = delta.encode(buf[:0])
	sum := aw.sums[string(key)]
	if sum != nil {
		if err := sum.mergeEncoded(buf, false); err != nil {
			delete(aw.sums, string(key))
			return buf, fmt.Errorf("add to the row's sum: %w", err)
		}
	}
	h := xxhash.Sum64(key)
	fold := aw.fold
	if fold == 0 {
		fold = foldOperands
	}
	if aw.operands[h] < fold {
		aw.operands[h]++
		if err := b.Merge(key, buf, nil); err != nil {
			return buf, fmt.Errorf("batch merge: %w", err)
		}
		return buf, nil
	}
	aw.operands[h] = 0
	if sum == nil {
		if sum = newAggregate(key); sum == nil {
			return buf, fmt.Errorf("key kind %q is not an aggregate's", key[:min(1, len(key))])
		}
		if err := sum.mergeEncoded(buf, false); err != nil {
			return buf, err
		}
		switch v, closer, err := db.Get(key); {
		case err == nil:
			err = sum.mergeEncoded(v, true)
			closer.Close()
			if err != nil {
				return buf, fmt.Errorf("fold: %w", err)
			}
		case !errors.Is(err, pdb.ErrNotFound):
			return buf, fmt.Errorf("fold: read the row: %w", err)
		}
		if aw.sums == nil || len(aw.sums) >= maxAggregateSums {
			aw.sums = map[string]aggregate{}
		}
		aw.sums[string(key)] = sum
	}
	buf = sum.encode(buf[:0])
	if err := b.Set(key, buf, nil); err != nil {
		return buf, fmt.Errorf("batch set: %w", err)
	}
	return buf, nil
}

// discard forgets the sums: a batch with deltas they hold was not
// committed, or rows changed otherwise (retention deleted them).
func (aw *aggregateWriter) discard() { aw.sums = nil }
