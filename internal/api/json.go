package api

import (
	"strconv"
	"time"

	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// TraceJSON is the body of GET /api/v1/traces/{traceId}.
type TraceJSON struct {
	TraceID string     `json:"traceId"`
	Spans   []SpanJSON `json:"spans"`
	// Snapshots are the code-monitoring snapshots captured within the trace.
	Snapshots []SnapshotRefJSON `json:"snapshots"`
}

// SnapshotRefJSON points from a trace to a snapshot captured in one of its
// spans.
type SnapshotRefJSON struct {
	ID           string    `json:"id"`
	SpanID       string    `json:"spanId,omitempty"`
	BreakpointID string    `json:"breakpointId"`
	CapturePoint string    `json:"capturePoint,omitempty"`
	Time         time.Time `json:"time"`
}

// SpanJSON is one span in the API.
type SpanJSON struct {
	TraceID            string         `json:"traceId"`
	SpanID             string         `json:"spanId"`
	ParentSpanID       string         `json:"parentSpanId,omitempty"`
	TraceState         string         `json:"traceState,omitempty"`
	Service            string         `json:"service"`
	Operation          string         `json:"operation"`
	Kind               string         `json:"kind"`
	StartTime          time.Time      `json:"startTime"`
	StartTimeUnixNano  string         `json:"startTimeUnixNano"`
	DurationNanos      int64          `json:"durationNanos"`
	Status             StatusJSON     `json:"status"`
	Attributes         map[string]any `json:"attributes"`
	ResourceAttributes map[string]any `json:"resourceAttributes"`
	Events             []EventJSON    `json:"events"`
	Links              []LinkJSON     `json:"links"`
	Scope              ScopeJSON      `json:"scope"`
}

// StatusJSON is a span status.
type StatusJSON struct {
	Code    string `json:"code"`
	Message string `json:"message,omitempty"`
}

// EventJSON is a span event; exceptions are events named "exception".
type EventJSON struct {
	Name       string         `json:"name"`
	Time       time.Time      `json:"time"`
	Attributes map[string]any `json:"attributes"`
}

// LinkJSON is a span link.
type LinkJSON struct {
	TraceID    string         `json:"traceId"`
	SpanID     string         `json:"spanId"`
	TraceState string         `json:"traceState,omitempty"`
	Attributes map[string]any `json:"attributes"`
}

// ScopeJSON names the instrumentation library.
type ScopeJSON struct {
	Name    string `json:"name,omitempty"`
	Version string `json:"version,omitempty"`
}

// SpansJSON converts spans for output.
func SpansJSON(spans []telemetry.Span) []SpanJSON {
	out := make([]SpanJSON, len(spans))
	for i := range spans {
		s := &spans[i]
		j := SpanJSON{
			TraceID: s.TraceID.String(), SpanID: s.SpanID.String(), ParentSpanID: s.ParentSpanID.String(),
			TraceState: s.TraceState, Service: s.Service(), Operation: s.Name, Kind: s.Kind.String(),
			StartTime: time.Unix(0, s.StartUnixNano).UTC(), StartTimeUnixNano: strconv.FormatInt(s.StartUnixNano, 10),
			DurationNanos: int64(s.Duration()),
			Status:        StatusJSON{Code: s.StatusCode.String(), Message: s.StatusMessage},
			Attributes:    telemetry.AttributesMap(s.Attributes),
			Events:        make([]EventJSON, len(s.Events)),
			Links:         make([]LinkJSON, len(s.Links)),
			Scope:         ScopeJSON{Name: s.ScopeName, Version: s.ScopeVersion},
		}
		if s.Resource != nil {
			j.ResourceAttributes = telemetry.AttributesMap(s.Resource.Attributes)
		} else {
			j.ResourceAttributes = map[string]any{}
		}
		for k, e := range s.Events {
			j.Events[k] = EventJSON{Name: e.Name, Time: time.Unix(0, e.TimeUnixNano).UTC(), Attributes: telemetry.AttributesMap(e.Attributes)}
		}
		for k, l := range s.Links {
			j.Links[k] = LinkJSON{TraceID: l.TraceID.String(), SpanID: l.SpanID.String(), TraceState: l.TraceState, Attributes: telemetry.AttributesMap(l.Attributes)}
		}
		out[i] = j
	}
	return out
}

// TraceSummaryJSON is one search result.
type TraceSummaryJSON struct {
	TraceID       string             `json:"traceId"`
	RootService   string             `json:"rootService"`
	RootOperation string             `json:"rootOperation"`
	StartTime     time.Time          `json:"startTime"`
	DurationNanos int64              `json:"durationNanos"`
	SpanCount     int                `json:"spanCount"`
	ErrorCount    int                `json:"errorCount"`
	Services      []ServiceSpansJSON `json:"services"`
}

// ServiceSpansJSON counts one service's spans in a trace.
type ServiceSpansJSON struct {
	Service string `json:"service"`
	Spans   int    `json:"spans"`
}

// SummaryJSON converts a search result.
func SummaryJSON(s store.TraceSummary) TraceSummaryJSON {
	j := TraceSummaryJSON{
		TraceID: s.TraceID.String(), RootService: s.RootService, RootOperation: s.RootOperation,
		StartTime: s.Start, DurationNanos: int64(s.Duration), SpanCount: s.SpanCount, ErrorCount: s.ErrorCount,
		Services: make([]ServiceSpansJSON, len(s.Services)),
	}
	for i, sv := range s.Services {
		j.Services[i] = ServiceSpansJSON{Service: sv.Service, Spans: sv.Spans}
	}
	return j
}
