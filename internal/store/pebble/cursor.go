package pebble

import (
	"context"
	"encoding/binary"
	"fmt"

	pdb "github.com/cockroachdb/pebble/v2"
)

// blockCursor walks one service's index block metas backwards in time,
// across day partitions, positioned on blocks that may match.
type blockCursor struct {
	s              *Store
	project, svc   string
	day, firstDay  uint32
	f              *filter
	it             *pdb.Iterator
	prefix         []byte
	valid, started bool
	meta           blockMeta
	key            []byte
	err            error
}

func (s *Store) newBlockCursor(ctx context.Context, project, svc string, firstDay, lastDay uint32, f *filter) (*blockCursor, error) {
	it, err := s.db.NewIterWithContext(ctx, &pdb.IterOptions{LowerBound: []byte{kindBlockMeta}, UpperBound: []byte{kindBlockMeta + 1}})
	if err != nil {
		return nil, fmt.Errorf("search index of %s: %w", svc, err)
	}
	c := &blockCursor{s: s, project: project, svc: svc, day: lastDay, firstDay: firstDay, f: f, it: it}
	if firstDay > lastDay {
		return c, nil
	}
	c.seekDay()
	return c, nil
}

func (c *blockCursor) close() { c.it.Close() }

// seekDay positions the cursor on the newest candidate block of c.day.
func (c *blockCursor) seekDay() {
	c.prefix = blockKeyPrefix(c.prefix[:0], kindBlockMeta, c.day, c.project, c.svc)
	upper := binary.BigEndian.AppendUint64(append([]byte(nil), c.prefix...), uint64(max(c.f.end, 0))+1)
	c.valid = c.it.SeekLT(upper)
	c.settle()
}

// settle moves backwards from the current position to the next block that may
// match, crossing into older days as needed.
func (c *blockCursor) settle() {
	for {
		if c.valid && len(c.it.Key()) == len(c.prefix)+16 && string(c.it.Key()[:len(c.prefix)]) == string(c.prefix) {
			k := c.it.Key()
			minStart := int64(binary.BigEndian.Uint64(k[len(c.prefix):]))
			if minStart+int64(maxBlockSpread) < c.f.start {
				c.valid = false // older blocks cannot reach the window
				return
			}
			v, err := c.it.ValueAndErr()
			if err == nil {
				err = decodeMeta(&c.meta, minStart, v)
			}
			if err != nil {
				c.err, c.valid = fmt.Errorf("read index block of %s: %w", c.svc, err), false
				return
			}
			if c.f.blockMayMatch(&c.meta) {
				c.key = append(c.key[:0], k...)
				return
			}
			c.valid = c.it.Prev()
			continue
		}
		if c.day <= c.firstDay || c.it.Error() != nil {
			if err := c.it.Error(); err != nil {
				c.err = err
			}
			c.valid = false
			return
		}
		c.day--
		c.prefix = blockKeyPrefix(c.prefix[:0], kindBlockMeta, c.day, c.project, c.svc)
		c.valid = c.it.SeekLT(prefixEnd(c.prefix))
	}
}

func (c *blockCursor) next() {
	c.valid = c.it.Prev()
	c.settle()
}

// matches reads the rows of the current block and reports matching spans,
// newest first.
func (c *blockCursor) matches(fn func(candidate)) error {
	rk := append([]byte(nil), c.key...)
	rk[0] = kindBlockRows
	v, closer, err := c.s.db.Get(rk)
	if err != nil {
		return fmt.Errorf("read index rows of %s: %w", c.svc, err)
	}
	br, err := decodeRows(c.meta.minStart, v)
	closer.Close()
	if err != nil {
		return fmt.Errorf("decode index rows of %s: %w", c.svc, err)
	}
	for i := len(br.rows) - 1; i >= 0; i-- {
		r := &br.rows[i]
		if c.f.rowMatches(br, r) {
			fn(candidate{id: r.traceID, start: r.start})
		}
	}
	return nil
}
