package pebble

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cespare/xxhash/v2"
	pdb "github.com/cockroachdb/pebble/v2"

	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// The search index is made of blocks: the spans of one service from one
// write, cut so that their start times lie within maxBlockSpread. A block has
// two records under the same key suffix: its meta (time bounds, flags and a
// Bloom filter of every attribute key=value and the operation names) and its
// rows (one per span, with 32-bit hashes of its attributes, naming its trace
// by index in the trace ID list of its write's column block). A search reads
// metas in time order, skips the blocks whose filter says no, reads rows
// only of the others, and trace ID lists only for rows it reports.
// Candidates are confirmed against the spans themselves.
//
// Every block has a third key, in its project's index (kindProjectBlock):
// the same day, start time and sequence number without the service, whose
// value is the service and a copy of the meta. A search naming no service
// walks that one time-ordered sequence, so its cost does not grow with the
// number of services; a search naming one walks the service's blocks. The
// rows are not copied: the service in the value locates them.
const (
	maxBlockSpread = 10 * time.Second
	maxBlockRows   = 1024
)

const (
	rowError = 1 << iota
	rowRoot
)

// attrHash is the hash of one key=value condition.
func attrHash(key, value string) uint64 {
	var d xxhash.Digest
	d.Reset()
	_, _ = d.WriteString(key)
	_, _ = d.WriteString("\x00")
	_, _ = d.WriteString(value)
	return d.Sum64()
}

// opHash is the hash under which a block's operation names are filtered; the
// key "\x01op" cannot collide with a real attribute key from ingest.
func opHash(name string) uint64 { return attrHash("\x01op", name) }

func attrHashes(dst []uint64, attrs []telemetry.Attribute) []uint64 {
	for i := range attrs {
		dst = append(dst, attrHash(attrs[i].Key, attrs[i].Value.AsString()))
	}
	return dst
}

// bloom is a split-free Bloom filter over 64-bit hashes, k probes by double
// hashing. About 10 bits per entry: 1% false positives.
type bloom struct {
	k     uint8
	words []uint64
}

func newBloom(n int) bloom {
	bits := n * 10
	if bits < 64 {
		bits = 64
	}
	return bloom{k: 6, words: make([]uint64, (bits+63)/64)}
}

func (b *bloom) add(h uint64) {
	m := uint64(len(b.words) * 64)
	h1, h2 := h&0xffffffff, h>>32|1
	for i := uint64(0); i < uint64(b.k); i++ {
		bit := (h1 + i*h2) % m
		b.words[bit/64] |= 1 << (bit % 64)
	}
}

func (b *bloom) has(h uint64) bool {
	m := uint64(len(b.words) * 64)
	if m == 0 {
		return true
	}
	h1, h2 := h&0xffffffff, h>>32|1
	for i := uint64(0); i < uint64(b.k); i++ {
		bit := (h1 + i*h2) % m
		if b.words[bit/64]&(1<<(bit%64)) == 0 {
			return false
		}
	}
	return true
}

// bloomView reads a filter that encodeMeta wrote, in place.
type bloomView struct {
	k     uint8
	words []byte // little-endian uint64s
}

func (b *bloomView) has(h uint64) bool {
	m := uint64(len(b.words) / 8 * 64)
	if m == 0 {
		return true
	}
	h1, h2 := h&0xffffffff, h>>32|1
	for i := uint64(0); i < uint64(b.k); i++ {
		bit := (h1 + i*h2) % m
		if b.words[bit/8]&(1<<(bit%8)) == 0 {
			return false
		}
	}
	return true
}

// blockMeta is what a search reads first for every block in its window.
type blockMeta struct {
	minStart, maxStart       int64
	rows                     int
	minDuration, maxDuration int64
	hasError                 bool
	filter                   bloom     // written
	view                     bloomView // read, aliasing the stored value
}

// metaVersion 2 adds the shortest duration, so that a search for spans
// shorter than a bound skips blocks of longer ones.
const metaVersion = 2

