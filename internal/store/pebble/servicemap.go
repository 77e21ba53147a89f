package pebble

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
	pdb "github.com/cockroachdb/pebble/v2"

	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// The service map is aggregated in WriteSpans, inside the batch that stores
// the spans, so a retried batch (skipped by its fingerprint) is not counted
// twice and a failed one counts nothing.
//
// A call is a span whose parent belongs to another service: one call per
// such parent-child pair, so a client span and the server span below it
// count once. Its duration and start are the callee's span's (what the
// called service spent, the same whichever side arrived first); it failed
// when the callee's span failed, or the caller's span did and is a client
// or producer span (the caller saw the call fail). A client or producer
// span naming a database, queue or host (db.system.name, db.system,
// messaging.system, peer.service, server.address, net.peer.name) with no
// child in another service is a call to that leaf, with its own duration.
//
// The two spans of a call may come in any order, minutes apart:
//   - parent and child in one batch: matched in memory;
//   - parent first: a server or consumer span whose parent is not in its
//     batch looks the parent up in the trace's stored records (kindTrace,
//     read with a prefix seek that the tables' Bloom filters answer), in
//     the partitions of the hour before its start: nothing is written for
//     the parent's sake, since its record holds all the map needs;
//   - child first: a child whose parent is not found leaves a pending
//     record (kindPending, keyed by trace and parent span ID, holding the
//     callee's service, status, bucket and duration). The parent's write
//     finds it: an in-memory set of the pending records' hashes spares
//     every other span a disk lookup.
//
// A client or producer span naming a leaf, with no child in another
// service in its batch nor pending, is counted as a call to that leaf.
// When its child in another service arrives later, the leaf call is taken
// back (its bucket counts and sketch are decremented) and counted as a
// call to that service instead, unless a child in another service of that
// span is already stored (it was taken back then, or never counted). The
// state needs no record of its own: the trace's records say it.
//
// Pending records are kept in hourly partitions by arrival and dropped
// after two hours (at least one hour, at most two): a child whose parent
// arrives later than that is not matched. They do not stay on disk, so they
// add nothing to the steady-state bytes per span. Earlier versions also
// kept a caller record (kindCaller) for every client span; those are
// dropped by the same hourly expiry and no longer read.
//
// Calls are summed into rows per (project, minute, caller, callee kind,
// callee) and per hour likewise, under the call's partition day so that
// retention drops them with the spans. A row holds the calls, errors, a
// store.DurationSketch and the newest few trace IDs. A range is read as
// its whole hours' rows and the minutes' rows at either end: a day is at
// most 24 + 118 rows per edge.
//
// A write adds its batch's sums to the rows as merge operands (merge.go),
// one per row, without reading them; every foldOperands writes of a row it
// reads the row and writes it whole (aggregateWriter), so that a read
// merges few operands.
// The lookups of parents and pending records go through one iterator per
// kind and write.

var _ store.ServiceMapReader = (*Store)(nil)

const (
	granHour   = 'h'
	granMinute = 'm'
	// exemplars is how many trace IDs a row keeps, and ServiceMap returns.
	exemplars = 5
	// maxPending bounds the in-memory set of pending records of one hour;
	// beyond it every span's write looks for pending children on disk.
	maxPending = 1 << 20
)

// Flags of pending records.
const (
	callError = 1 << iota // the span failed
)

// A trace's records are read whole by a parent lookup, and a client
// decides how many a trace has. These bound what one write reads: at most
// maxParentRecords records of a trace per partition, and maxParentBytes of
// records in all. A child whose parent lies beyond is treated as arriving
// first (a pending record), and a stored child beyond is not seen.
const (
	maxParentRecords = 256
	maxParentBytes   = 8 << 20
)

// parentLookback is how long before a child's start its parent's partitions
// are looked in: the partition of the child's start, and the day before
// when the child started within this much of midnight.
const parentLookback = time.Hour

