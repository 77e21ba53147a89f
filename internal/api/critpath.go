package api

import (
	"net/http"
	"strconv"

	"github.com/tracekit-oss/tracekit/internal/critpath"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// CriticalPathJSON is the critical path of a trace, as
// GET /api/v1/traces/{traceID}/critical-path returns it: the segments in
// time order, and every span on the path with its total time on it, in the
// order of their first segments.
type CriticalPathJSON struct {
	TraceID  string                `json:"traceId"`
	Segments []CriticalSegmentJSON `json:"segments"`
	Spans    []CriticalSpanJSON    `json:"spans"`
}

// CriticalSegmentJSON is a stretch of the critical path owned by one span.
// Times are Unix nanoseconds as decimal strings, as in SpanJSON, since they
// do not fit a JSON number exactly.
type CriticalSegmentJSON struct {
	SpanID            string `json:"spanId"`
	StartTimeUnixNano string `json:"startTimeUnixNano"`
	EndTimeUnixNano   string `json:"endTimeUnixNano"`
}

// CriticalSpanJSON is one span's total time on the critical path.
type CriticalSpanJSON struct {
	SpanID        string `json:"spanId"`
	CriticalNanos int64  `json:"criticalNanos"`
}

// CriticalPath returns the JSON form of the critical path of spans, the
// spans of trace id.
func CriticalPath(id telemetry.TraceID, spans []telemetry.Span) CriticalPathJSON {
	p := critpath.Compute(spans)
	out := CriticalPathJSON{TraceID: id.String(), Segments: make([]CriticalSegmentJSON, len(p.Segments)), Spans: []CriticalSpanJSON{}}
	listed := make([]bool, len(spans))
	for k, s := range p.Segments {
		id := spans[s.Span].SpanID.String()
		out.Segments[k] = CriticalSegmentJSON{SpanID: id, StartTimeUnixNano: strconv.FormatInt(s.Start, 10), EndTimeUnixNano: strconv.FormatInt(s.End, 10)}
		if !listed[s.Span] {
			listed[s.Span] = true
			out.Spans = append(out.Spans, CriticalSpanJSON{SpanID: id, CriticalNanos: p.Critical[s.Span]})
		}
	}
	return out
}

func (a *API) criticalPath(w http.ResponseWriter, r *http.Request) {
	id, err := telemetry.ParseTraceID(r.PathValue("traceID"))
	if err != nil {
		WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	spans, err := a.st.Trace(r.Context(), project(r), id)
	if err != nil {
		a.fail(w, "trace "+id.String(), err)
		return
	}
	WriteJSON(w, http.StatusOK, CriticalPath(id, spans))
}
