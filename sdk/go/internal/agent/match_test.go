package agent

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestFileMatches(t *testing.T) {
	f := func(path, file string, want bool) {
		t.Helper()
		if got := fileMatches(path, file); got != want {
			t.Errorf("fileMatches(%q, %q) = %v, want %v", path, file, got, want)
		}
	}
	f("/app/handlers/payment.go", "handlers/payment.go", true)
	f("/app/handlers/payment.go", "payment.go", true)
	f("/app/handlers/payment.go", "/app/handlers/payment.go", true)
	f("/srv/app/handlers/payment.go", "/app/handlers/payment.go", true)
	f("/app/handlers/mypayment.go", "payment.go", false)
	f("/app/xhandlers/payment.go", "handlers/payment.go", false)
	f("/app/handlers/payment.go", "handlers/payment.g", false)
	f("payment.go", "payment.go", true)
	f("/app/handlers/payment.go", "", false)
	f("a.go", "/long/a.go", false)
}

func TestMatchRules(t *testing.T) {
	a, _ := newAgent(t, nil, nil)
	a.apply(Set{Version: "m1", Breakpoints: []Breakpoint{
		{ID: "by-name", Type: TypeLine, CapturePoint: "payment-failed"},
		{ID: "by-file", Type: TypeLine, File: "handlers/payment.go", Line: 42},
		{ID: "by-base", Type: TypeLine, File: "payment.go", Line: 7},
		{ID: "by-abs", Type: TypeLine, File: "/app/handlers/payment.go", Line: 9},
		{ID: "both", Type: TypeLine, CapturePoint: "both", File: "handlers/payment.go", Line: 50},
		{ID: "windows", Type: TypeLine, File: `handlers\win.go`, Line: 3},
		{ID: "dot", Type: TypeLine, File: "./handlers/dot.go", Line: 4},
		{ID: "env-prod", Type: TypeLine, CapturePoint: "env", Environment: "prod"},
		{ID: "env-staging", Type: TypeLine, CapturePoint: "env", Environment: "staging"},
		{ID: "env-any", Type: TypeLine, CapturePoint: "env"},
		{ID: "same-name-1", Type: TypeLine, CapturePoint: "twice"},
		{ID: "same-name-2", Type: TypeLogpoint, CapturePoint: "twice", Message: "hit"},
	}})
	st := a.cur.Load()
	if st.idle || st.n != 11 {
		t.Fatalf("state idle=%v n=%d, want 11 active (env-staging left out)", st.idle, st.n)
	}
	f := func(name, file string, line int, want ...string) {
		t.Helper()
		var got []string
		st.match(name, file, line, func(bp *breakpoint) { got = append(got, bp.wire.ID) })
		if !slices.Equal(got, want) {
			t.Errorf("match(%q, %q, %d) = %q, want %q", name, file, line, got, want)
		}
	}
	f("payment-failed", "/app/main.go", 1, "by-name")
	f("payment-succeeded", "/app/main.go", 1)
	f("other", "/app/handlers/payment.go", 42, "by-file")
	f("other", "/app/handlers/payment.go", 43)
	f("other", "/app/xhandlers/payment.go", 42)
	f("other", "/app/handlers/payment.go", 7, "by-base")
	f("other", "/app/handlers/mypayment.go", 7)
	f("other", "/app/handlers/payment.go", 9, "by-abs")
	f("other", "/elsewhere/payment.go", 9)
	f("both", "/app/handlers/payment.go", 50, "both")
	f("both", "/app/main.go", 1, "both")
	f("other", "/app/handlers/payment.go", 50, "both")
	f("other", "C:/src/handlers/win.go", 3, "windows")
	f("other", "/src/handlers/dot.go", 4, "dot")
	f("env", "/app/main.go", 1, "env-any", "env-prod")
	f("twice", "/app/main.go", 1, "same-name-1", "same-name-2")
}

func TestBrokenBreakpointsAreLeftOutAndLoggedOnce(t *testing.T) {
	a, logs := newAgent(t, nil, nil)
	set := func(v string) Set {
		return Set{Version: v, Breakpoints: []Breakpoint{
			{ID: "bad-cond", Type: TypeConditional, CapturePoint: "p", Condition: "user.id =="},
			{ID: "bad-tmpl", Type: TypeLogpoint, CapturePoint: "p", Message: "unclosed {user.id"},
			{ID: "bad-type", Type: "watchpoint", CapturePoint: "p"},
			{ID: "nowhere", Type: TypeLine},
			{ID: "good", Type: TypeConditional, CapturePoint: "p", Condition: "user.id == \"u1\""},
		}}
	}
	a.apply(set("b1"))
	a.apply(set("b2"))
	if n := a.Stats().Breakpoints; n != 1 {
		t.Errorf("Breakpoints = %d, want 1 (only the good one)", n)
	}
	out := logs.String()
	for _, id := range []string{"bad-cond", "bad-tmpl", "bad-type", "nowhere"} {
		if c := strings.Count(out, "breakpoint_id="+id); c != 1 {
			t.Errorf("%s logged %d times, want once:\n%s", id, c, out)
		}
	}
}

func TestUnchangedBreakpointKeepsItsRateLimit(t *testing.T) {
	a, _ := newAgent(t, nil, nil)
	bp := Breakpoint{ID: "keep", Type: TypeLine, CapturePoint: "p", RateLimit: 5, ExpiresAt: time.Now().Add(time.Hour)}
	a.apply(Set{Version: "k1", Breakpoints: []Breakpoint{bp}})
	before := a.cur.Load().byName["p"][0]
	other := Breakpoint{ID: "other", Type: TypeLine, CapturePoint: "q"}
	a.apply(Set{Version: "k2", Breakpoints: []Breakpoint{bp, other}})
	if after := a.cur.Load().byName["p"][0]; after != before {
		t.Error("an unrelated change rebuilt the breakpoint (and reset its rate limit)")
	}
	bp.CaptureDepth = 5
	a.apply(Set{Version: "k3", Breakpoints: []Breakpoint{bp, other}})
	if after := a.cur.Load().byName["p"][0]; after == before || after.limit != before.limit {
		t.Error("a changed breakpoint must be rebuilt and keep its rate limit's history")
	}
}

func TestDiscoveryWindows(t *testing.T) {
	a, _ := newAgent(t, nil, func(o *Options) { o.Discovery = Discovery{} })
	f := func(after time.Duration, want bool) {
		t.Helper()
		if got := a.discoveringAt(a.start.Add(after)); got != want {
			t.Errorf("discovering %v after start = %v, want %v", after, got, want)
		}
	}
	f(0, true)
	f(4*time.Minute+59*time.Second, true)
	f(5*time.Minute, false)
	f(9*time.Minute+59*time.Second, false)
	f(10*time.Minute, true)
	f(10*time.Minute+59*time.Second, true)
	f(11*time.Minute, false)
	f(20*time.Minute+30*time.Second, true)
	f(25*time.Minute, false)
	if a.Idle() {
		t.Error("an agent in its first discovery window must not be idle")
	}
}
