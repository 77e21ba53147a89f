package store

import (
	"context"
	"encoding/json"
	"time"
)

// BreakpointType says what a breakpoint does when it fires.
type BreakpointType string

// The breakpoint types of the code-monitoring guide.
const (
	BreakpointLine        BreakpointType = "line"
	BreakpointConditional BreakpointType = "conditional"
	BreakpointLogpoint    BreakpointType = "logpoint"
)

// Breakpoint is a live breakpoint on one service of one project.
type Breakpoint struct {
	ID              string         `json:"id"`
	Project         string         `json:"project"`
	Service         string         `json:"service"`
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
	Paused          bool           `json:"paused"`
	CreatedAt       time.Time      `json:"createdAt"`
	UpdatedAt       time.Time      `json:"updatedAt"`
	Hits            int64          `json:"hits"`
	LastHitAt       *time.Time     `json:"lastHitAt,omitempty"`
}

// Active reports whether the breakpoint should fire at now.
func (b *Breakpoint) Active(now time.Time) bool { return !b.Paused && now.Before(b.ExpiresAt) }

// KillSwitch is the per-service switch that stops all code monitoring.
type KillSwitch struct {
	Service   string    `json:"service"`
	Enabled   bool      `json:"enabled"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// CapturePoint is a place in a service's code that can capture snapshots,
// registered by its SDK.
type CapturePoint struct {
	Service   string    `json:"service"`
	Name      string    `json:"name"`
	File      string    `json:"file"`
	Line      int       `json:"line"`
	Function  string    `json:"function"`
	FirstSeen time.Time `json:"firstSeen"`
	LastSeen  time.Time `json:"lastSeen"`
}

// Frame is one call stack frame.
type Frame struct {
	Function string `json:"function"`
	File     string `json:"file"`
	Line     int    `json:"line"`
}

// Snapshot is the state captured when a breakpoint fired.
type Snapshot struct {
	ID           string          `json:"id"`
	Project      string          `json:"project"`
	BreakpointID string          `json:"breakpointId"`
	Service      string          `json:"service"`
	Environment  string          `json:"environment,omitempty"`
	Host         string          `json:"host,omitempty"`
	Instance     string          `json:"instance,omitempty"`
	SDKVersion   string          `json:"sdk,omitempty"`
	CapturePoint string          `json:"capturePoint,omitempty"`
	File         string          `json:"file,omitempty"`
	Line         int             `json:"line,omitempty"`
	Function     string          `json:"function,omitempty"`
	Time         time.Time       `json:"time"`
	TraceID      string          `json:"traceId,omitempty"`
	SpanID       string          `json:"spanId,omitempty"`
	Variables    json.RawMessage `json:"variables"`
	Stack        []Frame         `json:"stack"`
	Truncated    bool            `json:"truncated,omitempty"`
}

// LogLine is one rendered logpoint message.
type LogLine struct {
	ID           string    `json:"id"`
	Project      string    `json:"project"`
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

// SnapshotQuery filters snapshots; zero fields do not constrain.
type SnapshotQuery struct {
	BreakpointID string
	Service      string
	Environment  string
	TraceID      string
	Start, End   time.Time
	Limit        int
}

// LogQuery filters log lines; Text matches case-insensitively anywhere in
// the message.
type LogQuery struct {
	BreakpointID string
	Service      string
	Text         string
	Start, End   time.Time
	Limit        int
}

// BreakpointStore keeps breakpoints, kill switches and capture points:
// small metadata, updated in place.
type BreakpointStore interface {
	// PutBreakpoint creates or replaces a breakpoint. Its hit counters
	// (Hits, LastHitAt) are the store's: a replaced breakpoint keeps the
	// stored ones, so an update never loses hits counted meanwhile.
	PutBreakpoint(ctx context.Context, b Breakpoint) error
	// Breakpoint returns ErrNotFound for an ID unknown to the project.
	Breakpoint(ctx context.Context, project, id string) (Breakpoint, error)
	// ListBreakpoints lists a project's breakpoints (of one service when
	// service is not empty), oldest first.
	ListBreakpoints(ctx context.Context, project, service string) ([]Breakpoint, error)
	DeleteBreakpoint(ctx context.Context, project, id string) error
	// AdmitHits admits up to n hits of a breakpoint at time at within its
	// rate limit of perMinute hits per calendar minute (UTC; zero or less:
	// no limit), a limit shared by every server on this store and every SDK
	// instance. It adds the admitted hits to the breakpoint's counters
	// atomically, sets LastHitAt to at when later, and returns how many it
	// admitted (0 to n). ErrNotFound for an ID unknown to the project.
	AdmitHits(ctx context.Context, project, id string, n int64, perMinute int, at time.Time) (int64, error)
	SetKillSwitch(ctx context.Context, project string, ks KillSwitch) error
	// KillSwitch returns the service's switch (off when never set).
	KillSwitch(ctx context.Context, project, service string) (KillSwitch, error)
	// PutCapturePoints records capture points, keeping FirstSeen of known ones.
	PutCapturePoints(ctx context.Context, project string, points []CapturePoint) error
	ListCapturePoints(ctx context.Context, project, service string) ([]CapturePoint, error)
}

// BreakpointWatcher is implemented by metadata stores that several servers
// share: it reports breakpoint and kill-switch changes made through any of
// them, so that each server pushes them to the SDKs streaming from it.
type BreakpointWatcher interface {
	// WatchBreakpoints calls changed with the project and service of each
	// change of a breakpoint or kill switch, made through any server, until
	// ctx ends; it returns ctx's error then, or why watching failed. Calls
	// may be coalesced; at least one follows every change.
	WatchBreakpoints(ctx context.Context, changed func(project, service string)) error
}

// SnapshotStore keeps snapshots and log lines, append-only and partitioned
// by day like spans.
type SnapshotStore interface {
	// WriteSnapshots stores snapshots, assigning IDs to those without. A
	// snapshot whose ID the project already holds is stored once: SDKs name
	// their snapshots, so a retried upload adds nothing.
	WriteSnapshots(ctx context.Context, project string, snaps []Snapshot) error
	// Snapshot returns one snapshot or ErrNotFound.
	Snapshot(ctx context.Context, project, id string) (Snapshot, error)
	// FindSnapshots returns matching snapshots, newest first.
	FindSnapshots(ctx context.Context, project string, q SnapshotQuery) ([]Snapshot, error)
	// WriteLogs stores log lines, assigning IDs to those without; like
	// snapshots, a line whose ID is held already is stored once.
	WriteLogs(ctx context.Context, project string, lines []LogLine) error
	// FindLogs returns matching log lines, newest first.
	FindLogs(ctx context.Context, project string, q LogQuery) ([]LogLine, error)
	// DeleteSnapshotsBefore drops snapshots and log lines older than cutoff
	// (by whole days).
	DeleteSnapshotsBefore(ctx context.Context, cutoff time.Time) error
}