func encodeMeta(e *enc, m *blockMeta) {
	e.byte1(metaVersion)
	e.uvarint(uint64(m.maxStart - m.minStart))
	e.uvarint(uint64(m.rows))
	e.uvarint(uint64(m.maxDuration))
	e.uvarint(uint64(m.minDuration))
	if m.hasError {
		e.byte1(1)
	} else {
		e.byte1(0)
	}
	e.byte1(m.filter.k)
	e.uvarint(uint64(len(m.filter.words)))
	for _, w := range m.filter.words {
		e.u64(w)
	}
}

// decodeMeta reads a meta stored under its block's latest start; m.view
// aliases value.
func decodeMeta(m *blockMeta, maxStart int64, value []byte) error {
	if len(value) == 0 || value[0] < codecVersion || value[0] > metaVersion {
		return errCorrupt
	}
	version, p := value[0], value[1:]
	var fields [4]uint64 // spread, rows, max duration, min duration
	n := 3
	if version >= 2 {
		n = 4
	}
	for i := 0; i < n; i++ {
		v, w := binary.Uvarint(p)
		if w <= 0 {
			return errCorrupt
		}
		fields[i], p = v, p[w:]
	}
	if len(p) < 2 {
		return errCorrupt
	}
	m.maxStart = maxStart
	m.minStart = maxStart - int64(fields[0])
	m.rows = int(fields[1])
	m.maxDuration, m.minDuration = int64(fields[2]), int64(fields[3])
	m.hasError = p[0] == 1
	m.view.k = p[1]
	words, w := binary.Uvarint(p[2:])
	if w <= 0 || words > uint64(len(p)-2-w)/8 {
		return errCorrupt
	}
	m.view.words = p[2+w : 2+w+int(words)*8]
	return nil
}

// blockRow is one span in a block's rows.
type blockRow struct {
	trace    int // the span's trace: an index in its blockRows' trace IDs
	start    int64
	duration int64
	flags    byte
	op       int
	res      int
	hashes   []uint32
}

// rowsVersion is the format of the rows that encodeRows writes. Version 1
// wrote each row whole: trace ID, start, duration, flags, operation,
// resource, attribute hashes. Version 2 writes them column by column, so
// that zstd (compression.go) finds alike bytes side by side: the block's
// distinct trace IDs, the hashes that more than one row holds (most
// frequent first), then per row a trace reference, a start delta from the
// previous row, a duration, its operation, resource and flags as one
// number, its hash count, then every row's hash references and the hashes
// that only one row holds.
//
// Version 3 names a row's trace by its index in the trace ID list of the
// write's column block (kindTraceIDs), not by its ID: a trace of five
// services had its 16 bytes in five blocks' rows, 16 of the 60 to 75 bytes
// a distinct span cost on disk. The rows list the column blocks they refer
// to (seq and trace count), then number those blocks' traces one after
// the other.
const rowsVersion = 3

// traceRef names a span's trace in its write: the write's column block
// (an index in the write's traceLists) and the trace's index in it.
type traceRef struct{ blk, idx int32 }

// traceList is a column block of a write: its seq, which its trace ID list
// shares, and its trace count.
type traceList struct {
	seq uint64
	n   int
}

// rowsState is encodeRows' reusable memory.
type rowsState struct {
	base   []int // per traceList of the write: its first trace's number, or -1
	used   []int32
	hashes []uint32 // distinct, in order of appearance
	hidx   map[uint32]int
	counts []int   // of hashes
	order  []int   // indices of the shared hashes, most frequent first
	ends   []int32 // where each row's hashes end in scratch
	// opNames and resHashes are the block's distinct operation names and
	// its resources' attribute hashes, which fillFilter adds too.
	opNames   []string
	resHashes []uint64
}