// serviceMap is the write side's state.
type serviceMap struct {
	// mu is held from the lookups of a write to its commit, so that two
	// writes holding the two halves of a call see one another.
	mu     sync.Mutex
	loaded bool
	// pending holds, per arrival hour, the hashes of (project, trace,
	// parent span) of pending records; a nil set has overflowed.
	pending map[uint32]map[uint64]struct{}
	// expiredBelow is the hour below which caller and pending records have
	// been dropped.
	expiredBelow uint32
	// rows writes the edge rows.
	rows aggregateWriter
}

func hourOf(unixNano int64) uint32   { return uint32(max(unixNano, 0) / int64(time.Hour)) }
func minuteOf(unixNano int64) uint32 { return uint32(max(unixNano, 0) / int64(time.Minute)) }

func pendingHash(project string, t *telemetry.TraceID, parent *telemetry.SpanID) uint64 {
	var ids [24]byte
	copy(ids[:16], t[:])
	copy(ids[16:], parent[:])
	return xxhash.Sum64(ids[:]) ^ xxhash.Sum64String(project)*0x9e3779b97f4a7c15
}

func callRecordKey(b []byte, kind byte, hour uint32, project string, t *telemetry.TraceID, span *telemetry.SpanID) []byte {
	b = append(b, kind)
	b = binary.BigEndian.AppendUint32(b, hour)
	b = appendName(b, project)
	b = append(b, t[:]...)
	return append(b, span[:]...)
}

// edgeKeyPrefix is the key prefix of a project's rows of one granularity
// and day; the bucket (minutes since the epoch) and the edge follow.
func edgeKeyPrefix(b []byte, d uint32, project string, gran byte) []byte {
	b = append(b, kindEdge)
	b = binary.BigEndian.AppendUint32(b, d)
	b = appendName(b, project)
	return append(b, gran)
}

// edgeID is what a row is about: caller name, callee kind, callee name, as
// they follow the bucket in its key.
type edgeID string

func appendEdgeID(b []byte, caller string, kind store.NodeKind, callee string) []byte {
	b = appendName(b, caller)
	b = append(b, nodeKindByte(kind))
	return appendName(b, callee)
}

func (e edgeID) parse() (caller string, kind store.NodeKind, callee string, ok bool) {
	s := string(e)
	if len(s) < 1 || len(s) < 1+int(s[0])+2 {
		return "", "", "", false
	}
	caller, s = s[1:1+int(s[0])], s[1+int(s[0]):]
	kind, s = nodeKindOf(s[0]), s[1:]
	if len(s) != 1+int(s[0]) {
		return "", "", "", false
	}
	return caller, kind, s[1:], true
}

func nodeKindByte(k store.NodeKind) byte {
	switch k {
	case store.NodeDatabase:
		return 'd'
	case store.NodeMessaging:
		return 'm'
	case store.NodeExternal:
		return 'x'
	}
	return 's'
}

func nodeKindOf(b byte) store.NodeKind {
	switch b {
	case 'd':
		return store.NodeDatabase
	case 'm':
		return store.NodeMessaging
	case 'x':
		return store.NodeExternal
	}
	return store.NodeService
}

// leafOf names what a client or producer span calls when no service of
// ours answers it, from its semantic-convention attributes.
func leafOf(sp *telemetry.Span) (store.NodeKind, string) {
	if sp.Kind != telemetry.KindClient && sp.Kind != telemetry.KindProducer {
		return "", ""
	}
	// One pass over the attributes (the group commit's leader runs this
	// for every span): the first attribute of each key counts, and of
	// those the one earliest in leafAttributes that names something.
	best, name := len(leafAttributes), ""
	var seen uint8
	for i := range sp.Attributes {
		a := &sp.Attributes[i]
		r := leafRank(a.Key)
		if r >= best || seen&(1<<r) != 0 {
			continue
		}
		seen |= 1 << r
		if s := a.Value.AsString(); s != "" && len(s) <= 255 {
			best, name = r, s
		}
	}
	if best == len(leafAttributes) {
		return "", ""
	}
	return leafAttributes[best].kind, name
}

