package agent

import (
	"context"
	"sync/atomic"
	"time"
)

// counters are the agent's counts, updated without locks.
type counters struct {
	captures       atomic.Uint64
	logs           atomic.Uint64
	uploaded       atomic.Uint64
	dropped        atomic.Uint64
	rateLimited    atomic.Uint64
	checks         atomic.Uint64
	panics         atomic.Uint64
	uploadFailures atomic.Uint64
}

// Stats is what the agent has done so far, and its state now.
type Stats struct {
	Captures       uint64 // snapshots queued for upload
	Logs           uint64 // logpoint lines written and queued for upload
	Uploaded       uint64 // snapshots and lines the server accepted
	Dropped        uint64 // lost to a full queue, the breaker, failed uploads or shutdown
	RateLimited    uint64 // hits refused by a breakpoint's rate limit
	Checks         uint64 // conditions sent to the server to evaluate
	Panics         uint64 // panics recovered, the capture's included
	UploadFailures uint64 // requests to the server that failed (any status, network)
	BreakerOpen    bool   // the circuit breaker has turned code monitoring off
	BreakerOpens   uint64 // times the breaker opened
	KillSwitch     bool   // the server's kill switch is on
	Streaming      bool   // the breakpoint stream is connected
	Version        string // of the breakpoint set in effect
	Breakpoints    int    // breakpoints that can fire now
	CapturePoints  int    // capture points registered
}

// Stats returns the agent's counts and state. A nil Agent returns zeros.
func (a *Agent) Stats() Stats {
	if a == nil {
		return Stats{}
	}
	s := Stats{
		Captures: a.n.captures.Load(), Logs: a.n.logs.Load(), Uploaded: a.n.uploaded.Load(),
		Dropped: a.n.dropped.Load(), RateLimited: a.n.rateLimited.Load(), Checks: a.n.checks.Load(),
		Panics: a.n.panics.Load(), UploadFailures: a.n.uploadFailures.Load(),
		Streaming: a.streaming.Load(), Breakpoints: a.cur.Load().n, CapturePoints: len(*a.points.Load()),
	}
	a.mu.Lock()
	s.BreakerOpen, s.BreakerOpens, s.KillSwitch, s.Version = a.brk.open, a.brk.opens, a.killSwitch, a.version
	a.mu.Unlock()
	return s
}

// notify wakes WaitFor callers: the set, the breaker or an upload changed.
func (a *Agent) notify() {
	a.notifyMu.Lock()
	close(a.changed)
	a.changed = make(chan struct{})
	a.notifyMu.Unlock()
}

func (a *Agent) changes() <-chan struct{} {
	a.notifyMu.Lock()
	defer a.notifyMu.Unlock()
	return a.changed
}

// WaitFor blocks until cond holds for the agent's Stats, or ctx ends. It
// re-checks when a breakpoint set is applied, the breaker turns, an upload
// ends, and every 10 ms for the counts that change on hits. It is for tests
// and readiness checks; a nil Agent checks once.
func (a *Agent) WaitFor(ctx context.Context, cond func(Stats) bool) error {
	if a == nil {
		if cond(Stats{}) {
			return nil
		}
		<-ctx.Done()
		return ctx.Err()
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		ch := a.changes()
		if cond(a.Stats()) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		case <-tick.C:
		}
	}
}
