package agent

import (
	"context"
	"log/slog"
	"sync/atomic"
)

// safeHandler runs the application's log handler under recover: the agent
// logs from its own goroutines, where a panicking handler would otherwise
// end the program, and writes logpoint lines from the application's.
type safeHandler struct {
	h      slog.Handler
	panics *atomic.Uint64
}

// Enabled implements slog.Handler.
func (s safeHandler) Enabled(ctx context.Context, l slog.Level) (ok bool) {
	defer s.recover()
	return s.h.Enabled(ctx, l)
}

// Handle implements slog.Handler.
func (s safeHandler) Handle(ctx context.Context, r slog.Record) error {
	defer s.recover()
	return s.h.Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (s safeHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return safeHandler{s.h.WithAttrs(attrs), s.panics}
}

// WithGroup implements slog.Handler.
func (s safeHandler) WithGroup(name string) slog.Handler {
	return safeHandler{s.h.WithGroup(name), s.panics}
}

func (s safeHandler) recover() {
	if r := recover(); r != nil {
		s.panics.Add(1)
	}
}
