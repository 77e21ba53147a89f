package agent

import (
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSSEReader(t *testing.T) {
	f := func(stream string, want ...sseEvent) {
		t.Helper()
		r := newSSEReader(strings.NewReader(stream))
		lines := 0
		var got []sseEvent
		for {
			ev, err := r.next(func() { lines++ })
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("next: %v", err)
			}
			got = append(got, ev)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%q:\n got %+v\nwant %+v", stream, got, want)
		}
		if lines != strings.Count(stream, "\n") {
			t.Errorf("%q: onLine ran %d times, want once a line", stream, lines)
		}
	}
	f("id: v1\nevent: breakpoints\ndata: {\"a\":1}\n\n", sseEvent{"v1", "breakpoints", `{"a":1}`})
	f("id: v1\r\nevent: breakpoints\r\ndata: {}\r\n\r\n", sseEvent{"v1", "breakpoints", "{}"})
	f(": heartbeat\n\n: heartbeat\n\n")
	f("data: one\ndata: two\n\n", sseEvent{"", "message", "one\ntwo"})
	f("data:nospace\n\n", sseEvent{"", "message", "nospace"})
	f("event: breakpoints\n\ndata: x\n\n", sseEvent{"", "message", "x"}) // an event without data is not dispatched
	f("id: v1\ndata: a\n\ndata: b\n\n", sseEvent{"v1", "message", "a"}, sseEvent{"v1", "message", "b"})
	f("retry: 100\ndata\n\n", sseEvent{"", "message", ""})
	f("data: cut short\n") // no blank line: never dispatched
}

func TestStreamResumesWithLastEventID(t *testing.T) {
	f := newFakeServer(t)
	f.setBreakpoints(false, Breakpoint{ID: "bp1", Type: TypeLine, CapturePoint: "p"})
	// Polls would fetch the change too: only the first drop polls.
	a, _ := newAgent(t, f, func(o *Options) { o.PollInterval = time.Hour })
	applied(t, a, "v1")
	waitFor(t, a, "the stream", func(s Stats) bool { return s.Streaming })

	// Nothing changed while it was away: the server sends nothing stale.
	f.dropStreams()
	eventually(t, "a reconnect", func() bool { return f.requests("/v1/codemon/stream") >= 2 })
	waitFor(t, a, "the stream again", func(s Stats) bool { return s.Streaming })

	// A change while it was away arrives on reconnect.
	f.dropStreams()
	f.setBreakpoints(false)
	applied(t, a, "v2")
	eventually(t, "the third stream", func() bool { return f.requests("/v1/codemon/stream") >= 3 })
	f.mu.Lock()
	ids := slices.Clone(f.lastEventIDs)
	f.mu.Unlock()
	if len(ids) < 3 || ids[0] != "" || ids[1] != "v1" || ids[2] != "v1" {
		t.Errorf("Last-Event-ID of the streams = %q, want \"\", then v1 on each reconnect", ids)
	}
	if a.Stats().Breakpoints != 0 {
		t.Error("the set sent on reconnect was not applied")
	}
}

func TestSilentStreamReconnects(t *testing.T) {
	f := newFakeServer(t)
	f.with(func() { f.silent = true })
	newAgent(t, f, func(o *Options) { o.StreamTimeout = 50 * time.Millisecond })
	eventually(t, "reconnects after silence", func() bool { return f.requests("/v1/codemon/stream") >= 3 })
}

func TestPollingWhileTheStreamFails(t *testing.T) {
	f := newFakeServer(t)
	f.with(func() { f.streamStatus = http.StatusServiceUnavailable })
	a, logs := newAgent(t, f, nil)
	f.setBreakpoints(false, Breakpoint{ID: "bp1", Type: TypeLine, CapturePoint: "p"})
	applied(t, a, "v1")
	if a.Stats().Streaming {
		t.Fatal("streaming, though the server refuses streams")
	}
	eventually(t, "a poll answered 304", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.notModified > 0
	})
	f.setBreakpoints(false)
	applied(t, a, "v2")
	if !strings.Contains(logs.String(), "polling until it is back") {
		t.Errorf("the fallback was not logged:\n%s", logs.String())
	}

	// The stream comes back; polling stops.
	f.with(func() { f.streamStatus = 0 })
	waitFor(t, a, "the stream", func(s Stats) bool { return s.Streaming })
	polls := f.requests("/v1/codemon/breakpoints")
	f.setBreakpoints(false, Breakpoint{ID: "bp3", Type: TypeLine, CapturePoint: "p"})
	applied(t, a, "v3")
	if n := f.requests("/v1/codemon/breakpoints"); n > polls+1 {
		t.Errorf("%d polls after the stream came back", n-polls)
	}
}

// FuzzSSEReader feeds the stream parser arbitrary input: it must never
// panic, and every event it returns must have come from a blank line.
func FuzzSSEReader(f *testing.F) {
	f.Add("id: v1\nevent: breakpoints\ndata: {}\n\n")
	f.Add(": heartbeat\n\ndata: a\r\ndata: b\r\n\r\n")
	f.Add("data\nid: \x00\n\n")
	f.Fuzz(func(t *testing.T, stream string) {
		r := newSSEReader(strings.NewReader(stream))
		events := 0
		for {
			_, err := r.next(func() {})
			if err != nil {
				break
			}
			events++
		}
		if blank := strings.Count(strings.ReplaceAll(stream, "\r\n", "\n"), "\n\n"); events > blank+1 {
			t.Errorf("%d events from %d blank lines", events, blank)
		}
	})
}
