package pebble

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"syscall"
	"time"

	pdb "github.com/cockroachdb/pebble/v2"
)

// pebbleLogger routes Pebble's log to the server's: informational lines at
// Debug, errors at Error (background flush and compaction failures arrive
// here through the event listener), and fatal errors at Error too.
//
// Fatalf neither panics nor exits. Pebble calls it from its write paths,
// some with its mutexes held, and expects no return (its default logger
// calls os.Exit); a panic there leaves a mutex held so that every later
// write and Close wait forever, and an exit would drop the reads this server
// can still answer. So Fatalf marks the store failed: from then on it
// refuses every write, and Health says a restart is needed. Pebble does go on
// after Fatalf returns: Apply returns nil for the failed commit (db.go:885),
// which Store.apply catches by looking at the failed state after each commit;
// a MANIFEST write failure returns its error to the flush or compaction that
// made it (version_set.go:671), whose clean-up Pebble does not trust, which
// is why nothing more is written until a restart reopens from what is on
// disk (the WAL and the last complete MANIFEST record).
type pebbleLogger struct{ g *diskGuard }

func (l pebbleLogger) Infof(format string, args ...any) {
	if l.g.log.Enabled(context.Background(), slog.LevelDebug) {
		l.g.log.Debug("pebble: " + fmt.Sprintf(format, args...))
	}
}

func (l pebbleLogger) Errorf(format string, args ...any) {
	l.g.logLimited(slog.LevelError, format, args...)
}

func (l pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.g.fail(msg)
	l.g.log.Error("pebble: fatal: "+msg, "effect", "store refuses writes until the server restarts")
}

// eventListener reports Pebble's background errors and write stalls. Flush
// and compaction errors are retried by Pebble itself (a failed flush is
// rescheduled at once, compaction.go:1486); one that ran out of space
// refuses writes until space is back.
func (g *diskGuard) eventListener() *pdb.EventListener {
	return &pdb.EventListener{
		BackgroundError: func(err error) {
			if isNoSpace(err) {
				g.noSpace("pebble background write", err)
			}
			g.logLimited(slog.LevelError, "background error: %s", err)
		},
		WriteStallBegin: func(info pdb.WriteStallBeginInfo) {
			g.logLimited(slog.LevelWarn, "write stall began: %s", info.Reason)
		},
	}
}

func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// logRepeatEvery is how often one kind of message (one format) is logged at
// most: a failing flush is retried in a loop.
const logRepeatEvery = 10 * time.Second

func (g *diskGuard) logLimited(level slog.Level, format string, args ...any) {
	ok, dropped := g.limit.allow(format, time.Now())
	if !ok {
		return
	}
	msg := "pebble: " + fmt.Sprintf(format, args...)
	if dropped > 0 {
		g.log.Log(context.Background(), level, msg, "suppressed_since_last", dropped)
		return
	}
	g.log.Log(context.Background(), level, msg)
}

// logLimiter lets one message per key through every logRepeatEvery and
// counts the others. Keys are format strings, a small fixed set.
type logLimiter struct {
	mu   sync.Mutex
	keys map[string]*limited
}

type limited struct {
	next    time.Time
	dropped int
}

func (l *logLimiter) allow(key string, now time.Time) (ok bool, dropped int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.keys == nil {
		l.keys = map[string]*limited{}
	}
	e := l.keys[key]
	if e == nil {
		e = &limited{}
		l.keys[key] = e
	}
	if now.Before(e.next) {
		e.dropped++
		return false, 0
	}
	dropped = e.dropped
	e.dropped, e.next = 0, now.Add(logRepeatEvery)
	return true, dropped
}