// leafRank is the index of key in leafAttributes, or its length.
func leafRank(key string) int {
	switch key {
	case "db.system.name":
		return 0
	case "db.system":
		return 1
	case "messaging.system":
		return 2
	case "peer.service":
		return 3
	case "server.address":
		return 4
	case "net.peer.name":
		return 5
	}
	return len(leafAttributes)
}

var leafAttributes = []struct {
	key  string
	kind store.NodeKind
}{
	{"db.system.name", store.NodeDatabase},
	{"db.system", store.NodeDatabase},
	{"messaging.system", store.NodeMessaging},
	{"peer.service", store.NodeExternal},
	{"server.address", store.NodeExternal},
	{"net.peer.name", store.NodeExternal},
}

func clientish(k telemetry.SpanKind) bool {
	return k == telemetry.KindClient || k == telemetry.KindProducer
}

func entry(k telemetry.SpanKind) bool {
	return k == telemetry.KindServer || k == telemetry.KindConsumer
}

// storedParent is what a child's lookup found of its parent span in the
// trace's stored records.
type storedParent struct {
	service string
	kind    telemetry.SpanKind
	failed  bool
	// The leaf it names (a client or producer span), and the bucket and
	// duration it was counted at as a call to that leaf.
	leafKind    store.NodeKind
	leafName    string
	day, minute uint32
	duration    time.Duration
	// bucketKnown is false when the span was stored under its arrival day
	// (a start out of range): the minute it was counted at is not known.
	bucketKnown bool
	// remoteChild: a child of it in another service is stored, or was
	// matched in this write. Its leaf call, if any, was taken back.
	remoteChild bool
}

// call is one side of a call as a pending record keeps it: the callee's
// span.
type call struct {
	flags       byte
	service     string
	day, minute uint32
	duration    int64
	trace       telemetry.TraceID
}

func (c *call) encode(e *enc) {
	e.byte1(c.flags)
	e.str(c.service)
	e.uvarint(uint64(c.day))
	e.uvarint(uint64(c.minute))
	e.uvarint(uint64(max(c.duration, 0)))
}

func decodeCall(v []byte, trace telemetry.TraceID) (call, error) {
	d := &dec{s: string(v)}
	c := call{flags: d.byte1(), service: d.str(), trace: trace}
	c.day, c.minute = uint32(d.uvarint()), uint32(d.uvarint())
	c.duration = int64(d.uvarint())
	return c, d.err
}

// rowKey names a row to update: day, minute and edge.
type rowKey struct {
	day, minute    uint32
	caller, callee string
	kind           store.NodeKind
}

// row is a row's content, or a change to it.
type row struct {
	calls, errors int64
	sketch        store.DenseSketch
	traces        []telemetry.TraceID // newest first
}

// note puts trace IDs first among the row's exemplars, in their order:
// the row keeps the first exemplars distinct IDs of ids then its own.
func (r *row) note(ids ...telemetry.TraceID) { noteTraces(&r.traces, ids...) }

// noteTraces puts trace IDs first among exemplars, in their order.
func noteTraces(traces *[]telemetry.TraceID, ids ...telemetry.TraceID) {
	for i := len(ids) - 1; i >= 0; i-- {
		noteTrace(traces, ids[i])
	}
}

// noteTrace puts a trace ID first among exemplars.
func noteTrace(traces *[]telemetry.TraceID, id telemetry.TraceID) {
	ts := *traces
	j := slices.Index(ts, id)
	switch {
	case j == 0:
		return // the same trace again (its spans sit together in a batch)
	case j < 0 && ts == nil:
		ts = make([]telemetry.TraceID, 0, exemplars)
		fallthrough
	case j < 0 && len(ts) < exemplars:
		ts = append(ts, id)
		j = len(ts) - 1
	case j < 0:
		j = len(ts) - 1 // the oldest goes
	}
	copy(ts[1:j+1], ts[:j])
	ts[0] = id
	*traces = ts
}

// edgeDelta is what a write adds to an edge row: a row whose sketch is a
// store.SketchDelta, cheap for the few calls of one batch.
type edgeDelta struct {
	calls, errors int64
	sketch        store.SketchDelta
	traces        []telemetry.TraceID // newest first
}

