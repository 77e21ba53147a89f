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
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/tracekit-oss/tracekit/internal/auth"
	"github.com/tracekit-oss/tracekit/internal/reqbody"
	"github.com/tracekit-oss/tracekit/internal/store"
)

// Authenticator resolves the key a request carries.
type Authenticator interface {
	Authenticate(ctx context.Context, secret string) (auth.Principal, error)
}

// Config bounds what the receiver accepts. Zero fields take the defaults.
type Config struct {
	// MaxBodyBytes caps a request body as sent (compressed or not), and a
	// gRPC message.
	MaxBodyBytes int64
	// MaxDecodedBytes caps a body after gzip decompression.
	MaxDecodedBytes int64
	// MaxRatio caps how many times a gzip body may expand (checked past
	// 1 MiB decompressed).
	MaxRatio int64
	// MaxSpansPerRequest caps the spans of one request; a request with more
	// is refused whole.
	MaxSpansPerRequest int
	// Spans bounds each span; a span beyond them is refused alone.
	Spans SpanLimits
	// Budget is the byte budget that every request in flight is charged
	// against as its body arrives and is decoded; past it requests are
	// refused with 429 and Retry-After (413 for a request that alone would
	// exceed a project's share). Nil: a budget of 512 MiB of which one
	// project may hold half.
	Budget *reqbody.Budget
	// MaxGRPCInFlight caps the gRPC exports being received at once (each
	// may hold up to MaxBodyBytes before it is charged to the budget).
	MaxGRPCInFlight int
}

// DefaultConfig returns the limits used when a field is zero.
func DefaultConfig() Config {
	return Config{MaxBodyBytes: 16 << 20, MaxDecodedBytes: 64 << 20, MaxRatio: 100, MaxSpansPerRequest: 100_000,
		Spans: DefaultSpanLimits(), MaxGRPCInFlight: 16}
}

// DefaultBudgetBytes is the in-flight budget when Config.Budget is nil: one
// project's half holds a 16 MiB body and its decoding.
const DefaultBudgetBytes = 512 << 20

// decodeFactor is what a decoded request costs in memory per byte of its
// body, on top of the body itself: a copy of the body and our spans for
// protobuf, the collector's pdata structures and our spans for JSON.
// TestDecodeFactor measures what decoding allocates for the load
// generator's batches: 4.4 times the body for protobuf, 4.2 for JSON (4.7
// under -race). Protobuf took 7.8 when it was decoded through pdata too; 10
// leaves room.
const decodeFactor = 10

// Receiver is the OTLP trace receiver.
type Receiver struct {
	w      store.SpanWriter
	auth   Authenticator
	cfg    Config
	lim    reqbody.Limits
	budget *reqbody.Budget
	grpcIn chan struct{}
	log    *slog.Logger
	m      *metrics
}

