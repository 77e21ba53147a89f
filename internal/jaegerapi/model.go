package jaegerapi

import (
	"encoding/base64"
	"encoding/hex"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// The JSON shapes of Jaeger's query API v1 (jaeger's model/json), in the
// order of their fields there. Times and durations are microseconds.

// envelope is every response: data on success, errors on failure.
type envelope struct {
	Data   any        `json:"data"`
	Total  int        `json:"total"`
	Limit  int        `json:"limit"`
	Offset int        `json:"offset"`
	Errors []apiError `json:"errors"`
}

// apiError is one error of the envelope; a trace asked for by ID in a
// search and not found carries its ID and no code.
type apiError struct {
	Code    int    `json:"code,omitempty"`
	Msg     string `json:"msg"`
	TraceID string `json:"traceID,omitempty"`
}

type trace struct {
	TraceID   string             `json:"traceID"`
	Spans     []span             `json:"spans"`
	Processes map[string]process `json:"processes"`
	Warnings  []string           `json:"warnings"`
}

type span struct {
	TraceID       string      `json:"traceID"`
	SpanID        string      `json:"spanID"`
	Flags         uint32      `json:"flags,omitempty"`
	OperationName string      `json:"operationName"`
	References    []reference `json:"references"`
	StartTime     int64       `json:"startTime"`
	Duration      int64       `json:"duration"`
	Tags          []keyValue  `json:"tags"`
	Logs          []spanLog   `json:"logs"`
	ProcessID     string      `json:"processID"`
	Warnings      []string    `json:"warnings"`
}

type reference struct {
	RefType string `json:"refType"`
	TraceID string `json:"traceID"`
	SpanID  string `json:"spanID"`
}

type process struct {
	ServiceName string     `json:"serviceName"`
	Tags        []keyValue `json:"tags"`
}

type spanLog struct {
	Timestamp int64      `json:"timestamp"`
	Fields    []keyValue `json:"fields"`
}

// keyValue is a tag: Type is string, bool, int64, float64 or binary, and
// Value a JSON value of that type (binary as base64, as Jaeger writes
// []byte).
type keyValue struct {
	Key   string `json:"key"`
	Type  string `json:"type"`
	Value any    `json:"value"`
}

type operation struct {
	Name     string `json:"name"`
	SpanKind string `json:"spanKind"`
}

type dependencyLink struct {
	Parent    string `json:"parent"`
	Child     string `json:"child"`
	CallCount int64  `json:"callCount"`
}

// Reference types.
const (
	childOf     = "CHILD_OF"
	followsFrom = "FOLLOWS_FROM"
)

// The tags by which Jaeger shows what OTLP keeps outside attributes, as the
// OpenTelemetry Collector's Jaeger translator names them.
const (
	tagSpanKind      = "span.kind"
	tagStatusCode    = "otel.status_code"
	tagStatusMessage = "otel.status_description"
	tagError         = "error"
	tagScopeName     = "otel.scope.name"
	tagScopeVersion  = "otel.scope.version"
	tagTraceState    = "w3c.tracestate"
	// fieldEvent is the log field holding an event's name.
	fieldEvent = "event"
)

// spanKind is the span.kind value of k: "" for unspecified.
func spanKind(k telemetry.SpanKind) string {
	if k == telemetry.KindUnspecified || k > telemetry.KindConsumer {
		return ""
	}
	return k.String()
}

// traceIDString writes an ID as Jaeger does: 16 hex digits when the high
// half is zero (a 64-bit ID), 32 otherwise. parseTraceID reads both back.
func traceIDString(id telemetry.TraceID) string {
	if [8]byte(id[:8]) == [8]byte{} {
		return hex.EncodeToString(id[8:])
	}
	return id.String()
}

// spanIDString writes 16 hex digits, zeros included.
func spanIDString(id telemetry.SpanID) string { return hex.EncodeToString(id[:]) }

func micros(nanos int64) int64 { return nanos / 1000 }

// tagValue converts an attribute value: arrays and maps become their JSON
// text, as Jaeger has no such types; non-finite floats their text, as JSON
// has no such numbers.
func tagValue(key string, v telemetry.Value) keyValue {
	switch v.Type {
	case telemetry.TypeBool:
		return keyValue{Key: key, Type: "bool", Value: v.Bool}
	case telemetry.TypeInt:
		return keyValue{Key: key, Type: "int64", Value: v.Int}
	case telemetry.TypeDouble:
		if math.IsNaN(v.Double) || math.IsInf(v.Double, 0) {
			return keyValue{Key: key, Type: "string", Value: strconv.FormatFloat(v.Double, 'g', -1, 64)}
		}
		return keyValue{Key: key, Type: "float64", Value: v.Double}
	case telemetry.TypeBytes:
		return keyValue{Key: key, Type: "binary", Value: base64.StdEncoding.EncodeToString([]byte(v.Str))}
	}
	return keyValue{Key: key, Type: "string", Value: v.Str}
}

func stringTag(key, value string) keyValue { return keyValue{Key: key, Type: "string", Value: value} }

// sortTags orders tags by key, keeping the order of equal keys, as Jaeger's
// query service does before answering.
func sortTags(kvs []keyValue) {
	slices.SortStableFunc(kvs, func(a, b keyValue) int { return strings.Compare(a.Key, b.Key) })
}

// converter turns the spans of one trace into a Jaeger trace, numbering
// processes p1, p2, ... in the order their spans start.
type converter struct {
	processes map[string]process
	// byResource and byKey find a process already numbered: by pointer
	// (spans of one batch share a Resource), else by content.
	byResource map[*telemetry.Resource]string
	byKey      map[string]string
	keyBuf     []byte
}

func convertTrace(spans []telemetry.Span) trace {
	c := converter{
		processes:  make(map[string]process, 2),
		byResource: make(map[*telemetry.Resource]string, 2),
		byKey:      make(map[string]string, 2),
	}
	out := trace{Spans: make([]span, len(spans)), Processes: c.processes}
	if len(spans) > 0 {
		out.TraceID = traceIDString(spans[0].TraceID)
	}
	for i := range spans {
		out.Spans[i] = c.span(&spans[i])
	}
	return out
}

func (c *converter) processID(r *telemetry.Resource) string {
	if id, ok := c.byResource[r]; ok {
		return id
	}
	p := process{ServiceName: "unknown_service"}
	if r != nil {
		p.ServiceName = r.ServiceName
		p.Tags = make([]keyValue, 0, len(r.Attributes))
		for _, a := range r.Attributes {
			if a.Key != "service.name" {
				p.Tags = append(p.Tags, tagValue(a.Key, a.Value))
			}
		}
		sortTags(p.Tags)
	} else {
		p.Tags = []keyValue{}
	}
	c.keyBuf = append(c.keyBuf[:0], p.ServiceName...)
	for _, t := range p.Tags {
		c.keyBuf = append(c.keyBuf, 0)
		c.keyBuf = append(c.keyBuf, t.Key...)
		c.keyBuf = append(c.keyBuf, 0)
		c.keyBuf = append(c.keyBuf, t.Type...)
		c.keyBuf = append(c.keyBuf, 0)
		c.keyBuf = appendAny(c.keyBuf, t.Value)
	}
	id, ok := c.byKey[string(c.keyBuf)]
	if !ok {
		id = "p" + strconv.Itoa(len(c.processes)+1)
		c.byKey[string(c.keyBuf)] = id
		c.processes[id] = p
	}
	c.byResource[r] = id
	return id
}

func appendAny(b []byte, v any) []byte {
	switch x := v.(type) {
	case string:
		return append(b, x...)
	case bool:
		return strconv.AppendBool(b, x)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case float64:
		return strconv.AppendFloat(b, x, 'g', -1, 64)
	}
	return b
}

func (c *converter) span(s *telemetry.Span) span {
	traceID := traceIDString(s.TraceID)
	out := span{
		TraceID:       traceID,
		SpanID:        spanIDString(s.SpanID),
		OperationName: s.Name,
		References:    make([]reference, 0, len(s.Links)+1),
		StartTime:     micros(s.StartUnixNano),
		Duration:      micros(int64(s.Duration())),
		Logs:          make([]spanLog, len(s.Events)),
		ProcessID:     c.processID(s.Resource),
	}
	// The parent first, then links, as the translator orders them.
	if s.ParentSpanID.IsValid() {
		out.References = append(out.References, reference{RefType: childOf, TraceID: traceID, SpanID: spanIDString(s.ParentSpanID)})
	}
	for _, l := range s.Links {
		out.References = append(out.References, reference{RefType: followsFrom, TraceID: traceIDString(l.TraceID), SpanID: spanIDString(l.SpanID)})
	}
	isErr := s.StatusCode == telemetry.StatusError
	tags := make([]keyValue, 0, len(s.Attributes)+6)
	for _, a := range s.Attributes {
		// An error status sets error=true, over any attribute of that name.
		if isErr && a.Key == tagError {
			continue
		}
		tags = append(tags, tagValue(a.Key, a.Value))
	}
	if s.ScopeName != "" {
		tags = append(tags, stringTag(tagScopeName, s.ScopeName))
	}
	if s.ScopeVersion != "" {
		tags = append(tags, stringTag(tagScopeVersion, s.ScopeVersion))
	}
	if k := spanKind(s.Kind); k != "" {
		tags = append(tags, stringTag(tagSpanKind, k))
	}
	switch s.StatusCode {
	case telemetry.StatusOK:
		tags = append(tags, stringTag(tagStatusCode, "OK"))
	case telemetry.StatusError:
		tags = append(tags, stringTag(tagStatusCode, "ERROR"), keyValue{Key: tagError, Type: "bool", Value: true})
	}
	if s.StatusMessage != "" {
		tags = append(tags, stringTag(tagStatusMessage, s.StatusMessage))
	}
	if s.TraceState != "" {
		tags = append(tags, stringTag(tagTraceState, s.TraceState))
	}
	sortTags(tags)
	out.Tags = tags
	for i, e := range s.Events {
		out.Logs[i] = eventLog(&e)
	}
	return out
}

// eventLog converts an event: its name is the field "event", unless an
// attribute of that name says otherwise; then the attributes by key.
func eventLog(e *telemetry.Event) spanLog {
	fields := make([]keyValue, 0, len(e.Attributes)+1)
	named := false
	for _, a := range e.Attributes {
		named = named || a.Key == fieldEvent
		fields = append(fields, tagValue(a.Key, a.Value))
	}
	sortTags(fields)
	if !named {
		fields = append(fields, stringTag(fieldEvent, ""))
		copy(fields[1:], fields)
		fields[0] = stringTag(fieldEvent, e.Name)
	} else {
		// "event" first, as Jaeger shows a log's name before its fields.
		i := slices.IndexFunc(fields, func(kv keyValue) bool { return kv.Key == fieldEvent })
		ev := fields[i]
		copy(fields[1:i+1], fields[:i])
		fields[0] = ev
	}
	return spanLog{Timestamp: micros(e.TimeUnixNano), Fields: fields}
}
