package pebble

import (
	"sync/atomic"
	"time"

	pdb "github.com/cockroachdb/pebble/v2"
)

// DefaultSyncInterval is how often the write-ahead log is flushed and
// synced when writes do not sync themselves (Options.Sync false).
const DefaultSyncInterval = 200 * time.Millisecond

// walSyncer bounds what a store without per-write sync can lose. Pebble
// then keeps acknowledged records in a 32 KiB block in memory until it
// fills (Options.Sync explains), so a kill -9 on a quiet server would lose
// every write since the last full block, however old. The syncer writes an
// empty synced record every interval after a write, which flushes and
// fsyncs the log: a crash or power loss then loses at most the writes of
// the last interval.
type walSyncer struct {
	db       *pdb.DB
	guard    *diskGuard
	interval time.Duration
	dirty    atomic.Bool
	stop     chan struct{}
	done     chan struct{}
}

func newWALSyncer(db *pdb.DB, guard *diskGuard, interval time.Duration) *walSyncer {
	w := &walSyncer{db: db, guard: guard, interval: interval, stop: make(chan struct{}), done: make(chan struct{})}
	go w.run()
	return w
}

// wrote notes that an unsynced write was acknowledged.
func (w *walSyncer) wrote() { w.dirty.Store(true) }

func (w *walSyncer) run() {
	defer close(w.done)
	t := time.NewTicker(w.interval)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
			if !w.dirty.Swap(false) {
				continue
			}
			if w.guard.admit() != nil {
				w.dirty.Store(true) // a full disk: try again once it is not
				continue
			}
			_ = w.db.LogData(nil, pdb.Sync) // an error is the guard's to report
		}
	}
}

// close stops the syncer; Close of the database then syncs what is left.
func (w *walSyncer) close() {
	close(w.stop)
	<-w.done
}
