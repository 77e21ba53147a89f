// Package codemon is the server side of code monitoring (live debugging):
// breakpoints and their validation, kill switches, the set of breakpoints
// each service's SDKs must apply and its delivery over Server-Sent Events
// and polling, capture point registration, server-side condition checks,
// and the intake and querying of snapshots and logpoint lines.
//
// The wire protocol is docs/protocol.md. The expression language is the SDK
// module's condition package, so that the server validates exactly what SDKs
// evaluate. Storage is store.BreakpointStore and store.SnapshotStore.
package codemon

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/tracekit-oss/tracekit/internal/reqbody"
	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/sdk/go/condition"
	"github.com/tracekit-oss/tracekit/sdk/go/protocol"
)

// Defaults and bounds of the code-monitoring guide.
const (
	DefaultCaptureDepth    = 3
	MaxCaptureDepth        = 10
	DefaultRateLimit       = 10 // snapshots per minute per breakpoint
	MaxRateLimit           = 600
	DefaultExpiry          = 24 * time.Hour
	MaxExpiry              = 30 * 24 * time.Hour
	DefaultMaxStringLength = 256
	MaxMaxStringLength     = 64 << 10
)

// Store is what code monitoring keeps.
type Store interface {
	store.BreakpointStore
	store.SnapshotStore
}

// Service is the code-monitoring core shared by the SDK endpoints and the
// management API.
type Service struct {
	st  Store
	log *slog.Logger
	now func() time.Time
	hub *hub
	// Heartbeat is the SSE heartbeat interval.
	heartbeat time.Duration
	// maxAge and maxAhead bound the times of uploaded snapshots and logpoint
	// lines around the server's clock.
	maxAge, maxAhead time.Duration
	budget           *reqbody.Budget
}

// Defaults of Options.
const (
	DefaultMaxStreamsPerKey       = 64
	DefaultMaxStreams             = 2048
	DefaultMaxInstancesPerService = 1000
	DefaultMaxServicesPerProject  = 1000
	DefaultMaxSnapshotAge         = 30 * 24 * time.Hour
	DefaultMaxSnapshotAhead       = time.Hour
)

// Options tune a Service; zero (or negative) values take the defaults.
type Options struct {
	Now       func() time.Time
	Heartbeat time.Duration
	// MaxStreamsPerKey bounds the SSE streams open at once with one API
	// key (default 64); beyond it a new stream is answered 429.
	MaxStreamsPerKey int
	// MaxStreams bounds the SSE streams open at once on the server, all keys
	// together (default 2048), so that streams cannot take every file
	// descriptor of the process; beyond it a new stream is answered 429.
	MaxStreams int
	// MaxInstancesPerService bounds the SDK instances listed per service
	// (default 1000). When full, the least recently seen instance without an
	// open stream makes room; if every one streams, a new one is not listed.
	MaxInstancesPerService int
	// MaxServicesPerProject bounds the services whose instances are listed
	// per project (default 1000), with the same eviction as instances.
	MaxServicesPerProject int
	// MaxSnapshotAge is how long before the server's clock an uploaded
	// snapshot or logpoint line may be timestamped (default 30 days, the
	// default snapshot retention: older data would be dropped anyway).
	MaxSnapshotAge time.Duration
	// MaxSnapshotAhead is how far after the server's clock it may be
	// timestamped (default 1h, for clock skew).
	MaxSnapshotAhead time.Duration
	// Budget is the in-flight byte budget that uploads are charged to
	// while read and decoded (nil: none).
	Budget *reqbody.Budget

	_ struct{}
}

