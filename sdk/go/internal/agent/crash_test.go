package agent

import (
	"context"
	"log/slog"
	"strings"
	"testing"
)

// panicError panics when asked for its message.
type panicError struct{}

func (*panicError) Error() string { panic("Error() exploded") }

// panicHandler is an application log handler that panics.
type panicHandler struct{ slog.Handler }

func (panicHandler) Enabled(context.Context, slog.Level) bool  { return true }
func (panicHandler) Handle(context.Context, slog.Record) error { panic("handler exploded") }

func TestPanicsNeverReachTheApplication(t *testing.T) {
	for _, stage := range []string{"match", "capture", "condition", "render", "serialize"} {
		t.Run(stage, func(t *testing.T) {
			f := newFakeServer(t)
			f.setBreakpoints(false,
				Breakpoint{ID: "c1", Type: TypeConditional, CapturePoint: "p", Condition: "x == 1", RateLimit: 100},
				Breakpoint{ID: "l1", Type: TypeLogpoint, CapturePoint: "p", Message: "x={x}", RateLimit: 100})
			a, logs := newAgent(t, f, func(o *Options) {
				o.hook = func(s string) {
					if s == stage {
						panic("boom at " + s)
					}
				}
			})
			applied(t, a, "v1")
			hit(a, context.Background(), "p", map[string]any{"x": 1})
			waitFor(t, a, "the panic to be counted", func(s Stats) bool { return s.Panics > 0 })
			if !strings.Contains(logs.String(), "recovered from a panic") {
				t.Errorf("the panic was not logged:\n%s", logs.String())
			}
			// The agent keeps working for the next hit.
			if a.Idle() {
				t.Error("a panic must not turn code monitoring off")
			}
		})
	}
}

func TestCaptureOfAPanickingValue(t *testing.T) {
	f := newFakeServer(t)
	f.setBreakpoints(false, Breakpoint{ID: "bp1", Type: TypeLine, CapturePoint: "p"})
	a, _ := newAgent(t, f, nil)
	applied(t, a, "v1")
	var bad *panicError
	hit(a, context.Background(), "p", map[string]any{"err": error(bad), "ok": "fine"})
	waitFor(t, a, "the upload", func(s Stats) bool { return s.Uploaded == 1 })
	snaps, _ := f.received()
	vars := string(snaps[0].Variables)
	if !strings.Contains(vars, `Error() panicked: Error() exploded`) || !strings.Contains(vars, `"ok":"fine"`) {
		t.Errorf("variables %s: want the panicking value replaced by a marker and the rest kept", vars)
	}
	if p := a.Stats().Panics; p != 1 {
		t.Errorf("Panics = %d, want 1", p)
	}
}

func TestPanickingApplicationLogger(t *testing.T) {
	f := newFakeServer(t)
	f.setBreakpoints(false, Breakpoint{ID: "l1", Type: TypeLogpoint, CapturePoint: "p", Message: "x={x}"})
	a, _ := newAgent(t, f, func(o *Options) { o.Logger = slog.New(panicHandler{}) })
	applied(t, a, "v1")
	hit(a, context.Background(), "p", map[string]any{"x": 1})
	if p := a.Stats().Panics; p == 0 {
		t.Error("the logger's panic was not counted")
	}
	// The line still goes to the server.
	waitFor(t, a, "the upload", func(s Stats) bool { return s.Uploaded == 1 })
}