// encodeRows writes a block's rows; spans must share one service and be
// sorted by start time, the first one being the block's minStart. refs[i]
// names spans[i]'s trace among lists, the write's column blocks.
//
// It returns the hashes of the rows' attributes, row after row, in scratch;
// e.rows then holds the block's distinct operation names and resource
// hashes, for fillFilter.
func encodeRows(e *enc, spans []*telemetry.Span, refs []traceRef, lists []traceList, scratch []uint64) []uint64 {
	st := e.rows
	if st == nil {
		st = &rowsState{hidx: map[uint32]int{}}
		e.rows = st
	}
	st.hashes, st.counts, st.ends, st.used = st.hashes[:0], st.counts[:0], st.ends[:0], st.used[:0]
	st.opNames, st.resHashes = st.opNames[:0], st.resHashes[:0]
	clear(st.hidx)

	e.byte1(rowsVersion)
	ops := map[string]int{}
	res := map[*telemetry.Resource]int{}
	var resList []*telemetry.Resource
	for _, s := range spans {
		if _, ok := ops[s.Name]; !ok {
			ops[s.Name] = len(st.opNames)
			st.opNames = append(st.opNames, s.Name)
		}
		if _, ok := res[s.Resource]; !ok {
			res[s.Resource] = len(resList)
			resList = append(resList, s.Resource)
		}
	}
	e.uvarint(uint64(len(st.opNames)))
	for _, n := range st.opNames {
		e.str(n)
	}
	e.uvarint(uint64(len(resList)))
	for _, r := range resList {
		n := len(st.resHashes)
		if r != nil {
			st.resHashes = attrHashes(st.resHashes, r.Attributes)
		}
		e.uvarint(uint64(len(st.resHashes) - n))
		for _, h := range st.resHashes[n:] {
			e.u32(uint32(h))
		}
	}

	scratch = scratch[:0]
	for _, s := range spans {
		n := len(scratch)
		scratch = attrHashes(scratch, s.Attributes)
		for _, h := range scratch[n:] {
			i, ok := st.hidx[uint32(h)]
			if !ok {
				i = len(st.hashes)
				st.hidx[uint32(h)] = i
				st.hashes = append(st.hashes, uint32(h))
				st.counts = append(st.counts, 0)
			}
			st.counts[i]++
		}
		st.ends = append(st.ends, int32(len(scratch)))
	}
	// The shared hashes, most frequent first; the sort is stable so that the
	// output depends only on the spans. hidx then maps a shared hash to its
	// reference (rank plus one) and a hash of one row to 0.
	st.order = st.order[:0]
	for i := range st.hashes {
		if st.counts[i] > 1 {
			st.order = append(st.order, i)
		}
		st.hidx[st.hashes[i]] = 0
	}
	slices.SortStableFunc(st.order, func(a, b int) int { return st.counts[b] - st.counts[a] })

	// The column blocks the rows refer to, in order of first reference,
	// and the number of each one's first trace.
	if cap(st.base) < len(lists) {
		st.base = make([]int, len(lists))
	}
	st.base = st.base[:len(lists)]
	for i := range st.base {
		st.base[i] = -1
	}
	traces := 0
	for _, r := range refs {
		if st.base[r.blk] < 0 {
			st.base[r.blk] = traces
			traces += lists[r.blk].n
			st.used = append(st.used, r.blk)
		}
	}
	e.uvarint(uint64(len(spans)))
	e.uvarint(uint64(len(st.used)))
	for _, b := range st.used {
		e.uvarint(lists[b].seq)
		e.uvarint(uint64(lists[b].n))
	}
	e.uvarint(uint64(len(st.order)))
	for rank, i := range st.order {
		e.u32(st.hashes[i])
		st.hidx[st.hashes[i]] = rank + 1
	}
	for _, r := range refs {
		e.uvarint(uint64(st.base[r.blk] + int(r.idx)))
	}
	prev := spans[0].StartUnixNano
	for _, s := range spans {
		e.varint(s.StartUnixNano - prev)
		prev = s.StartUnixNano
	}
	for _, s := range spans {
		e.uvarint(uint64(s.Duration()))
	}
	for _, s := range spans {
		var f uint64
		if s.IsError() {
			f |= rowError
		}
		if !s.ParentSpanID.IsValid() {
			f |= rowRoot
		}
		e.uvarint(uint64(ops[s.Name]*len(resList)+res[s.Resource])<<2 | f)
	}
	from := int32(0)
	for _, end := range st.ends {
		e.uvarint(uint64(end - from))
		from = end
	}
	for _, h := range scratch {
		e.uvarint(uint64(st.hidx[uint32(h)]))
	}
	for _, h := range scratch {
		if st.hidx[uint32(h)] == 0 {
			e.u32(uint32(h))
		}
	}
	return scratch
}

