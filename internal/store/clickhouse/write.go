package clickhouse

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

const spanColumns = "project, day, service, name, start_ns, end_ns, duration_ns, trace_id, span_id, parent_span_id, " +
	"trace_state, kind, status_code, status_message, scope_name, scope_version, " +
	"attr_keys, attr_types, attr_values, res_keys, res_types, res_values, " +
	"event_names, event_times, event_attr_keys, event_attr_types, event_attr_values, " +
	"link_trace_ids, link_span_ids, link_trace_states, link_attr_keys, link_attr_types, link_attr_values"

const traceIndexColumns = "project, day, trace_id, span_id, parent_span_id, service, name, start_ns, end_ns, status_code"

const operationColumns = "project, day, service, name, kind, first_ns"

// partition picks the day a span is filed under: its start day, unless the
// start lies outside what retention keeps or more than an hour in the
// future (a client with a wrong clock); then the day it arrived. This bounds
// the partitions one batch touches, as the embedded store does.
func (s *Store) partition(start int64, now time.Time) uint16 {
	n := now.UnixNano()
	if start < n-int64(s.cfg.Retention) || start > n+int64(time.Hour) {
		return dayNumber(n)
	}
	return dayNumber(start)
}

// WriteSpans appends spans, their trace index rows and their operation
// names, each table in one INSERT. When it returns nil the server
// has written every row to its parts. Written again, as an exporter retries,
// the spans are read back once (see the package README).
func (s *Store) WriteSpans(ctx context.Context, project string, spans []telemetry.Span) error {
	if len(spans) == 0 {
		return nil
	}
	if err := s.check(project); err != nil {
		return err
	}
	now := s.cfg.Now()
	days := make([]uint16, len(spans))
	var idx, ops, rows rowWriter
	type opKey struct {
		day           uint16
		service, name string
		kind          telemetry.SpanKind
	}
	seen := map[opKey]int64{}
	for i := range spans {
		sp := &spans[i]
		d := s.partition(sp.StartUnixNano, now)
		days[i] = d
		svc := sp.Service()

		idx.str(project)
		idx.u16(d)
		idx.fixed(sp.TraceID[:])
		idx.fixed(sp.SpanID[:])
		idx.fixed(sp.ParentSpanID[:])
		idx.str(svc)
		idx.str(sp.Name)
		idx.i64(sp.StartUnixNano)
		idx.i64(sp.EndUnixNano)
		idx.u8(uint8(sp.StatusCode))

		k := opKey{d, svc, sp.Name, sp.Kind}
		if first, ok := seen[k]; !ok || sp.StartUnixNano < first {
			seen[k] = sp.StartUnixNano
		}
		encodeSpan(&rows, project, d, sp)
	}
	for k, first := range seen {
		ops.str(project)
		ops.u16(k.day)
		ops.str(k.service)
		ops.str(k.name)
		ops.u8(uint8(k.kind))
		ops.i64(first)
	}
	// The three INSERTs go at once: each costs the server a new part, and
	// their order does not matter to readers, which find a trace through
	// both the index and the spans and skip it until both are there.
	tables := [...]struct {
		name, columns string
		rows          []byte
	}{
		{"trace_index", traceIndexColumns, idx.b},
		{"operations", operationColumns, ops.b},
		{"spans", spanColumns, rows.b},
	}
	var errs [len(tables)]error
	var wg sync.WaitGroup
	for i := range tables {
		wg.Go(func() {
			if err := s.c.insert(ctx, tables[i].name, tables[i].columns, tables[i].rows); err != nil {
				errs[i] = fmt.Errorf("insert into %s: %w", tables[i].name, err)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs[:]...); err != nil {
		return fmt.Errorf("write %d spans: %w", len(spans), err)
	}
	return nil
}

func encodeSpan(w *rowWriter, project string, d uint16, sp *telemetry.Span) {
	w.str(project)
	w.u16(d)
	w.str(sp.Service())
	w.str(sp.Name)
	w.i64(sp.StartUnixNano)
	w.i64(sp.EndUnixNano)
	w.i64(int64(sp.Duration()))
	w.fixed(sp.TraceID[:])
	w.fixed(sp.SpanID[:])
	w.fixed(sp.ParentSpanID[:])
	w.str(sp.TraceState)
	w.u8(uint8(sp.Kind))
	w.u8(uint8(sp.StatusCode))
	w.str(sp.StatusMessage)
	w.str(sp.ScopeName)
	w.str(sp.ScopeVersion)
	encodeAttrs(w, sp.Attributes)
	var res []telemetry.Attribute
	if sp.Resource != nil {
		res = sp.Resource.Attributes
	}
	encodeAttrs(w, res)

	w.uvarint(uint64(len(sp.Events)))
	for i := range sp.Events {
		w.str(sp.Events[i].Name)
	}
	w.uvarint(uint64(len(sp.Events)))
	for i := range sp.Events {
		w.i64(sp.Events[i].TimeUnixNano)
	}
	nestedAttrs(w, len(sp.Events), func(i int) []telemetry.Attribute { return sp.Events[i].Attributes })

	w.uvarint(uint64(len(sp.Links)))
	for i := range sp.Links {
		w.fixed(sp.Links[i].TraceID[:])
	}
	w.uvarint(uint64(len(sp.Links)))
	for i := range sp.Links {
		w.fixed(sp.Links[i].SpanID[:])
	}
	w.uvarint(uint64(len(sp.Links)))
	for i := range sp.Links {
		w.str(sp.Links[i].TraceState)
	}
	nestedAttrs(w, len(sp.Links), func(i int) []telemetry.Attribute { return sp.Links[i].Attributes })
}

// encodeAttrs writes three parallel arrays: keys, value types and values in
// their search text form (telemetry.Value.AsString), which decodeValue turns
// back into the typed value exactly.
func encodeAttrs(w *rowWriter, attrs []telemetry.Attribute) {
	w.uvarint(uint64(len(attrs)))
	for i := range attrs {
		w.str(attrs[i].Key)
	}
	w.uvarint(uint64(len(attrs)))
	for i := range attrs {
		w.u8(uint8(attrs[i].Value.Type))
	}
	w.uvarint(uint64(len(attrs)))
	for i := range attrs {
		w.str(attrs[i].Value.AsString())
	}
}

// nestedAttrs writes the attributes of n events or links as three arrays of
// arrays.
func nestedAttrs(w *rowWriter, n int, attrs func(i int) []telemetry.Attribute) {
	w.uvarint(uint64(n))
	for i := 0; i < n; i++ {
		a := attrs(i)
		w.uvarint(uint64(len(a)))
		for j := range a {
			w.str(a[j].Key)
		}
	}
	w.uvarint(uint64(n))
	for i := 0; i < n; i++ {
		a := attrs(i)
		w.uvarint(uint64(len(a)))
		for j := range a {
			w.u8(uint8(a[j].Value.Type))
		}
	}
	w.uvarint(uint64(n))
	for i := 0; i < n; i++ {
		a := attrs(i)
		w.uvarint(uint64(len(a)))
		for j := range a {
			w.str(a[j].Value.AsString())
		}
	}
}

// decodeValue turns a stored text form back into a typed value. Text that
// does not parse as its type (written by something else) stays a string.
func decodeValue(typ uint8, text string) telemetry.Value {
	switch t := telemetry.ValueType(typ); t {
	case telemetry.TypeEmpty:
		return telemetry.Value{}
	case telemetry.TypeString, telemetry.TypeArray, telemetry.TypeMap:
		return telemetry.Value{Type: t, Str: text}
	case telemetry.TypeBool:
		if b, err := strconv.ParseBool(text); err == nil {
			return telemetry.BoolValue(b)
		}
	case telemetry.TypeInt:
		if n, err := strconv.ParseInt(text, 10, 64); err == nil {
			return telemetry.IntValue(n)
		}
	case telemetry.TypeDouble:
		if f, err := strconv.ParseFloat(text, 64); err == nil || math.IsInf(f, 0) {
			return telemetry.DoubleValue(f)
		}
	case telemetry.TypeBytes:
		if raw, err := base64.StdEncoding.DecodeString(text); err == nil {
			return telemetry.Value{Type: telemetry.TypeBytes, Str: string(raw)}
		}
	}
	return telemetry.StringValue(text)
}

func decodeAttrs(keys []string, types []uint8, values []string) []telemetry.Attribute {
	n := min(len(keys), len(types), len(values))
	if n == 0 {
		return nil
	}
	out := make([]telemetry.Attribute, n)
	for i := 0; i < n; i++ {
		out[i] = telemetry.Attribute{Key: keys[i], Value: decodeValue(types[i], values[i])}
	}
	return out
}