func (d *edgeDelta) add(o *edgeDelta) {
	d.calls += o.calls
	d.errors += o.errors
	d.sketch.Merge(&o.sketch)
	noteTraces(&d.traces, o.traces...)
}

// encode encodes the delta as a row (row.encode).
func (d *edgeDelta) encode(b []byte) []byte {
	b = binary.AppendVarint(b, d.calls)
	b = binary.AppendVarint(b, d.errors)
	b = d.sketch.AppendBinary(b)
	return appendExemplars(b, d.traces)
}

func containsTrace(ids []telemetry.TraceID, id telemetry.TraceID) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func (r *row) encode(b []byte) []byte {
	b = binary.AppendVarint(b, r.calls)
	b = binary.AppendVarint(b, r.errors)
	b, _ = r.sketch.AppendBinary(b)
	return appendExemplars(b, r.traces)
}

func appendExemplars(b []byte, traces []telemetry.TraceID) []byte {
	b = append(b, byte(len(traces)))
	for _, id := range traces {
		b = append(b, id[:]...)
	}
	return b
}

// mergeEncoded adds an encoded row; its exemplars go after the row's own
// when older is set, before them otherwise. On error it adds nothing.
func (r *row) mergeEncoded(v []byte, older bool) error {
	calls, n1 := binary.Varint(v)
	if n1 <= 0 {
		return errCorrupt
	}
	errs, n2 := binary.Varint(v[n1:])
	if n2 <= 0 {
		return errCorrupt
	}
	sk := v[n1+n2:]
	rest, err := store.SkipSketch(sk)
	if err != nil || len(rest) < 1 || len(rest) != 1+16*int(rest[0]) {
		return errCorrupt
	}
	if _, err := r.sketch.MergeBinary(sk); err != nil {
		return errCorrupt
	}
	r.calls += calls
	r.errors += errs
	// A row keeps at most exemplars IDs (the newest, distinct).
	var buf [exemplars]telemetry.TraceID
	ids := buf[:min(int(rest[0]), exemplars)]
	for i := range ids {
		copy(ids[i][:], rest[1+16*i:])
	}
	if older {
		for _, id := range ids {
			if len(r.traces) < exemplars && !containsTrace(r.traces, id) {
				r.traces = append(r.traces, id)
			}
		}
	} else {
		r.note(ids...)
	}
	return nil
}

// mapWrite is the service-map part of a group's writes of one project.
type mapWrite struct {
	s       *Store
	b       *pdb.Batch
	project string
	hour    uint32
	rows    map[rowKey]*edgeDelta
	// parents holds the parents looked up for children whose parent is
	// not in the write (nil for one not found).
	parents map[spanRef]*storedParent
	// scratch is where stored trace records are decoded.
	scratch []telemetry.Span
	// pendingAdded are the hashes of the pending records it writes.
	pendingAdded []uint64
	e            enc
	key          []byte
	upper        []byte
}

type spanRef struct {
	trace telemetry.TraceID
	span  telemetry.SpanID
}

