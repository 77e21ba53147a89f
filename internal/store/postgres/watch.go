package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// The channel that the triggers of migration 0001 notify on every change
// of a breakpoint or a kill switch, and the application_name of the
// connection that listens to it (visible in pg_stat_activity).
const (
	channel      = "tracekit_breakpoints"
	listenerName = "tracekit-breakpoint-watcher"
)

// Watcher timing: how long the listening connection may stay silent before
// it is pinged (so that a connection lost without a word, as behind a
// failed NAT or load balancer, is noticed within about 35 s), how long the
// ping may take, and how long to wait before connecting again, doubling
// from the first to the last.
const (
	listenPing   = 30 * time.Second
	pingTimeout  = 5 * time.Second
	retryFirst   = 100 * time.Millisecond
	retryLongest = 5 * time.Second
)

// errClosed ends a watcher when its store is closed.
var errClosed = errors.New("postgres metadata store closed")

// WatchBreakpoints calls changed with the project and service of every
// change of a breakpoint or a kill switch, committed through any server on
// this database (or by hand), until ctx ends or the store is closed. It
// holds a connection of its own that LISTENs, and reconnects, with
// backoff, whenever that connection is lost, logging why.
//
// Notifications sent while no connection listened are lost, so each time
// it starts listening (first, and after every reconnect) it calls
// changed("", ""): an empty project means "any project" and an empty
// service "any service of the project" — the caller refreshes everything
// it serves. changed runs on the watcher's goroutine, one call at a time;
// a slow changed delays the next ones but loses none.
func (s *Store) WatchBreakpoints(ctx context.Context, changed func(project, service string)) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errClosed
	}
	s.watchers.Add(1)
	s.mu.Unlock()
	defer s.watchers.Done()

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case <-s.done:
			cancel(errClosed)
		case <-ctx.Done():
		}
	}()

	wait := retryFirst
	for {
		listened, err := s.listen(ctx, changed)
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if listened {
			wait = retryFirst
		}
		s.log.Warn("listening for breakpoint changes: connection lost; reconnecting",
			"database", s.where, "retry_in", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return context.Cause(ctx)
		case <-t.C:
		}
		wait = min(2*wait, retryLongest)
	}
}

// listen connects, LISTENs and reports notifications until the connection
// fails or ctx ends. listened says whether it got as far as LISTEN.
func (s *Store) listen(ctx context.Context, changed func(project, service string)) (listened bool, err error) {
	conn, err := pgx.ConnectConfig(ctx, s.listenConfig)
	if err != nil {
		return false, fmt.Errorf("connect: %w", err)
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = conn.Close(closeCtx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+channel); err != nil {
		return false, fmt.Errorf("LISTEN: %w", err)
	}
	changed("", "")
	for {
		wctx, cancel := context.WithTimeout(ctx, s.pingEvery)
		n, err := conn.WaitForNotification(wctx)
		silent := wctx.Err() != nil && ctx.Err() == nil
		cancel()
		switch {
		case err == nil:
			var p struct{ Project, Service string }
			if json.Unmarshal([]byte(n.Payload), &p) != nil {
				s.log.Error("listening for breakpoint changes: malformed notification; refreshing everything", "payload", n.Payload)
				p.Project, p.Service = "", ""
			}
			changed(p.Project, p.Service)
		case ctx.Err() != nil:
			return true, ctx.Err()
		case silent && !conn.IsClosed():
			pctx, cancel := context.WithTimeout(ctx, min(pingTimeout, s.pingEvery))
			err := conn.Ping(pctx)
			cancel()
			if err != nil {
				return true, fmt.Errorf("ping: %w", err)
			}
		default:
			return true, err
		}
	}
}
