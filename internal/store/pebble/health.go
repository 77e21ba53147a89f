package pebble

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	pdb "github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/tracekit-oss/tracekit/internal/store"
)

// DefaultMinFreeBytes is the free space below which the store refuses
// writes when Options.MinFreeBytes is zero: room for the memtables Pebble
// may hold unflushed when writes stop (up to MemTableStopWritesThreshold, 4,
// of up to 32 MiB each), whose flush writes as much again in sstables, and
// for the MANIFEST edits that record it. Space Pebble takes up front, such as
// the 35 MiB it preallocates for each new write-ahead log (db.go:2497), is
// measured as soon as it is taken. Compactions may need
// more, but Pebble survives a compaction that runs out of space (it deletes
// the output and tries again later); it does not survive a write-ahead log
// or MANIFEST write that does (see spaceFS).
const DefaultMinFreeBytes = 4 * memTableSize

const (
	memTableSize = 32 << 20
	// diskCheckInterval is how often free space is measured; it is also
	// measured whenever Pebble has taken checkEvery more bytes.
	diskCheckInterval = time.Second
	// closeTimeout bounds Close: Pebble's Close can block forever once a
	// commit has panicked holding its commit mutex.
	closeTimeout = 10 * time.Second
)

// checkSpaceToOpen fails when dir's filesystem has less than need bytes
// free. Opening writes: Pebble flushes the write-ahead log it replays, and
// when that flush finds no space Open retries it forever (open.go:534).
func checkSpaceToOpen(dir string, need int64) error {
	for d := dir; ; d = filepath.Dir(d) {
		u, err := vfs.Default.GetDiskUsage(d)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && d != filepath.Dir(d) {
				continue // not created yet: measure where it will be
			}
			return fmt.Errorf("measure free disk space: %w", err)
		}
		if avail := int64(min(u.AvailBytes, math.MaxInt64)); avail < need {
			return fmt.Errorf("%w: disk full: %s free on %s, need %s to open; free space there or lower the store's minimum free space",
				store.ErrUnavailable, bytesText(avail), d, bytesText(need))
		}
		return nil
	}
}

// Health returns nil while the store takes writes, or the reason it refuses
// them, wrapping store.ErrUnavailable: the disk is nearly full (the store
// takes writes again by itself once space is freed), the engine failed (it
// also wraps store.ErrFailed: only a restart helps), or the store is closed.
// It reads one atomic value and makes no system call.
func (s *Store) Health() error { return s.guard.admit() }

// commit applies b unless the store refuses writes. It also reports a commit
// Pebble could not make durable: Pebble's Apply calls Logger.Fatalf on a
// failed commit and then returns nil (db.go:885), and panics when its WAL
// writer failed (db.go:997) or the DB is closed (db.go:836).
func (s *Store) commit(b *pdb.Batch, wo *pdb.WriteOptions) error {
	s.writers.RLock()
	defer s.writers.RUnlock()
	if err := s.guard.admit(); err != nil {
		return err
	}
	return s.apply(b, wo)
}

// commitDeletion is commit for a batch that only deletes. It is let through
// while space is short, because deleting is how space comes back (the
// tombstones are a few bytes; compactions then drop whole files).
func (s *Store) commitDeletion(b *pdb.Batch, wo *pdb.WriteOptions) error {
	s.writers.RLock()
	defer s.writers.RUnlock()
	if err := s.guard.admitDeletion(); err != nil {
		return err
	}
	return s.apply(b, wo)
}

func (s *Store) apply(b *pdb.Batch, wo *pdb.WriteOptions) (err error) {
	defer func() {
		if r := recover(); r != nil {
			// The panic may have left Pebble's commit mutex locked, so no
			// later write may reach Pebble.
			s.guard.fail(fmt.Sprintf("commit panicked: %v", r))
			err = s.guard.admit()
		}
	}()
	if err := b.Commit(wo); err != nil {
		return err
	}
	if st := s.guard.state.Load(); st != nil && st.kind >= stateFailed {
		return st.err
	}
	if s.syncer != nil && !wo.Sync {
		s.syncer.wrote()
	}
	return nil
}

