// Package pebble is TraceKit's embedded storage backend, on CockroachDB's
// Pebble LSM engine: one directory, no server to run, crash-safe through
// Pebble's write-ahead log.
//
// Spans are appended in batches and never updated; spans of one trace from
// one write share a record keyed by day and trace ID, so a trace is read with
// a few range scans. Search uses index blocks with Bloom filters, found
// through a per-service and a project-wide time-ordered index (see index.go).
// Retention deletes whole day partitions. Each project has a bounded number
// of services and operation names (names.go).
//
// It owns the on-disk format; it fulfils both contracts, store.TraceStore
// and store.MetadataStore, in one database.
package pebble

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
	pdb "github.com/cockroachdb/pebble/v2"

	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// Options configure the backend.
type Options struct {
	// Sync makes every write wait until its write-ahead log record is written
	// and fsynced, so that acknowledged spans survive a crash of the process
	// and power loss. Without it a write returns once its record is copied
	// into Pebble's in-memory log block, and a background syncer flushes and
	// fsyncs the log every SyncInterval after a write: a crash (kill -9, OOM
	// kill) or power loss loses at most the writes of that last interval.
	Sync bool
	// SyncInterval is how often the log is synced when Sync is off; zero
	// means DefaultSyncInterval.
	SyncInterval time.Duration
	// Retention is how long spans are kept; it also bounds how far in the past
	// a span's start time may place it in a partition.
	Retention time.Duration
	// CacheSize is the block cache in bytes; zero means 64 MiB.
	CacheSize int64
	// Now returns the current time; nil means time.Now. Tests set it.
	Now func() time.Time
	// MaxServices is how many services one project may have; spans of a new
	// service beyond it are refused (WriteSpans returns a
	// *store.PartialWriteError). Zero means DefaultMaxServices.
	MaxServices int
	// MaxOperations is how many operation names one service may have; spans
	// with a new name beyond it are refused likewise. Zero means
	// DefaultMaxOperations.
	MaxOperations int
	// MinFreeBytes is the free space, on the filesystem holding the store,
	// below which writes fail with store.ErrUnavailable; they are taken again
	// once free space is back a quarter above it. Open fails below the
	// smaller of it and 32 MiB, the room Pebble needs to open. Zero means
	// DefaultMinFreeBytes.
	MinFreeBytes int64
	// Logger receives Pebble's errors and the store's disk-space changes;
	// nil discards them.
	Logger *slog.Logger
	// NoServiceMap turns off the service map's aggregation at ingest (for
	// measuring what it costs); ServiceMap then fails with
	// errors.ErrUnsupported.
	NoServiceMap bool
	// NoSeries turns off the RED series' aggregation at ingest likewise;
	// REDSeries then fails with errors.ErrUnsupported.
	NoSeries bool
}

// Store is the Pebble backend.
type Store struct {
	db   *pdb.DB
	dir  string
	opts Options
	wo   *pdb.WriteOptions
	seq  atomic.Uint64
	// guard decides whether writes are taken (health.go).
	guard *diskGuard
	// writers is held shared by each commit, from its admission to its
	// end, so that Close can wait for those in progress (logs.go).
	writers sync.RWMutex

	// names writes service and operation names and enforces their limits.
	names *names
	// syncer bounds what is lost in a crash when writes do not sync (nil
	// when they do).
	syncer *walSyncer

	// metaMu serialises read-modify-write of metadata (unique names, hit
	// counters), apart from mu so that span writes never wait for it.
	metaMu sync.Mutex
	// hitWindows counts each breakpoint's admitted hits in the current
	// minute (AdmitHits); guarded by metaMu.
	hitWindows map[string]hitWindow

	// smap is the service map's write-side state (servicemap.go).
	smap serviceMap
	// series is the RED series' write-side state (series.go).
	series seriesState
	// queue groups concurrent span writes into one commit (groupcommit.go).
	queue commitQueue
	// colEncs holds column block encoders (colblock.go) between writes.
	colEncs sync.Pool

	mu sync.Mutex
	// minDay and maxDay bound the partitions that hold spans.
	minDay, maxDay uint32
}

