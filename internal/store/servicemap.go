package store

import (
	"context"
	"time"

	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// NodeKind says what a node of the service map is.
type NodeKind string

// The kinds of service-map nodes. A database, a queue or an external host
// is a leaf, named by the semantic-convention attributes of the client span
// that calls it (db.system, messaging.system, server.address, ...).
const (
	NodeService   NodeKind = "service"
	NodeDatabase  NodeKind = "database"
	NodeMessaging NodeKind = "messaging"
	NodeExternal  NodeKind = "external"
)

// ServiceEdge is one dependency of the service map over a time range: the
// calls from service Caller to Callee.
type ServiceEdge struct {
	Caller     string
	Callee     string
	CalleeKind NodeKind
	Calls      int64
	Errors     int64
	// P50, P95 and P99 are percentiles of the calls' durations, within 1%
	// (merged DurationSketch buckets).
	P50, P95, P99 time.Duration
	// Traces are a few recent traces holding such a call, newest first, to
	// open from the map.
	Traces []telemetry.TraceID
}

// ServiceMapReader reads the service map, aggregated as spans arrive (not
// by scanning traces when asked). It is optional: callers find it by type
// assertion, and the conformance suite skips it for a backend without it.
type ServiceMapReader interface {
	// ServiceMap returns the edges with calls whose start lies in
	// [start, end], sorted by caller, then callee.
	ServiceMap(ctx context.Context, project string, start, end time.Time) ([]ServiceEdge, error)
}
