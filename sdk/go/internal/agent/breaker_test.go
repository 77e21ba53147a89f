package agent

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"
)

// failingTransport fails the uploads with a network error and passes the
// rest to a real transport.
type failingTransport struct{ next *http.Transport }

func (f failingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Path == "/v1/codemon/snapshots" {
		return nil, errors.New("dial tcp: connection refused")
	}
	return f.next.RoundTrip(r)
}

func TestCircuitBreaker(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int  // the server's answer to uploads; 0 with a network failure
		opens  bool // whether the failures open the breaker
	}{
		{"5xx", http.StatusServiceUnavailable, true},
		{"network", 0, true},
		{"4xx", http.StatusBadRequest, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newFakeClock()
			f := newFakeServer(t)
			f.with(func() { f.snapStatus = tc.status })
			f.setBreakpoints(false, Breakpoint{ID: "bp1", Type: TypeLine, CapturePoint: "cb", RateLimit: 600})
			a, logs := newAgent(t, f, func(o *Options) {
				o.Now = clk.Now
				if tc.status == 0 {
					tr := &http.Transport{}
					t.Cleanup(tr.CloseIdleConnections)
					o.HTTPClient = &http.Client{Transport: failingTransport{tr}}
				}
			})
			applied(t, a, "v1")
			ctx := context.Background()
			// One hit at a time, each upload failing before the next: five
			// failed requests at most.
			for i := 0; i < 5 && !a.Stats().BreakerOpen; i++ {
				before := a.Stats().UploadFailures
				hit(a, ctx, "cb", map[string]any{"i": i})
				waitFor(t, a, "a failed upload", func(s Stats) bool { return s.UploadFailures > before || s.BreakerOpen })
			}
			s := a.Stats()
			if s.BreakerOpen != tc.opens {
				t.Fatalf("breaker open = %v after %d failures, want %v", s.BreakerOpen, s.UploadFailures, tc.opens)
			}
			if !tc.opens {
				if s.UploadFailures < 5 || a.Idle() {
					t.Errorf("4xx: failures %d, idle %v; want 5 failures and capturing on", s.UploadFailures, a.Idle())
				}
				return
			}
			if s.UploadFailures != 3 || !a.Idle() || !contains(logs.String(), "circuit breaker open") {
				t.Fatalf("failures %d, idle %v, log:\n%s\nwant 3 failures, idle, and \"circuit breaker open\" logged", s.UploadFailures, a.Idle(), logs.String())
			}
			captures := s.Captures
			hit(a, ctx, "cb", nil)
			if a.Stats().Captures != captures {
				t.Error("captured while the breaker was open")
			}

			// After the cooldown it closes and tries again.
			f.with(func() { f.snapStatus = 0 })
			clk.Advance(5*time.Minute - time.Second)
			a.housekeep()
			if !a.Stats().BreakerOpen {
				t.Fatal("closed before the cooldown ended")
			}
			clk.Advance(time.Second)
			a.housekeep()
			if a.Stats().BreakerOpen || a.Idle() {
				t.Fatal("still open after the cooldown")
			}
			if tc.status == 0 {
				return // uploads still fail on this transport
			}
			// Batches that failed before the breaker opened may be sent
			// again too (when no flush fell inside the open window), so
			// wait for this hit's snapshot rather than a count.
			hit(a, ctx, "cb", map[string]any{"after": "cooldown"})
			eventually(t, "an upload after the cooldown", func() bool {
				snaps, _ := f.received()
				for _, s := range snaps {
					if contains(string(s.Variables), `"after":"cooldown"`) {
						return true
					}
				}
				return false
			})
		})
	}
}

func TestStreamFailuresDoNotOpenTheBreaker(t *testing.T) {
	f := newFakeServer(t)
	f.with(func() { f.streamStatus = http.StatusServiceUnavailable })
	a, _ := newAgent(t, f, nil)
	eventually(t, "five stream attempts", func() bool { return f.requests("/v1/codemon/stream") >= 5 })
	if s := a.Stats(); s.BreakerOpen || s.UploadFailures != 0 {
		t.Errorf("stream failures counted: %+v", s)
	}
}
