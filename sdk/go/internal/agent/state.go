package agent

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tracekit-oss/tracekit/sdk/go/capture"
	"github.com/tracekit-oss/tracekit/sdk/go/condition"
	"github.com/tracekit-oss/tracekit/sdk/go/protocol"
)

// Set is the breakpoint set of docs/protocol.md, as the stream and the
// polling endpoint deliver it; its one definition is the protocol package's.
type Set = protocol.BreakpointSet

// Breakpoint is one breakpoint of a Set.
type Breakpoint = protocol.Breakpoint

// The breakpoint types.
const (
	TypeLine        = protocol.Line
	TypeConditional = protocol.Conditional
	TypeLogpoint    = protocol.Logpoint
)

func equal(b, o Breakpoint) bool {
	e1, e2 := b.ExpiresAt, o.ExpiresAt
	b.ExpiresAt, o.ExpiresAt = time.Time{}, time.Time{}
	return b == o && e1.Equal(e2)
}

// breakpoint is a Breakpoint compiled for this process. Only its limiter
// and its report flag change after it is built.
type breakpoint struct {
	wire Breakpoint
	file string // wire.File, normalised
	cond *condition.Condition
	tmpl *condition.Template
	// reads are the variables the condition (when evaluated in process) and
	// the template read: all the in-process evaluation captures.
	reads  condition.Reads
	limits capture.Limits
	limit  *limiter
	// evalReported is set once a failed evaluation of the condition has
	// been logged.
	evalReported atomic.Bool
}

func (b *breakpoint) expired(now time.Time) bool {
	return !b.wire.ExpiresAt.IsZero() && !now.Before(b.wire.ExpiresAt)
}

// state is what capture points read. A new one replaces the old one on
// every change; none is modified once published.
type state struct {
	// idle: nothing to do. Capture points check it before anything else.
	idle bool
	// discover: register capture points even with no breakpoint active.
	discover bool
	n        int // active breakpoints
	byName   map[string][]*breakpoint
	byLine   map[int][]*breakpoint // breakpoints with a file, by line
}

// idleState is the state of an agent with nothing to do.
var idleState = &state{idle: true}

// Idle reports whether capture points have nothing to do: no breakpoint is
// active and no discovery window is open, or the kill switch or the circuit
// breaker is on, or the agent is closed or nil. It is one atomic load, for
// callers to check before they pay for runtime.Caller.
func (a *Agent) Idle() bool { return a == nil || a.cur.Load().idle }

// apply makes s the breakpoint set in effect. Breakpoints that do not apply
// to this environment are left out; one whose condition or template does
// not compile is left out and logged once. A breakpoint that did not change
// keeps its rate limit's history.
func (a *Agent) apply(s Set) {
	now := a.now()
	a.mu.Lock()
	if a.closed || (a.applied && s.Version != "" && s.Version == a.version) {
		a.mu.Unlock()
		return
	}
	next := make(map[string]*breakpoint, len(s.Breakpoints))
	for _, w := range s.Breakpoints {
		if w.Environment != "" && w.Environment != a.opts.Environment {
			continue
		}
		old := a.bps[w.ID]
		if old != nil && equal(old.wire, w) {
			next[w.ID] = old
			continue
		}
		bp, err := a.compile(w)
		if err != nil {
			if key := w.ID + "\x00" + w.Condition + "\x00" + w.Message + "\x00" + string(w.Type); !a.reported[key] {
				a.reported[key] = true
				a.log.Warn("code monitoring: breakpoint disabled", "breakpoint_id", w.ID, "err", err)
			}
			continue
		}
		if old != nil && old.limit.n == bp.limit.n {
			bp.limit = old.limit
		}
		next[w.ID] = bp
	}
	if s.KillSwitch != a.killSwitch {
		a.log.Info("code monitoring: kill switch changed", "service", a.opts.Service, "on", s.KillSwitch)
	}
	a.bps, a.version, a.killSwitch, a.applied = next, s.Version, s.KillSwitch, true
	a.publishLocked(now)
	a.mu.Unlock()
	a.notify()
}