var (
	_ store.TraceStore    = (*Store)(nil)
	_ store.MetadataStore = (*Store)(nil)
)

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
	if opts.MinFreeBytes <= 0 {
		opts.MinFreeBytes = DefaultMinFreeBytes
	}
	// Pebble reserves the memtables' bytes in the block cache (up to
	// MemTableStopWritesThreshold of them): they come on top of CacheSize, or
	// under ingest the cache would hold no blocks at all.
	cache := pdb.NewCache(opts.CacheSize + 4*memTableSize)
	defer cache.Unref()
	po := &pdb.Options{
		Cache:                       cache,
		MemTableSize:                memTableSize,
		MemTableStopWritesThreshold: 4,
		L0CompactionThreshold:       4,
		L0StopWritesThreshold:       24,
		CompactionConcurrencyRange:  func() (int, int) { return 1, 2 },
	}
	if err := checkSpaceToOpen(dir, min(opts.MinFreeBytes, memTableSize)); err != nil {
		return nil, fmt.Errorf("open pebble store in %s: %w", dir, err)
	}
	guard := newDiskGuard(dir, opts.MinFreeBytes, opts.Logger)
	guard.configure(po)
	po.Merger = newAggregateMerger(guard) // merge.go
	configureTraceLookups(po)             // comparer.go
	configureCompression(po)              // compression.go
	db, err := pdb.Open(dir, po)
	if err != nil {
		return nil, fmt.Errorf("open pebble store in %s: %w", dir, err)
	}
	s := &Store{db: db, dir: dir, opts: opts, guard: guard, names: newNames(db, opts.MaxServices, opts.MaxOperations)}
	s.series.flushEvery = seriesFlushEvery
	s.wo = pdb.NoSync
	if opts.Sync {
		s.wo = pdb.Sync
	}
	if err := s.loadDayBounds(); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.loadSeq(); err != nil {
		db.Close()
		return nil, err
	}
	guard.start()
	if !opts.Sync {
		if opts.SyncInterval <= 0 {
			opts.SyncInterval = DefaultSyncInterval
		}
		s.syncer = newWALSyncer(db, guard, opts.SyncInterval)
	}
	if err := s.migrateIndex(); err != nil {
		s.Close()
		return nil, err
	}
	if !opts.NoSeries {
		if err := s.recoverSeries(); err != nil { // serieslog.go
			s.Close()
			return nil, fmt.Errorf("open pebble store in %s: %w", dir, err)
		}
	}
	return s, nil
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

// loadSeq starts the store's seqs past the wall clock and past that of
// every column block stored. A block's key is its partition day, project
// and seq, so a clock set back, or a store reopened at the same instant
// (as tests do), must not reuse one: the new block would replace the old.
// It reads the last key of each day and project, two seeks each.
func (s *Store) loadSeq() error {
	it, err := s.db.NewIter(&pdb.IterOptions{LowerBound: []byte{kindSpanBlock}, UpperBound: []byte{kindSpanBlock + 1}})
	if err != nil {
		return fmt.Errorf("scan span blocks: %w", err)
	}
	defer it.Close()
	top := uint64(max(s.opts.Now().UnixNano(), 0))
	for ok := it.First(); ok; {
		k := it.Key()
		if len(k) < 6 || len(k) != 1+4+1+int(k[5])+8 {
			ok = it.Next() // not a block key
			continue
		}
		end := prefixEnd(k[:len(k)-8])
		if ok = it.SeekLT(end); ok {
			k = it.Key()
			if len(k) >= 8 {
				top = max(top, binary.BigEndian.Uint64(k[len(k)-8:]))
			}
		}
		ok = it.SeekGE(end)
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("scan span blocks: %w", err)
	}
	s.seq.Store(top)
	return nil
}

func dayOfKey(k []byte) uint32 {
	if len(k) < 5 {
		return 0
	}
	return uint32(k[1])<<24 | uint32(k[2])<<16 | uint32(k[3])<<8 | uint32(k[4])
}

