package tracekit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// warnInterval is the least time between two warnings about lost spans, so
// that a server that is down fills no log.
const warnInterval = 30 * time.Second

// Stats counts what became of the spans an SDK recorded. Every recorded span
// ends up in exactly one of Exported, QueueFull or ExportFailed, or is still
// Pending.
type Stats struct {
	// Exported is the number of spans the server accepted.
	Exported uint64
	// Dropped is the number of spans lost: QueueFull + ExportFailed.
	Dropped uint64
	// QueueFull is the number of spans dropped because the export queue was
	// full (the server is slow or down) or closed by Shutdown when they ended.
	QueueFull uint64
	// ExportFailed is the number of spans whose export failed: the server
	// could not be reached, timed out or refused them.
	ExportFailed uint64
	// Pending is the number of spans waiting in the queue or being sent.
	Pending int64
}

// pipeline sits on both sides of the OpenTelemetry BatchSpanProcessor: in
// front of it, it admits a span only while fewer than maxQueue are pending,
// so that every drop is seen and counted here; behind it, it counts what the
// exporter did with each batch. It never blocks the goroutine ending a span.
type pipeline struct {
	bsp      sdktrace.SpanProcessor
	exporter sdktrace.SpanExporter
	maxQueue int64
	logger   *slog.Logger

	closed       atomic.Bool // set by Shutdown
	pending      atomic.Int64
	exported     atomic.Uint64
	queueFull    atomic.Uint64
	exportFailed atomic.Uint64
	lastErr      atomic.Pointer[error]
	lastWarn     atomic.Int64 // unix nanoseconds of the last warning

	// aborted is closed when a Shutdown runs out of time: exports in flight
	// are cancelled and later ones fail at once, so that the processor's
	// goroutine ends promptly.
	aborted   chan struct{}
	abortOnce sync.Once
}

// newPipeline wraps exporter in a BatchSpanProcessor whose queue can never
// overflow unseen: its capacity exceeds what the admission check lets in.
func newPipeline(exporter sdktrace.SpanExporter, cfg *Config) *pipeline {
	p := &pipeline{
		exporter: exporter,
		maxQueue: int64(cfg.MaxQueueSize),
		logger:   cfg.Logger,
		aborted:  make(chan struct{}),
	}
	batch := min(sdktrace.DefaultMaxExportBatchSize, cfg.MaxQueueSize)
	p.bsp = sdktrace.NewBatchSpanProcessor((*countingExporter)(p),
		sdktrace.WithMaxQueueSize(cfg.MaxQueueSize+1), // +1: room for a ForceFlush marker
		sdktrace.WithMaxExportBatchSize(batch),
		sdktrace.WithBatchTimeout(cfg.BatchTimeout),
		sdktrace.WithExportTimeout(cfg.ExportTimeout),
	)
	return p
}

var _ sdktrace.SpanProcessor = (*pipeline)(nil)

// OnStart does nothing: spans are queued when they end.
func (p *pipeline) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

// OnEnd queues s for export, or drops and counts it when the queue is full.
func (p *pipeline) OnEnd(s sdktrace.ReadOnlySpan) {
	if !s.SpanContext().IsSampled() {
		return
	}
	if p.closed.Load() {
		p.queueFull.Add(1)
		return
	}
	if p.pending.Add(1) > p.maxQueue {
		p.pending.Add(-1)
		p.queueFull.Add(1)
		p.warn("tracekit: export queue full, dropping spans; is the TraceKit server slow or down?", nil)
		return
	}
	p.bsp.OnEnd(s)
}

// Shutdown exports what is queued and stops the processor's goroutine.
func (p *pipeline) Shutdown(ctx context.Context) error {
	p.closed.Store(true)
	err := p.bsp.Shutdown(ctx)
	if err == nil {
		// Every export is done; what is still pending is what the processor
		// refused because a span ended while it was shutting down.
		if n := p.pending.Swap(0); n > 0 {
			p.queueFull.Add(uint64(n))
		}
	}
	return err
}

// ForceFlush exports what is queued.
func (p *pipeline) ForceFlush(ctx context.Context) error { return p.bsp.ForceFlush(ctx) }

// abort cancels exports in flight and fails later ones at once.
func (p *pipeline) abort() { p.abortOnce.Do(func() { close(p.aborted) }) }

func (p *pipeline) stats() Stats {
	s := Stats{
		Exported:     p.exported.Load(),
		QueueFull:    p.queueFull.Load(),
		ExportFailed: p.exportFailed.Load(),
		Pending:      p.pending.Load(),
	}
	s.Dropped = s.QueueFull + s.ExportFailed
	return s
}

// lastError returns the error of the most recent failed export.
func (p *pipeline) lastError() error {
	if e := p.lastErr.Load(); e != nil {
		return *e
	}
	return nil
}

// warn logs msg unless a warning was logged less than warnInterval ago.
func (p *pipeline) warn(msg string, err error) {
	now := time.Now().UnixNano()
	last := p.lastWarn.Load()
	if last != 0 && now-last < int64(warnInterval) {
		return
	}
	if !p.lastWarn.CompareAndSwap(last, now) {
		return // another goroutine is warning right now
	}
	st := p.stats()
	args := []any{
		slog.Uint64("exported", st.Exported),
		slog.Uint64("dropped_queue_full", st.QueueFull),
		slog.Uint64("dropped_export_failed", st.ExportFailed),
	}
	if err != nil {
		args = append(args, slog.String("error", err.Error()))
	}
	p.logger.Warn(msg, args...)
}

// countingExporter is the pipeline seen from the BatchSpanProcessor: it
// forwards each batch to the real exporter and counts the outcome. It returns
// no error, so that the processor does not pass failures to OpenTelemetry's
// global error handler as well: the pipeline counts and logs them.
type countingExporter pipeline

var _ sdktrace.SpanExporter = (*countingExporter)(nil)

// ExportSpans sends spans and records whether the server took them.
func (c *countingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	p := (*pipeline)(c)
	n := len(spans)
	defer p.pending.Add(-int64(n))

	var err error
	select {
	case <-p.aborted:
		err = errors.New("Shutdown ran out of time before the export")
	default:
		ctx, cancel := context.WithCancel(ctx)
		go func() { // ends with the export: cancel below
			select {
			case <-p.aborted:
				cancel()
			case <-ctx.Done():
			}
		}()
		err = p.exporter.ExportSpans(ctx, spans)
		cancel()
	}
	if err != nil {
		p.exportFailed.Add(uint64(n))
		err = fmt.Errorf("export %d spans: %w", n, err)
		p.lastErr.Store(&err)
		p.warn("tracekit: spans lost, export failed; is the TraceKit server reachable?", err)
		return nil
	}
	p.exported.Add(uint64(n))
	return nil
}

// Shutdown shuts the real exporter down.
func (c *countingExporter) Shutdown(ctx context.Context) error {
	return (*pipeline)(c).exporter.Shutdown(ctx)
}