// set, delete and deleteRange are the guarded forms of the pdb.DB methods
// of the same names.
func (s *Store) set(key, value []byte, wo *pdb.WriteOptions) error {
	b := s.db.NewBatch()
	defer b.Close()
	if err := b.Set(key, value, nil); err != nil {
		return err
	}
	return s.commit(b, wo)
}

func (s *Store) delete(key []byte, wo *pdb.WriteOptions) error {
	b := s.db.NewBatch()
	defer b.Close()
	if err := b.Delete(key, nil); err != nil {
		return err
	}
	return s.commitDeletion(b, wo)
}

func (s *Store) deleteRange(start, end []byte, wo *pdb.WriteOptions) error {
	b := s.db.NewBatch()
	defer b.Close()
	if err := b.DeleteRange(start, end, nil); err != nil {
		return err
	}
	return s.commitDeletion(b, wo)
}

// closeWithin closes db, giving up after d.
func closeWithin(db *pdb.DB, d time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- db.Close() }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		return fmt.Errorf("pebble did not finish closing within %s (a write failed earlier, see the log); "+
			"exit anyway: the next start replays the write-ahead log", d)
	}
}

type stateKind uint8

// The reasons for refusing writes, from the least to the most lasting.
const (
	stateFull   stateKind = iota + 1 // until free space is back above resume
	stateFailed                      // until the store is reopened
	stateClosed
)

type guardState struct {
	kind stateKind
	err  error
}

// diskGuard decides whether the store takes writes. It measures the free
// space of the data directory's filesystem every diskCheckInterval, from a
// goroutine, and whenever Pebble has written or preallocated checkEvery
// bytes, from Pebble's writing goroutine; writes read the outcome from one
// atomic value. Below min free bytes writes are refused, and taken again at
// resume (min plus a quarter), so that a store hovering at the threshold
// does not flap. Pebble's fatal errors and out-of-space errors refuse writes
// too (see pebbleLogger and spaceFS).
type diskGuard struct {
	dir        string
	min        int64
	resume     int64
	checkEvery int64
	log        *slog.Logger
	usage      func(dir string) (vfs.DiskUsage, error)
	limit      logLimiter

	state      atomic.Pointer[guardState] // nil while writes are taken
	sinceCheck atomic.Int64               // bytes Pebble took since the last measurement
	stalled    atomic.Int32               // WAL or MANIFEST writes waiting for space
	running    atomic.Bool                // Open has finished: hold WAL writes instead of failing them

	mu      sync.Mutex // orders state changes
	fullAt  time.Time
	closing chan struct{}
	done    chan struct{}
}

func newDiskGuard(dir string, minFree int64, log *slog.Logger) *diskGuard {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &diskGuard{
		dir:        dir,
		min:        minFree,
		resume:     minFree + minFree/4,
		checkEvery: max(min(minFree/8, 4<<20), 64<<10),
		log:        log,
		usage:      vfs.Default.GetDiskUsage,
		closing:    make(chan struct{}),
		done:       make(chan struct{}),
	}
}

// configure makes Pebble write through g's filesystem and report to g's
// logger and event listener.
func (g *diskGuard) configure(po *pdb.Options) {
	po.FS = &spaceFS{FS: vfs.Default, g: g}
	po.Logger = pebbleLogger{g: g}
	po.EventListener = g.eventListener()
}

// start measures free space once, then every diskCheckInterval until stop.
func (g *diskGuard) start() {
	g.refresh()
	g.running.Store(true)
	go g.run()
}

func (g *diskGuard) run() {
	defer close(g.done)
	t := time.NewTicker(diskCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-g.closing:
			return
		case <-t.C:
			g.refresh()
		}
	}
}

// stop refuses every later write, releases writes held for space and ends
// the background check. It reports false if the guard was already stopped.
func (g *diskGuard) stop() bool {
	g.mu.Lock()
	if st := g.state.Load(); st != nil && st.kind == stateClosed {
		g.mu.Unlock()
		return false
	}
	g.state.Store(&guardState{kind: stateClosed, err: fmt.Errorf("%w: store is closed", store.ErrUnavailable)})
	g.mu.Unlock()
	close(g.closing)
	if g.running.Load() {
		<-g.done
	}
	return true
}

