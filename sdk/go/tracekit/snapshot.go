package tracekit

import "context"

// SnapshotClient captures code monitoring snapshots: the values of variables
// at a named point in the code, linked to the trace of the request that got
// there. Hold it directly (SDK.SnapshotClient) and call it from a thin
// wrapper, so that the call site it reports is yours. Its methods are safe
// for concurrent use, never block the caller on the network and do nothing
// when code monitoring is off or the client is nil.
//
// CODE MONITORING HOOK: this is the seam the code monitoring work fills in
// (breakpoint sync, the server-side condition check, PII scrubbing, the
// circuit breaker, the upload). The tracing half of the SDK calls only
// newSnapshotClient, in NewSDK, and shutdown, in SDK.Shutdown.
type SnapshotClient struct {
	enabled bool
	cfg     Config
}

// newSnapshotClient returns the client NewSDK hands out; cfg is resolved.
func newSnapshotClient(cfg Config) *SnapshotClient {
	return &SnapshotClient{enabled: cfg.EnableCodeMonitoring, cfg: cfg}
}

// CheckAndCaptureWithContext captures a snapshot named name holding data if
// an active breakpoint matches this call site, linking it to the trace in ctx.
func (c *SnapshotClient) CheckAndCaptureWithContext(ctx context.Context, name string, data map[string]interface{}) {
	if c == nil || !c.enabled {
		return
	}
	// CODE MONITORING HOOK: check in with the server and capture.
}

// CheckAndCapture is CheckAndCaptureWithContext without a trace to link to.
func (c *SnapshotClient) CheckAndCapture(name string, data map[string]interface{}) {
	if c == nil || !c.enabled {
		return
	}
	// CODE MONITORING HOOK: check in with the server and capture.
}

// shutdown stops the client's background work; SDK.Shutdown calls it.
func (c *SnapshotClient) shutdown() {
	if c == nil || !c.enabled {
		return
	}
	// CODE MONITORING HOOK: stop breakpoint sync and flush pending snapshots.
}