func orDefault[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// New returns a Service over st. Call Run to deliver expiries and changes.
func New(st Store, log *slog.Logger, opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	limits := hubLimits{
		streamsPerKey:       orDefault(opts.MaxStreamsPerKey, DefaultMaxStreamsPerKey),
		streams:             orDefault(opts.MaxStreams, DefaultMaxStreams),
		instancesPerService: orDefault(opts.MaxInstancesPerService, DefaultMaxInstancesPerService),
		servicesPerProject:  orDefault(opts.MaxServicesPerProject, DefaultMaxServicesPerProject),
	}
	return &Service{
		st: st, log: log, now: opts.Now, hub: newHub(limits),
		heartbeat: orDefault(opts.Heartbeat, 15*time.Second),
		maxAge:    orDefault(opts.MaxSnapshotAge, DefaultMaxSnapshotAge),
		maxAhead:  orDefault(opts.MaxSnapshotAhead, DefaultMaxSnapshotAhead),
		budget:    opts.Budget,
	}
}

// KeyRevoked ends every SSE stream opened with the project's key keyID,
// even one blocked writing to a client that stopped reading, and refuses
// new streams with it. Authentication refuses a revoked key on new
// requests, but a stream outlives its authentication: call KeyRevoked after
// every key revocation.
func (s *Service) KeyRevoked(project, keyID string) {
	s.hub.keyRevoked(keyRef{project, keyID}, s.now())
}

// ValidationError names the field of a breakpoint that is wrong and why, so
// that the dashboard can show it next to the field.
type ValidationError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Message }

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// BreakpointInput is what a user sets on a breakpoint. On update, nil fields
// stay as they are.
type BreakpointInput struct {
	Service         *string               `json:"service"`
	Type            *store.BreakpointType `json:"type"`
	File            *string               `json:"file"`
	Line            *int                  `json:"line"`
	CapturePoint    *string               `json:"capturePoint"`
	Condition       *string               `json:"condition"`
	Message         *string               `json:"message"`
	CaptureDepth    *int                  `json:"captureDepth"`
	RateLimit       *int                  `json:"rateLimit"`
	MaxStringLength *int                  `json:"maxStringLength"`
	Environment     *string               `json:"environment"`
	// ExpiresIn is a Go duration ("24h", "90m") from now; ExpiresAt an
	// absolute time. At most one may be set.
	ExpiresIn *string    `json:"expiresIn"`
	ExpiresAt *time.Time `json:"expiresAt"`
	Paused    *bool      `json:"paused"`
}

// apply sets the input's fields on b and validates the result.
func (in *BreakpointInput) apply(b *store.Breakpoint, now time.Time) error {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = strings.TrimSpace(*src)
		}
	}
	set(&b.Service, in.Service)
	if in.Type != nil {
		b.Type = store.BreakpointType(strings.ToLower(strings.TrimSpace(string(*in.Type))))
	}
	set(&b.File, in.File)
	set(&b.CapturePoint, in.CapturePoint)
	set(&b.Condition, in.Condition)
	if in.Message != nil {
		b.Message = *in.Message
	}
	set(&b.Environment, in.Environment)
	if in.Line != nil {
		b.Line = *in.Line
	}
	if in.CaptureDepth != nil {
		b.CaptureDepth = *in.CaptureDepth
	}
	if in.RateLimit != nil {
		b.RateLimit = *in.RateLimit
	}
	if in.MaxStringLength != nil {
		b.MaxStringLength = *in.MaxStringLength
	}
	if in.Paused != nil {
		b.Paused = *in.Paused
	}
	if in.ExpiresIn != nil && in.ExpiresAt != nil {
		return invalid("expiresIn", "set expiresIn or expiresAt, not both")
	}
	if in.ExpiresIn != nil {
		d, err := time.ParseDuration(strings.TrimSpace(*in.ExpiresIn))
		if err != nil || d <= 0 {
			return invalid("expiresIn", "%q is not a positive duration such as 24h or 90m", *in.ExpiresIn)
		}
		if d > MaxExpiry {
			return invalid("expiresIn", "at most %s", MaxExpiry)
		}
		b.ExpiresAt = now.Add(d).UTC()
	}
	if in.ExpiresAt != nil {
		if !in.ExpiresAt.After(now) {
			return invalid("expiresAt", "must be in the future")
		}
		if in.ExpiresAt.Sub(now) > MaxExpiry {
			return invalid("expiresAt", "at most %s from now", MaxExpiry)
		}
		b.ExpiresAt = in.ExpiresAt.UTC()
	}
	return validate(b)
}

func validate(b *store.Breakpoint) error {
	if b.Service == "" || len(b.Service) > maxServiceName {
		return invalid("service", "choose the service (1 to %d characters)", maxServiceName)
	}
	switch b.Type {
	case store.BreakpointLine, store.BreakpointConditional, store.BreakpointLogpoint:
	default:
		return invalid("type", "%q: must be line, conditional or logpoint", b.Type)
	}
	if b.CapturePoint == "" && b.File == "" {
		return invalid("file", "set a file and line, or a capture point name")
	}
	if b.File != "" && b.Line <= 0 {
		return invalid("line", "a file breakpoint needs a line number of 1 or more")
	}
	if b.Line < 0 {
		return invalid("line", "must be 1 or more")
	}
	if len(b.File) > 1024 || len(b.CapturePoint) > 255 || len(b.Environment) > maxEnvironment {
		return invalid("file", "file, capture point and environment are limited to 1024, 255 and 255 characters")
	}
	switch {
	case b.Type == store.BreakpointConditional && b.Condition == "":
		return invalid("condition", "a conditional breakpoint needs a condition, such as user.id == \"abc123\"")
	case b.Type == store.BreakpointLogpoint && strings.TrimSpace(b.Message) == "":
		return invalid("message", "a logpoint needs a message, such as Order {order.id} took {duration}ms")
	}
	if b.Condition != "" {
		if _, err := condition.Compile(b.Condition); err != nil {
			return invalid("condition", "%v", err)
		}
	}
	if b.Type == store.BreakpointLogpoint {
		if _, err := condition.CompileTemplate(b.Message); err != nil {
			return invalid("message", "%v", err)
		}
	} else {
		b.Message = ""
	}
	if b.CaptureDepth < 1 || b.CaptureDepth > MaxCaptureDepth {
		return invalid("captureDepth", "must be from 1 to %d (default %d)", MaxCaptureDepth, DefaultCaptureDepth)
	}
	if b.RateLimit < 1 || b.RateLimit > MaxRateLimit {
		return invalid("rateLimit", "must be from 1 to %d snapshots per minute (default %d)", MaxRateLimit, DefaultRateLimit)
	}
	if b.MaxStringLength < 1 || b.MaxStringLength > MaxMaxStringLength {
		return invalid("maxStringLength", "must be from 1 to %d characters (default %d)", MaxMaxStringLength, DefaultMaxStringLength)
	}
	return nil
}

