// Package pebble is TraceKit's embedded storage backend, on CockroachDB's
// Pebble LSM engine: one directory, no server to run, crash-safe through
// Pebble's write-ahead log.
//
// Spans are appended in batches and never updated; spans of one trace from
// one write share a record keyed by day and trace ID, so a trace is read with
// a few range scans. Search uses per-service index blocks with Bloom filters
// (see index.go). Retention deletes whole day partitions.
//
// It owns the on-disk format; the contract it fulfils is store.Store.
package pebble

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	pdb "github.com/cockroachdb/pebble/v2"

	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// Options configure the backend.
type Options struct {
	// Sync makes every write wait for fsync, so acknowledged spans survive
	// power loss, not only a crash of the process. Writes are always in the
	// write-ahead log before WriteSpans returns.
	Sync bool
	// Retention is how long spans are kept; it also bounds how far in the past
	// a span's start time may place it in a partition.
	Retention time.Duration
	// CacheSize is the block cache in bytes; zero means 64 MiB.
	CacheSize int64
	// Now returns the current time; nil means time.Now. Tests set it.
	Now func() time.Time
}

// Store is the Pebble backend.
type Store struct {
	db   *pdb.DB
	opts Options
	wo   *pdb.WriteOptions
	seq  atomic.Uint64

	mu   sync.Mutex
	seen map[string]struct{} // services and operations already written
	// minDay and maxDay bound the partitions that hold spans.
	minDay, maxDay uint32
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the store in dir.
func Open(dir string, opts Options) (*Store, error) {
	if opts.Retention <= 0 {
		opts.Retention = 30 * day
	}
	if opts.CacheSize <= 0 {
		opts.CacheSize = 64 << 20
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	cache := pdb.NewCache(opts.CacheSize)
	defer cache.Unref()
	po := &pdb.Options{
		Cache:                       cache,
		MemTableSize:                32 << 20,
		MemTableStopWritesThreshold: 4,
		L0CompactionThreshold:       4,
		L0StopWritesThreshold:       24,
		CompactionConcurrencyRange:  func() (int, int) { return 1, 2 },
		Logger:                      quietLogger{},
	}
	db, err := pdb.Open(dir, po)
	if err != nil {
		return nil, fmt.Errorf("open pebble store in %s: %w", dir, err)
	}
	s := &Store{db: db, opts: opts, seen: map[string]struct{}{}}
	s.wo = pdb.NoSync
	if opts.Sync {
		s.wo = pdb.Sync
	}
	s.seq.Store(uint64(opts.Now().UnixNano()))
	if err := s.loadDayBounds(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// quietLogger keeps Pebble's informational chatter out of the server log.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}

func (s *Store) loadDayBounds() error {
	it, err := s.db.NewIter(&pdb.IterOptions{LowerBound: []byte{kindTrace}, UpperBound: []byte{kindTrace + 1}})
	if err != nil {
		return fmt.Errorf("scan partitions: %w", err)
	}
	defer it.Close()
	if it.First() {
		s.minDay = dayOfKey(it.Key())
	}
	if it.Last() {
		s.maxDay = dayOfKey(it.Key())
	}
	return it.Error()
}

func dayOfKey(k []byte) uint32 {
	if len(k) < 5 {
		return 0
	}
	return uint32(k[1])<<24 | uint32(k[2])<<16 | uint32(k[3])<<8 | uint32(k[4])
}

// Close flushes and closes the database.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close pebble store: %w", err)
	}
	return nil
}

// DiskUsage returns the bytes the store occupies on disk.
func (s *Store) DiskUsage() int64 { return int64(s.db.Metrics().DiskSpaceUsage()) }

// partition picks the day a span is stored under: its start day, unless the
// start time lies outside what retention keeps or more than an hour in the
// future (a client with a wrong clock), in which case the day it arrived.
func (s *Store) partition(start int64, now time.Time) uint32 {
	n := now.UnixNano()
	if start < n-int64(s.opts.Retention) || start > n+int64(time.Hour) {
		return dayOf(n)
	}
	return dayOf(start)
}

type placed struct {
	day  uint32
	span *telemetry.Span
}

// WriteSpans appends spans in one atomic batch.
func (s *Store) WriteSpans(ctx context.Context, project string, spans []telemetry.Span) error {
	if len(spans) == 0 {
		return nil
	}
	if err := checkName("project", project); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	now := s.opts.Now()
	ps := make([]placed, len(spans))
	lo, hi := ^uint32(0), uint32(0)
	for i := range spans {
		d := s.partition(spans[i].StartUnixNano, now)
		ps[i] = placed{day: d, span: &spans[i]}
		lo, hi = min(lo, d), max(hi, d)
	}
	b := s.db.NewBatch()
	defer b.Close()
	var e enc
	var key []byte
	group := make([]*telemetry.Span, 0, 16)

	// Trace records: group by day and trace ID.
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].day != ps[j].day {
			return ps[i].day < ps[j].day
		}
		return string(ps[i].span.TraceID[:]) < string(ps[j].span.TraceID[:])
	})
	for i := 0; i < len(ps); {
		j := i
		group = group[:0]
		for j < len(ps) && ps[j].day == ps[i].day && ps[j].span.TraceID == ps[i].span.TraceID {
			group = append(group, ps[j].span)
			j++
		}
		e.b = e.b[:0]
		encodeGroup(&e, group)
		key = traceKeyPrefix(key[:0], ps[i].day, project, ps[i].span.TraceID[:])
		key = appendSeq(key, s.seq.Add(1))
		if err := b.Set(key, e.b, nil); err != nil {
			return fmt.Errorf("batch trace record: %w", err)
		}
		i = j
	}

	// Index blocks: group by day and service, ordered by start time.
	sort.Slice(ps, func(i, j int) bool {
		a, c := ps[i], ps[j]
		if a.day != c.day {
			return a.day < c.day
		}
		if sa, sc := a.span.Service(), c.span.Service(); sa != sc {
			return sa < sc
		}
		return a.span.StartUnixNano < c.span.StartUnixNano
	})
	var scratch []uint64
	var me enc
	for i := 0; i < len(ps); {
		first := ps[i]
		svc := first.span.Service()
		group = group[:0]
		meta := blockMeta{minStart: first.span.StartUnixNano}
		j := i
		for j < len(ps) && ps[j].day == first.day && ps[j].span.Service() == svc &&
			ps[j].span.StartUnixNano-meta.minStart <= int64(maxBlockSpread) && len(group) < maxBlockRows {
			sp := ps[j].span
			group = append(group, sp)
			meta.maxStart = sp.StartUnixNano
			meta.maxDuration = max(meta.maxDuration, int64(sp.Duration()))
			meta.hasError = meta.hasError || sp.IsError()
			j++
		}
		meta.rows = len(group)
		scratch = fillFilter(&meta, group, scratch)
		seq := s.seq.Add(1)
		me.b = me.b[:0]
		encodeMeta(&me, &meta)
		key = blockKey(key[:0], kindBlockMeta, first.day, project, svc, meta.minStart, seq)
		if err := b.Set(key, me.b, nil); err != nil {
			return fmt.Errorf("batch index meta: %w", err)
		}
		e.b = e.b[:0]
		scratch = encodeRows(&e, group, scratch)
		key[0] = kindBlockRows
		if err := b.Set(key, e.b, nil); err != nil {
			return fmt.Errorf("batch index rows: %w", err)
		}
		i = j
	}
	s.addNames(b, project, spans)
	if err := b.Commit(s.wo); err != nil {
		return fmt.Errorf("commit %d spans: %w", len(spans), err)
	}
	s.mu.Lock()
	if s.maxDay == 0 || hi > s.maxDay {
		s.maxDay = hi
	}
	if s.minDay == 0 || lo < s.minDay {
		s.minDay = lo
	}
	s.mu.Unlock()
	return nil
}

