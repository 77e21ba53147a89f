package pebble

import (
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// spaceFS is the filesystem Pebble writes through. It keeps a disk that
// fills up anyway (another process ate the space the guard keeps free) from
// killing the engine. (Line numbers below are Pebble v2.1.7's.)
//
// Pebble cannot survive a failed write to its write-ahead log: the error is
// sticky in the log writer (record/log_writer.go flushLoop), and the next
// commit panics holding the commit pipeline's mutex (db.go:997, taken at
// commit.go:455 and released without defer at 470), after which every write
// and DB.Close block forever. A failed MANIFEST write goes to Logger.Fatalf
// (version_set.go:671). A failed flush or compaction, on the other hand, is
// cleaned up and retried by Pebble (compaction.go:1484 and 2624). So a write
// to any file but an sstable or blob file that finds no space left is held
// here and tried again until it succeeds or the store closes; an sstable or
// blob write fails after a pause, which keeps Pebble's immediate flush retry
// from spinning. Either way the guard refuses new writes meanwhile. Sync
// errors are never retried: after a failed fsync the dirty pages may be gone
// (the "fsyncgate" problem).
//
// Holding starts once Open has finished: a store that cannot even be opened
// reports it instead of waiting.
type spaceFS struct {
	vfs.FS
	g *diskGuard
}

// spaceRetryInterval is how often a held write is tried again.
const spaceRetryInterval = 100 * time.Millisecond

func (fs *spaceFS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, category)
	if err != nil && isNoSpace(err) {
		h := fs.g.hold(name, err)
		for err != nil && isNoSpace(err) && h.again() {
			f, err = fs.FS.Create(name, category)
		}
		h.end(err)
	}
	return fs.wrap(name, f, err, false)
}

func (fs *spaceFS) OpenReadWrite(name string, category vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := fs.FS.OpenReadWrite(name, category, opts...)
	return fs.wrap(name, f, err, true)
}

func (fs *spaceFS) ReuseForWrite(oldname, newname string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname, category)
	return fs.wrap(newname, f, err, true)
}

// Unwrap returns the filesystem underneath.
func (fs *spaceFS) Unwrap() vfs.FS { return fs.FS }

func (fs *spaceFS) wrap(name string, f vfs.File, err error, existing bool) (vfs.File, error) {
	if err != nil {
		return nil, err
	}
	sf := &spaceFile{File: f, name: fs.PathBase(name), g: fs.g}
	if existing {
		// Its blocks are already taken, often more than its size shows (a
		// recycled WAL keeps its preallocation): count only writes past its
		// end.
		sf.keepsBlocks = true
		if fi, err := f.Stat(); err == nil {
			sf.end = fi.Size()
		}
	}
	return sf, nil
}

// spaceFile is a file Pebble writes through spaceFS. It also tells the guard
// how much space each write and preallocation takes, so that the guard
// measures again after the 35 MiB Pebble preallocates for each new WAL
// rather than at its next tick. Pebble writes a file from one goroutine at a
// time.
type spaceFile struct {
	vfs.File
	name        string
	g           *diskGuard
	pos         int64 // where the next Write goes
	end         int64 // bytes of the file whose blocks are counted
	keepsBlocks bool  // opened existing: preallocating takes nothing new
}

func (f *spaceFile) Preallocate(off, length int64) error {
	err := f.File.Preallocate(off, length)
	if err == nil && !f.keepsBlocks {
		f.taken(off + length)
	}
	return err
}

func (f *spaceFile) taken(end int64) {
	if end > f.end {
		f.g.took(end - f.end)
		f.end = end
	}
}

func (f *spaceFile) Write(p []byte) (int, error) {
	n, err := f.File.Write(p)
	if err != nil && isNoSpace(err) {
		h := f.g.hold(f.name, err)
		for err != nil && isNoSpace(err) && h.again() {
			var m int
			m, err = f.File.Write(p[n:])
			n += m
		}
		h.end(err)
	}
	f.pos += int64(n)
	f.taken(f.pos)
	return n, err
}

func (f *spaceFile) WriteAt(p []byte, off int64) (int, error) {
	n, err := f.File.WriteAt(p, off)
	if err != nil && isNoSpace(err) {
		h := f.g.hold(f.name, err)
		for err != nil && isNoSpace(err) && h.again() {
			var m int
			m, err = f.File.WriteAt(p[n:], off+int64(n))
			n += m
		}
		h.end(err)
	}
	f.taken(off + int64(n))
	return n, err
}

// hold is one write that ran out of space.
type hold struct {
	g        *diskGuard
	name     string
	critical bool // Pebble cannot survive its failure: wait for space
	waited   bool
	start    time.Time
}

func (g *diskGuard) hold(name string, err error) hold {
	g.noSpace("write "+name, err)
	return hold{g: g, name: name, start: time.Now(),
		critical: !strings.HasSuffix(name, ".sst") && !strings.HasSuffix(name, ".blob")}
}

// again waits before the write is tried again and reports whether to try.
func (h *hold) again() bool {
	if !h.critical {
		if !h.waited {
			h.waited = true
			h.g.sleep(time.Second)
		}
		return false
	}
	if !h.g.running.Load() {
		return false
	}
	if !h.waited {
		h.waited = true
		h.g.stalled.Add(1)
		h.g.log.Warn("pebble: out of disk space writing "+h.name+"; holding the write until space is freed",
			"dir", h.g.dir)
	}
	return h.g.sleep(spaceRetryInterval)
}

func (h *hold) end(err error) {
	if !h.critical || !h.waited {
		return
	}
	h.g.stalled.Add(-1)
	if err != nil {
		h.g.log.Error("pebble: gave up a write held for disk space", "file", h.name, "err", err)
		return
	}
	h.g.log.Info("pebble: write held for disk space went through", "file", h.name,
		"held_for", time.Since(h.start).Round(time.Millisecond))
}

// sleep waits d, or less if the store closes; it reports false then.
func (g *diskGuard) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-g.closing:
		return false
	case <-t.C:
		return true
	}
}