func newBreakpointID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "bp_" + hex.EncodeToString(b[:])
}

// CreateBreakpoint validates and stores a new breakpoint, with the guide's
// defaults for what the input leaves out.
func (s *Service) CreateBreakpoint(ctx context.Context, project string, in BreakpointInput) (store.Breakpoint, error) {
	now := s.now().UTC()
	b := store.Breakpoint{
		ID: newBreakpointID(), Project: project, Type: store.BreakpointLine,
		CaptureDepth: DefaultCaptureDepth, RateLimit: DefaultRateLimit, MaxStringLength: DefaultMaxStringLength,
		ExpiresAt: now.Add(DefaultExpiry), CreatedAt: now, UpdatedAt: now,
	}
	if in.Condition != nil && strings.TrimSpace(*in.Condition) != "" && in.Type == nil {
		b.Type = store.BreakpointConditional
	}
	if err := in.apply(&b, now); err != nil {
		return b, err
	}
	if err := s.st.PutBreakpoint(ctx, b); err != nil {
		return b, err
	}
	s.changed(ctx, project, b.Service)
	return b, nil
}

// UpdateBreakpoint changes the fields the input sets.
func (s *Service) UpdateBreakpoint(ctx context.Context, project, id string, in BreakpointInput) (store.Breakpoint, error) {
	b, err := s.st.Breakpoint(ctx, project, id)
	if err != nil {
		return b, err
	}
	oldService := b.Service
	now := s.now().UTC()
	if err := in.apply(&b, now); err != nil {
		return b, err
	}
	b.UpdatedAt = now
	if err := s.st.PutBreakpoint(ctx, b); err != nil {
		return b, err
	}
	s.changed(ctx, project, b.Service)
	if oldService != b.Service {
		s.changed(ctx, project, oldService)
	}
	return b, nil
}

// DeleteBreakpoint removes a breakpoint.
func (s *Service) DeleteBreakpoint(ctx context.Context, project, id string) error {
	b, err := s.st.Breakpoint(ctx, project, id)
	if err != nil {
		return err
	}
	if err := s.st.DeleteBreakpoint(ctx, project, id); err != nil {
		return err
	}
	s.changed(ctx, project, b.Service)
	return nil
}

// SetKillSwitch turns a service's kill switch on or off.
func (s *Service) SetKillSwitch(ctx context.Context, project, service string, enabled bool) (store.KillSwitch, error) {
	if service == "" {
		return store.KillSwitch{}, invalid("service", "required")
	}
	ks := store.KillSwitch{Service: service, Enabled: enabled, UpdatedAt: s.now().UTC()}
	if err := s.st.SetKillSwitch(ctx, project, ks); err != nil {
		return ks, err
	}
	s.changed(ctx, project, service)
	return ks, nil
}

// BreakpointSet computes the current breakpoint set of a service, as SDKs
// receive it.
func (s *Service) BreakpointSet(ctx context.Context, project, service string) (protocol.BreakpointSet, error) {
	c := protocol.BreakpointSet{Service: service, Breakpoints: []protocol.Breakpoint{}}
	ks, err := s.st.KillSwitch(ctx, project, service)
	if err != nil {
		return c, err
	}
	c.KillSwitch = ks.Enabled
	bps, err := s.st.ListBreakpoints(ctx, project, service)
	if err != nil {
		return c, err
	}
	now := s.now()
	for _, b := range bps {
		if !b.Active(now) {
			continue
		}
		c.Breakpoints = append(c.Breakpoints, sdkBreakpoint(b))
	}
	body, _ := json.Marshal(struct {
		K bool
		B []protocol.Breakpoint
	}{c.KillSwitch, c.Breakpoints})
	sum := sha256.Sum256(body)
	c.Version = hex.EncodeToString(sum[:8])
	return c, nil
}

