// Package telemetry holds TraceKit's own representation of trace data: spans,
// their attributes, events and links, decoded once at the edge (OTLP) and then
// passed unchanged through batching, storage and the query API.
//
// It owns no I/O. Decoding from OTLP lives in package ingest, encoding for
// disk in the storage backends.
package telemetry

import (
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// TraceID is a W3C trace ID: 16 bytes, never all zero when valid.
type TraceID [16]byte

// SpanID is a W3C span (parent) ID: 8 bytes, never all zero when valid.
type SpanID [8]byte

// ErrInvalidID is returned when a trace or span ID is malformed or all zero.
var ErrInvalidID = errors.New("invalid id")

// IsValid reports whether id is not all zero.
func (id TraceID) IsValid() bool { return id != TraceID{} }

// String returns the lower-case hex form used by W3C Trace Context.
func (id TraceID) String() string { return hex.EncodeToString(id[:]) }

// IsValid reports whether id is not all zero.
func (id SpanID) IsValid() bool { return id != SpanID{} }

// String returns the lower-case hex form, or "" for the zero ID.
func (id SpanID) String() string {
	if !id.IsValid() {
		return ""
	}
	return hex.EncodeToString(id[:])
}

// ParseTraceID parses 32 hex digits (either case) into a TraceID.
func ParseTraceID(s string) (TraceID, error) {
	var id TraceID
	if len(s) != 32 {
		return id, fmt.Errorf("%w: trace id %q must be 32 hex digits", ErrInvalidID, s)
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("%w: trace id %q is not hex", ErrInvalidID, s)
	}
	if !id.IsValid() {
		return id, fmt.Errorf("%w: trace id is all zero", ErrInvalidID)
	}
	return id, nil
}

// ParseSpanID parses 16 hex digits (either case) into a SpanID.
func ParseSpanID(s string) (SpanID, error) {
	var id SpanID
	if len(s) != 16 {
		return id, fmt.Errorf("%w: span id %q must be 16 hex digits", ErrInvalidID, s)
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("%w: span id %q is not hex", ErrInvalidID, s)
	}
	if !id.IsValid() {
		return id, fmt.Errorf("%w: span id is all zero", ErrInvalidID)
	}
	return id, nil
}

// SpanKind is the OTLP span kind.
type SpanKind uint8

// The OTLP span kinds, with OTLP's numbering.
const (
	KindUnspecified SpanKind = iota
	KindInternal
	KindServer
	KindClient
	KindProducer
	KindConsumer
)

var kindNames = [...]string{"unspecified", "internal", "server", "client", "producer", "consumer"}

// String returns the lower-case kind name used by the JSON API.
func (k SpanKind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unspecified"
}

// StatusCode is the OTLP span status code.
type StatusCode uint8

// The OTLP status codes, with OTLP's numbering.
const (
	StatusUnset StatusCode = iota
	StatusOK
	StatusError
)

// String returns "unset", "ok" or "error".
func (c StatusCode) String() string {
	switch c {
	case StatusOK:
		return "ok"
	case StatusError:
		return "error"
	}
	return "unset"
}

// Span is one operation of one service within a trace.
type Span struct {
	TraceID       TraceID
	SpanID        SpanID
	ParentSpanID  SpanID
	TraceState    string
	Name          string
	Kind          SpanKind
	StartUnixNano int64
	EndUnixNano   int64
	StatusCode    StatusCode
	StatusMessage string
	Attributes    []Attribute
	Events        []Event
	Links         []Link
	// Resource is shared by every span of one OTLP ResourceSpans; never nil
	// for a span that came through ingest.
	Resource *Resource
	// ScopeName and ScopeVersion name the instrumentation library.
	ScopeName    string
	ScopeVersion string
}

// Duration is EndUnixNano - StartUnixNano, never negative.
func (s *Span) Duration() time.Duration {
	if s.EndUnixNano < s.StartUnixNano {
		return 0
	}
	return time.Duration(s.EndUnixNano - s.StartUnixNano)
}

// Service returns the service.name of the span's resource.
func (s *Span) Service() string {
	if s.Resource == nil {
		return ""
	}
	return s.Resource.ServiceName
}

// IsError reports whether the span's status is error.
func (s *Span) IsError() bool { return s.StatusCode == StatusError }

// Resource describes the entity that produced spans: a service instance.
type Resource struct {
	// ServiceName is the value of the service.name attribute, or
	// "unknown_service" when the resource has none (as OTel specifies).
	ServiceName string
	Attributes  []Attribute
}

// Event is a timestamped annotation on a span; exceptions are events named
// "exception" with exception.* attributes.
type Event struct {
	Name         string
	TimeUnixNano int64
	Attributes   []Attribute
}

// Link points from a span to a span of another (or the same) trace.
type Link struct {
	TraceID    TraceID
	SpanID     SpanID
	TraceState string
	Attributes []Attribute
}

// Attribute is one key-value pair.
type Attribute struct {
	Key   string
	Value Value
}

// ValueType tells which field of a Value is set.
type ValueType uint8

// The value types. Arrays and maps keep their JSON encoding in Str.
const (
	TypeEmpty ValueType = iota
	TypeString
	TypeBool
	TypeInt
	TypeDouble
	TypeBytes
	TypeArray // JSON text in Str
	TypeMap   // JSON text in Str
)

// Value is an attribute value. Only the field matching Type is meaningful.
type Value struct {
	Type   ValueType
	Str    string // string, bytes (raw), array/map (JSON)
	Int    int64
	Double float64
	Bool   bool
}

// StringValue returns a string Value.
func StringValue(s string) Value { return Value{Type: TypeString, Str: s} }

// IntValue returns an integer Value.
func IntValue(i int64) Value { return Value{Type: TypeInt, Int: i} }

// BoolValue returns a boolean Value.
func BoolValue(b bool) Value { return Value{Type: TypeBool, Bool: b} }

// DoubleValue returns a floating point Value.
func DoubleValue(f float64) Value { return Value{Type: TypeDouble, Double: f} }

// Find returns the value of the attribute named key and whether it exists.
func Find(attrs []Attribute, key string) (Value, bool) {
	for i := range attrs {
		if attrs[i].Key == key {
			return attrs[i].Value, true
		}
	}
	return Value{}, false
}
