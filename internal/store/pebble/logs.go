package pebble

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// A clean stop leaves no write-ahead log behind it. While it runs, Pebble
// keeps the logs of flushed memtables for reuse (up to
// MemTableStopWritesThreshold+1 of them, 32 MiB each): rewriting a file of
// the right size spares every fsync a metadata update. Left on disk after a
// stop, they were 188 of the 261 MB of a store that held half a minute of
// heavy ingest,
// and the next start only deletes them. So Close waits for the commits in
// progress (later ones are refused), flushes the memtables, closes the
// database, then deletes every log: all their records are in tables. The
// live log is one of the reused files, full of stale records; the next
// start makes a new one.

// closeFlushTimeout bounds the wait for commits and the flush of a closing
// store. A flush that does not finish leaves the logs in place, and the
// next start replays them.
const closeFlushTimeout = 30 * time.Second

// logNums returns the numbers of the write-ahead logs in dir.
func logNums(dir string) ([]uint64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list write-ahead logs: %w", err)
	}
	var nums []uint64
	for _, e := range entries {
		num, ok := strings.CutSuffix(e.Name(), ".log")
		if !ok || e.IsDir() {
			continue
		}
		if n, err := strconv.ParseUint(num, 10, 64); err == nil {
			nums = append(nums, n)
		}
	}
	return nums, nil
}

// flushForClose waits for the commits in progress of a store that refuses
// new ones, then flushes its memtables. It reports whether the logs then
// hold nothing the tables lack: false when the wait or the flush failed or
// took longer than closeFlushTimeout.
func (s *Store) flushForClose() bool {
	t := time.NewTimer(closeFlushTimeout)
	defer t.Stop()
	release := make(chan struct{})
	defer close(release)
	drained := make(chan struct{})
	go func() {
		s.writers.Lock()
		close(drained)
		<-release
		s.writers.Unlock()
	}()
	select {
	case <-drained:
	case <-t.C:
		return false
	}
	done := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil { // the database closed first
				done <- fmt.Errorf("flush: %v", r)
			}
		}()
		done <- s.db.Flush()
	}()
	select {
	case err := <-done:
		return err == nil
	case <-t.C:
		return false
	}
}

// removeLogs deletes the write-ahead logs of a closed store.
func removeLogs(dir string) error {
	nums, err := logNums(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range nums {
		err := os.Remove(filepath.Join(dir, fmt.Sprintf("%06d.log", n)))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove flushed write-ahead logs: %w", err)
	}
	return nil
}
