package tracekit

import (
	"context"
	"fmt"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/tracekit-oss/tracekit/sdk/go/internal/agent"
	"github.com/tracekit-oss/tracekit/sdk/go/pii"
)

// DefaultCodeMonitoringPollInterval is how often breakpoints are polled
// while the real-time stream is unavailable.
const DefaultCodeMonitoringPollInterval = 30 * time.Second

// CaptureConfig protects and bounds what code monitoring captures. The zero
// value is the guide's defaults: PII scrubbing on with the 13 built-in
// patterns, breakpoints up to 10 levels deep, 64 KiB and 2 ms per capture,
// and the circuit breaker's 3 failures in 60 s and 5-minute cooldown.
type CaptureConfig struct {
	// PIIScrubbing turns PII scrubbing of captured variables and logpoint
	// messages on or off. Nil: on. Not recommended off in production.
	PIIScrubbing *bool
	// PIIPatterns are custom patterns, applied before the built-in ones,
	// each with its own marker (such as [REDACTED:custom_id]).
	PIIPatterns []pii.Pattern
	// CaptureDepth is the most levels of nested values any breakpoint may
	// expand, from 1 to 10; a breakpoint asks for its own depth (3 unless
	// set) within it. Zero: 10.
	CaptureDepth int
	// MaxPayload bounds the encoded size of one snapshot, in bytes: the
	// variables past it are left out and the snapshot is marked truncated.
	// Zero: 64 KiB; negative: no limit.
	MaxPayload int
	// CaptureTimeout bounds the time one capture may take, with the same
	// effect as MaxPayload. Zero: 2 ms; negative: no limit.
	CaptureTimeout time.Duration
	// CircuitBreaker turns code monitoring off while the server cannot be
	// reached.
	CircuitBreaker CircuitBreakerConfig

	_ struct{}
}

// CircuitBreakerConfig sets the circuit breaker: MaxFailures HTTP 5xx
// answers or network failures within Window turn code monitoring off (no
// captures, no uploads, "circuit breaker open" in the log) for Cooldown,
// after which it turns on again. 4xx answers do not count. Zero fields: 3,
// 60 s and 5 minutes.
type CircuitBreakerConfig struct {
	MaxFailures int
	Window      time.Duration
	Cooldown    time.Duration

	_ struct{}
}

// resolveCodeMonitoring fills in and validates the code-monitoring
// settings of c, whose Endpoint is resolved already.
func resolveCodeMonitoring(c *Config) error {
	if c.CodeMonitoringEndpoint == "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil {
			return invalid("Endpoint %q: %v", c.Endpoint, err)
		}
		c.CodeMonitoringEndpoint = u.Scheme + "://" + u.Host
	} else {
		u, err := url.Parse(strings.TrimSpace(c.CodeMonitoringEndpoint))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return invalid("CodeMonitoringEndpoint %q: want the server's base URL, such as https://tracekit.example.com", c.CodeMonitoringEndpoint)
		}
		c.CodeMonitoringEndpoint = strings.TrimRight(u.Scheme+"://"+u.Host+u.Path, "/")
	}
	switch {
	case c.CodeMonitoringPollInterval < 0:
		return invalid("CodeMonitoringPollInterval %v is negative", c.CodeMonitoringPollInterval)
	case c.CodeMonitoringPollInterval == 0:
		c.CodeMonitoringPollInterval = DefaultCodeMonitoringPollInterval
	}
	cc := &CaptureConfig{} // filled in on a copy: the caller's stays as it is
	if c.CaptureConfig != nil {
		*cc = *c.CaptureConfig
		cc.PIIPatterns = slices.Clone(cc.PIIPatterns)
	}
	c.CaptureConfig = cc
	switch {
	case cc.CaptureDepth < 0 || cc.CaptureDepth > agent.MaxCaptureDepth:
		return invalid("CaptureConfig.CaptureDepth %d is outside 1..%d", cc.CaptureDepth, agent.MaxCaptureDepth)
	case cc.CaptureDepth == 0:
		cc.CaptureDepth = agent.MaxCaptureDepth
	}
	cb := &cc.CircuitBreaker
	if cb.MaxFailures < 0 || cb.Window < 0 || cb.Cooldown < 0 {
		return invalid("CaptureConfig.CircuitBreaker %+v: MaxFailures, Window and Cooldown may not be negative", *cb)
	}
	if cb.MaxFailures == 0 {
		cb.MaxFailures = agent.DefaultMaxFailures
	}
	if cb.Window == 0 {
		cb.Window = agent.DefaultFailureWindow
	}
	if cb.Cooldown == 0 {
		cb.Cooldown = agent.DefaultCooldown
	}
	if _, err := scrubber(cc); err != nil {
		return invalid("CaptureConfig.PIIPatterns: %v", err)
	}
	return nil
}

func scrubber(cc *CaptureConfig) (*pii.Scrubber, error) {
	return pii.New(pii.Config{Disabled: cc.PIIScrubbing != nil && !*cc.PIIScrubbing, Custom: cc.PIIPatterns})
}

// SnapshotClient captures code monitoring snapshots: the values of variables
// at a named point in the code, linked to the trace of the request that got
// there, when a breakpoint set on the server matches that point. Hold it
// directly (SDK.SnapshotClient) and call it from a thin wrapper, so that the
// call site it reports is yours. Its methods are safe for concurrent use,
// never block the caller on the network, never panic, and do nothing when
// code monitoring is off or the client is nil.
//
// A capture point that no breakpoint matches costs one atomic load. Capture
// points register themselves with the server (for the dashboard to offer)
// during discovery windows, the first 5 minutes after start and then the
// first minute of every 10, and whenever a breakpoint is active; at those
// times each call also resolves its call site (runtime.Caller, about a
// microsecond).
type SnapshotClient struct {
	agent *agent.Agent // nil while code monitoring is off
}

