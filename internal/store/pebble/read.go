package pebble

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	pdb "github.com/cockroachdb/pebble/v2"

	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

func (s *Store) dayBounds() (uint32, uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.minDay, s.maxDay
}

// Trace reads every record of the trace in every partition that holds spans.
// Each partition is probed with a prefix seek, which the tables' Bloom
// filters answer for the partitions that lack the trace (comparer.go).
func (s *Store) Trace(ctx context.Context, project string, id telemetry.TraceID) ([]telemetry.Span, error) {
	return s.trace(ctx, project, id, nil)
}

// trace is Trace with the column blocks a caller reading several traces
// has opened (nil: none kept).
func (s *Store) trace(ctx context.Context, project string, id telemetry.TraceID, blocks *colBlocks) ([]telemetry.Span, error) {
	if len(project) > 255 {
		return nil, store.ErrNotFound // no such project can be stored (checkName)
	}
	lo, hi := s.dayBounds()
	// Pebble skips the Bloom filters of the last level unless told
	// otherwise, for a lone seek that expects to find its key; but all but
	// one of a trace's 30 partitions lack it, and the last level holds most
	// of the data. Without them each of those seeks read a data block there
	// (a cache miss decompresses 32 KiB of zstd, about 50 µs). The filters
	// of every level together take about 0.5 bytes per span and stay cached.
	it, err := s.db.NewIterWithContext(ctx, &pdb.IterOptions{
		LowerBound: []byte{kindTrace}, UpperBound: []byte{kindTrace + 1}, UseL6Filters: true})
	if err != nil {
		return nil, fmt.Errorf("read trace %s: %w", id, err)
	}
	defer it.Close()
	var spans []telemetry.Span
	var buf [traceKeyPrefixMax]byte
	prefix := buf[:0]
	for d := int64(hi); d >= int64(lo) && d >= 0; d-- {
		prefix = traceKeyPrefix(prefix[:0], uint32(d), project, id[:])
		for ok := it.SeekPrefixGE(prefix); ok && bytes.HasPrefix(it.Key(), prefix); ok = it.Next() {
			v, err := it.ValueAndErr()
			if err != nil {
				return nil, fmt.Errorf("read trace %s: %w", id, err)
			}
			if spans, _, err = s.appendRecord(spans, it.Key(), v, id, blocks); err != nil {
				return nil, fmt.Errorf("decode trace %s: %w", id, err)
			}
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("read trace %s: %w", id, err)
	}
	if len(spans) == 0 {
		return nil, store.ErrNotFound
	}
	store.SortSpans(spans)
	return dedupe(spans), nil
}

// colBlocks holds the column blocks opened by a read of several records,
// by key, with the values Pebble lends them until close.
type colBlocks struct {
	open    map[string]*colBlock
	closers []io.Closer
}

func newColBlocks() *colBlocks { return &colBlocks{open: map[string]*colBlock{}} }

// close releases the blocks' values; the blocks are not read after.
func (c *colBlocks) close() {
	for _, cl := range c.closers {
		cl.Close()
	}
	c.closers, c.open = nil, nil
}

// appendRecord appends the spans of a trace record (key and value) of
// trace id to dst: those it holds, or those of the column block it points
// to. It returns the bytes of the block it read (0 when blocks had it).
func (s *Store) appendRecord(dst []telemetry.Span, key, value []byte, id telemetry.TraceID, blocks *colBlocks) ([]telemetry.Span, int, error) {
	if len(value) == 0 || value[0] != pointerVersion {
		out, err := decodeGroup(dst, id, value)
		return out, 0, err
	}
	t, n := binary.Uvarint(value[1:])
	if n <= 0 || 1+n != len(value) || t > maxColBlockSpans || len(key) < 1+4+1+16+8 {
		return dst, 0, errCorrupt
	}
	// The block's key: the record's day and project, and its seq.
	bk := make([]byte, 0, len(key)-16)
	bk = append(bk, kindSpanBlock)
	bk = append(bk, key[1:len(key)-24]...)
	bk = append(bk, key[len(key)-8:]...)
	if blocks != nil {
		if b := blocks.open[string(bk)]; b != nil {
			out, err := b.spans(dst, int(t), id)
			return out, 0, err
		}
	}
	v, closer, err := s.db.Get(bk)
	if err != nil {
		if errors.Is(err, pdb.ErrNotFound) {
			err = fmt.Errorf("span block of a trace record missing: %w", errCorrupt)
		}
		return dst, 0, err
	}
	if blocks != nil { // kept, and v with it, until blocks.close
		blocks.closers = append(blocks.closers, closer)
	} else {
		defer closer.Close() // after spans, which reads v
	}
	b, err := openColBlock(v)
	if err != nil {
		return dst, len(v), err
	}
	if blocks != nil {
		blocks.open[string(bk)] = b
	}
	out, err := b.spans(dst, int(t), id)
	return out, len(v), err
}

// dedupe drops spans written twice (a retried batch that the write-side
// check did not recognise, such as the same spans in other batches): sorted
// by start then span ID, copies are neighbours.
func dedupe(spans []telemetry.Span) []telemetry.Span {
	out := spans[:1]
	for i := 1; i < len(spans); i++ {
		if prev := &out[len(out)-1]; spans[i].SpanID == prev.SpanID && spans[i].StartUnixNano == prev.StartUnixNano {
			continue
		}
		out = append(out, spans[i])
	}
	return out
}

// Services lists the project's services.
func (s *Store) Services(ctx context.Context, project string) ([]string, error) {
	prefix := appendName([]byte{kindService}, project)
	var out []string
	err := s.scan(ctx, prefix, func(k, _ []byte) error {
		rest := k[len(prefix):]
		if len(rest) > 0 && int(rest[0]) == len(rest)-1 {
			out = append(out, string(rest[1:]))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list services: %w", err)
	}
	sort.Strings(out)
	return out, nil
}

// Operations lists a service's operations.
func (s *Store) Operations(ctx context.Context, project, service string) ([]store.Operation, error) {
	prefix := appendName(appendName([]byte{kindOperation}, project), service)
	var out []store.Operation
	err := s.scan(ctx, prefix, func(k, v []byte) error {
		op := store.Operation{Name: string(k[len(prefix):])}
		if len(v) == 1 {
			op.Kind = telemetry.SpanKind(v[0])
		}
		out = append(out, op)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list operations of %s: %w", service, err)
	}
	return out, nil
}

func (s *Store) scan(ctx context.Context, prefix []byte, fn func(k, v []byte) error) error {
	it, err := s.db.NewIterWithContext(ctx, &pdb.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		if err := fn(it.Key(), v); err != nil {
			return err
		}
	}
	return it.Error()
}

// candidate is a trace with a matching span, found in the index.
type candidate struct {
	id    telemetry.TraceID
	start int64
}

// FindTraces walks index block metas from newest to oldest: those of the
// service the query names, or else the project index of every service's
// blocks, so that the cost does not depend on how many services there are.
func (s *Store) FindTraces(ctx context.Context, project string, q store.TraceQuery) ([]store.TraceSummary, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = store.DefaultLimit
	}
	limit = min(limit, store.MaxLimit)
	c, err := s.searchCursor(ctx, project, &q)
	if c == nil {
		return nil, err
	}
	defer c.close()
	f := c.f
	found := map[telemetry.TraceID]int64{}
	// newest holds the latest matching start of each trace found, sorted
	// descending and cut at limit: once a block's spans all start too early
	// to beat the last of them, no older block can change the result.
	var newest []int64
	for ; c.valid; c.next() {
		if err := c.matches(func(m candidate) {
			prev, ok := found[m.id]
			if ok && prev >= m.start {
				return
			}
			if ok {
				newest = removeDesc(newest, prev)
			}
			found[m.id] = m.start
			newest = insertDesc(newest, m.start, limit)
		}); err != nil {
			return nil, err
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
	cands := make([]candidate, 0, len(found))
	for id, st := range found {
		cands = append(cands, candidate{id: id, start: st})
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].start > cands[j].start })
	var out []store.TraceSummary
	blocks := newColBlocks() // the newest traces often share a write's block
	defer blocks.close()
	for _, c := range cands {
		if len(out) == limit {
			break
		}
		spans, err := s.trace(ctx, project, c.id, blocks)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			return nil, err
		}
		if !confirm(&q, f, spans) {
			continue // a hash collision in the index
		}
		out = append(out, store.Summarize(spans))
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start.After(out[j].Start) })
	return out, nil
}

// searchWindow is the span start range a search covers: q's bounds, an end
// of zero meaning an hour past now (clocks ahead), a start of zero what
// retention keeps and a day more.
func (s *Store) searchWindow(q *store.TraceQuery) (start, end time.Time) {
	end = q.End
	if end.IsZero() {
		end = s.opts.Now().Add(time.Hour)
	}
	start = q.Start
	if start.IsZero() {
		start = end.Add(-s.opts.Retention - day)
	}
	return start, end
}

func insertDesc(xs []int64, v int64, limit int) []int64 {
	i := sort.Search(len(xs), func(i int) bool { return xs[i] < v })
	if i >= limit {
		return xs
	}
	xs = append(xs, 0)
	copy(xs[i+1:], xs[i:])
	xs[i] = v
	if len(xs) > limit {
		xs = xs[:limit]
	}
	return xs
}

// removeDesc removes one occurrence of v from xs, sorted descending, if
// there is one: a trace found again with a later start must not count twice.
func removeDesc(xs []int64, v int64) []int64 {
	i := sort.Search(len(xs), func(i int) bool { return xs[i] <= v })
	if i < len(xs) && xs[i] == v {
		return append(xs[:i], xs[i+1:]...)
	}
	return xs
}

func confirm(q *store.TraceQuery, f *filter, spans []telemetry.Span) bool {
	for i := range spans {
		sp := &spans[i]
		if sp.StartUnixNano >= f.start && sp.StartUnixNano <= f.end && q.Matches(sp) {
			return true
		}
	}
	return false
}

// filter is a TraceQuery compiled to hashes.
type filter struct {
	start, end     int64
	minDur, maxDur int64
	errorsOnly     bool
	op             string
	opHash         uint64
	attrs          []uint64
	attrs32        []uint32
}

func newFilter(q *store.TraceQuery, start, end int64) *filter {
	f := &filter{start: start, end: end, minDur: int64(q.MinDuration), maxDur: int64(q.MaxDuration), errorsOnly: q.ErrorsOnly, op: q.Operation}
	if q.Operation != "" {
		f.opHash = opHash(q.Operation)
	}
	for _, a := range q.Attributes {
		h := attrHash(a.Key, a.Value)
		f.attrs = append(f.attrs, h)
		f.attrs32 = append(f.attrs32, uint32(h))
	}
	return f
}

// blockMayMatch checks a block's meta against the filter.
func (f *filter) blockMayMatch(m *blockMeta) bool {
	if m.maxStart < f.start || m.minStart > f.end {
		return false
	}
	if f.errorsOnly && !m.hasError {
		return false
	}
	if f.minDur > 0 && m.maxDuration < f.minDur || f.maxDur > 0 && m.minDuration > f.maxDur {
		return false
	}
	if f.op != "" && !m.view.has(f.opHash) {
		return false
	}
	for _, h := range f.attrs {
		if !m.view.has(h) {
			return false
		}
	}
	return true
}

func (f *filter) rowMatches(br *blockRows, r *blockRow) bool {
	if r.start < f.start || r.start > f.end {
		return false
	}
	if f.errorsOnly && r.flags&rowError == 0 {
		return false
	}
	if f.minDur > 0 && r.duration < f.minDur || f.maxDur > 0 && r.duration > f.maxDur {
		return false
	}
	if f.op != "" && br.ops[r.op] != f.op {
		return false
	}
	for _, h := range f.attrs32 {
		if !containsHash(r.hashes, h) && !containsHash(br.res[r.res], h) {
			return false
		}
	}
	return true
}

func containsHash(hs []uint32, h uint32) bool {
	for _, x := range hs {
		if x == h {
			return true
		}
	}
	return false
}
