package clickhouse

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// maxTraceRanges bounds the (service, day, start range) terms Trace puts in
// its condition on spans; a trace spread wider is read by day alone.
const maxTraceRanges = 64

// readColumns are the spans columns a whole span is read from, in the order
// readSpan decodes them.
const readColumns = "service, name, start_ns, end_ns, trace_id, span_id, parent_span_id, trace_state, kind, " +
	"status_code, status_message, scope_name, scope_version, " +
	"attr_keys, attr_types, attr_values, res_keys, res_types, res_values, " +
	"event_names, event_times, event_attr_keys, event_attr_types, event_attr_values, " +
	"link_trace_ids, link_span_ids, link_trace_states, link_attr_keys, link_attr_types, link_attr_values"

// Trace reads the trace index for where the trace's spans lie (days, and
// per service a start range), then reads just those ranges of spans by
// their sorting key. Spans written more than once come back once.
func (s *Store) Trace(ctx context.Context, project string, id telemetry.TraceID) ([]telemetry.Span, error) {
	if err := s.check(project); err != nil {
		return nil, err
	}
	type where struct {
		service string
		day     uint16
		lo, hi  int64
	}
	var ranges []where
	q := fmt.Sprintf("SELECT service, day, min(start_ns), max(start_ns) FROM trace_index WHERE project = %s AND trace_id = %s GROUP BY service, day",
		quote(project), hexLiteral(id[:]))
	err := s.c.query(ctx, q, func(r *rowReader) error {
		ranges = append(ranges, where{service: r.str(), day: r.u16(), lo: r.i64(), hi: r.i64()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read trace %s: look up trace_index: %w", id, err)
	}
	if len(ranges) == 0 {
		return nil, store.ErrNotFound
	}
	days := map[uint16]bool{}
	var dayList, terms []string
	for _, w := range ranges {
		if !days[w.day] {
			days[w.day] = true
			dayList = append(dayList, dateLiteral(w.day))
		}
		terms = append(terms, fmt.Sprintf("(service = %s AND start_ns BETWEEN %d AND %d)", quote(w.service), w.lo, w.hi))
	}
	cond := fmt.Sprintf("project = %s AND day IN (%s) AND trace_id = %s", quote(project), strings.Join(dayList, ", "), hexLiteral(id[:]))
	if len(terms) <= maxTraceRanges {
		cond += " AND (" + strings.Join(terms, " OR ") + ")"
	}
	var spans []telemetry.Span
	err = s.c.query(ctx, "SELECT "+readColumns+" FROM spans WHERE "+cond+" LIMIT 1 BY span_id", func(r *rowReader) error {
		spans = append(spans, readSpan(r))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read trace %s: %w", id, err)
	}
	if len(spans) == 0 {
		return nil, store.ErrNotFound
	}
	store.SortSpans(spans)
	return spans, nil
}

func readSpan(r *rowReader) telemetry.Span {
	var sp telemetry.Span
	service := r.str()
	sp.Name = r.str()
	sp.StartUnixNano = r.i64()
	sp.EndUnixNano = r.i64()
	r.fixed(sp.TraceID[:])
	r.fixed(sp.SpanID[:])
	r.fixed(sp.ParentSpanID[:])
	sp.TraceState = r.str()
	sp.Kind = telemetry.SpanKind(r.u8())
	sp.StatusCode = telemetry.StatusCode(r.u8())
	sp.StatusMessage = r.str()
	sp.ScopeName = r.str()
	sp.ScopeVersion = r.str()
	sp.Attributes = decodeAttrs(r.strs(), r.u8s(), r.strs())
	res := decodeAttrs(r.strs(), r.u8s(), r.strs())
	if service != "" || len(res) > 0 {
		sp.Resource = &telemetry.Resource{ServiceName: service, Attributes: res}
	}

	names := r.strs()
	times := r.i64s()
	attrs := readNestedAttrs(r)
	if n := min(len(names), len(times)); n > 0 {
		sp.Events = make([]telemetry.Event, n)
		for i := range sp.Events {
			sp.Events[i] = telemetry.Event{Name: names[i], TimeUnixNano: times[i]}
			if i < len(attrs) {
				sp.Events[i].Attributes = attrs[i]
			}
		}
	}

	n := r.length()
	traceIDs := make([]telemetry.TraceID, n)
	for i := range traceIDs {
		r.fixed(traceIDs[i][:])
	}
	n = r.length()
	spanIDs := make([]telemetry.SpanID, n)
	for i := range spanIDs {
		r.fixed(spanIDs[i][:])
	}
	states := r.strs()
	attrs = readNestedAttrs(r)
	if n := min(len(traceIDs), len(spanIDs), len(states)); n > 0 {
		sp.Links = make([]telemetry.Link, n)
		for i := range sp.Links {
			sp.Links[i] = telemetry.Link{TraceID: traceIDs[i], SpanID: spanIDs[i], TraceState: states[i]}
			if i < len(attrs) {
				sp.Links[i].Attributes = attrs[i]
			}
		}
	}
	return sp
}

// readNestedAttrs reads the three arrays of arrays nestedAttrs wrote.
func readNestedAttrs(r *rowReader) [][]telemetry.Attribute {
	n := r.length()
	keys := make([][]string, n)
	for i := range keys {
		keys[i] = r.strs()
	}
	n = r.length()
	types := make([][]uint8, n)
	for i := range types {
		types[i] = r.u8s()
	}
	n = r.length()
	values := make([][]string, n)
	for i := range values {
		values[i] = r.strs()
	}
	out := make([][]telemetry.Attribute, min(len(keys), len(types), len(values)))
	for i := range out {
		out[i] = decodeAttrs(keys[i], types[i], values[i])
	}
	return out
}

// FindTraces finds the traces whose latest matching span is newest, in one
// aggregation over spans (the sorting key narrows it to the project, and
// the service when the query names one; the day partitions to the time
// range), then sums up those traces from the trace index.
func (s *Store) FindTraces(ctx context.Context, project string, q store.TraceQuery) ([]store.TraceSummary, error) {
	if err := s.check(project); err != nil {
		return nil, err
	}
	limit := q.Limit
	if limit <= 0 {
		limit = store.DefaultLimit
	}
	limit = min(limit, store.MaxLimit)
	end := q.End
	if end.IsZero() {
		end = s.cfg.Now().Add(time.Hour)
	}
	start := q.Start
	if start.IsZero() {
		start = end.Add(-s.cfg.Retention - day)
	}
	if start.After(end) {
		return nil, nil
	}
	lo, hi := start.UnixNano(), end.UnixNano()
	conds := []string{
		"project = " + quote(project),
		fmt.Sprintf("day BETWEEN %s AND %s", dateLiteral(dayNumber(lo)), dateLiteral(dayNumber(hi))),
		fmt.Sprintf("start_ns BETWEEN %d AND %d", lo, hi),
	}
	if q.Service != "" {
		conds = append(conds, "service = "+quote(q.Service))
	}
	if q.Operation != "" {
		conds = append(conds, "name = "+quote(q.Operation))
	}
	if q.MinDuration > 0 {
		conds = append(conds, "duration_ns >= "+strconv.FormatInt(int64(q.MinDuration), 10))
	}
	if q.MaxDuration > 0 {
		conds = append(conds, "duration_ns <= "+strconv.FormatInt(int64(q.MaxDuration), 10))
	}
	if q.ErrorsOnly {
		conds = append(conds, fmt.Sprintf("status_code = %d", telemetry.StatusError))
	}
	for _, a := range q.Attributes {
		conds = append(conds, s.attributeCondition(a))
	}
	sql := fmt.Sprintf("SELECT trace_id, max(start_ns) AS latest FROM spans WHERE %s GROUP BY trace_id ORDER BY latest DESC, trace_id LIMIT %d",
		strings.Join(conds, " AND "), limit)
	var found []telemetry.TraceID
	err := s.c.query(ctx, sql, func(r *rowReader) error {
		var id telemetry.TraceID
		r.fixed(id[:])
		r.i64()
		found = append(found, id)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("find traces: %w", err)
	}
	if len(found) == 0 {
		return nil, nil
	}
	sums, err := s.summaries(ctx, project, found)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(sums, func(i, j int) bool { return sums[i].Start.After(sums[j].Start) })
	return sums, nil
}

// attributeCondition matches a span whose own attribute, or else its
// resource's, named key has the text value: the first attribute of that
// name, as telemetry.Find picks it.
func (s *Store) attributeCondition(a store.AttributeFilter) string {
	k, v := quote(a.Key), quote(a.Value)
	c := fmt.Sprintf("((indexOf(attr_keys, %[1]s) > 0 AND attr_values[indexOf(attr_keys, %[1]s)] = %[2]s) OR "+
		"(indexOf(res_keys, %[1]s) > 0 AND res_values[indexOf(res_keys, %[1]s)] = %[2]s))", k, v)
	if s.feat.skipIndexes {
		// Implied by the exact condition; the bloom filters skip by it.
		c = fmt.Sprintf("(has(attr_values, %[1]s) OR has(res_values, %[1]s)) AND %[2]s", v, c)
	}
	return c
}

// summaries reads the index rows of the traces and sums each up, in the
// order of ids.
func (s *Store) summaries(ctx context.Context, project string, ids []telemetry.TraceID) ([]store.TraceSummary, error) {
	var in strings.Builder
	for i := range ids {
		if i > 0 {
			in.WriteString(", ")
		}
		in.WriteString(hexLiteral(ids[i][:]))
	}
	sql := fmt.Sprintf("SELECT trace_id, span_id, parent_span_id, service, name, start_ns, end_ns, status_code "+
		"FROM trace_index WHERE project = %s AND trace_id IN (%s) LIMIT 1 BY trace_id, span_id", quote(project), in.String())
	byTrace := map[telemetry.TraceID][]telemetry.Span{}
	resources := map[string]*telemetry.Resource{}
	err := s.c.query(ctx, sql, func(r *rowReader) error {
		var sp telemetry.Span
		r.fixed(sp.TraceID[:])
		r.fixed(sp.SpanID[:])
		r.fixed(sp.ParentSpanID[:])
		svc := r.str()
		sp.Name = r.str()
		sp.StartUnixNano = r.i64()
		sp.EndUnixNano = r.i64()
		sp.StatusCode = telemetry.StatusCode(r.u8())
		res := resources[svc]
		if res == nil {
			res = &telemetry.Resource{ServiceName: svc}
			resources[svc] = res
		}
		sp.Resource = res
		byTrace[sp.TraceID] = append(byTrace[sp.TraceID], sp)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sum up %d traces: %w", len(ids), err)
	}
	out := make([]store.TraceSummary, 0, len(ids))
	for _, id := range ids {
		if spans := byTrace[id]; len(spans) > 0 {
			out = append(out, store.Summarize(spans))
		}
	}
	return out, nil
}

// Services lists the project's services from the operations table.
func (s *Store) Services(ctx context.Context, project string) ([]string, error) {
	if err := s.check(project); err != nil {
		return nil, err
	}
	var out []string
	err := s.c.query(ctx, "SELECT DISTINCT service FROM operations WHERE project = "+quote(project)+" ORDER BY service", func(r *rowReader) error {
		out = append(out, r.str())
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list services: %w", err)
	}
	return out, nil
}

// Operations lists a service's operations, each with the kind it was first
// seen with.
func (s *Store) Operations(ctx context.Context, project, service string) ([]store.Operation, error) {
	if err := s.check(project); err != nil {
		return nil, err
	}
	var out []store.Operation
	sql := fmt.Sprintf("SELECT name, argMin(kind, first_ns) FROM operations WHERE project = %s AND service = %s GROUP BY name ORDER BY name",
		quote(project), quote(service))
	err := s.c.query(ctx, sql, func(r *rowReader) error {
		out = append(out, store.Operation{Name: r.str(), Kind: telemetry.SpanKind(r.u8())})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list operations of %s: %w", service, err)
	}
	return out, nil
}
