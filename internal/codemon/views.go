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