// Close refuses further writes and closes the database. A store that was
// taking writes flushes its memtables first and leaves no write-ahead log
// behind (logs.go). It gives up after closeTimeout, so that a server whose
// engine failed can still exit.
func (s *Store) Close() error {
	healthy := s.guard.admit() == nil
	if healthy {
		// Else it is counted again at the next Open, from its log.
		_ = s.flushSeries()
	}
	if !s.guard.stop() {
		return errors.New("close pebble store: already closed")
	}
	if s.syncer != nil {
		s.syncer.close()
	}
	flushed := healthy && s.flushForClose()
	if err := closeWithin(s.db, closeTimeout); err != nil {
		return fmt.Errorf("close pebble store: %w", err)
	}
	if flushed {
		if err := removeLogs(s.dir); err != nil {
			return fmt.Errorf("close pebble store: %w", err)
		}
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

// placed is a span to store with its partition day, and the instant the
// aggregations count it at: its start, or its arrival when its partition
// is its arrival day (a start too far in the past or the future).
type placed struct {
	day  uint32
	at   int64 // Unix nanoseconds
	span *telemetry.Span
	ref  traceRef // its trace in the write's column blocks (encodeSpans)
}

// place places a span that arrived at now.
func (s *Store) place(sp *telemetry.Span, now time.Time) placed {
	d := s.partition(sp.StartUnixNano, now)
	at := sp.StartUnixNano
	if at < 0 || dayOf(at) != d {
		at = now.UnixNano()
	}
	return placed{day: d, at: at, span: sp}
}

// WriteSpans appends spans in one atomic batch. It encodes the batch's
// records itself, then commits them in a group with the writes that wait
// alongside it (groupcommit.go).
func (s *Store) WriteSpans(ctx context.Context, project string, spans []telemetry.Span) error {
	w, err := s.prepareWrite(ctx, project, spans)
	if w == nil {
		return err
	}
	s.queue.commit(s, w)
	return w.finish()
}

// prepareWrite does a write's own work, before it joins the commit queue:
// it looks the batch up, admits its names and encodes its records. It
// returns a nil write, with the result, when there is nothing to commit.
func (s *Store) prepareWrite(ctx context.Context, project string, spans []telemetry.Span) (*queuedWrite, error) {
	if len(spans) == 0 {
		return nil, nil
	}
	if err := checkName("project", project); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := s.guard.admit(); err != nil {
		return nil, fmt.Errorf("write %d spans: %w", len(spans), err)
	}
	now := s.opts.Now()
	// An exporter retries a batch it got no answer for: the same spans,
	// stored once. A batch is known by its spans' IDs, in any order. A twin
	// in flight is caught again in the commit queue.
	done := batchKey(s.partition(minStart(spans), now), project, fingerprint(spans))
	switch _, closer, err := s.db.Get(done); {
	case err == nil:
		closer.Close()
		return nil, nil
	case !errors.Is(err, pdb.ErrNotFound):
		return nil, fmt.Errorf("write %d spans: look the batch up: %w", len(spans), err)
	}
	b := s.db.NewBatch()
	_ = b.Set(done, nil, nil)
	adm, err := s.names.admit(b, project, spans)
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("write %d spans: %w", len(spans), err)
	}
	w := &queuedWrite{s: s, project: project, done: done, b: b, adm: adm, spans: len(spans),
		ps: make([]placed, 0, len(spans)-adm.nRefused), lo: ^uint32(0), arrived: now.UnixNano()}
	for i := range spans {
		if adm.refused != nil && adm.refused[i] {
			continue
		}
		p := s.place(&spans[i], now)
		w.ps = append(w.ps, p)
		w.lo, w.hi = min(w.lo, p.day), max(w.hi, p.day)
	}
	if len(w.ps) == 0 {
		return nil, w.finish()
	}
	if w.blocks, err = s.encodeSpans(b, project, w.ps); err != nil {
		w.err = err
		return nil, w.finish()
	}
	if !s.opts.NoSeries {
		w.series = seriesRows(project, w.ps)
	}
	w.wake = make(chan bool, 1)
	return w, nil
}

// encodeSpans sets the spans' trace records and index blocks in b. It
// returns their column blocks.
func (s *Store) encodeSpans(b *pdb.Batch, project string, ps []placed) ([]colBlockID, error) {
	var e enc
	var key []byte
	group := make([]*telemetry.Span, 0, 16)

	// Spans: a column block per day partition of the write (at most
	// maxColBlockSpans spans each, whole traces), and per trace a record
	// that points into it.
	slices.SortFunc(ps, func(a, c placed) int {
		if a.day != c.day {
			return cmp.Compare(a.day, c.day)
		}
		return bytes.Compare(a.span.TraceID[:], c.span.TraceID[:])
	})
	ce, _ := s.colEncs.Get().(*colEnc)
	if ce == nil {
		ce = &colEnc{}
	}
	defer s.colEncs.Put(ce)
	all := make([]*telemetry.Span, len(ps))
	for i := range ps {
		all[i] = ps[i].span
	}
	var traces [][]*telemetry.Span
	var lists []traceList
	var blocks []colBlockID
	for i := 0; i < len(ps); {
		traces = traces[:0]
		j, n := i, 0
		for j < len(ps) && ps[j].day == ps[i].day && (n == 0 || n+1 <= maxColBlockSpans) {
			k := j + 1
			for k < len(ps) && ps[k].day == ps[j].day && ps[k].span.TraceID == ps[j].span.TraceID {
				k++
			}
			if n > 0 && n+k-j > maxColBlockSpans {
				break
			}
			ref := traceRef{blk: int32(len(lists)), idx: int32(len(traces))}
			for x := j; x < k; x++ {
				ps[x].ref = ref
			}
			traces = append(traces, all[j:k])
			n += k - j
			j = k
		}
		seq := s.seq.Add(1)
		lists = append(lists, traceList{seq: seq, n: len(traces)})
		blocks = append(blocks, colBlockID{day: ps[i].day, seq: seq})
		e.b = ce.encode(e.b[:0], traces)
		key = seqKey(key[:0], kindSpanBlock, ps[i].day, project, seq)
		if err := b.Set(key, e.b, nil); err != nil {
			return nil, fmt.Errorf("batch span block: %w", err)
		}
		e.b = append(e.b[:0], traceIDsVersion)
		for _, tr := range traces {
			e.raw(tr[0].TraceID[:])
		}
		key = seqKey(key[:0], kindTraceIDs, ps[i].day, project, seq)
		if err := b.Set(key, e.b, nil); err != nil {
			return nil, fmt.Errorf("batch trace IDs: %w", err)
		}
		for t, tr := range traces {
			key = traceKeyPrefix(key[:0], ps[i].day, project, tr[0].TraceID[:])
			key = appendSeq(key, seq)
			e.b = append(e.b[:0], pointerVersion)
			e.uvarint(uint64(t))
			if err := b.Set(key, e.b, nil); err != nil {
				return nil, fmt.Errorf("batch trace record: %w", err)
			}
		}
		i = j
	}

	// Index blocks: group by day and service, ordered by start time.
	slices.SortFunc(ps, func(a, c placed) int {
		if a.day != c.day {
			return cmp.Compare(a.day, c.day)
		}
		if sa, sc := a.span.Service(), c.span.Service(); sa != sc {
			return strings.Compare(sa, sc)
		}
		return cmp.Compare(a.span.StartUnixNano, c.span.StartUnixNano)
	})
	var scratch []uint64
	var refs []traceRef
	var me enc
	for i := 0; i < len(ps); {
		first := ps[i]
		svc := first.span.Service()
		group, refs = group[:0], refs[:0]
		meta := blockMeta{minStart: first.span.StartUnixNano, minDuration: int64(first.span.Duration())}
		j := i
		for j < len(ps) && ps[j].day == first.day && ps[j].span.Service() == svc &&
			ps[j].span.StartUnixNano-meta.minStart <= int64(maxBlockSpread) && len(group) < maxBlockRows {
			sp := ps[j].span
			group = append(group, sp)
			refs = append(refs, ps[j].ref)
			meta.maxStart = sp.StartUnixNano
			meta.maxDuration = max(meta.maxDuration, int64(sp.Duration()))
			meta.minDuration = min(meta.minDuration, int64(sp.Duration()))
			meta.hasError = meta.hasError || sp.IsError()
			j++
		}
		meta.rows = len(group)
		seq := s.seq.Add(1)
		e.b = e.b[:0]
		scratch = encodeRows(&e, group, refs, lists, scratch)
		key = blockKey(key[:0], kindBlockRows, first.day, project, svc, meta.minStart, seq)
		if err := b.Set(key, e.b, nil); err != nil {
			return nil, fmt.Errorf("batch index rows: %w", err)
		}
		fillFilter(&meta, e.rows, scratch)
		me.b = me.b[:0]
		encodeMeta(&me, &meta)
		key = blockKey(key[:0], kindBlockMeta, first.day, project, svc, meta.maxStart, seq)
		if err := b.Set(key, me.b, nil); err != nil {
			return nil, fmt.Errorf("batch index meta: %w", err)
		}
		key = projectBlockKey(key[:0], first.day, project, meta.maxStart, seq)
		e.b = e.b[:0]
		encodeProjectBlock(&e, svc, me.b)
		if err := b.Set(key, e.b, nil); err != nil {
			return nil, fmt.Errorf("batch project index: %w", err)
		}
		i = j
	}
	return blocks, nil
}

// fingerprint identifies a batch by its spans' trace and span IDs, whatever
// their order: two sums of per-span hashes under different seeds.
func fingerprint(spans []telemetry.Span) [16]byte {
	var a, c uint64
	var buf [25]byte
	for i := range spans {
		copy(buf[:16], spans[i].TraceID[:])
		copy(buf[16:24], spans[i].SpanID[:])
		buf[24] = 0
		a += xxhash.Sum64(buf[:])
		buf[24] = 1
		c += xxhash.Sum64(buf[:])
	}
	var fp [16]byte
	binary.BigEndian.PutUint64(fp[:8], a)
	binary.BigEndian.PutUint64(fp[8:], c)
	return fp
}

// minStart is the earliest start of the spans.
func minStart(spans []telemetry.Span) int64 {
	m := spans[0].StartUnixNano
	for i := range spans {
		m = min(m, spans[i].StartUnixNano)
	}
	return m
}

func appendSeq(b []byte, seq uint64) []byte {
	return append(b, byte(seq>>56), byte(seq>>48), byte(seq>>40), byte(seq>>32),
		byte(seq>>24), byte(seq>>16), byte(seq>>8), byte(seq))
}

// fillFilter sizes and fills a block's Bloom filter with the hashes of every
// attribute and operation name of its spans, from what encodeRows left:
// st's operation names and resource hashes, and rowHashes, the rows'
// attribute hashes.
//
// The filter is sized by distinct hashes: most repeat (a status code, a
// method, a tenant), and a filter sized by every one was 2-3x larger than
// its false-positive rate needs. encodeRows counted the rows' distinct
// hashes (by their low 32 bits: a rare collision makes the filter a bit
// smaller, never wrong); every hash is added, repeats too, which costs less
// than sorting them out and leaves the same bits.
func fillFilter(m *blockMeta, st *rowsState, rowHashes []uint64) {
	res := st.resHashes // resources are few: a sort finds their repeats
	slices.Sort(res)
	res = slices.Compact(res)
	m.filter = newBloom(len(st.hashes) + len(st.opNames) + len(res))
	for _, h := range res {
		m.filter.add(h)
	}
	for _, n := range st.opNames {
		m.filter.add(opHash(n))
	}
	for _, h := range rowHashes {
		m.filter.add(h)
	}
}

// DeleteSpansBefore drops every day partition that ends before cutoff.
func (s *Store) DeleteSpansBefore(ctx context.Context, cutoff time.Time) error {
	last := dayOf(cutoff.UnixNano()) // partitions < last end at or before cutoff's day start
	if last == 0 {
		return nil
	}
	for _, kind := range []byte{kindTrace, kindSpanBlock, kindBlockMeta, kindBlockRows, kindTraceIDs, kindProjectBlock, kindBatch, kindEdge, kindSeries} {
		start := []byte{kind}
		end := append([]byte{kind}, byte(last>>24), byte(last>>16), byte(last>>8), byte(last))
		if err := s.deleteRange(start, end, pdb.Sync); err != nil {
			return fmt.Errorf("drop partitions before day %d: %w", last, err)
		}
		if err := s.db.Compact(ctx, start, end, false); err != nil && !errors.Is(err, context.Canceled) {
			return fmt.Errorf("compact dropped partitions: %w", err)
		}
	}
	// The aggregations' sums may hold rows just deleted. Retention drops
	// days whose rows are not written again (spans that old are stored
	// under their arrival day), so a group that folded one of them between
	// the deletion and this did no harm.
	s.series.mu.Lock()
	s.series.rows.discard()
	s.series.mu.Unlock()
	s.smap.mu.Lock()
	s.smap.rows.discard()
	s.smap.mu.Unlock()
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
