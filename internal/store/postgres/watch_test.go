package postgres

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tracekit-oss/tracekit/internal/store"
)

// change is one call of a watcher's changed.
type change struct{ project, service string }

// refresh is the call that means "anything may have changed".
var refresh = change{}

// delivery bounds how long a change may take to reach another server's
// watcher. The issue asks for 1 s end to end and NOTIFY takes milliseconds;
// the margin is for a busy test machine, and the tests log what they saw.
const delivery = 5 * time.Second

// watcher runs s.WatchBreakpoints until the test ends.
type watcher struct {
	changes chan change
	stop    context.CancelFunc
	done    chan error
}

func watch(t *testing.T, s *Store) *watcher {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &watcher{changes: make(chan change, 1000), stop: cancel, done: make(chan error, 1)}
	go func() {
		w.done <- s.WatchBreakpoints(ctx, func(project, service string) { w.changes <- change{project, service} })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-w.done; !errors.Is(err, context.Canceled) && !errors.Is(err, errClosed) {
			t.Errorf("WatchBreakpoints returned %v, want context.Canceled", err)
		}
	})
	return w
}

// next returns the next change, failing the test when none comes in time.
func (w *watcher) next(t *testing.T) change {
	t.Helper()
	start := time.Now()
	select {
	case c := <-w.changes:
		if d := time.Since(start); d > 100*time.Millisecond {
			t.Logf("change %v came after %v", c, d)
		}
		return c
	case <-time.After(delivery):
		t.Fatalf("no change reported within %v", delivery)
		return change{}
	}
}

// expect checks that the next changes are want, in order.
func (w *watcher) expect(t *testing.T, what string, want ...change) {
	t.Helper()
	for _, c := range want {
		if got := w.next(t); got != c {
			t.Fatalf("%s: changed(%q, %q), want changed(%q, %q)", what, got.project, got.service, c.project, c.service)
		}
	}
}

// quiet checks that no change is pending.
func (w *watcher) quiet(t *testing.T, what string) {
	t.Helper()
	select {
	case c := <-w.changes:
		t.Fatalf("%s: unexpected changed(%q, %q)", what, c.project, c.service)
	default:
	}
}

func testLogger(t *testing.T) *slog.Logger { return slog.New(slog.NewTextHandler(t.Output(), nil)) }

