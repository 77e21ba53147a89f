package agent

import (
	"github.com/tracekit-oss/tracekit/sdk/go/protocol"

	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"
)

// maxSetBytes bounds one breakpoint set, on the stream and polled.
const maxSetBytes = 8 << 20

// streamLoop keeps the breakpoint stream connected: it reconnects with
// exponential backoff and jitter, and signals the poll loop while the
// stream is down. Stream failures do not count towards the circuit breaker:
// polling covers them.
func (a *Agent) streamLoop() {
	defer a.bg.Done()
	backoff := a.opts.BackoffMin
	lost := false // a failure to connect was logged
	for {
		connected, err := a.stream(a.ctx, func() {
			if lost {
				lost = false
				a.log.Info("code monitoring: breakpoint stream connected again")
			}
		})
		a.streaming.Store(false)
		if a.ctx.Err() != nil {
			return
		}
		signal(a.streamDown)
		a.notify()
		switch {
		case connected:
			// A stream that worked ended (a restart, a proxy's timeout):
			// reconnect soon, quietly.
			backoff = a.opts.BackoffMin
			a.log.Debug("code monitoring: breakpoint stream ended", "err", err)
		case !lost:
			lost = true
			a.log.Warn("code monitoring: breakpoint stream unavailable; polling until it is back",
				"err", err, "poll_interval", a.opts.PollInterval)
		default:
			a.log.Debug("code monitoring: breakpoint stream", "err", err)
		}
		if !sleep(a.ctx, jitter(backoff)) {
			return
		}
		if !connected {
			backoff = min(2*backoff, a.opts.BackoffMax)
		}
	}
}

// jitter returns a delay between d/2 and d.
func jitter(d time.Duration) time.Duration {
	return d/2 + rand.N(d/2+1)
}

// sleep waits for d, and reports false when ctx ends first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// errStreamSilent ends a stream that sent nothing, not even a heartbeat,
// for StreamTimeout.
var errStreamSilent = errors.New("stream silent for too long")

// stream reads the breakpoint stream until it fails; onConnect runs when
// the server accepts it. connected reports whether it did.
func (a *Agent) stream(parent context.Context, onConnect func()) (connected bool, err error) {
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	idle := time.AfterFunc(a.opts.StreamTimeout, func() { cancel(errStreamSilent) })
	defer idle.Stop()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.url(protocol.PathStream), nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	a.auth(req)
	a.mu.Lock()
	if a.applied && a.version != "" {
		req.Header.Set("Last-Event-ID", a.version)
	}
	a.mu.Unlock()
	resp, err := a.hc.Do(req)
	if err != nil {
		if cause := context.Cause(ctx); cause != nil {
			err = cause
		}
		return false, fmt.Errorf("connect: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, answerError(resp)
	}
	a.streaming.Store(true)
	onConnect()
	a.notify()
	r := newSSEReader(resp.Body)
	for {
		ev, err := r.next(func() { idle.Reset(a.opts.StreamTimeout) })
		if err != nil {
			if cause := context.Cause(ctx); cause != nil {
				err = cause
			}
			return true, fmt.Errorf("read: %w", err)
		}
		if ev.name != "breakpoints" {
			continue
		}
		var s Set
		if err := json.Unmarshal([]byte(ev.data), &s); err != nil {
			a.log.Warn("code monitoring: a breakpoint set could not be read; keeping the current one", "err", err)
			continue
		}
		a.apply(s)
	}
}

// answerError describes a refused request with the server's message.
func answerError(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	var e struct {
		Error string `json:"error"`
	}
	msg := strings.TrimSpace(string(body))
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		msg = e.Error
	}
	return fmt.Errorf("server answered %s: %s", resp.Status, msg)
}

func (a *Agent) auth(req *http.Request) {
	if a.opts.APIKey != "" {
		req.Header.Set("X-API-Key", a.opts.APIKey)
	}
}

// sseEvent is one dispatched Server-Sent Event.
type sseEvent struct {
	id, name, data string
}

// sseReader parses a text/event-stream as the HTML standard describes it:
// lines of field: value, events ended by a blank line, comments starting
// with ':'.
type sseReader struct {
	sc     *bufio.Scanner
	lastID string
}

func newSSEReader(r io.Reader) *sseReader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxSetBytes)
	return &sseReader{sc: sc}
}

// next returns the next event; onLine runs for every line read, comments
// (heartbeats) included.
func (r *sseReader) next(onLine func()) (sseEvent, error) {
	var ev sseEvent
	var data strings.Builder
	hasData := false
	for r.sc.Scan() {
		onLine()
		line := strings.TrimSuffix(r.sc.Text(), "\r")
		if line == "" {
			if !hasData {
				ev.name = ""
				continue
			}
			ev.id, ev.data = r.lastID, data.String()
			if ev.name == "" {
				ev.name = "message"
			}
			return ev, nil
		}
		if line[0] == ':' {
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			ev.name = value
		case "data":
			if hasData {
				data.WriteByte('\n')
			}
			data.WriteString(value)
			hasData = true
		case "id":
			if !strings.ContainsRune(value, 0) {
				r.lastID = value
			}
		}
	}
	if err := r.sc.Err(); err != nil {
		return ev, err
	}
	return ev, io.EOF
}

// pollLoop polls the breakpoint set while the stream is down: at once when
// it goes down (unless a poll is more recent than PollInterval), then every
// PollInterval until it is back.
func (a *Agent) pollLoop() {
	defer a.bg.Done()
	var last time.Time
	t := time.NewTimer(0)
	<-t.C
	for {
		select {
		case <-a.ctx.Done():
			return
		case <-a.streamDown:
		}
		for !a.streaming.Load() {
			if since := time.Since(last); last.IsZero() || since >= a.opts.PollInterval {
				if err := a.poll(a.ctx); err != nil && a.ctx.Err() == nil {
					a.log.Debug("code monitoring: poll breakpoints", "err", err)
				}
				last = time.Now()
			}
			t.Reset(a.opts.PollInterval - time.Since(last))
			select {
			case <-a.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}
}

// poll fetches the breakpoint set once, with the version in effect as
// If-None-Match.
func (a *Agent) poll(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, a.opts.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.url(protocol.PathBreakpoints), nil)
	if err != nil {
		return err
	}
	a.auth(req)
	a.mu.Lock()
	if a.applied && a.version != "" {
		req.Header.Set("If-None-Match", `"`+a.version+`"`)
	}
	a.mu.Unlock()
	resp, err := a.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNotModified:
		return nil
	case http.StatusOK:
	default:
		return answerError(resp)
	}
	var s Set
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxSetBytes)).Decode(&s); err != nil {
		return fmt.Errorf("decode breakpoint set: %w", err)
	}
	a.apply(s)
	return nil
}
