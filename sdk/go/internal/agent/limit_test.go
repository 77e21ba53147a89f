package agent

import (
	"context"
	"testing"
	"time"
)

func TestLimiterRollingWindow(t *testing.T) {
	l := newLimiter(2, time.Minute)
	sec := int64(time.Second)
	f := func(at int64, want bool) {
		t.Helper()
		if got := l.allow(at); got != want {
			t.Errorf("allow at %ds = %v, want %v", at/sec, got, want)
		}
	}
	f(0, true)
	f(10*sec, true)
	if l.peek(59 * sec) {
		t.Error("peek: a third grant within the minute")
	}
	f(59*sec, false)
	f(60*sec, true) // the grant at 0 is a minute old
	f(61*sec, false)
	f(70*sec, true)
	f(71*sec, false)
}

func TestBreakerWindowAndCooldown(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := breaker{cfg: BreakerConfig{MaxFailures: 3, Window: time.Minute, Cooldown: 5 * time.Minute}}
	f := func(after time.Duration, want bool) {
		t.Helper()
		if got := b.failure(t0.Add(after)); got != want {
			t.Errorf("failure at %v opened = %v, want %v", after, got, want)
		}
	}
	f(0, false)
	f(30*time.Second, false)
	f(61*time.Second, false) // the first is out of the window
	f(62*time.Second, true)  // 30 s, 61 s, 62 s
	if b.tryClose(t0.Add(62*time.Second + 5*time.Minute - time.Nanosecond)) {
		t.Error("closed before the cooldown ended")
	}
	f(63*time.Second, false) // failures while open are not recorded
	if !b.tryClose(t0.Add(62*time.Second + 5*time.Minute)) {
		t.Error("still open after the cooldown")
	}
	f(6*time.Minute, false) // the count starts again
	f(6*time.Minute+time.Second, false)
	if b.opens != 1 {
		t.Errorf("opens = %d, want 1", b.opens)
	}
}

func TestRateLimitPerBreakpoint(t *testing.T) {
	clk := newFakeClock()
	f := newFakeServer(t)
	f.setBreakpoints(false, Breakpoint{ID: "bp1", Type: TypeLine, CapturePoint: "rl", RateLimit: 2, ExpiresAt: clk.Now().Add(time.Hour)})
	a, _ := newAgent(t, f, func(o *Options) { o.Now = clk.Now })
	applied(t, a, "v1")
	ctx := context.Background()
	for i := range 10 {
		hit(a, ctx, "rl", map[string]any{"i": i})
	}
	if s := a.Stats(); s.Captures != 2 || s.RateLimited != 8 {
		t.Fatalf("10 hits at rate limit 2: captures %d, rate-limited %d; want 2 and 8", s.Captures, s.RateLimited)
	}
	clk.Advance(59 * time.Second)
	hit(a, ctx, "rl", nil)
	clk.Advance(time.Second)
	for range 3 {
		hit(a, ctx, "rl", nil)
	}
	if s := a.Stats(); s.Captures != 4 || s.RateLimited != 10 {
		t.Fatalf("a minute later: captures %d, rate-limited %d; want 4 and 10", s.Captures, s.RateLimited)
	}
	waitFor(t, a, "4 uploads", func(s Stats) bool { return s.Uploaded == 4 })
	if snaps, _ := f.received(); len(snaps) != 4 {
		t.Errorf("server received %d snapshots, want 4", len(snaps))
	}
}

func TestExpiryWithoutTheServer(t *testing.T) {
	clk := newFakeClock()
	f := newFakeServer(t)
	f.setBreakpoints(false, Breakpoint{ID: "bp1", Type: TypeLine, CapturePoint: "exp", ExpiresAt: clk.Now().Add(10 * time.Second)})
	a, _ := newAgent(t, f, func(o *Options) { o.Now = clk.Now })
	applied(t, a, "v1")
	ctx := context.Background()
	hit(a, ctx, "exp", nil)
	clk.Advance(10 * time.Second)
	hit(a, ctx, "exp", nil)
	if s := a.Stats(); s.Captures != 1 || s.RateLimited != 0 {
		t.Fatalf("captures %d, rate-limited %d; want 1 capture before the expiry and none after", s.Captures, s.RateLimited)
	}
	a.housekeep()
	if !a.Idle() || a.Stats().Breakpoints != 0 {
		t.Errorf("after housekeeping an expired breakpoint must leave the state idle; stats %+v", a.Stats())
	}
}

func TestKillSwitch(t *testing.T) {
	f := newFakeServer(t)
	bp := Breakpoint{ID: "bp1", Type: TypeLine, CapturePoint: "ks", RateLimit: 100}
	f.setBreakpoints(false, bp)
	a, _ := newAgent(t, f, nil)
	applied(t, a, "v1")
	ctx := context.Background()
	hit(a, ctx, "ks", nil)
	f.setBreakpoints(true, bp)
	waitFor(t, a, "the kill switch", func(s Stats) bool { return s.KillSwitch })
	if !a.Idle() {
		t.Fatal("kill switch on: the state must be idle")
	}
	hit(a, ctx, "ks", nil)
	if s := a.Stats(); s.Captures != 1 || s.Breakpoints != 0 {
		t.Errorf("with the kill switch on: captures %d, breakpoints %d; want 1 (from before) and 0", s.Captures, s.Breakpoints)
	}
	f.setBreakpoints(false, bp)
	waitFor(t, a, "the kill switch off", func(s Stats) bool { return !s.KillSwitch })
	hit(a, ctx, "ks", nil)
	if s := a.Stats(); s.Captures != 2 {
		t.Errorf("kill switch off again: captures %d, want 2", s.Captures)
	}
}