// TestWatchAcrossServers: changes made through one server reach another's
// watcher: breakpoints put, moved and deleted, kill switches flipped. Hit
// counts are no change.
func TestWatchAcrossServers(t *testing.T) {
	url := newDatabase(t)
	ctx := context.Background()
	a, err := Open(ctx, Config{URL: url, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	b := open(t, url, nil)
	w := watch(t, a)
	w.expect(t, "start", refresh)

	now := time.Now().UTC()
	bp := store.Breakpoint{ID: "b1", Project: "p", Service: "pay", Type: store.BreakpointLine, File: "pay.go", Line: 7,
		CaptureDepth: 3, RateLimit: 10, MaxStringLength: 256, ExpiresAt: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now}
	if err := b.PutBreakpoint(ctx, bp); err != nil {
		t.Fatal(err)
	}
	w.expect(t, "breakpoint created", change{"p", "pay"})

	if _, err := b.AdmitHits(ctx, "p", "b1", 3, 10, now); err != nil {
		t.Fatal(err)
	}
	if _, err := b.AdmitHits(ctx, "p", "b1", 3, 0, now); err != nil {
		t.Fatal(err)
	}
	if err := b.SetKillSwitch(ctx, "p", store.KillSwitch{Service: "web", Enabled: true, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	// Notifications come in commit order: had the hits notified, theirs
	// would come first.
	w.expect(t, "kill switch flipped after hits counted", change{"p", "web"})

	bp.Service, bp.Condition = "api", "x > 1"
	if err := b.PutBreakpoint(ctx, bp); err != nil {
		t.Fatal(err)
	}
	w.expect(t, "breakpoint moved from pay to api", change{"p", "pay"}, change{"p", "api"})

	if err := b.DeleteBreakpoint(ctx, "p", "b1"); err != nil {
		t.Fatal(err)
	}
	w.expect(t, "breakpoint deleted", change{"p", "api"})

	// A name too long for a NOTIFY payload still notifies, for any service.
	long := store.Breakpoint{ID: "b2", Project: "p", Service: strings.Repeat("s", 8000), Type: store.BreakpointLine,
		ExpiresAt: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now}
	if err := b.PutBreakpoint(ctx, long); err != nil {
		t.Fatal(err)
	}
	w.expect(t, "breakpoint of a very long service name", change{"p", ""})

	// The server that made a change hears of it too.
	if err := a.SetKillSwitch(ctx, "q", store.KillSwitch{Service: "pay", UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	w.expect(t, "own change", change{"q", "pay"})
	w.quiet(t, "after the last change")
}

// TestWatchReconnects: when the listening connection is lost the watcher
// reconnects, asks for a full refresh (notifications sent meanwhile are
// lost), and reports changes again.
func TestWatchReconnects(t *testing.T) {
	url := newDatabase(t)
	ctx := context.Background()
	s, err := Open(ctx, Config{URL: url, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	w := watch(t, s)
	w.expect(t, "start", refresh)

	db := url[strings.LastIndex(url, "/")+1 : strings.Index(url, "?")]
	for range 2 {
		var killed int
		err := s.pool.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE application_name = $1 AND datname = $2`, listenerName, db).Scan(&killed)
		if err != nil || killed != 1 {
			t.Fatalf("terminated %d listening connections, %v; want 1", killed, err)
		}
		w.expect(t, "reconnected", refresh)
		if err := s.SetKillSwitch(ctx, "p", store.KillSwitch{Service: "pay", Enabled: true, UpdatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
		w.expect(t, "change after reconnecting", change{"p", "pay"})
	}
}

// TestWatchEnds: a watcher returns when its context ends or its store
// closes, and a closed store starts none.
func TestWatchEnds(t *testing.T) {
	url := newDatabase(t)
	s, err := Open(context.Background(), Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	started := make(chan struct{}, 2)
	for _, c := range []context.Context{ctx, context.Background()} {
		go func() {
			done <- s.WatchBreakpoints(c, func(string, string) { started <- struct{}{} })
		}()
	}
	<-started
	<-started
	cancel()
	if err := waitErr(t, done); !errors.Is(err, context.Canceled) {
		t.Errorf("after cancel: %v, want context.Canceled", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := waitErr(t, done); !errors.Is(err, errClosed) {
		t.Errorf("after Close: %v, want errClosed", err)
	}
	if err := s.WatchBreakpoints(context.Background(), func(string, string) {}); !errors.Is(err, errClosed) {
		t.Errorf("on a closed store: %v, want errClosed", err)
	}
}

func waitErr(t *testing.T, c <-chan error) error {
	t.Helper()
	select {
	case err := <-c:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("WatchBreakpoints did not return")
		return nil
	}
}

// TestWatchSilentConnectionLoss: a listening connection that stops carrying
// anything, without being closed, is noticed by its ping and replaced.
func TestWatchSilentConnectionLoss(t *testing.T) {
	url := newDatabase(t)
	ctx := context.Background()
	px := newProxy(t, server.Addr())
	viaProxy := strings.Replace(url, server.Addr(), px.addr(), 1)
	s, err := Open(ctx, Config{URL: viaProxy, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	s.pingEvery = 300 * time.Millisecond
	w := watch(t, s)
	w.expect(t, "start", refresh)
	direct := open(t, url, nil)

	px.freeze()
	w.expect(t, "reconnected", refresh)
	if err := direct.SetKillSwitch(ctx, "p", store.KillSwitch{Service: "pay", Enabled: true, UpdatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	w.expect(t, "change after reconnecting", change{"p", "pay"})
}
