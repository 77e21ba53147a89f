package pebble

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	pdb "github.com/cockroachdb/pebble/v2"

	"github.com/tracekit-oss/tracekit/internal/store"
)

// blockCursor walks index block metas from the latest start down, across
// day partitions, positioned on blocks that may match: those of one service,
// or, when created for no service, those of the whole project (its project
// index, see index.go). Metas are keyed by their block's latest start, so a
// walk that has enough results raises floor and ends at the first block
// whose spans all start before it: a search for the newest traces reads the
// newest blocks only, however many spans arrive per second.
type blockCursor struct {
	s             *Store
	project       string
	wide          bool   // walking the project index
	svc           string // the current block's service
	day, firstDay uint32
	f             *filter
	it            *pdb.Iterator
	kind          byte
	prefix        []byte
	valid         bool
	meta          blockMeta
	rowsKey       []byte // the current block's rows
	recent        recentIDs
	err           error
	// floor is the start below which no more spans are wanted: blocks whose
	// spans all start earlier end the walk.
	floor int64
}

// searchCursor compiles q and opens a cursor on the blocks of its window;
// it returns a nil cursor, and no error, for an empty window.
func (s *Store) searchCursor(ctx context.Context, project string, q *store.TraceQuery) (*blockCursor, error) {
	start, end := s.searchWindow(q)
	if start.After(end) {
		return nil, nil
	}
	f := newFilter(q, start.UnixNano(), end.UnixNano())
	lo, hi := s.dayBounds()
	firstDay, lastDay := max(dayOf(f.start-int64(maxBlockSpread)), lo), min(dayOf(f.end), hi)
	return s.newBlockCursor(ctx, project, q.Service, firstDay, lastDay, f)
}

func (s *Store) newBlockCursor(ctx context.Context, project, svc string, firstDay, lastDay uint32, f *filter) (*blockCursor, error) {
	c := &blockCursor{s: s, project: project, wide: svc == "", svc: svc, day: lastDay, firstDay: firstDay, f: f, kind: kindBlockMeta, floor: f.start}
	if c.wide {
		c.kind = kindProjectBlock
	}
	it, err := s.db.NewIterWithContext(ctx, &pdb.IterOptions{LowerBound: []byte{c.kind}, UpperBound: []byte{c.kind + 1}})
	if err != nil {
		return nil, fmt.Errorf("search index of %s: %w", c.what(), err)
	}
	c.it = it
	if firstDay > lastDay {
		return c, nil
	}
	c.seekDay()
	return c, nil
}

func (c *blockCursor) close() { c.it.Close() }

// what names the index walked, for errors.
func (c *blockCursor) what() string {
	if c.wide {
		return fmt.Sprintf("project %q", c.project)
	}
	return fmt.Sprintf("service %q", c.svc)
}

func (c *blockCursor) dayPrefix() []byte {
	if c.wide {
		c.prefix = append(c.prefix[:0], kindProjectBlock)
		c.prefix = binary.BigEndian.AppendUint32(c.prefix, c.day)
		c.prefix = appendName(c.prefix, c.project)
		return c.prefix
	}
	c.prefix = blockKeyPrefix(c.prefix[:0], kindBlockMeta, c.day, c.project, c.svc)
	return c.prefix
}

// seekDay positions the cursor on the newest candidate block of c.day: a
// block whose latest start is up to maxBlockSpread past the window's end
// may still hold spans inside it.
func (c *blockCursor) seekDay() {
	c.dayPrefix()
	upper := binary.BigEndian.AppendUint64(append([]byte(nil), c.prefix...), uint64(max(c.f.end, 0))+uint64(maxBlockSpread)+1)
	c.valid = c.it.SeekLT(upper)
	c.settle()
}

// raiseFloor tells the cursor that spans starting before t are no longer
// wanted.
func (c *blockCursor) raiseFloor(t int64) { c.floor = max(c.floor, t) }

// settle moves backwards from the current position to the next block that may
// match, crossing into older days as needed.
func (c *blockCursor) settle() {
	for {
		if c.valid && len(c.it.Key()) == len(c.prefix)+16 && string(c.it.Key()[:len(c.prefix)]) == string(c.prefix) {
			k := c.it.Key()
			maxStart := int64(binary.BigEndian.Uint64(k[len(c.prefix):]))
			if maxStart >= c.floor {
				if c.current(k, maxStart) {
					return
				}
				if !c.valid {
					return
				}
				c.valid = c.it.Prev()
				continue
			}
			// The rest of this day starts too early. A block of an older day
			// starts before this day does, so its latest start is less than
			// maxBlockSpread into this day.
			c.valid = false
			if int64(c.day)*int64(day)+int64(maxBlockSpread) <= c.floor {
				return
			}
		}
		if c.day <= c.firstDay || c.it.Error() != nil {
			if err := c.it.Error(); err != nil {
				c.err = err
			}
			c.valid = false
			return
		}
		c.day--
		c.valid = c.it.SeekLT(prefixEnd(c.dayPrefix()))
	}
}

// current decodes the block under the iterator (key k) and reports whether
// it may match; on a corrupt record it sets c.err and clears c.valid.
func (c *blockCursor) current(k []byte, maxStart int64) bool {
	v, err := c.it.ValueAndErr()
	var svc []byte
	if err == nil && c.wide {
		svc, v, err = splitProjectBlock(v)
	}
	if err == nil {
		err = decodeMeta(&c.meta, maxStart, v)
	}
	if err != nil {
		c.err, c.valid = fmt.Errorf("read index block of %s: %w", c.what(), err), false
		return false
	}
	if !c.f.blockMayMatch(&c.meta) {
		return false
	}
	if c.wide {
		c.svc = string(svc)
	}
	seq := binary.BigEndian.Uint64(k[len(k)-8:])
	c.rowsKey = blockKey(c.rowsKey[:0], kindBlockRows, c.day, c.project, c.svc, c.meta.minStart, seq)
	return true
}

func (c *blockCursor) next() {
	c.valid = c.it.Prev()
	c.settle()
}

// matches reads the rows of the current block and reports matching spans,
// newest first.
func (c *blockCursor) matches(fn func(candidate)) error {
	v, closer, err := c.s.db.Get(c.rowsKey)
	if err != nil {
		return fmt.Errorf("read index rows of service %q: %w", c.svc, err)
	}
	br, err := decodeRows(c.meta.minStart, v)
	closer.Close()
	if err != nil {
		return fmt.Errorf("decode index rows of service %q: %w", c.svc, err)
	}
	for i := len(br.rows) - 1; i >= 0; i-- {
		r := &br.rows[i]
		if !c.f.rowMatches(br, r) {
			continue
		}
		if gone, err := c.resolve(br); gone || err != nil {
			return err
		}
		fn(candidate{id: br.ids[r.trace], start: r.start})
	}
	return nil
}

// resolve reads the trace IDs that the current block's rows br name
// (Store.resolve). It reports gone, and no error, when retention dropped
// them while the walk read the block: the block has nothing to report.
func (c *blockCursor) resolve(br *blockRows) (gone bool, err error) {
	switch err := c.s.resolve(br, c.day, c.project, &c.recent); {
	case errors.Is(err, errRowsGone):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("index rows of service %q: %w", c.svc, err)
	}
	return false, nil
}