func appendSeq(b []byte, seq uint64) []byte {
	return append(b, byte(seq>>56), byte(seq>>48), byte(seq>>40), byte(seq>>32),
		byte(seq>>24), byte(seq>>16), byte(seq>>8), byte(seq))
}

// fillFilter sizes and fills a block's Bloom filter with the hashes of every
// attribute and operation name of its spans.
func fillFilter(m *blockMeta, spans []*telemetry.Span, scratch []uint64) []uint64 {
	scratch = scratch[:0]
	var lastRes *telemetry.Resource
	for i, sp := range spans {
		if i == 0 || sp.Resource != lastRes {
			lastRes = sp.Resource
			if sp.Resource != nil {
				scratch = attrHashes(scratch, sp.Resource.Attributes)
			}
		}
		scratch = append(scratch, opHash(sp.Name))
		scratch = attrHashes(scratch, sp.Attributes)
	}
	m.filter = newBloom(len(scratch))
	for _, h := range scratch {
		m.filter.add(h)
	}
	return scratch
}

// addNames records services and operations not seen since start.
func (s *Store) addNames(b *pdb.Batch, project string, spans []telemetry.Span) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range spans {
		sp := &spans[i]
		svc := sp.Service()
		k := operationKey(project, svc, sp.Name)
		if _, ok := s.seen[string(k)]; ok {
			continue
		}
		if len(s.seen) < 200_000 {
			s.seen[string(k)] = struct{}{}
		}
		_ = b.Set(k, []byte{byte(sp.Kind)}, nil)
		sk := serviceKey(project, svc)
		if _, ok := s.seen[string(sk)]; !ok {
			s.seen[string(sk)] = struct{}{}
			_ = b.Set(sk, nil, nil)
		}
	}
}

// DeleteSpansBefore drops every day partition that ends before cutoff.
func (s *Store) DeleteSpansBefore(ctx context.Context, cutoff time.Time) error {
	last := dayOf(cutoff.UnixNano()) // partitions < last end at or before cutoff's day start
	if last == 0 {
		return nil
	}
	for _, kind := range []byte{kindTrace, kindBlockMeta, kindBlockRows} {
		start := []byte{kind}
		end := append([]byte{kind}, byte(last>>24), byte(last>>16), byte(last>>8), byte(last))
		if err := s.db.DeleteRange(start, end, pdb.Sync); err != nil {
			return fmt.Errorf("drop partitions before day %d: %w", last, err)
		}
		if err := s.db.Compact(ctx, start, end, false); err != nil && !errors.Is(err, context.Canceled) {
			return fmt.Errorf("compact dropped partitions: %w", err)
		}
	}
	s.mu.Lock()
	if s.minDay < last {
		s.minDay = last
	}
	s.mu.Unlock()
	return nil
}

func checkName(what, v string) error {
	if v == "" || len(v) > 255 {
		return fmt.Errorf("%s name must be 1 to 255 bytes, got %d", what, len(v))
	}
	return nil
}
