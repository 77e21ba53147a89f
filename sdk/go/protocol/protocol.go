// Package protocol defines the code-monitoring protocol between SDKs and the
// TraceKit server, as docs/protocol.md describes it: the endpoints, the
// breakpoint set an SDK receives over SSE or polling, and the messages it
// sends (capture points, server-side checks, snapshot and logpoint uploads).
//
// It is the one definition both sides use: the Go SDK encodes and decodes
// these types, and so does the server (which imports this module for them
// and for the condition language). It owns no behaviour and no I/O; how the
// server stores what it receives is its own business.
package protocol

import (
	"encoding/json"
	"time"
)

// The SDK endpoints, relative to the server's base URL.
const (
	// PathStream is the Server-Sent Events stream of breakpoint sets (GET).
	PathStream = "/v1/codemon/stream"
	// PathBreakpoints returns the current breakpoint set (GET, with ETag).
	PathBreakpoints = "/v1/codemon/breakpoints"
	// PathCapturePoints registers the capture points an SDK has seen (POST).
	PathCapturePoints = "/v1/codemon/capture-points"
	// PathCheck evaluates a condition on the server (POST).
	PathCheck = "/v1/codemon/check"
	// PathSnapshots receives snapshots and logpoint lines (POST).
	PathSnapshots = "/v1/codemon/snapshots"
	// EventBreakpoints is the SSE event name of a breakpoint set.
	EventBreakpoints = "breakpoints"
)

// BreakpointType is what a breakpoint does when it is hit.
type BreakpointType string

// The breakpoint types.
const (
	// Line captures a snapshot whenever the location is hit.
	Line BreakpointType = "line"
	// Conditional captures when its condition is true.
	Conditional BreakpointType = "conditional"
	// Logpoint writes its message template instead of a snapshot.
	Logpoint BreakpointType = "logpoint"
)

// Valid reports whether t is a known type.
func (t BreakpointType) Valid() bool { return t == Line || t == Conditional || t == Logpoint }

// BreakpointSet is every breakpoint that applies to one service, as the
// stream and the polling endpoint deliver it. Version changes whenever the
// set or the kill switch does.
type BreakpointSet struct {
	Service     string       `json:"service"`
	Version     string       `json:"version"`
	KillSwitch  bool         `json:"killSwitch"`
	Breakpoints []Breakpoint `json:"breakpoints"`
}

// Breakpoint is one active breakpoint as SDKs receive it. It matches a
// capture point by name, or a call site by file suffix and line.
type Breakpoint struct {
	ID              string         `json:"id"`
	Type            BreakpointType `json:"type"`
	File            string         `json:"file,omitempty"`
	Line            int            `json:"line,omitempty"`
	CapturePoint    string         `json:"capturePoint,omitempty"`
	Condition       string         `json:"condition,omitempty"`
	Message         string         `json:"message,omitempty"`
	CaptureDepth    int            `json:"captureDepth"`
	RateLimit       int            `json:"rateLimit"`
	MaxStringLength int            `json:"maxStringLength"`
	Environment     string         `json:"environment,omitempty"`
	ExpiresAt       time.Time      `json:"expiresAt"`
}

// Instance is how an SDK describes itself, in the query string of GET
// requests and at the top of every POST body.
type Instance struct {
	Service     string `json:"service"`
	Environment string `json:"environment,omitempty"`
	Instance    string `json:"instance"`
	Host        string `json:"host,omitempty"`
	SDK         string `json:"sdk,omitempty"`
}

// CapturePoint is a call site an SDK has seen.
type CapturePoint struct {
	Name     string `json:"name"`
	File     string `json:"file"`
	Line     int    `json:"line"`
	Function string `json:"function"`
}

// CapturePointsRequest is the body of POST PathCapturePoints.
type CapturePointsRequest struct {
	Instance
	Points []CapturePoint `json:"points"`
}

// CheckRequest is the body of POST PathCheck: the variables are already
// scrubbed of PII.
type CheckRequest struct {
	Instance
	BreakpointID string         `json:"breakpointId"`
	Variables    map[string]any `json:"variables"`
}

// CheckResponse answers a CheckRequest.
type CheckResponse struct {
	Capture bool `json:"capture"`
	// KillSwitch is true when the service's kill switch is on.
	KillSwitch bool `json:"killSwitch,omitempty"`
	// Error says why the condition could not be evaluated.
	Error string `json:"error,omitempty"`
	// Message is a logpoint's message rendered on the variables sent, when
	// it fires: an SDK that does not evaluate templates in process writes
	// and uploads this.
	Message string `json:"message,omitempty"`
}

// Frame is one frame of a snapshot's stack, innermost first.
type Frame struct {
	Function string `json:"function"`
	File     string `json:"file"`
	Line     int    `json:"line"`
}

// Snapshot is the state captured when a breakpoint fired, scrubbed of PII.
type Snapshot struct {
	// ID is the SDK's name for the snapshot (NewRecordID), so that the
	// server stores a retried upload once; empty: the server names it.
	ID           string          `json:"id,omitempty"`
	BreakpointID string          `json:"breakpointId"`
	CapturePoint string          `json:"capturePoint,omitempty"`
	File         string          `json:"file"`
	Line         int             `json:"line"`
	Function     string          `json:"function,omitempty"`
	Time         time.Time       `json:"time"`
	TraceID      string          `json:"traceId,omitempty"`
	SpanID       string          `json:"spanId,omitempty"`
	Variables    json.RawMessage `json:"variables"`
	Stack        []Frame         `json:"stack"`
	Truncated    bool            `json:"truncated"`
}

// LogLine is one rendered logpoint message.
type LogLine struct {
	// ID is the SDK's name for the line (NewRecordID), as for snapshots.
	ID           string    `json:"id,omitempty"`
	BreakpointID string    `json:"breakpointId"`
	CapturePoint string    `json:"capturePoint,omitempty"`
	File         string    `json:"file"`
	Line         int       `json:"line"`
	Time         time.Time `json:"time"`
	TraceID      string    `json:"traceId,omitempty"`
	SpanID       string    `json:"spanId,omitempty"`
	Message      string    `json:"message"`
}

// UploadRequest is the body of POST PathSnapshots.
type UploadRequest struct {
	Instance
	Snapshots []Snapshot `json:"snapshots,omitempty"`
	Logs      []LogLine  `json:"logs,omitempty"`
}

// UploadResponse answers an UploadRequest (202).
type UploadResponse struct {
	Accepted int `json:"accepted"`
	// Rejected counts items refused without failing the rest (a snapshot
	// of a breakpoint the project does not know), with Errors saying why.
	Rejected int      `json:"rejected,omitempty"`
	Errors   []string `json:"errors,omitempty"`
}
