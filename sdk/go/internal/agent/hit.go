package agent

import (
	"github.com/tracekit-oss/tracekit/sdk/go/protocol"

	"context"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/tracekit-oss/tracekit/sdk/go/capture"
	"github.com/tracekit-oss/tracekit/sdk/go/condition"
	"github.com/tracekit-oss/tracekit/sdk/go/pii"
)

// maxStack is the most frames a snapshot's stack holds, from the call site
// outwards.
const maxStack = 32

// maxCapturePoints bounds the capture points one process registers, so
// that names built at run time cannot grow memory without end.
const maxCapturePoints = 1000

// event is a hit on its way out: a snapshot, or a logpoint line once
// message is set. It holds no reference to the application's values nor
// to their unscrubbed capture: vars is the captured, scrubbed copy.
type event struct {
	bp        *breakpoint
	point     string // capture point name
	file      string
	line      int
	function  string
	time      time.Time
	mono      int64 // time for the rate limit
	traceID   string
	spanID    string
	vars      map[string]any
	truncated bool
	pcs       []uintptr // the stack at the hit, outermost last
	message   string
}

// Hit is a capture point's report that execution reached it: name is the
// capture point, data its variables, pc, file and line its call site (from
// runtime.Caller). Breakpoints that match fire: they evaluate their
// condition on data as it is, then capture data within their limits,
// scrubbed, and queue the snapshot or log line. Hit reads data
// synchronously and never retains it; it never blocks on the network and
// never panics.
func (a *Agent) Hit(ctx context.Context, name string, data map[string]any, pc uintptr, file string, line int) {
	if a == nil {
		return
	}
	st := a.cur.Load()
	if st.idle {
		return
	}
	defer a.recoverPanic("match")
	a.hook("match")
	a.register(name, file, line, pc)
	st.match(name, file, line, func(bp *breakpoint) {
		a.fire(ctx, bp, name, data, pc, file, line)
	})
}

type pointKey struct {
	name, file string
	line       int
}

// register queues the capture point for registration the first time it is
// seen. The set of registered points is copy-on-write: a point already
// registered costs one map lookup and no lock.
func (a *Agent) register(name, file string, line int, pc uintptr) {
	k := pointKey{name, file, line}
	if _, ok := (*a.points.Load())[k]; ok {
		return
	}
	a.pointsMu.Lock()
	defer a.pointsMu.Unlock()
	old := *a.points.Load()
	if _, ok := old[k]; ok || len(old) >= maxCapturePoints {
		return
	}
	m := make(map[pointKey]struct{}, len(old)+1)
	for p := range old {
		m[p] = struct{}{}
	}
	m[k] = struct{}{}
	a.points.Store(&m)
	a.newPoints = append(a.newPoints, protocol.CapturePoint{Name: name, File: file, Line: line, Function: funcName(pc)})
}

// fire handles one breakpoint's hit. A panic in it is counted and ends this
// breakpoint's hit only.
//
// Conditions and logpoint templates evaluated here see the variables as
// the application has them (those they name, captured within the
// breakpoint's limits, not scrubbed), so that user.email == "a@b.c" can
// match; that capture stays on this goroutine and is dropped when the hit
// ends. What leaves the process (snapshot variables, logpoint lines, the
// variables of a server-side check) is captured again, scrubbed.
func (a *Agent) fire(ctx context.Context, bp *breakpoint, name string, data map[string]any, pc uintptr, file string, line int) {
	defer a.recoverPanic("capture")
	now := a.now()
	if bp.expired(now) {
		return
	}
	mono := a.mono(now)
	if !bp.limit.peek(mono) {
		a.n.rateLimited.Add(1)
		return
	}
	a.hook("capture")
	local := bp.cond != nil && !a.opts.ServerChecks
	var read, raw map[string]any // the variables evaluation reads, and their capture
	var cs capture.Stats
	if local || bp.tmpl != nil {
		read = pick(data, bp.reads)
		raw, cs = capture.Capture(read, bp.limits, nil)
	}
	if local {
		a.hook("condition")
		ok, err := bp.cond.Eval(raw)
		if err != nil && !bp.evalReported.Swap(true) {
			a.log.Warn("code monitoring: condition could not be evaluated; the breakpoint does not fire while it fails",
				"breakpoint_id", bp.wire.ID, "condition", bp.wire.Condition, "err", a.scrubbedEvalError(bp, data, err))
		}
		if !ok {
			a.countCaptureErrors(cs)
			return
		}
	}
	// A logpoint's line shows only the variables its template reads; a
	// snapshot, and the server's check of a condition, all of them.
	out, same := data, bp.reads.All
	if bp.tmpl != nil && !(bp.cond != nil && a.opts.ServerChecks) {
		out, same = read, true
	}
	var vars map[string]any
	if raw != nil && same && !a.scrub.Enabled() {
		vars = raw // the same variables, and nothing to scrub
	} else {
		vars, cs = capture.Capture(out, bp.limits, a.scrub)
	}
	a.countCaptureErrors(cs)
	ev := &event{
		bp: bp, point: name, file: file, line: line, time: now.UTC(), mono: mono, vars: vars,
		truncated: cs.Truncated > 0 || cs.PayloadExceeded || cs.TimedOut,
	}
	if ctx != nil {
		if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
			ev.traceID, ev.spanID = sc.TraceID().String(), sc.SpanID().String()
		}
	}
	if bp.tmpl == nil {
		ev.function = funcName(pc)
		ev.pcs = callers()
	} else {
		a.hook("render")
		ev.message = a.render(bp.tmpl, raw, vars)
	}
	if bp.cond != nil && a.opts.ServerChecks {
		a.enqueue(a.checks, ev, nil) // the check worker asks the server, then emits
		return
	}
	a.emit(ctx, ev)
}

