package store

import (
	"sort"
	"time"

	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// Summarize builds the TraceSummary of a whole trace. The root is the span
// without a parent (the earliest one if several); when the root has not
// arrived, the earliest span stands in for it.
func Summarize(spans []telemetry.Span) TraceSummary {
	var ts TraceSummary
	if len(spans) == 0 {
		return ts
	}
	ts.TraceID = spans[0].TraceID
	ts.SpanCount = len(spans)
	var root *telemetry.Span
	minStart, maxEnd := spans[0].StartUnixNano, spans[0].EndUnixNano
	counts := map[string]int{}
	for i := range spans {
		s := &spans[i]
		if s.StartUnixNano < minStart {
			minStart = s.StartUnixNano
		}
		if s.EndUnixNano > maxEnd {
			maxEnd = s.EndUnixNano
		}
		if s.IsError() {
			ts.ErrorCount++
		}
		counts[s.Service()]++
		isRoot := !s.ParentSpanID.IsValid()
		switch {
		case root == nil:
			root = s
		case isRoot && root.ParentSpanID.IsValid():
			root = s
		case isRoot == !root.ParentSpanID.IsValid() && s.StartUnixNano < root.StartUnixNano:
			root = s
		}
	}
	ts.RootService = root.Service()
	ts.RootOperation = root.Name
	ts.Start = time.Unix(0, minStart).UTC()
	if maxEnd > minStart {
		ts.Duration = time.Duration(maxEnd - minStart)
	}
	for name, n := range counts {
		ts.Services = append(ts.Services, ServiceSpans{Service: name, Spans: n})
	}
	sort.Slice(ts.Services, func(i, j int) bool { return ts.Services[i].Service < ts.Services[j].Service })
	return ts
}

// SortSpans orders spans by start time, then span ID, for stable output.
func SortSpans(spans []telemetry.Span) {
	sort.SliceStable(spans, func(i, j int) bool {
		if spans[i].StartUnixNano != spans[j].StartUnixNano {
			return spans[i].StartUnixNano < spans[j].StartUnixNano
		}
		return string(spans[i].SpanID[:]) < string(spans[j].SpanID[:])
	})
}
