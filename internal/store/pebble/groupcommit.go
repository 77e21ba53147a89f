package pebble

import (
	"errors"
	"fmt"
	"sync"

	pdb "github.com/cockroachdb/pebble/v2"
)

// Group commit. A WriteSpans call encodes its own trace records and index
// blocks, and sums its own RED series rows, in a batch of its own, in
// parallel with other calls and under no lock. It then joins the commit
// queue. One of the waiting calls, the leader, takes every write waiting
// (up to maxGroupWrites and maxGroupBytes), and alone, as one group:
//   - drops each write whose batch is already stored (a retry whose twin
//     committed in an earlier group) or is earlier in the group (twins
//     sent at once): those store nothing and succeed with their twin;
//   - gathers the others' batches into one;
//   - runs the aggregations (service map, RED series) over all of them at
//     once, in that batch;
//   - commits it: one write-ahead log record, one fsync;
//   - wakes each write with its result: a failed commit or aggregation
//     fails every write of the group, as nothing of it is stored.
//
// It then hands the lead to the first write that arrived meanwhile, and
// returns. Since only the leader runs aggregations and commits, and groups
// commit one after another, each group sees every row and record the
// previous ones wrote: the aggregations count each span once, and a retried
// batch is found by its fingerprint whatever its twin's group.
//
// A write refused for its own reason (names over their limits, a duplicate
// batch) is decided before it joins or by its own lookup, and does not fail
// the others. A write in the queue waits for its group's commit whatever
// its context says: once the leader may have taken it, it cannot be
// withdrawn.

// Bounds of one group. A group's batch is held in memory until it commits,
// and Pebble handles a batch over half a memtable as a flushable batch of
// its own.
const (
	maxGroupWrites = 64
	maxGroupBytes  = 8 << 20
)

// queuedWrite is one WriteSpans call in the commit queue.
type queuedWrite struct {
	s       *Store
	project string
	spans   int // in the call, refused ones included
	// adm holds the names the write reserved.
	adm *admission
	// ps are the spans admitted, with their partitions; lo and hi bound
	// their days.
	ps     []placed
	lo, hi uint32
	// arrived is when it came (Unix nanoseconds), and blocks are its
	// column blocks: what the RED series log names (serieslog.go).
	arrived int64
	blocks  []colBlockID
	// done is the batch's fingerprint key.
	done []byte
	// b holds the write's own records: the fingerprint, new names, trace
	// records and index blocks.
	b *pdb.Batch
	// series are its RED series rows, summed (nil when they are off).
	series map[seriesKey]*seriesDelta

	// wake carries true when the write is to lead a group, false when its
	// group has committed or failed and the fields below are set.
	wake chan bool
	// err is the write's result.
	err error
	// committed is set when its own batch was stored (not when a twin's
	// was).
	committed bool
}

// finish ends a write once its group is done (or it never joined one): it
// drops its batch, settles its names and returns its result.
func (w *queuedWrite) finish() error {
	w.b.Close()
	w.s.names.settle(w.adm, w.committed) // gives the names back unless stored
	switch {
	case w.err != nil:
		return fmt.Errorf("write %d spans: %w", w.spans, w.err)
	case !w.committed && len(w.ps) > 0:
		return nil // a twin stored the batch
	}
	return w.adm.err()
}

// commitQueue orders WriteSpans calls into groups.
type commitQueue struct {
	mu      sync.Mutex
	waiting []*queuedWrite
	leading bool // a leader is running a group
}

// commit waits for w's group to commit, leading it when no other write
// does; w's result is then set.
func (q *commitQueue) commit(s *Store, w *queuedWrite) {
	q.mu.Lock()
	q.waiting = append(q.waiting, w)
	if q.leading {
		q.mu.Unlock()
		if lead := <-w.wake; !lead {
			return
		}
		q.mu.Lock() // w is first in q.waiting
	}
	q.leading = true
	n, size := 0, 0
	for n < len(q.waiting) && n < maxGroupWrites {
		l := q.waiting[n].b.Len()
		if n > 0 && size+l > maxGroupBytes {
			break
		}
		size += l
		n++
	}
	group := make([]*queuedWrite, n)
	copy(group, q.waiting)
	rest := copy(q.waiting, q.waiting[n:])
	clear(q.waiting[rest:])
	q.waiting = q.waiting[:rest]
	q.mu.Unlock()

	s.commitGroup(group)

	q.mu.Lock()
	if len(q.waiting) > 0 {
		q.waiting[0].wake <- true
	} else {
		q.leading = false
	}
	q.mu.Unlock()
	for _, m := range group {
		if m != w {
			m.wake <- false
		}
	}
}

// commitGroup stores a group of writes in one batch and one commit, and
// sets each one's result.
func (s *Store) commitGroup(group []*queuedWrite) {
	defer func() {
		if r := recover(); r != nil {
			// A bug, which may have left an aggregation's lock held: the
			// store refuses writes from now on, rather than hang them.
			s.guard.fail(fmt.Sprintf("group commit panicked: %v", r))
			err := s.guard.admit()
			for _, w := range group {
				w.err, w.committed = err, false
			}
		}
	}()
	if err := s.guard.admit(); err != nil {
		for _, w := range group {
			w.err = err
		}
		return
	}
	kept := make([]*queuedWrite, 0, len(group))
	var twins map[string]*queuedWrite // done key of a kept write → it
	var copies [][2]*queuedWrite      // a write and the kept twin whose result it shares
	for _, w := range group {
		if t, ok := twins[string(w.done)]; ok {
			copies = append(copies, [2]*queuedWrite{w, t})
			continue
		}
		// Under the lead no other write commits: a twin that committed
		// before is found here.
		switch _, closer, err := s.db.Get(w.done); {
		case err == nil:
			closer.Close()
			continue // stored once already: w succeeds, storing nothing
		case !errors.Is(err, pdb.ErrNotFound):
			w.err = fmt.Errorf("look the batch up: %w", err)
			continue
		}
		if twins == nil {
			twins = make(map[string]*queuedWrite, len(group))
		}
		twins[string(w.done)] = w
		kept = append(kept, w)
	}
	if len(kept) > 0 {
		err := s.commitKept(kept)
		for _, w := range kept {
			w.err, w.committed = err, err == nil
		}
	}
	for _, c := range copies {
		c[0].err = c[1].err
	}
}

// commitKept commits the writes' batches and aggregations as one batch.
func (s *Store) commitKept(kept []*queuedWrite) error {
	b := kept[0].b // its owner closes it once woken
	for _, w := range kept[1:] {
		if err := b.Apply(w.b, nil); err != nil {
			return fmt.Errorf("gather a group's batches: %w", err)
		}
	}
	now := s.opts.Now()
	seriesDone, err := s.addSeries(b, kept)
	if err != nil {
		return fmt.Errorf("RED series: %w", err)
	}
	committed := false
	defer func() { seriesDone(committed) }()
	release, err := s.mapSpans(b, kept, now)
	if err != nil {
		return fmt.Errorf("service map: %w", err)
	}
	err = s.commit(b, s.wo)
	committed = err == nil
	release(committed)
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	lo, hi := kept[0].lo, kept[0].hi
	for _, w := range kept[1:] {
		lo, hi = min(lo, w.lo), max(hi, w.hi)
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