func (g *diskGuard) refresh() {
	g.sinceCheck.Store(0)
	u, err := g.usage(g.dir)
	if err != nil {
		g.logLimited(slog.LevelError, "measure free disk space: %v", err)
		return
	}
	avail := int64(min(u.AvailBytes, math.MaxInt64))
	switch {
	case avail < g.min && g.state.Load() == nil:
		g.full(g.shortOf(avail))
	case avail < g.min:
		g.updateFull(g.shortOf(avail))
	case avail >= g.resume && g.stalled.Load() == 0:
		g.resumeWrites(avail)
	}
}

// admit returns why writes are refused, or nil.
func (g *diskGuard) admit() error {
	if st := g.state.Load(); st != nil {
		return st.err
	}
	return nil
}

// admitDeletion is admit for deletions, which are taken while space is short.
func (g *diskGuard) admitDeletion() error {
	if st := g.state.Load(); st != nil && st.kind != stateFull {
		return st.err
	}
	return nil
}

// took notes that Pebble took n more bytes on disk, and measures free space
// again once that adds up to checkEvery: a fast writer, or a new WAL's
// preallocation, is stopped before the next tick. That is one statfs per
// checkEvery bytes, in Pebble's writing goroutines, none in WriteSpans.
func (g *diskGuard) took(n int64) {
	if g.sinceCheck.Add(n) >= g.checkEvery && g.sinceCheck.Swap(0) >= g.checkEvery {
		g.refresh()
	}
}

func (g *diskGuard) shortOf(avail int64) string {
	return fmt.Sprintf("disk full: %s free on %s, need %s", bytesText(avail), g.dir, bytesText(g.min))
}

// noSpace refuses writes after a write failed for lack of space.
func (g *diskGuard) noSpace(what string, err error) {
	if g.state.Load() == nil {
		g.full(fmt.Sprintf("disk full: %s: %v", what, err))
	}
}

func (g *diskGuard) full(reason string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.state.Load() != nil {
		return
	}
	g.state.Store(&guardState{kind: stateFull, err: fmt.Errorf("%w: %s", store.ErrUnavailable, reason)})
	g.fullAt = time.Now()
	g.log.Error("store refuses writes until disk space is freed", "reason", reason,
		"resumes_at_free", bytesText(g.resume))
}

// updateFull replaces the reason writes are refused for lack of space with
// a fresher one.
func (g *diskGuard) updateFull(reason string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if st := g.state.Load(); st != nil && st.kind == stateFull {
		g.state.Store(&guardState{kind: stateFull, err: fmt.Errorf("%w: %s", store.ErrUnavailable, reason)})
	}
}

func (g *diskGuard) resumeWrites(avail int64) {
	if st := g.state.Load(); st == nil || st.kind != stateFull {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if st := g.state.Load(); st == nil || st.kind != stateFull {
		return
	}
	g.state.Store(nil)
	g.log.Info("disk space is back, store takes writes again", "free", bytesText(avail),
		"refused_for", time.Since(g.fullAt).Round(time.Millisecond))
}

// fail refuses writes until the store is reopened.
func (g *diskGuard) fail(reason string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if st := g.state.Load(); st != nil && st.kind >= stateFailed {
		return
	}
	g.state.Store(&guardState{kind: stateFailed,
		err: fmt.Errorf("%w: %w: %s", store.ErrUnavailable, store.ErrFailed, reason)})
}

func bytesText(n int64) string {
	switch {
	case n >= 10<<20:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%d.%d MiB", n>>20, n%(1<<20)*10>>20) // rounded down: never shows "need 8.0, have 8.0"
	case n >= 1<<10:
		return fmt.Sprintf("%d KiB", n>>10)
	default:
		return fmt.Sprintf("%d B", max(n, 0))
	}
}