// mapSpans adds the calls of a group's writes to the service map, in b,
// with one mapWrite per project (so that the two halves of a call in two
// writes of the group match in memory). It returns with the map's lock
// held: the caller commits b, then calls release with whether the commit
// succeeded.
func (s *Store) mapSpans(b *pdb.Batch, writes []*queuedWrite, now time.Time) (release func(committed bool), err error) {
	if s.opts.NoServiceMap {
		return func(bool) {}, nil
	}
	m := &s.smap
	m.mu.Lock()
	defer func() {
		if err != nil {
			m.rows.discard()
			m.mu.Unlock()
		}
	}()
	hour := hourOf(now.UnixNano())
	if err := m.load(s.db, hour); err != nil {
		return nil, err
	}
	expire := hour > 0 && m.expiredBelow < hour-1
	if expire {
		for _, kind := range []byte{kindCaller, kindPending} {
			end := binary.BigEndian.AppendUint32([]byte{kind}, hour-1)
			if err := b.DeleteRange([]byte{kind}, end, nil); err != nil {
				return nil, fmt.Errorf("drop old call records: %w", err)
			}
		}
	}
	var added []uint64
	for i, first := range writes {
		if slices.ContainsFunc(writes[:i], func(o *queuedWrite) bool { return o.project == first.project }) {
			continue // mapped with the first write of its project
		}
		ps := first.ps
		for _, o := range writes[i+1:] {
			if o.project == first.project {
				if len(ps) == len(first.ps) {
					ps = slices.Clip(ps) // append copies
				}
				ps = append(ps, o.ps...)
			}
		}
		w := &mapWrite{s: s, b: b, project: first.project, hour: hour, rows: map[rowKey]*edgeDelta{}, parents: map[spanRef]*storedParent{}, pendingAdded: added}
		if err := w.spans(ps); err != nil {
			return nil, err
		}
		if err := w.writeRows(); err != nil {
			return nil, err
		}
		added = w.pendingAdded
	}
	return func(committed bool) {
		if committed {
			if expire {
				m.expiredBelow = hour - 1
				for h := range m.pending {
					if h < hour-1 {
						delete(m.pending, h)
					}
				}
			}
			m.addPending(hour, added)
		} else {
			m.rows.discard()
		}
		m.mu.Unlock()
	}, nil
}

// load reads the hashes of the pending records of the live hours, once.
func (m *serviceMap) load(db *pdb.DB, hour uint32) error {
	if m.loaded {
		return nil
	}
	m.pending = map[uint32]map[uint64]struct{}{}
	lower := binary.BigEndian.AppendUint32([]byte{kindPending}, max(hour, 1)-1)
	it, err := db.NewIter(&pdb.IterOptions{LowerBound: lower, UpperBound: []byte{kindPending + 1}})
	if err != nil {
		return fmt.Errorf("load pending calls: %w", err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) < 6 || len(k) < 6+int(k[5])+32 {
			continue
		}
		h := binary.BigEndian.Uint32(k[1:5])
		project := string(k[6 : 6+int(k[5])])
		rest := k[6+int(k[5]):]
		var t telemetry.TraceID
		var p telemetry.SpanID
		copy(t[:], rest[:16])
		copy(p[:], rest[16:24])
		m.addPending(h, []uint64{pendingHash(project, &t, &p)})
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("load pending calls: %w", err)
	}
	m.loaded = true
	return nil
}

func (m *serviceMap) addPending(hour uint32, hashes []uint64) {
	if len(hashes) == 0 {
		return
	}
	set, ok := m.pending[hour]
	if !ok {
		set = map[uint64]struct{}{}
		m.pending[hour] = set
	}
	if set == nil {
		return // overflowed: every lookup goes to disk
	}
	for _, h := range hashes {
		set[h] = struct{}{}
	}
	if len(set) > maxPending {
		m.pending[hour] = nil
	}
}

// mayHavePending says whether a pending record of the hour may name
// parent.
func (m *serviceMap) mayHavePending(hour uint32, h uint64) bool {
	set, ok := m.pending[hour]
	if !ok {
		return false
	}
	if set == nil {
		return true
	}
	_, ok = set[h]
	return ok
}

// bucket is where a span's call is counted: its partition day and the
// minute of the instant it is counted at (placed.at).
func (w *mapWrite) bucket(p *placed) (day, minute uint32) {
	return p.day, minuteOf(p.at)
}