type metrics struct {
	accepted *prometheus.CounterVec
	refused  *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// New returns a receiver writing to w. Metrics are registered on reg.
func New(w store.SpanWriter, a Authenticator, cfg Config, log *slog.Logger, reg prometheus.Registerer) (*Receiver, error) {
	cfg = cfg.withDefaults()
	m := &metrics{
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tracekit_ingest_spans_accepted_total", Help: "Spans accepted and stored.",
		}, []string{"transport"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tracekit_ingest_spans_refused_total", Help: "Spans refused, by reason (invalid, limit, unauthenticated, overload, store).",
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
	return &Receiver{
		w: w, auth: a, cfg: cfg, log: log, m: m, budget: cfg.Budget,
		lim:    reqbody.Limits{MaxBytes: cfg.MaxBodyBytes, MaxDecodedBytes: cfg.MaxDecodedBytes, MaxRatio: cfg.MaxRatio, RatioFloor: 1 << 20},
		grpcIn: make(chan struct{}, cfg.MaxGRPCInFlight),
	}, nil
}

func (cfg Config) withDefaults() Config {
	d := DefaultConfig()
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = d.MaxBodyBytes
	}
	if cfg.MaxDecodedBytes <= 0 {
		cfg.MaxDecodedBytes = max(d.MaxDecodedBytes, cfg.MaxBodyBytes)
	}
	if cfg.MaxRatio <= 0 {
		cfg.MaxRatio = d.MaxRatio
	}
	if cfg.MaxSpansPerRequest <= 0 {
		cfg.MaxSpansPerRequest = d.MaxSpansPerRequest
	}
	if cfg.Spans.MaxAttributes <= 0 {
		cfg.Spans.MaxAttributes = d.Spans.MaxAttributes
	}
	if cfg.Spans.MaxEvents <= 0 {
		cfg.Spans.MaxEvents = d.Spans.MaxEvents
	}
	if cfg.Spans.MaxLinks <= 0 {
		cfg.Spans.MaxLinks = d.Spans.MaxLinks
	}
	if cfg.Spans.MaxValueDepth <= 0 {
		cfg.Spans.MaxValueDepth = d.Spans.MaxValueDepth
	}
	if cfg.MaxGRPCInFlight <= 0 {
		cfg.MaxGRPCInFlight = d.MaxGRPCInFlight
	}
	if cfg.Budget == nil {
		cfg.Budget = reqbody.NewBudget(DefaultBudgetBytes, 0)
	}
	return cfg
}

// errOverloaded means the in-flight budget is spent: retry later.
var errOverloaded = errors.New("server is overloaded: retry later")

// storeFailed logs a failed write and returns what the client is told. A
// store that refuses writes (a full disk) says so once in its own log, not
// once per request.
func (r *Receiver) storeFailed(project string, err error) string {
	if errors.Is(err, store.ErrUnavailable) {
		return "the store is not accepting writes (disk full or failing): nothing was stored, retry later"
	}
	r.log.Error("store spans", "project", project, "err", err)
	return "could not store spans: retry later"
}

// decode checks a body's structure without recursion, then decodes it into
// our spans: JSON through the collector's pdata, protobuf straight from its
// wire bytes (decodeWire), which costs a fraction of the CPU and
// allocations.
func (r *Receiver) decode(body []byte, json bool) (converted, error) {
	lim := scanLimits{maxValueDepth: r.cfg.Spans.MaxValueDepth, maxSpans: r.cfg.MaxSpansPerRequest}
	if json {
		er := ptraceotlp.NewExportRequest()
		if err := reqbody.CheckJSONDepth(body, jsonDepthFor(lim.maxValueDepth)); err != nil {
			return converted{}, fmt.Errorf("%w: %w", errTooDeep, err)
		}
		if err := er.UnmarshalJSON(body); err != nil {
			return converted{}, fmt.Errorf("malformed OTLP json body: %w", err)
		}
		if n := er.Traces().SpanCount(); n > lim.maxSpans {
			return converted{}, fmt.Errorf("%w: %d, more than %d (send smaller batches)", errTooManySpans, n, lim.maxSpans)
		}
		return convert(er.Traces(), r.cfg.Spans), nil
	}
	scan, err := scanProto(body, lim)
	if err != nil {
		if errors.Is(err, errTooDeep) || errors.Is(err, errTooManySpans) {
			return converted{}, err
		}
		return converted{}, fmt.Errorf("malformed OTLP protobuf body: %w", err)
	}
	if scan.malformed != nil {
		return converted{}, fmt.Errorf("malformed OTLP protobuf body: %w", scan.malformed)
	}
	c, err := decodeWire(body, scan, r.cfg.Spans)
	if err != nil {
		return converted{}, fmt.Errorf("malformed OTLP protobuf body: %w", err)
	}
	return c, nil
}

// result is what storing one request came to.
type result struct {
	accepted, rejected int
	message            string
}

// errInvalid wraps a reason a request was refused as bad input.
type errInvalid struct{ msg string }

func (e errInvalid) Error() string { return e.msg }

// store writes one decoded request for project; start is when its
// decoding began.
func (r *Receiver) store(ctx context.Context, transport, project string, c converted, start time.Time) (result, error) {
	if c.rejected > 0 {
		r.m.refused.WithLabelValues(transport, "invalid").Add(float64(c.rejected))
	}
	if len(c.spans) == 0 {
		if c.rejected > 0 {
			return result{}, errInvalid{fmt.Sprintf("all %d spans refused: %s", c.rejected, c.reason)}
		}
		return result{}, nil
	}
	stored := len(c.spans)
	err := r.w.WriteSpans(ctx, project, c.spans)
	var partial *store.PartialWriteError
	switch {
	case errors.As(err, &partial):
		// The store kept the others: the limit's refusals join ours.
		refused := min(partial.Refused, stored)
		stored -= refused
		r.m.refused.WithLabelValues(transport, "limit").Add(float64(refused))
		c.reject(refused, partial.Reason)
		if stored == 0 {
			return result{}, errInvalid{fmt.Sprintf("all %d spans refused: %s", c.rejected, c.reason)}
		}
	case err != nil:
		r.m.refused.WithLabelValues(transport, "store").Add(float64(len(c.spans)))
		return result{}, fmt.Errorf("store spans: %w", err)
	}
	r.m.accepted.WithLabelValues(transport).Add(float64(stored))
	r.m.latency.WithLabelValues(transport).Observe(time.Since(start).Seconds())
	res := result{accepted: stored, rejected: c.rejected}
	if c.rejected > 0 {
		res.message = fmt.Sprintf("%d spans refused: %s", c.rejected, c.reason)
	}
	return res, nil
}
