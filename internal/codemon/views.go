package codemon

import (
	"encoding/json"
	"time"

	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/sdk/go/protocol"
)

// The management API answers with these types, not with the storage
// structs: what a stored record holds (its project, say) is not what a
// client reads, and a storage change must not change the API.

// BreakpointJSON is a breakpoint in the management API, with its status
// (active, paused or expired) and hit counts.
type BreakpointJSON struct {
	ID              string                  `json:"id"`
	Project         string                  `json:"project"`
	Service         string                  `json:"service"`
	Type            protocol.BreakpointType `json:"type"`
	File            string                  `json:"file,omitempty"`
	Line            int                     `json:"line,omitempty"`
	CapturePoint    string                  `json:"capturePoint,omitempty"`
	Condition       string                  `json:"condition,omitempty"`
	Message         string                  `json:"message,omitempty"`
	CaptureDepth    int                     `json:"captureDepth"`
	RateLimit       int                     `json:"rateLimit"`
	MaxStringLength int                     `json:"maxStringLength"`
	Environment     string                  `json:"environment,omitempty"`
	ExpiresAt       time.Time               `json:"expiresAt"`
	Paused          bool                    `json:"paused"`
	CreatedAt       time.Time               `json:"createdAt"`
	UpdatedAt       time.Time               `json:"updatedAt"`
	Hits            int64                   `json:"hits"`
	LastHitAt       *time.Time              `json:"lastHitAt,omitempty"`
	Status          string                  `json:"status"`
}

// KillSwitchJSON is a service's kill switch in the management API.
type KillSwitchJSON struct {
	Service   string    `json:"service"`
	Enabled   bool      `json:"enabled"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// CapturePointJSON is a capture point an SDK registered, in the
// management API.
type CapturePointJSON struct {
	Service   string    `json:"service"`
	Name      string    `json:"name"`
	File      string    `json:"file"`
	Line      int       `json:"line"`
	Function  string    `json:"function"`
	FirstSeen time.Time `json:"firstSeen"`
	LastSeen  time.Time `json:"lastSeen"`
}

// SnapshotJSON is a snapshot in the management API.
type SnapshotJSON struct {
	ID           string           `json:"id"`
	BreakpointID string           `json:"breakpointId"`
	Service      string           `json:"service"`
	Environment  string           `json:"environment,omitempty"`
	Host         string           `json:"host,omitempty"`
	Instance     string           `json:"instance,omitempty"`
	SDKVersion   string           `json:"sdk,omitempty"`
	CapturePoint string           `json:"capturePoint,omitempty"`
	File         string           `json:"file,omitempty"`
	Line         int              `json:"line,omitempty"`
	Function     string           `json:"function,omitempty"`
	Time         time.Time        `json:"time"`
	TraceID      string           `json:"traceId,omitempty"`
	SpanID       string           `json:"spanId,omitempty"`
	Variables    json.RawMessage  `json:"variables"`
	Stack        []protocol.Frame `json:"stack"`
	Truncated    bool             `json:"truncated,omitempty"`
}

// LogLineJSON is a logpoint line in the management API.
type LogLineJSON struct {
	ID           string    `json:"id"`
	BreakpointID string    `json:"breakpointId"`
	Service      string    `json:"service"`
	Environment  string    `json:"environment,omitempty"`
	Host         string    `json:"host,omitempty"`
	CapturePoint string    `json:"capturePoint,omitempty"`
	File         string    `json:"file,omitempty"`
	Line         int       `json:"line,omitempty"`
	Time         time.Time `json:"time"`
	TraceID      string    `json:"traceId,omitempty"`
	SpanID       string    `json:"spanId,omitempty"`
	Message      string    `json:"message"`
}

// SnapshotView returns sn as the API shows it.
func SnapshotView(sn store.Snapshot) SnapshotJSON {
	out := SnapshotJSON{
		ID: sn.ID, BreakpointID: sn.BreakpointID, Service: sn.Service, Environment: sn.Environment, Host: sn.Host,
		Instance: sn.Instance, SDKVersion: sn.SDKVersion, CapturePoint: sn.CapturePoint, File: sn.File, Line: sn.Line,
		Function: sn.Function, Time: sn.Time, TraceID: sn.TraceID, SpanID: sn.SpanID, Variables: sn.Variables,
		Stack: make([]protocol.Frame, len(sn.Stack)), Truncated: sn.Truncated,
	}
	if len(out.Variables) == 0 {
		out.Variables = json.RawMessage(`{}`)
	}
	for i, f := range sn.Stack {
		out.Stack[i] = protocol.Frame(f)
	}
	return out
}

func snapshotViews(snaps []store.Snapshot) []SnapshotJSON {
	out := make([]SnapshotJSON, len(snaps))
	for i, sn := range snaps {
		out[i] = SnapshotView(sn)
	}
	return out
}

func logViews(lines []store.LogLine) []LogLineJSON {
	out := make([]LogLineJSON, len(lines))
	for i, l := range lines {
		out[i] = LogLineJSON{
			ID: l.ID, BreakpointID: l.BreakpointID, Service: l.Service, Environment: l.Environment, Host: l.Host,
			CapturePoint: l.CapturePoint, File: l.File, Line: l.Line, Time: l.Time, TraceID: l.TraceID, SpanID: l.SpanID,
			Message: l.Message,
		}
	}
	return out
}