func (w *mapWrite) spans(ps []placed) error {
	byID := make(map[spanRef]int, len(ps))
	for i := range ps {
		byID[spanRef{ps[i].span.TraceID, ps[i].span.SpanID}] = i
	}
	remoteChild := make([]bool, len(ps))
	var lookups []int
	for i := range ps {
		c := ps[i].span
		if _, ok := byID[spanRef{c.TraceID, c.ParentSpanID}]; !ok && c.ParentSpanID.IsValid() && entry(c.Kind) {
			lookups = append(lookups, i)
		}
	}
	if err := w.readParents(ps, lookups); err != nil {
		return err
	}
	for i := range ps {
		c := ps[i].span
		if !c.ParentSpanID.IsValid() {
			continue
		}
		if j, ok := byID[spanRef{c.TraceID, c.ParentSpanID}]; ok {
			if p := ps[j].span; p.Service() != c.Service() {
				remoteChild[j] = true
				w.count(p.Service(), store.NodeService, c.Service(), &ps[i], c.IsError() || (clientish(p.Kind) && p.IsError()))
			}
			continue
		}
		if !entry(c.Kind) {
			continue
		}
		if err := w.childOfEarlier(&ps[i]); err != nil {
			return err
		}
	}
	if err := w.parentsOfPending(ps, remoteChild); err != nil {
		return err
	}
	for i := range ps {
		if remoteChild[i] {
			continue
		}
		p := ps[i].span
		if kind, name := leafOf(p); kind != "" {
			day, minute := w.bucket(&ps[i])
			w.countAt(day, minute, p.Service(), kind, name, p.TraceID, p.IsError(), p.Duration(), 1)
		}
	}
	return nil
}

// childOfEarlier matches a server or consumer span with its parent stored
// before, or leaves a pending record for its parent to find.
func (w *mapWrite) childOfEarlier(p *placed) error {
	c := p.span
	if par := w.parents[spanRef{c.TraceID, c.ParentSpanID}]; par != nil {
		if par.service == c.Service() {
			return nil
		}
		w.count(par.service, store.NodeService, c.Service(), p, c.IsError() || (clientish(par.kind) && par.failed))
		if par.leafKind != "" && !par.remoteChild && par.bucketKnown {
			// Counted as a leaf call when it arrived alone: it was a call
			// to this service.
			w.countAt(par.day, par.minute, par.service, par.leafKind, par.leafName, telemetry.TraceID{}, par.failed, par.duration, -1)
		}
		par.remoteChild = true
		return nil
	}
	pc := call{service: c.Service(), duration: int64(c.Duration())}
	if c.IsError() {
		pc.flags |= callError
	}
	pc.day, pc.minute = w.bucket(p)
	w.e.b = w.e.b[:0]
	pc.encode(&w.e)
	w.key = append(callRecordKey(w.key[:0], kindPending, w.hour, w.project, &c.TraceID, &c.ParentSpanID), c.SpanID[:]...)
	if err := w.b.Set(w.key, w.e.b, nil); err != nil {
		return fmt.Errorf("batch pending call: %w", err)
	}
	w.pendingAdded = append(w.pendingAdded, pendingHash(w.project, &c.TraceID, &c.ParentSpanID))
	return nil
}