// blockRows is a decoded rows record.
type blockRows struct {
	ops  []string
	res  [][]uint32
	rows []blockRow
	// ids are the trace IDs the rows name: those of the record in versions
	// 1 and 2; in version 3, those of lists, which resolve reads.
	ids   []telemetry.TraceID
	lists []traceList
}

// decodeRows reads rows of version 1, 2 or 3. The trace IDs of version 3
// rows are read by resolve.
func decodeRows(minStart int64, value []byte) (*blockRows, error) {
	d := &dec{s: string(value)}
	version := d.byte1()
	if version != codecVersion && version != 2 && version != rowsVersion {
		return nil, errCorrupt
	}
	br := &blockRows{}
	br.ops = make([]string, d.count(1))
	for i := range br.ops {
		br.ops[i] = d.str()
	}
	br.res = make([][]uint32, d.count(1))
	for i := range br.res {
		br.res[i] = make([]uint32, d.count(4))
		for j := range br.res[i] {
			br.res[i][j] = d.u32()
		}
	}
	if version == codecVersion {
		return br, decodeRowsV1(d, br, minStart)
	}
	br.rows = make([]blockRow, d.count(5))
	rows := br.rows
	traces := 0
	if version == 2 {
		br.ids = make([]telemetry.TraceID, d.count(16))
		for i := range br.ids {
			copy(br.ids[i][:], d.bytes(16))
		}
		traces = len(br.ids)
	} else {
		br.lists = make([]traceList, d.count(2))
		for i := range br.lists {
			l := &br.lists[i]
			l.seq, l.n = d.uvarint(), int(d.uvarint())
			if l.n <= 0 || l.n > maxColBlockSpans {
				d.fail()
				break
			}
			traces += l.n
		}
	}
	shared := make([]uint32, d.count(4))
	for i := range shared {
		shared[i] = d.u32()
	}
	next := 0 // version 2: the trace a row names by 0
	for i := range rows {
		t := d.uvarint()
		if version == 2 {
			if t == 0 {
				t = uint64(next) + 1
				next++
			}
			t--
		}
		if t >= uint64(traces) {
			d.fail()
			break
		}
		rows[i].trace = int(t)
	}
	start := minStart
	for i := range rows {
		start += d.varint()
		rows[i].start = start
	}
	for i := range rows {
		rows[i].duration = int64(d.uvarint())
	}
	for i := range rows {
		x := d.uvarint()
		if len(br.res) == 0 || x>>2 >= uint64(len(br.ops))*uint64(len(br.res)) {
			d.fail()
			break
		}
		rows[i].flags = byte(x & 3)
		rows[i].op, rows[i].res = int(x>>2)/len(br.res), int(x>>2)%len(br.res)
	}
	// Every row's hashes in one slice, which the rows share.
	total := 0
	ends := make([]int, len(rows))
	for i := range rows {
		total += d.count(1)
		ends[i] = total
	}
	if total > len(d.s)-d.off {
		d.fail()
	}
	if d.err != nil {
		return br, d.err
	}
	all := make([]uint32, total)
	var singles []int // where the hashes of one row go
	for i := range all {
		switch h := d.uvarint(); {
		case h == 0:
			singles = append(singles, i)
		case h <= uint64(len(shared)):
			all[i] = shared[h-1]
		default:
			d.fail()
		}
	}
	for _, i := range singles {
		all[i] = d.u32()
	}
	from := 0
	for i := range rows {
		rows[i].hashes = all[from:ends[i]:ends[i]]
		from = ends[i]
	}
	return br, d.err
}