// sdkBreakpoint is a stored breakpoint as SDKs receive it.
func sdkBreakpoint(b store.Breakpoint) protocol.Breakpoint {
	return protocol.Breakpoint{
		ID: b.ID, Type: protocol.BreakpointType(b.Type), File: b.File, Line: b.Line, CapturePoint: b.CapturePoint, Condition: b.Condition,
		Message: b.Message, CaptureDepth: b.CaptureDepth, RateLimit: b.RateLimit, MaxStringLength: b.MaxStringLength,
		Environment: b.Environment, ExpiresAt: b.ExpiresAt,
	}
}

// changed pushes a service's new breakpoint set to its connected SDKs.
func (s *Service) changed(ctx context.Context, project, service string) {
	if !s.hub.hasSubscribers(project, service) {
		return
	}
	c, err := s.BreakpointSet(ctx, project, service)
	if err != nil {
		s.log.Error("compute breakpoint set", "project", project, "service", service, "err", err)
		return
	}
	s.hub.publish(project, service, c)
}

// Run re-checks every second the breakpoint sets that SDKs are subscribed to,
// so that expiries reach them without a user action. It returns when ctx is
// done.
//
// On a metadata store that several servers share (store.BreakpointWatcher),
// it also pushes changes made through the other servers as they happen.
func (s *Service) Run(ctx context.Context) {
	if w, ok := s.st.(store.BreakpointWatcher); ok {
		done := make(chan struct{})
		defer func() { <-done }()
		go func() {
			defer close(done)
			s.watch(ctx, w)
		}()
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			s.Close()
			return
		case <-t.C:
		}
		for _, k := range s.hub.subscribedServices() {
			s.changed(ctx, k.project, k.service)
		}
		s.hub.prune(s.now())
	}
}

// watch pushes the changes another server made to this server's streams,
// watching again after a failure. An empty service means any service of
// the project, an empty project any project (the watcher says so after it
// reconnects, since changes meanwhile were missed).
func (s *Service) watch(ctx context.Context, w store.BreakpointWatcher) {
	backoff := time.Second
	for {
		err := w.WatchBreakpoints(ctx, func(project, service string) {
			if project != "" && service != "" {
				s.changed(ctx, project, service)
				return
			}
			// Empty means any: after a reconnect, or a change of a whole project.
			for _, k := range s.hub.subscribedServices() {
				if project == "" || k.project == project {
					s.changed(ctx, k.project, k.service)
				}
			}
		})
		if ctx.Err() != nil || errors.Is(err, errors.ErrUnsupported) {
			return // a store of one server: nothing to watch
		}
		s.log.Warn("watch breakpoint changes of other servers; the once-a-second refresh carries them meanwhile", "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// Close ends every open SSE stream and refuses new ones; the server calls it
// when it shuts down, since streams never end by themselves.
func (s *Service) Close() { s.hub.closeAll() }

// errNotActive is returned by Check for a breakpoint that is not active.
var errNotActive = errors.New("breakpoint is not active")

// ErrKillSwitch is returned by Check, and refuses uploads, while a
// service's kill switch is on.
var ErrKillSwitch = errors.New("the service's kill switch is on: nothing is captured")

// CheckResult is what Check decides for one hit.
type CheckResult struct {
	// Capture is true when the breakpoint fires on these variables.
	Capture bool
	// Message is a firing logpoint's message rendered on the variables.
	Message string
}

// Check evaluates a conditional breakpoint's condition on variables an SDK
// sent (already scrubbed), and renders a firing logpoint's message on them,
// for SDKs that do not evaluate in process. A breakpoint without a condition
// always captures; nothing captures while the service's kill switch is on.
func (s *Service) Check(ctx context.Context, project, service, id string, vars map[string]any) (CheckResult, error) {
	ks, err := s.st.KillSwitch(ctx, project, service)
	if err != nil {
		return CheckResult{}, err
	}
	if ks.Enabled {
		return CheckResult{}, ErrKillSwitch
	}
	b, err := s.st.Breakpoint(ctx, project, id)
	if err != nil {
		return CheckResult{}, err
	}
	if b.Service != service || !b.Active(s.now()) {
		return CheckResult{}, errNotActive
	}
	if b.Condition != "" {
		c, err := condition.Compile(b.Condition)
		if err != nil {
			return CheckResult{}, err
		}
		ok, err := c.Eval(vars)
		if err != nil || !ok {
			return CheckResult{}, err
		}
	}
	res := CheckResult{Capture: true}
	if b.Type == store.BreakpointLogpoint {
		t, err := condition.CompileTemplate(b.Message)
		if err != nil {
			return CheckResult{}, fmt.Errorf("logpoint message: %w", err)
		}
		res.Message = t.Render(vars)
	}
	return res, nil
}
