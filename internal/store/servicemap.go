package store

import (
	"context"
	"slices"
	"strings"
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

// ServiceNode is a node of the service map: a service, or a leaf named by
// the client spans that call it.
type ServiceNode struct {
	Name string
	Kind NodeKind
}

// ServiceMapNodes lists the nodes the edges join, once each: services
// first, then databases, queues and external hosts, each sorted by name.
func ServiceMapNodes(edges []ServiceEdge) []ServiceNode {
	seen := map[ServiceNode]bool{}
	var out []ServiceNode
	add := func(n ServiceNode) {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	for _, e := range edges {
		add(ServiceNode{e.Caller, NodeService})
		add(ServiceNode{e.Callee, e.CalleeKind})
	}
	rank := map[NodeKind]int{NodeService: 0, NodeDatabase: 1, NodeMessaging: 2, NodeExternal: 3}
	slices.SortFunc(out, func(a, b ServiceNode) int {
		if a.Kind != b.Kind {
			return rank[a.Kind] - rank[b.Kind]
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}