// parentsOfPending counts the calls of the pending records waiting for the
// spans, deletes them, and marks in found the spans that had one in another
// service.
//
// Lookups go in key order through one iterator, each limited to its
// prefix: ascending seeks step forward through the blocks it holds, and
// the limit stops a scan at its prefix's end rather than stepping over
// the tombstones of the records found before.
func (w *mapWrite) parentsOfPending(ps []placed, found []bool) error {
	m := &w.s.smap
	type lookup struct {
		i    int
		hash uint64
	}
	var ls []lookup
	for i := range ps {
		h := pendingHash(w.project, &ps[i].span.TraceID, &ps[i].span.SpanID)
		if m.mayHavePending(w.hour, h) || (w.hour > 0 && m.mayHavePending(w.hour-1, h)) {
			ls = append(ls, lookup{i, h})
		}
	}
	if len(ls) == 0 {
		return nil
	}
	slices.SortFunc(ls, func(a, b lookup) int {
		return cmpRef(spanRef{ps[a.i].span.TraceID, ps[a.i].span.SpanID}, spanRef{ps[b.i].span.TraceID, ps[b.i].span.SpanID})
	})
	it, err := w.s.db.NewIter(&pdb.IterOptions{LowerBound: []byte{kindPending}, UpperBound: []byte{kindPending + 1}})
	if err != nil {
		return fmt.Errorf("look up pending calls: %w", err)
	}
	defer it.Close()
	for _, hour := range []uint32{w.hour - 1, w.hour} {
		if hour > w.hour {
			continue
		}
		for _, l := range ls {
			if !m.mayHavePending(hour, l.hash) {
				continue
			}
			p := ps[l.i].span
			prefix := callRecordKey(w.key[:0], kindPending, hour, w.project, &p.TraceID, &p.SpanID)
			w.key = prefix
			// A child's span ID follows the prefix: 8 bytes.
			w.upper = append(append(w.upper[:0], prefix...), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
			for pos := it.SeekGEWithLimit(prefix, w.upper); pos == pdb.IterValid && bytes.HasPrefix(it.Key(), prefix); pos = it.NextWithLimit(w.upper) {
				c, err := decodeCall(it.Value(), p.TraceID)
				if err != nil {
					return fmt.Errorf("pending call: %w", err)
				}
				if err := w.b.Delete(it.Key(), nil); err != nil {
					return fmt.Errorf("batch pending call: %w", err)
				}
				if c.service == p.Service() {
					continue
				}
				found[l.i] = true
				isErr := c.flags&callError != 0 || (clientish(p.Kind) && p.IsError())
				w.countAt(c.day, c.minute, p.Service(), store.NodeService, c.service, c.trace, isErr, time.Duration(c.duration), 1)
			}
			if err := it.Error(); err != nil {
				return fmt.Errorf("look up pending calls: %w", err)
			}
		}
	}
	return nil
}

func cmpRef(a, b spanRef) int {
	if c := bytes.Compare(a.trace[:], b.trace[:]); c != 0 {
		return c
	}
	return bytes.Compare(a.span[:], b.span[:])
}

// readParents looks up the parents of the children ps[i] for i in
// children in their traces' stored records, into w.parents (nil for one not
// found), noting of each whether a child of it in another service is
// stored. Each trace is read once per partition, with a prefix seek.
func (w *mapWrite) readParents(ps []placed, children []int) error {
	if len(children) == 0 {
		return nil
	}
	type probe struct {
		trace telemetry.TraceID
		day   uint32
	}
	probes := make([]probe, 0, len(children))
	for _, i := range children {
		c := &ps[i]
		w.parents[spanRef{c.span.TraceID, c.span.ParentSpanID}] = nil
		for d := dayOf(c.at - int64(parentLookback)); d <= c.day; d++ {
			probes = append(probes, probe{c.span.TraceID, d})
		}
	}
	slices.SortFunc(probes, func(a, b probe) int {
		if c := bytes.Compare(a.trace[:], b.trace[:]); c != 0 {
			return c
		}
		return int(int64(a.day) - int64(b.day))
	})
	probes = slices.Compact(probes)
	// The last level's filters too (read.go says why): a child whose parent
	// has not arrived finds no record in any level.
	it, err := w.s.db.NewIter(&pdb.IterOptions{LowerBound: []byte{kindTrace}, UpperBound: []byte{kindTrace + 1}, UseL6Filters: true})
	if err != nil {
		return fmt.Errorf("look up parents: %w", err)
	}
	defer it.Close()
	type storedChild struct {
		parent  spanRef
		service string
	}
	var storedChildren []storedChild
	budget := maxParentBytes
	blocks := newColBlocks() // a write's parents often came in one write
	defer blocks.close()
	for _, pr := range probes {
		prefix := traceKeyPrefix(w.key[:0], pr.day, w.project, pr.trace[:])
		w.key = prefix
		records := 0
		for ok := it.SeekPrefixGE(prefix); ok && bytes.HasPrefix(it.Key(), prefix) && records < maxParentRecords && budget > 0; ok = it.Next() {
			v, err := it.ValueAndErr()
			if err != nil {
				return fmt.Errorf("look up parents: %w", err)
			}
			records++
			var read int
			w.scratch, read, err = w.s.appendRecord(w.scratch[:0], it.Key(), v, pr.trace, blocks)
			budget -= len(v) + read
			if err != nil {
				return fmt.Errorf("look up parents: trace %s: %w", pr.trace, err)
			}
			for k := range w.scratch {
				sp := &w.scratch[k]
				if par, wanted := w.parents[spanRef{sp.TraceID, sp.SpanID}]; wanted && par == nil {
					w.parents[spanRef{sp.TraceID, sp.SpanID}] = newStoredParent(sp, pr.day)
				}
				if _, wanted := w.parents[spanRef{sp.TraceID, sp.ParentSpanID}]; wanted && sp.ParentSpanID.IsValid() {
					storedChildren = append(storedChildren, storedChild{spanRef{sp.TraceID, sp.ParentSpanID}, sp.Service()})
				}
			}
		}
		if err := it.Error(); err != nil {
			return fmt.Errorf("look up parents: %w", err)
		}
	}
	for _, c := range storedChildren {
		if par := w.parents[c.parent]; par != nil && par.service != c.service {
			par.remoteChild = true
		}
	}
	return nil
}

// newStoredParent keeps what the map needs of a stored span of partition d.
func newStoredParent(sp *telemetry.Span, d uint32) *storedParent {
	par := &storedParent{service: sp.Service(), kind: sp.Kind, failed: sp.IsError(), day: d, duration: sp.Duration()}
	par.leafKind, par.leafName = leafOf(sp)
	if at := sp.StartUnixNano; at >= 0 && dayOf(at) == d {
		par.minute, par.bucketKnown = minuteOf(at), true
	}
	return par
}

// count adds a call of the callee span p.
func (w *mapWrite) count(caller string, kind store.NodeKind, callee string, p *placed, isErr bool) {
	d, m := w.bucket(p)
	w.countAt(d, m, caller, kind, callee, p.span.TraceID, isErr, p.span.Duration(), 1)
}

// countAt adds n calls (n is 1, or -1 to take one back).
func (w *mapWrite) countAt(day, minute uint32, caller string, kind store.NodeKind, callee string, trace telemetry.TraceID, isErr bool, d time.Duration, n int64) {
	k := rowKey{day: day, minute: minute, caller: caller, callee: callee, kind: kind}
	r := w.rows[k]
	if r == nil {
		r = &edgeDelta{}
		w.rows[k] = r
	}
	r.calls += n
	if isErr {
		r.errors += n
	}
	r.sketch.AddN(d, n)
	if trace.IsValid() && n > 0 {
		noteTrace(&r.traces, trace)
	}
}

// writeRows adds this write's changes to the minute and hour rows, as one
// merge operand per row (merge.go): no row is read.
func (w *mapWrite) writeRows() error {
	// An hour's row is its minutes' sum; most batches hold one minute of
	// an hour, whose row it shares until a second minute comes.
	hours := map[rowKey]*edgeDelta{}
	shared := map[rowKey]bool{}
	for k, r := range w.rows {
		hk := k
		hk.minute -= k.minute % 60
		h := hours[hk]
		switch {
		case h == nil:
			hours[hk], shared[hk] = r, true
			continue
		case shared[hk]:
			h = &edgeDelta{}
			h.add(hours[hk])
			hours[hk], shared[hk] = h, false
		}
		h.add(r)
	}
	for _, set := range []struct {
		gran byte
		rows map[rowKey]*edgeDelta
	}{{granMinute, w.rows}, {granHour, hours}} {
		for k, r := range set.rows {
			w.key = edgeKeyPrefix(w.key[:0], k.day, w.project, set.gran)
			w.key = binary.BigEndian.AppendUint32(w.key, k.minute)
			w.key = appendEdgeID(w.key, k.caller, k.kind, k.callee)
			if err := w.writeRow(r); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeRow adds r to the row of key w.key (merge.go); the map's lock, held
// to the commit, keeps another write from changing the row in between.
func (w *mapWrite) writeRow(r *edgeDelta) (err error) {
	w.e.b, err = w.s.smap.rows.add(w.s.db, w.b, w.key, r, w.e.b)
	if err != nil {
		return fmt.Errorf("service map row: %w", err)
	}
	return nil
}
