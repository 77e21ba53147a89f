package pebble

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
	"github.com/tracekit-oss/tracekit/internal/testsupport"
)

// testGuard returns a guard refusing writes below 100 bytes free, whose free
// space is whatever the test stores in the returned value.
func testGuard(t *testing.T, log *slog.Logger) (*diskGuard, *atomic.Int64) {
	t.Helper()
	var avail atomic.Int64
	avail.Store(1000)
	g := newDiskGuard("/data", 100, log)
	g.usage = func(string) (vfs.DiskUsage, error) {
		return vfs.DiskUsage{AvailBytes: uint64(avail.Load()), TotalBytes: 1 << 20}, nil
	}
	return g, &avail
}

func TestGuardHysteresis(t *testing.T) {
	g, avail := testGuard(t, nil)
	f := func(free int64, wantWritable bool) {
		t.Helper()
		avail.Store(free)
		g.refresh()
		if err := g.admit(); (err == nil) != wantWritable {
			t.Fatalf("after measuring %d bytes free: admit() = %v, want writable %v", free, err, wantWritable)
		}
	}
	f(1000, true)
	f(100, true)
	f(99, false)
	f(124, false) // resumes at min + a quarter
	f(125, true)
	f(110, true)
	f(0, false)
	f(1000, true)

	// Pebble taking space makes the guard measure before its next tick.
	avail.Store(99)
	g.took(g.checkEvery - 1)
	if err := g.admit(); err != nil {
		t.Fatalf("measured before Pebble took checkEvery bytes: %v", err)
	}
	g.took(1)
	err := g.admit()
	if !errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrFailed) {
		t.Fatalf("after Pebble took checkEvery bytes: got %v, want ErrUnavailable and not ErrFailed", err)
	}
	if want := "disk full: 99 B free on /data, need 100 B"; !strings.Contains(err.Error(), want) {
		t.Fatalf("reason %q does not say %q", err, want)
	}
	if g.admitDeletion() != nil {
		t.Fatal("deletions are refused while space is short; they are how it comes back")
	}
	f(1000, true)

	g.fail("boom")
	f(1000, false)
	if err := g.admit(); !errors.Is(err, store.ErrFailed) || !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("after fail: got %v, want ErrFailed and ErrUnavailable", err)
	}
	if g.admitDeletion() == nil {
		t.Fatal("a failed store takes deletions")
	}
}

// enospcFS fails every write with ENOSPC while full is set, after writing
// a few bytes of it, as a full disk does.
type enospcFS struct {
	vfs.FS
	full   atomic.Bool
	writes atomic.Int32
}

func (fs *enospcFS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, category)
	if err != nil {
		return nil, err
	}
	return &enospcFile{File: f, fs: fs}, nil
}

type enospcFile struct {
	vfs.File
	fs *enospcFS
}

func (f *enospcFile) Write(p []byte) (int, error) {
	f.fs.writes.Add(1)
	if f.fs.full.Load() {
		n, _ := f.File.Write(p[:min(len(p), 3)])
		return n, syscall.ENOSPC
	}
	return f.File.Write(p)
}

// spaceFSFor returns a started guard and a spaceFS over an in-memory
// filesystem that fails writes while the returned enospcFS is full.
func spaceFSFor(t *testing.T, log *slog.Logger) (*diskGuard, *atomic.Int64, *enospcFS, vfs.FS) {
	t.Helper()
	g, avail := testGuard(t, log)
	inner := &enospcFS{FS: vfs.NewMem()}
	g.start()
	t.Cleanup(func() { g.stop() })
	return g, avail, inner, &spaceFS{FS: inner, g: g}
}

func TestSpaceFSHoldsWALWrite(t *testing.T) {
	g, avail, inner, fs := spaceFSFor(t, nil)
	f, err := fs.Create("000007.log", "pebble-wal")
	if err != nil {
		t.Fatal(err)
	}
	inner.full.Store(true)
	done := make(chan error, 1)
	go func() {
		_, err := f.Write([]byte("0123456789abcdef"))
		done <- err
	}()
	for inner.writes.Load() < 3 { // the first attempt and two retries
		time.Sleep(10 * time.Millisecond)
	}
	if err := g.admit(); !errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), "000007.log") {
		t.Fatalf("while a WAL write is held: admit() = %v, want ErrUnavailable naming the file", err)
	}
	g.refresh() // plenty of space measured, but the held write has not gone through
	if g.admit() == nil {
		t.Fatal("writes resumed while a WAL write was still held")
	}
	select {
	case err := <-done:
		t.Fatalf("held WAL write returned %v while the disk was full", err)
	default:
	}

	inner.full.Store(false)
	if err := <-done; err != nil {
		t.Fatalf("held WAL write after space came back: %v", err)
	}
	avail.Store(1000)
	g.refresh()
	if err := g.admit(); err != nil {
		t.Fatalf("after the held write went through: %v", err)
	}
	r, err := inner.Open("000007.log")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var got bytes.Buffer
	if _, err := got.ReadFrom(r); err != nil {
		t.Fatal(err)
	}
	if got.String() != "0123456789abcdef" {
		t.Fatalf("file holds %q after partial writes, want every byte once", got.String())
	}
}

