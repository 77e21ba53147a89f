package api

import (
	"fmt"
	"net/http"

	"github.com/tracekit-oss/tracekit/internal/telemetry"
	"github.com/tracekit-oss/tracekit/internal/tracecompare"
)

// TraceCompareJSON is the body of GET /api/v1/traces/compare.
type TraceCompareJSON struct {
	A       TraceSummaryJSON       `json:"a"`
	B       TraceSummaryJSON       `json:"b"`
	Summary TraceCompareTotalsJSON `json:"summary"`
	Rows    []TraceCompareRowJSON  `json:"rows"`
}

// TraceCompareTotalsJSON counts the rows of each mark.
type TraceCompareTotalsJSON struct {
	Same    int `json:"same"`
	Changed int `json:"changed"`
	Added   int `json:"added"`
	Removed int `json:"removed"`
	// DurationDeltaNanos is trace B's duration minus trace A's.
	DurationDeltaNanos int64 `json:"durationDeltaNanos"`
}

// TraceCompareRowJSON is one row of a trace comparison. The fields of a
// side are present only when the row has a span on that side.
type TraceCompareRowJSON struct {
	Depth          int    `json:"depth"`
	Service        string `json:"service"`
	Operation      string `json:"operation"`
	ASpanID        string `json:"aSpanId,omitempty"`
	BSpanID        string `json:"bSpanId,omitempty"`
	ADurationNanos *int64 `json:"aDurationNanos,omitempty"`
	BDurationNanos *int64 `json:"bDurationNanos,omitempty"`
	DeltaNanos     int64  `json:"deltaNanos"`
	Mark           string `json:"mark"`
}

// TraceCompareResultJSON converts a comparison of spans a with spans b.
func TraceCompareResultJSON(a, b []telemetry.Span, res tracecompare.Result) TraceCompareJSON {
	out := TraceCompareJSON{
		A: SummaryJSON(res.A), B: SummaryJSON(res.B),
		Summary: TraceCompareTotalsJSON{Same: res.Same, Changed: res.Changed, Added: res.Added, Removed: res.Removed,
			DurationDeltaNanos: int64(res.Delta)},
		Rows: make([]TraceCompareRowJSON, len(res.Rows)),
	}
	// One allocation for the durations the rows point to.
	durs := make([]int64, 0, 2*len(res.Rows))
	for i, r := range res.Rows {
		j := TraceCompareRowJSON{Depth: int(r.Depth), Service: r.Service, Operation: r.Operation,
			DeltaNanos: int64(r.Delta), Mark: r.Mark.String()}
		if r.A >= 0 {
			j.ASpanID = a[r.A].SpanID.String()
			durs = append(durs, int64(r.ADuration))
			j.ADurationNanos = &durs[len(durs)-1]
		}
		if r.B >= 0 {
			j.BSpanID = b[r.B].SpanID.String()
			durs = append(durs, int64(r.BDuration))
			j.BDurationNanos = &durs[len(durs)-1]
		}
		out.Rows[i] = j
	}
	return out
}

// compareTraces answers GET /api/v1/traces/compare?a=&b=: trace A
// (the baseline) against trace B, matched as package tracecompare says.
func (a *API) compareTraces(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var ids [2]telemetry.TraceID
	for i, name := range []string{"a", "b"} {
		s := q.Get(name)
		if s == "" {
			WriteError(w, http.StatusBadRequest, fmt.Sprintf("%s: give the ID of the trace to compare (32 hex digits), as in ?a=<traceId>&b=<traceId>", name))
			return
		}
		id, err := telemetry.ParseTraceID(s)
		if err != nil {
			WriteError(w, http.StatusBadRequest, name+": "+err.Error())
			return
		}
		ids[i] = id
	}
	var spans [2][]telemetry.Span
	for i, name := range []string{"a", "b"} {
		var err error
		if spans[i], err = a.st.Trace(r.Context(), project(r), ids[i]); err != nil {
			a.fail(w, "trace "+name+" "+ids[i].String(), err)
			return
		}
	}
	res := tracecompare.Compare(spans[0], spans[1])
	WriteJSON(w, http.StatusOK, TraceCompareResultJSON(spans[0], spans[1], res))
}