// pick returns the variables of data that r reads: data itself when it
// reads them all.
func pick(data map[string]any, r condition.Reads) map[string]any {
	if r.All {
		return data
	}
	out := make(map[string]any, len(r.Names))
	for _, name := range r.Names {
		if v, ok := data[name]; ok {
			out[name] = v
		}
	}
	return out
}

// countCaptureErrors counts the panics a capture recovered from (an Error
// method of the application's that panicked, say).
func (a *Agent) countCaptureErrors(cs capture.Stats) {
	if cs.Errors > 0 {
		a.n.panics.Add(uint64(cs.Errors))
	}
}

// render renders a logpoint's message from the raw and the scrubbed
// variables of a hit: a placeholder that shows something scrubbing hides
// writes the scrubbed rendering when it shows where (as "[REDACTED:email]"),
// pii.MarkerWithheld when it does not (a comparison or a length of the
// email); the whole line is then scrubbed as a snapshot's strings are.
func (a *Agent) render(t *condition.Template, raw, scrubbed map[string]any) string {
	if !a.scrub.Enabled() {
		return t.Render(raw)
	}
	return a.scrub.String(t.RenderRedacted(raw, scrubbed, func(s string) string {
		if a.scrub.HasMarker(s) {
			return s
		}
		return pii.MarkerWithheld
	}))
}

// scrubbedEvalError is what to log of err, the failure of a condition on
// the raw variables of a hit: its failure on the scrubbed variables, since
// an error may quote the value it failed on (int(user.email)).
func (a *Agent) scrubbedEvalError(bp *breakpoint, data map[string]any, err error) string {
	if !a.scrub.Enabled() {
		return err.Error()
	}
	vars, _ := capture.Capture(pick(data, bp.reads), bp.limits, a.scrub)
	if _, err := bp.cond.Eval(vars); err != nil {
		return err.Error()
	}
	return "it fails on a value that PII scrubbing hides (the error would quote it)"
}

// emit takes the rate limit's grant and sends the event on its way: a
// snapshot to the upload queue, a logpoint's line (rendered by fire) to the
// application's log and the queue.
func (a *Agent) emit(ctx context.Context, ev *event) {
	if !ev.bp.limit.allow(ev.mono) {
		a.n.rateLimited.Add(1)
		return
	}
	if ev.bp.tmpl == nil {
		a.enqueue(a.queue, ev, &a.n.captures)
		return
	}
	ev.vars = nil
	if ctx == nil {
		ctx = context.Background()
	}
	a.log.LogAttrs(ctx, slog.LevelInfo, ev.message,
		slog.String("breakpoint_id", ev.bp.wire.ID), slog.String("file", ev.file), slog.Int("line", ev.line),
		slog.String("trace_id", ev.traceID))
	a.enqueue(a.queue, ev, &a.n.logs)
}

// enqueue queues ev without blocking: a full queue drops it.
func (a *Agent) enqueue(q chan *event, ev *event, counter *atomic.Uint64) {
	select {
	case q <- ev:
		if counter != nil {
			counter.Add(1)
		}
	default:
		a.n.dropped.Add(1)
	}
}

// recoverPanic, deferred, keeps a panic of the agent from reaching the
// application: it is counted, and the first one is logged.
func (a *Agent) recoverPanic(stage string) {
	if r := recover(); r != nil {
		a.panicked(stage, r)
	}
}

// panicked counts a recovered panic and logs the first one.
func (a *Agent) panicked(stage string, r any) {
	if !a.panicLogged.Swap(true) {
		a.log.Error("code monitoring: recovered from a panic; the application was not affected",
			"stage", stage, "panic", describePanic(r))
	}
	a.n.panics.Add(1)
}

func (a *Agent) hook(stage string) {
	if a.opts.hook != nil {
		a.opts.hook(stage)
	}
}

// describePanic describes a recovered value without calling methods of
// application types.
func describePanic(r any) string {
	switch x := r.(type) {
	case string:
		return x
	case runtime.Error:
		return x.Error()
	default:
		return fmt.Sprintf("panic of type %T", r)
	}
}

// callers returns the stack of the hit: the frames of the agent and of the
// SDK's methods come first and are cut when the stack is symbolised.
func callers() []uintptr {
	var buf [maxStack + 16]uintptr
	n := runtime.Callers(3, buf[:])
	return slices.Clone(buf[:n])
}

func funcName(pc uintptr) string {
	if f := runtime.FuncForPC(pc); f != nil {
		return f.Name()
	}
	return ""
}

// stackOf symbolises pcs from the call site (file, line) outwards. When the
// call site is not among them (a stack cut short), it keeps the frames
// outside the SDK.
func stackOf(pcs []uintptr, file string, line int) []protocol.Frame {
	out := make([]protocol.Frame, 0, min(len(pcs), maxStack))
	var rest []protocol.Frame
	found := false
	frames := runtime.CallersFrames(pcs)
	for len(out) < maxStack {
		f, more := frames.Next()
		fr := protocol.Frame{Function: f.Function, File: f.File, Line: f.Line}
		if !found && f.File == file && f.Line == line {
			found = true
		}
		if found {
			out = append(out, fr)
		} else if !inSDK(f.Function) && len(rest) < maxStack {
			rest = append(rest, fr)
		}
		if !more {
			break
		}
	}
	if !found {
		return rest
	}
	return out
}

// inSDK reports whether function belongs to this module (the SDK's own
// frames, which a stack leaves out).
func inSDK(function string) bool {
	return strings.HasPrefix(function, "github.com/tracekit-oss/tracekit/sdk/go/")
}