// newSnapshotClient returns the client NewSDK hands out and starts its
// agent; cfg is resolved. tune, for tests, adjusts the agent's options.
func newSnapshotClient(cfg Config, tune func(*agent.Options)) (*SnapshotClient, error) {
	if !cfg.EnableCodeMonitoring {
		return &SnapshotClient{}, nil
	}
	cc := cfg.CaptureConfig
	if cc == nil {
		cc = &CaptureConfig{}
	}
	scrub, err := scrubber(cc)
	if err != nil {
		return nil, invalid("CaptureConfig.PIIPatterns: %v", err)
	}
	opts := agent.Options{
		Endpoint: cfg.CodeMonitoringEndpoint, APIKey: cfg.APIKey, Service: cfg.ServiceName,
		Environment: cfg.Environment, SDK: "go/" + Version, Logger: cfg.Logger, Scrubber: scrub,
		MaxDepth: cc.CaptureDepth, MaxPayload: cc.MaxPayload, CaptureTimeout: cc.CaptureTimeout,
		Breaker: agent.BreakerConfig{
			MaxFailures: cc.CircuitBreaker.MaxFailures, Window: cc.CircuitBreaker.Window, Cooldown: cc.CircuitBreaker.Cooldown,
		},
		ServerChecks: cfg.CodeMonitoringServerChecks, PollInterval: cfg.CodeMonitoringPollInterval,
	}
	if tune != nil {
		tune(&opts)
	}
	a, err := agent.New(opts)
	if err != nil {
		return nil, fmt.Errorf("tracekit: start code monitoring: %w", err)
	}
	return &SnapshotClient{agent: a}, nil
}

// CheckAndCaptureWithContext captures a snapshot named name holding data if
// an active breakpoint matches this capture point, linking it to the trace
// in ctx. The capture point is named by name and located by
// runtime.Caller(2): the caller of the function that calls this method, as
// in the guide's one-level wrapper (call site → breakpoints.Capture →
// CheckAndCaptureWithContext). data is read before the method returns and
// never kept. A breakpoint's condition and a logpoint's placeholders see
// data as it is; what leaves the process, the snapshot or the logpoint's
// line, holds a scrubbed copy.
func (c *SnapshotClient) CheckAndCaptureWithContext(ctx context.Context, name string, data map[string]interface{}) {
	if c == nil || c.agent.Idle() {
		return
	}
	pc, file, line, ok := runtime.Caller(2)
	if !ok {
		return
	}
	c.agent.Hit(ctx, name, data, pc, file, line)
}

// CheckAndCapture is CheckAndCaptureWithContext without a trace to link to.
// It too locates the capture point with runtime.Caller(2).
func (c *SnapshotClient) CheckAndCapture(name string, data map[string]interface{}) {
	if c == nil || c.agent.Idle() {
		return
	}
	pc, file, line, ok := runtime.Caller(2)
	if !ok {
		return
	}
	c.agent.Hit(nil, name, data, pc, file, line)
}

// CodeMonitoringStats is what code monitoring has done so far, and its
// state now.
type CodeMonitoringStats struct {
	Captures       uint64 // snapshots queued for upload
	Logs           uint64 // logpoint lines written and queued for upload
	Uploaded       uint64 // snapshots and lines the server accepted
	Dropped        uint64 // lost to a full queue, the breaker, failed uploads or shutdown
	RateLimited    uint64 // hits refused by a breakpoint's rate limit
	Checks         uint64 // conditions sent to the server to evaluate
	Panics         uint64 // panics recovered inside code monitoring
	UploadFailures uint64 // requests to the server that failed
	BreakerOpen    bool   // the circuit breaker has turned code monitoring off
	BreakerOpens   uint64 // times the breaker opened
	KillSwitch     bool   // the server's kill switch is on
	Streaming      bool   // the real-time breakpoint stream is connected
	Version        string // of the breakpoint set in effect
	Breakpoints    int    // breakpoints that can fire now
	CapturePoints  int    // capture points registered with the server
}

// Stats returns code monitoring's counts and state; zero while it is off.
func (c *SnapshotClient) Stats() CodeMonitoringStats {
	if c == nil {
		return CodeMonitoringStats{}
	}
	return CodeMonitoringStats(c.agent.Stats())
}

// WaitFor blocks until cond holds for Stats, or ctx ends; it re-checks
// when a breakpoint set arrives, the breaker turns or an upload ends. It is
// meant for tests and readiness checks, such as waiting until a breakpoint
// created through the API is active.
func (c *SnapshotClient) WaitFor(ctx context.Context, cond func(CodeMonitoringStats) bool) error {
	var a *agent.Agent
	if c != nil {
		a = c.agent
	}
	return a.WaitFor(ctx, func(s agent.Stats) bool { return cond(CodeMonitoringStats(s)) })
}

// shutdown stops code monitoring and uploads what is queued within ctx;
// SDK.Shutdown calls it.
func (c *SnapshotClient) shutdown(ctx context.Context) {
	if c == nil || c.agent == nil {
		return
	}
	// What ctx's end leaves unsent is counted in Stats; Shutdown reports
	// ctx's error itself.
	_ = c.agent.Close(ctx)
}
