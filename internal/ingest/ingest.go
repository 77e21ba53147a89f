// Package ingest receives OTLP traces over HTTP (protobuf and JSON, gzip or
// not) and gRPC, authenticates the sender's key, decodes once into
// telemetry.Span and hands each request's spans to a store.SpanWriter. It
// answers as the OTLP specification says: partial success for requests with
// some invalid spans, 4xx for bad input, 429/503 with Retry-After when the
// server is overloaded.
//
// It owns the wire edge; it owns neither storage nor the key store.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tracekit-oss/tracekit/internal/auth"
	"github.com/tracekit-oss/tracekit/internal/store"
)

// Authenticator resolves the key a request carries.
type Authenticator interface {
	Authenticate(ctx context.Context, secret string) (auth.Principal, error)
}

// Config bounds what the receiver accepts.
type Config struct {
	// MaxBodyBytes caps a request body as sent (compressed or not).
	MaxBodyBytes int64
	// MaxDecodedBytes caps a body after gzip decompression.
	MaxDecodedBytes int64
	// MaxInFlightBytes caps the bytes of all requests being processed at
	// once; past it requests are refused with 429 and Retry-After.
	MaxInFlightBytes int64
}

// DefaultConfig returns the limits used when a field is zero.
func DefaultConfig() Config {
	return Config{MaxBodyBytes: 16 << 20, MaxDecodedBytes: 64 << 20, MaxInFlightBytes: 256 << 20}
}

// Receiver is the OTLP trace receiver.
type Receiver struct {
	w        store.SpanWriter
	auth     Authenticator
	cfg      Config
	log      *slog.Logger
	m        *metrics
	inflight atomic.Int64
}

type metrics struct {
	accepted *prometheus.CounterVec
	refused  *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// New returns a receiver writing to w. Metrics are registered on reg.
func New(w store.SpanWriter, a Authenticator, cfg Config, log *slog.Logger, reg prometheus.Registerer) (*Receiver, error) {
	d := DefaultConfig()
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = d.MaxBodyBytes
	}
	if cfg.MaxDecodedBytes <= 0 {
		cfg.MaxDecodedBytes = max(d.MaxDecodedBytes, cfg.MaxBodyBytes)
	}
	if cfg.MaxInFlightBytes <= 0 {
		cfg.MaxInFlightBytes = max(d.MaxInFlightBytes, 4*cfg.MaxDecodedBytes)
	}
	m := &metrics{
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tracekit_ingest_spans_accepted_total", Help: "Spans accepted and stored.",
		}, []string{"transport"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tracekit_ingest_spans_refused_total", Help: "Spans refused, by reason (invalid, unauthenticated, overload, store).",
		}, []string{"transport", "reason"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tracekit_ingest_request_duration_seconds", Help: "Time to decode and store one export request.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}, []string{"transport"}),
	}
	for _, c := range []prometheus.Collector{m.accepted, m.refused, m.latency} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register ingest metrics: %w", err)
		}
	}
	return &Receiver{w: w, auth: a, cfg: cfg, log: log, m: m}, nil
}

// errOverloaded means the in-flight budget is spent: retry later.
var errOverloaded = errors.New("server is overloaded: retry later")

// acquire reserves n bytes of the in-flight budget.
func (r *Receiver) acquire(n int64) bool {
	if r.inflight.Add(n) > r.cfg.MaxInFlightBytes {
		r.inflight.Add(-n)
		return false
	}
	return true
}

func (r *Receiver) release(n int64) { r.inflight.Add(-n) }

// result is what storing one request came to.
type result struct {
	accepted, rejected int
	message            string
}

// errInvalid wraps a reason a request was refused as bad input.
type errInvalid struct{ msg string }

func (e errInvalid) Error() string { return e.msg }

// store converts and writes one decoded request for project.
func (r *Receiver) store(ctx context.Context, transport, project string, td ptrace.Traces) (result, error) {
	start := time.Now()
	c := convert(td)
	if c.rejected > 0 {
		r.m.refused.WithLabelValues(transport, "invalid").Add(float64(c.rejected))
	}
	if len(c.spans) == 0 {
		if c.rejected > 0 {
			return result{}, errInvalid{fmt.Sprintf("all %d spans refused: %s", c.rejected, c.reason)}
		}
		return result{}, nil
	}
	if err := r.w.WriteSpans(ctx, project, c.spans); err != nil {
		r.m.refused.WithLabelValues(transport, "store").Add(float64(len(c.spans)))
		return result{}, fmt.Errorf("store spans: %w", err)
	}
	r.m.accepted.WithLabelValues(transport).Add(float64(len(c.spans)))
	r.m.latency.WithLabelValues(transport).Observe(time.Since(start).Seconds())
	res := result{accepted: len(c.spans), rejected: c.rejected}
	if c.rejected > 0 {
		res.message = fmt.Sprintf("%d spans refused: %s", c.rejected, c.reason)
	}
	return res, nil
}