func TestSpaceFSReleasesHeldWriteOnClose(t *testing.T) {
	g, _, inner, fs := spaceFSFor(t, nil)
	f, err := fs.Create("MANIFEST-000001", "pebble-manifest")
	if err != nil {
		t.Fatal(err)
	}
	inner.full.Store(true)
	done := make(chan error, 1)
	go func() {
		_, err := f.Write([]byte("edit"))
		done <- err
	}()
	for inner.writes.Load() < 2 {
		time.Sleep(10 * time.Millisecond)
	}
	g.stop()
	select {
	case err := <-done:
		if !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("held write released by close: got %v, want ENOSPC", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("closing the store did not release a held write")
	}
}

func TestSpaceFSFailsTableWrite(t *testing.T) {
	var buf testsupport.LogBuffer
	_, _, inner, fs := spaceFSFor(t, slog.New(slog.NewTextHandler(&buf, nil)))
	f, err := fs.Create("000009.sst", "pebble-compaction")
	if err != nil {
		t.Fatal(err)
	}
	inner.full.Store(true)
	start := time.Now()
	if _, err := f.Write([]byte("block")); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("sstable write on a full disk: got %v, want ENOSPC (Pebble retries the flush)", err)
	}
	if took := time.Since(start); took < 900*time.Millisecond {
		t.Fatalf("sstable write failed after %v; without a pause Pebble's flush retry spins", took)
	}
	if inner.writes.Load() != 1 {
		t.Fatalf("sstable write tried %d times, want once", inner.writes.Load())
	}
	if !strings.Contains(buf.String(), "store refuses writes") || !strings.Contains(buf.String(), "000009.sst") {
		t.Fatalf("a flush out of space did not refuse writes:\n%s", buf.String())
	}
}

func TestLoggerRoutesToSlog(t *testing.T) {
	var buf testsupport.LogBuffer
	g, _ := testGuard(t, slog.New(slog.NewTextHandler(&buf, nil)))
	l := pebbleLogger{g: g}

	l.Infof("WAL file %s with log number %d stopped reading", "000002.log", 2)
	if buf.String() != "" {
		t.Fatalf("Infof logged at Info level: %s", buf.String())
	}
	l.Errorf("background error: %s", "flush: EIO")
	for range 3 {
		l.Errorf("background error: %s", "flush: EIO again")
	}
	out := buf.String()
	if !strings.Contains(out, `level=ERROR msg="pebble: background error: flush: EIO"`) {
		t.Fatalf("Errorf did not reach slog at Error level:\n%s", out)
	}
	if strings.Contains(out, "again") {
		t.Fatalf("repeats of one error within %v were not held back:\n%s", logRepeatEvery, out)
	}
	if ok, dropped := g.limit.allow("background error: %s", time.Now().Add(logRepeatEvery)); !ok || dropped != 3 {
		t.Fatalf("after %v: allow = %v with %d dropped, want true with 3", logRepeatEvery, ok, dropped)
	}

	g.eventListener().BackgroundError(fmtWrap("flush output", syscall.ENOSPC))
	if err := g.admit(); !errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrFailed) {
		t.Fatalf("after a background write ran out of space: admit() = %v, want ErrUnavailable only", err)
	}

	l.Fatalf("pebble: fatal commit error: %v", syscall.EIO) // must not panic
	if err := g.admit(); !errors.Is(err, store.ErrFailed) || !strings.Contains(err.Error(), "fatal commit error") {
		t.Fatalf("after Fatalf: admit() = %v, want ErrFailed with the message", err)
	}
	if !strings.Contains(buf.String(), `level=ERROR msg="pebble: fatal: pebble: fatal commit error`) {
		t.Fatalf("Fatalf did not reach slog at Error level:\n%s", buf.String())
	}
}

func TestFatalErrorStopsWrites(t *testing.T) {
	var buf testsupport.LogBuffer
	s, err := Open(t.TempDir(), Options{Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	res := &telemetry.Resource{ServiceName: "checkout"}
	span := telemetry.Span{TraceID: telemetry.TraceID{1}, SpanID: telemetry.SpanID{1}, Name: "GET /",
		StartUnixNano: time.Now().UnixNano(), EndUnixNano: time.Now().UnixNano() + 1, Resource: res}
	if err := s.WriteSpans(ctx, "p", []telemetry.Span{span}); err != nil {
		t.Fatal(err)
	}
	if err := s.Health(); err != nil {
		t.Fatalf("Health of a new store: %v", err)
	}

	pebbleLogger{g: s.guard}.Fatalf("MANIFEST sync failed: %v", syscall.EIO)
	span.TraceID[0] = 2
	if err := s.WriteSpans(ctx, "p", []telemetry.Span{span}); !errors.Is(err, store.ErrFailed) {
		t.Fatalf("write after a fatal error: got %v, want ErrFailed", err)
	}
	if err := s.Health(); !errors.Is(err, store.ErrFailed) {
		t.Fatalf("Health after a fatal error: got %v, want ErrFailed", err)
	}
	if _, err := s.Trace(ctx, "p", telemetry.TraceID{1}); err != nil {
		t.Fatalf("reads stop after a fatal error: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := s.Close(); err == nil {
		t.Fatal("second Close returned nil")
	}
	if err := s.WriteSpans(ctx, "p", []telemetry.Span{span}); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("write after Close: got %v, want ErrUnavailable", err)
	}
}

func fmtWrap(what string, err error) error { return &wrapped{what, err} }

type wrapped struct {
	what string
	err  error
}

func (w *wrapped) Error() string { return w.what + ": " + w.err.Error() }
func (w *wrapped) Unwrap() error { return w.err }