// compile prepares a breakpoint: conditions and templates compile once,
// here, never on a hit.
func (a *Agent) compile(w Breakpoint) (bp *breakpoint, err error) {
	defer func() {
		if r := recover(); r != nil {
			bp, err = nil, fmt.Errorf("compile panicked: %s", describePanic(r))
		}
	}()
	bp = &breakpoint{wire: w, file: normalizeFile(w.File)}
	switch w.Type {
	case TypeLine, TypeConditional, TypeLogpoint:
	default:
		return nil, fmt.Errorf("type %q is not line, conditional or logpoint", w.Type)
	}
	if w.CapturePoint == "" && (bp.file == "" || w.Line <= 0) {
		return nil, errors.New("neither a capture point nor a file and line to match")
	}
	if strings.TrimSpace(w.Condition) != "" {
		if bp.cond, err = condition.Compile(w.Condition); err != nil {
			return nil, fmt.Errorf("condition %q: %w", w.Condition, err)
		}
	} else if w.Type == TypeConditional {
		return nil, errors.New("a conditional breakpoint without a condition")
	}
	if bp.cond != nil && !a.opts.ServerChecks {
		bp.reads = bp.cond.Reads()
	}
	if w.Type == TypeLogpoint {
		if bp.tmpl, err = condition.CompileTemplate(w.Message); err != nil {
			return nil, fmt.Errorf("message %q: %w", w.Message, err)
		}
		bp.reads = bp.reads.Union(bp.tmpl.Reads())
	}
	depth := w.CaptureDepth
	if depth <= 0 {
		depth = DefaultCaptureDepth
	}
	maxString := w.MaxStringLength
	if maxString <= 0 {
		maxString = DefaultMaxString
	}
	bp.limits = capture.Limits{
		MaxDepth: min(depth, a.opts.MaxDepth), MaxString: maxString,
		MaxPayload: a.opts.MaxPayload, Timeout: a.opts.CaptureTimeout,
	}
	rate := w.RateLimit
	if rate <= 0 {
		rate = DefaultRateLimit
	}
	bp.limit = newLimiter(rate, time.Minute)
	return bp, nil
}

// normalizeFile makes a breakpoint's file comparable with the paths
// runtime.Caller reports, which use forward slashes.
func normalizeFile(f string) string {
	f = strings.ReplaceAll(strings.TrimSpace(f), `\`, "/")
	for strings.HasPrefix(f, "./") {
		f = f[2:]
	}
	return f
}

// publishLocked computes and publishes the state capture points read. The
// caller holds a.mu.
func (a *Agent) publishLocked(now time.Time) {
	a.nextExpiry = time.Time{}
	if a.closed || a.killSwitch || a.brk.open {
		a.cur.Store(idleState)
		return
	}
	st := &state{discover: a.discovering}
	ids := make([]string, 0, len(a.bps))
	for id := range a.bps {
		ids = append(ids, id)
	}
	sort.Strings(ids) // the order in which several matching breakpoints fire
	for _, id := range ids {
		bp := a.bps[id]
		if bp.expired(now) {
			continue
		}
		if exp := bp.wire.ExpiresAt; !exp.IsZero() && (a.nextExpiry.IsZero() || exp.Before(a.nextExpiry)) {
			a.nextExpiry = exp
		}
		st.n++
		if bp.wire.CapturePoint != "" {
			if st.byName == nil {
				st.byName = map[string][]*breakpoint{}
			}
			st.byName[bp.wire.CapturePoint] = append(st.byName[bp.wire.CapturePoint], bp)
		}
		if bp.file != "" && bp.wire.Line > 0 {
			if st.byLine == nil {
				st.byLine = map[int][]*breakpoint{}
			}
			st.byLine[bp.wire.Line] = append(st.byLine[bp.wire.Line], bp)
		}
	}
	if st.n == 0 && !st.discover {
		st = idleState
	}
	a.cur.Store(st)
}

// match calls fire for every breakpoint of st that matches the capture
// point: by name, or by file and line. A breakpoint that matches both ways
// fires once.
func (st *state) match(name, file string, line int, fire func(*breakpoint)) {
	for _, bp := range st.byName[name] {
		fire(bp)
	}
	for _, bp := range st.byLine[line] {
		if (bp.wire.CapturePoint == "" || bp.wire.CapturePoint != name) && fileMatches(file, bp.file) {
			fire(bp)
		}
	}
}

// fileMatches reports whether f names path: equal to it, or a suffix of it
// that starts after a "/".
func fileMatches(path, f string) bool {
	if f == "" || !strings.HasSuffix(path, f) {
		return false
	}
	return len(f) == len(path) || f[0] == '/' || path[len(path)-len(f)-1] == '/'
}
