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

// BreakpointJSON is a breakpoint in the management API: what SDKs receive,
// with its service, pause state, times, hit counts and status (active,
// paused or expired).
type BreakpointJSON struct {
	protocol.Breakpoint
	Project   string     `json:"project"`
	Service   string     `json:"service"`
	Paused    bool       `json:"paused"`
	CreatedAt time.Time  `json:"createdAt"`
	UpdatedAt time.Time  `json:"updatedAt"`
	Hits      int64      `json:"hits"`
	LastHitAt *time.Time `json:"lastHitAt,omitempty"`
	Status    string     `json:"status"`
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

// SnapshotJSON is a snapshot in the management API: what the SDK sent,
// with its ID and the instance that sent it.
type SnapshotJSON struct {
	ID string `json:"id"`
	protocol.Snapshot
	Service     string `json:"service"`
	Environment string `json:"environment,omitempty"`
	Host        string `json:"host,omitempty"`
	Instance    string `json:"instance,omitempty"`
	SDKVersion  string `json:"sdk,omitempty"`
}

// LogLineJSON is a logpoint line in the management API.
type LogLineJSON struct {
	ID string `json:"id"`
	protocol.LogLine
	Service     string `json:"service"`
	Environment string `json:"environment,omitempty"`
	Host        string `json:"host,omitempty"`
}

// SnapshotView returns sn as the API shows it.
func SnapshotView(sn store.Snapshot) SnapshotJSON {
	out := SnapshotJSON{
		ID: sn.ID, Service: sn.Service, Environment: sn.Environment, Host: sn.Host, Instance: sn.Instance, SDKVersion: sn.SDKVersion,
		Snapshot: protocol.Snapshot{
			BreakpointID: sn.BreakpointID, CapturePoint: sn.CapturePoint, File: sn.File, Line: sn.Line, Function: sn.Function,
			Time: sn.Time, TraceID: sn.TraceID, SpanID: sn.SpanID, Variables: sn.Variables,
			Stack: make([]protocol.Frame, len(sn.Stack)), Truncated: sn.Truncated,
		},
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
			ID: l.ID, Service: l.Service, Environment: l.Environment, Host: l.Host,
			LogLine: protocol.LogLine{
				BreakpointID: l.BreakpointID, CapturePoint: l.CapturePoint, File: l.File, Line: l.Line, Time: l.Time,
				TraceID: l.TraceID, SpanID: l.SpanID, Message: l.Message,
			},
		}
	}
	return out
}
