// Package store defines how TraceKit keeps trace data and the metadata around
// it (projects, API keys), independent of any storage engine.
//
// Backends live in subpackages (store/pebble is the embedded default) and
// must pass the shared conformance suite in store/storetest. The interface is
// shaped for append-only column stores too: spans are written in batches and
// never updated, and retention drops whole time partitions.
//
// The package owns the contract, not the engines and not the HTTP surface.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// ErrNotFound is returned when a trace, project or key does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned when creating something that already exists.
var ErrConflict = errors.New("already exists")

// SpanWriter appends spans. A nil error means every span is durable: it
// survives a crash of the process. Writes are idempotent: a span (trace ID
// and span ID) written again, as an exporter retrying after a timeout or a
// 503 does, is read back once, in traces, search results and counts.
//
// A backend may refuse some spans of a batch, for example those that would
// give a project more services or a service more operation names than it
// allows, and store the others: it then returns a *PartialWriteError, and
// the spans it did not refuse are as durable as after a nil error. After any
// other error the caller cannot count on any span of the batch being stored.
type SpanWriter interface {
	WriteSpans(ctx context.Context, project string, spans []telemetry.Span) error
}

// PartialWriteError reports the spans of a batch that WriteSpans refused
// while it stored the rest. Ingest tells the client with an OTLP partial
// success, so that its exporter does not retry them.
type PartialWriteError struct {
	// Refused is how many spans of the batch were not stored.
	Refused int
	// Reason says why, naming the limit reached, e.g. `project "p" has
	// reached its limit of 1000 services; spans of new service "x" refused`.
	Reason string
}

// Error says how many spans were refused and why.
func (e *PartialWriteError) Error() string {
	return fmt.Sprintf("%d spans not stored: %s", e.Refused, e.Reason)
}

// TraceReader finds and reads traces of one project.
type TraceReader interface {
	// Trace returns every span of the trace, ordered by start time, or
	// ErrNotFound.
	Trace(ctx context.Context, project string, id telemetry.TraceID) ([]telemetry.Span, error)
	// FindTraces returns summaries of the traces that have at least one span
	// matching every condition of q, newest first.
	FindTraces(ctx context.Context, project string, q TraceQuery) ([]TraceSummary, error)
	// Services lists the services that sent spans, sorted by name.
	Services(ctx context.Context, project string) ([]string, error)
	// Operations lists a service's operations, sorted by name.
	Operations(ctx context.Context, project, service string) ([]Operation, error)
}

// Retainer drops data older than a cutoff. Backends may keep data somewhat
// past the cutoff (up to one partition) but never drop newer data.
type Retainer interface {
	DeleteSpansBefore(ctx context.Context, cutoff time.Time) error
}

// TraceQuery selects spans; a trace matches when one of its spans matches all
// set conditions. Zero fields do not constrain.
type TraceQuery struct {
	Service   string
	Operation string
	// Attributes must all match on the same span, against its own or its
	// resource's attributes, comparing the value's text form.
	Attributes  []AttributeFilter
	MinDuration time.Duration
	MaxDuration time.Duration
	ErrorsOnly  bool
	// Start and End bound the span start time; End zero means now.
	Start time.Time
	End   time.Time
	// Limit caps the number of traces; zero means DefaultLimit.
	Limit int
}

// AttributeFilter is one key=value condition.
type AttributeFilter struct {
	Key   string
	Value string
}

// DefaultLimit and MaxLimit bound TraceQuery.Limit.
const (
	DefaultLimit = 20
	MaxLimit     = 1000
)

// Matches reports whether span s satisfies every condition of q except the
// time range. Backends use it to confirm candidates from their indexes.
func (q *TraceQuery) Matches(s *telemetry.Span) bool {
	if q.Service != "" && s.Service() != q.Service {
		return false
	}
	if q.Operation != "" && s.Name != q.Operation {
		return false
	}
	d := s.Duration()
	if q.MinDuration > 0 && d < q.MinDuration {
		return false
	}
	if q.MaxDuration > 0 && d > q.MaxDuration {
		return false
	}
	if q.ErrorsOnly && !s.IsError() {
		return false
	}
	for _, f := range q.Attributes {
		if !hasAttribute(s, f) {
			return false
		}
	}
	return true
}

func hasAttribute(s *telemetry.Span, f AttributeFilter) bool {
	if v, ok := telemetry.Find(s.Attributes, f.Key); ok && v.AsString() == f.Value {
		return true
	}
	if s.Resource != nil {
		if v, ok := telemetry.Find(s.Resource.Attributes, f.Key); ok && v.AsString() == f.Value {
			return true
		}
	}
	return false
}

// TraceSummary describes a trace in search results.
type TraceSummary struct {
	TraceID       telemetry.TraceID
	RootService   string
	RootOperation string
	Start         time.Time
	Duration      time.Duration
	SpanCount     int
	ErrorCount    int
	Services      []ServiceSpans
}

// ServiceSpans counts the spans one service contributed to a trace.
type ServiceSpans struct {
	Service string
	Spans   int
}

// Operation is a span name seen for a service, with its kind.
type Operation struct {
	Name string
	Kind telemetry.SpanKind
}