// traceIDsVersion is the format of a column block's trace ID list
// (kindTraceIDs): the version byte, then each trace's 16-byte ID, in the
// order of the block's traces.
const traceIDsVersion = 1

// errRowsGone reports rows whose trace ID lists are no longer stored:
// retention dropped their day while a search read it.
var errRowsGone = errors.New("index rows of a dropped partition")

// recentIDs keeps the trace ID lists a search read last: the blocks of
// one write's services sit near each other in a walk of every service,
// and name the same list.
type recentIDs struct {
	seq  [8]uint64
	ids  [8][]telemetry.TraceID
	next int
}

// resolve reads the trace IDs that br's rows name, once; a search calls it
// for blocks with a row it reports. day and project are the block's.
func (s *Store) resolve(br *blockRows, day uint32, project string, recent *recentIDs) error {
	if br.ids != nil || len(br.lists) == 0 {
		return nil
	}
	var key []byte
	for _, l := range br.lists {
		ids, err := s.traceIDs(day, project, l, recent, &key)
		if err != nil {
			return err
		}
		if len(br.lists) == 1 {
			br.ids = ids // shared with recent, read only
			return nil
		}
		br.ids = append(br.ids, ids...)
	}
	return nil
}

// traceIDs returns the trace IDs of list l, from recent or read.
func (s *Store) traceIDs(day uint32, project string, l traceList, recent *recentIDs, key *[]byte) ([]telemetry.TraceID, error) {
	for i, seq := range recent.seq {
		if seq == l.seq && len(recent.ids[i]) == l.n {
			return recent.ids[i], nil
		}
	}
	*key = seqKey((*key)[:0], kindTraceIDs, day, project, l.seq)
	v, closer, err := s.db.Get(*key)
	if errors.Is(err, pdb.ErrNotFound) {
		return nil, errRowsGone
	}
	if err != nil {
		return nil, fmt.Errorf("read trace IDs of block %d: %w", l.seq, err)
	}
	defer closer.Close()
	if len(v) != 1+16*l.n || v[0] != traceIDsVersion {
		return nil, fmt.Errorf("read trace IDs of block %d: %w", l.seq, errCorrupt)
	}
	ids := make([]telemetry.TraceID, l.n)
	for i := range ids {
		ids[i] = telemetry.TraceID(v[1+16*i:])
	}
	recent.seq[recent.next], recent.ids[recent.next] = l.seq, ids
	recent.next = (recent.next + 1) % len(recent.seq)
	return ids, nil
}

// decodeRowsV1 reads the rows of a version 1 record, after its operations
// and resources.
func decodeRowsV1(d *dec, br *blockRows, minStart int64) error {
	br.rows = make([]blockRow, d.count(21))
	br.ids = make([]telemetry.TraceID, len(br.rows))
	for i := range br.rows {
		r := &br.rows[i]
		copy(br.ids[i][:], d.bytes(16))
		r.trace = i
		r.start = minStart + int64(d.uvarint())
		r.duration = int64(d.uvarint())
		r.flags = d.byte1()
		r.op = int(d.uvarint())
		r.res = int(d.uvarint())
		if r.op >= len(br.ops) || r.res >= len(br.res) {
			d.fail()
			break
		}
		r.hashes = make([]uint32, d.count(4))
		for j := range r.hashes {
			r.hashes[j] = d.u32()
		}
	}
	return d.err
}

// encodeProjectBlock writes a project index value: the block's service, then
// its encoded meta.
func encodeProjectBlock(e *enc, service string, meta []byte) {
	e.str(service)
	e.raw(meta)
}

// splitProjectBlock splits a project index value into the block's service and
// its encoded meta; both alias v.
func splitProjectBlock(v []byte) (service, meta []byte, err error) {
	n, w := binary.Uvarint(v)
	if w <= 0 || n > uint64(len(v)-w) {
		return nil, nil, errCorrupt
	}
	return v[w : w+int(n)], v[w+int(n):], nil
}

// featureLatestIndex marks data whose block metas are keyed by their latest
// start (kindBlockMeta, kindProjectBlock).
var featureLatestIndex = []byte("Flatest-start index")

// migrateIndex rewrites, once, the block metas that versions before the
// latest-start index wrote (kindOldBlockMeta, keyed by the earliest start)
// under kindBlockMeta and kindProjectBlock, then drops the old keys and
// their project index (kindOldProjectBlock, which the new keys replace; data
// older still has none). The new keys are written before the old are
// dropped, and writing one twice is harmless, so an interrupted migration
// is simply done again at the next open.
func (s *Store) migrateIndex() error {
	_, closer, err := s.db.Get(featureLatestIndex)
	if err == nil {
		return closer.Close()
	}
	if !errors.Is(err, pdb.ErrNotFound) {
		return fmt.Errorf("read format features: %w", err)
	}
	it, err := s.db.NewIter(&pdb.IterOptions{LowerBound: []byte{kindOldBlockMeta}, UpperBound: []byte{kindOldBlockMeta + 1}})
	if err != nil {
		return fmt.Errorf("migrate search index: %w", err)
	}
	defer it.Close()
	b := s.db.NewBatch()
	defer func() { b.Close() }()
	var key []byte
	var e enc
	var m blockMeta
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		// B day project service minStart seq
		if len(k) < 6 || len(k) < 7+int(k[5]) {
			continue
		}
		lp := int(k[5])
		ls := int(k[6+lp])
		if len(k) != 7+lp+ls+16 {
			continue // not a key a version of ours wrote
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("migrate search index: %w", err)
		}
		d, project, service := binary.BigEndian.Uint32(k[1:5]), string(k[6:6+lp]), string(k[7+lp:7+lp+ls])
		tail := k[7+lp+ls:]
		minStart, seq := int64(binary.BigEndian.Uint64(tail)), binary.BigEndian.Uint64(tail[8:])
		// The meta holds the block's spread, whichever start keys it.
		if err := decodeMeta(&m, minStart, v); err != nil {
			return fmt.Errorf("migrate search index: block of %q: %w", service, err)
		}
		maxStart := minStart + (m.maxStart - m.minStart)
		key = blockKey(key[:0], kindBlockMeta, d, project, service, maxStart, seq)
		if err := b.Set(key, v, nil); err != nil {
			return fmt.Errorf("migrate search index: %w", err)
		}
		key = projectBlockKey(key[:0], d, project, maxStart, seq)
		e.b = e.b[:0]
		encodeProjectBlock(&e, service, v)
		if err := b.Set(key, e.b, nil); err != nil {
			return fmt.Errorf("migrate search index: %w", err)
		}
		if b.Len() >= 4<<20 {
			if err := s.commit(b, pdb.NoSync); err != nil {
				return s.indexNotMigrated(err)
			}
			b.Close()
			b = s.db.NewBatch()
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("migrate search index: %w", err)
	}
	for _, kind := range []byte{kindOldBlockMeta, kindOldProjectBlock} {
		if err := b.DeleteRange([]byte{kind}, []byte{kind + 1}, nil); err != nil {
			return fmt.Errorf("migrate search index: %w", err)
		}
	}
	if err := b.Set(featureLatestIndex, nil, nil); err != nil {
		return fmt.Errorf("migrate search index: %w", err)
	}
	if err := s.commit(b, pdb.Sync); err != nil {
		return s.indexNotMigrated(err)
	}
	return nil
}

// indexNotMigrated lets the store open when writes are refused (a full
// disk): searches then miss the blocks written before the latest-start
// index until an open with space migrates them.
func (s *Store) indexNotMigrated(err error) error {
	if !errors.Is(err, store.ErrUnavailable) {
		return fmt.Errorf("migrate search index: %w", err)
	}
	if s.opts.Logger != nil {
		s.opts.Logger.Warn("search index of older data not migrated: writes are refused; searches miss that data until the next start",
			"err", err)
	}
	return nil
}
