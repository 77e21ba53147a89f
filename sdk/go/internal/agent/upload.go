package agent

import (
	"github.com/tracekit-oss/tracekit/sdk/go/protocol"

	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// gzipAbove is the body size from which uploads are compressed.
const gzipAbove = 8 << 10

// maxAttempts is how many times a batch is sent before it is dropped.
const maxAttempts = 3

// maxRetries bounds the failed batches kept for another attempt.
const maxRetries = 4

// envelope is the instance part of every POST body.
func (a *Agent) envelope() protocol.Instance {
	o := &a.opts
	return protocol.Instance{Service: o.Service, Environment: o.Environment, Instance: o.Instance, Host: o.Host, SDK: o.SDK}
}

// batch is an encoded upload, kept for another attempt when it fails.
type batch struct {
	body     []byte
	gzip     bool
	items    int
	attempts int
}

// uploadLoop sends the queue in batches of BatchSize or every
// FlushInterval, with the capture points registered meanwhile. On Close it
// sends what is left, once, and returns.
func (a *Agent) uploadLoop() {
	defer close(a.uploadDone)
	tick := time.NewTicker(a.opts.FlushInterval)
	defer tick.Stop()
	var pending []*event
	var retries []*batch
	for {
		select {
		case ev := <-a.queue:
			pending = append(pending, ev)
			if len(pending) >= a.opts.BatchSize {
				retries = a.flush(pending, retries)
				pending = nil
			}
		case <-tick.C:
			a.sendPoints(a.upCtx) // first: the server knows a point before its snapshots
			retries = a.retry(retries)
			retries = a.flush(pending, retries)
			pending = nil
		case <-a.drain:
		queued:
			for {
				select {
				case ev := <-a.queue:
					pending = append(pending, ev)
				default:
					break queued
				}
			}
			for _, b := range a.retry(retries) {
				a.n.dropped.Add(uint64(b.items))
			}
			for len(pending) > 0 {
				n := min(len(pending), a.opts.BatchSize)
				for _, b := range a.flush(pending[:n], nil) {
					a.n.dropped.Add(uint64(b.items))
				}
				pending = pending[n:]
			}
			a.sendPoints(a.upCtx)
			return
		}
	}
}

// flush encodes and sends evs; it returns retries with the batch added when
// it failed in a way worth another attempt.
func (a *Agent) flush(evs []*event, retries []*batch) []*batch {
	if len(evs) == 0 {
		return retries
	}
	if a.breakerOpen.Load() {
		a.n.dropped.Add(uint64(len(evs)))
		return retries
	}
	b := a.encode(evs)
	if b == nil {
		return retries
	}
	if a.send(b) {
		return retries
	}
	if len(retries) >= maxRetries {
		a.n.dropped.Add(uint64(retries[0].items))
		retries = retries[1:]
	}
	return append(retries, b)
}

// retry sends the failed batches again, oldest first, and stops at the
// first that fails again: the server is still not there.
func (a *Agent) retry(retries []*batch) []*batch {
	for len(retries) > 0 {
		if a.breakerOpen.Load() {
			for _, b := range retries {
				a.n.dropped.Add(uint64(b.items))
			}
			return nil
		}
		if !a.send(retries[0]) {
			return retries
		}
		retries = retries[1:]
	}
	return nil
}

// send posts one batch, and reports whether it is done with (sent, or
// refused for good, or out of attempts).
func (a *Agent) send(b *batch) bool {
	b.attempts++
	var out protocol.UploadResponse
	status, err := a.post(a.upCtx, protocol.PathSnapshots, b.body, b.gzip, &out)
	switch {
	case err == nil:
		a.n.uploaded.Add(uint64(out.Accepted))
		a.notify()
		return true
	case status >= 400 && status < 500, b.attempts >= maxAttempts, a.upCtx.Err() != nil:
		a.n.dropped.Add(uint64(b.items))
		a.log.Debug("code monitoring: upload dropped", "items", b.items, "err", err)
		a.notify()
		return true
	}
	return false
}

// encode builds the upload body of evs. An event that cannot be encoded is
// dropped and counted, never the batch.
func (a *Agent) encode(evs []*event) *batch {
	body := protocol.UploadRequest{Instance: a.envelope()}
	for _, ev := range evs {
		a.encodeEvent(ev, &body.Snapshots, &body.Logs)
	}
	n := len(body.Snapshots) + len(body.Logs)
	if n == 0 {
		return nil
	}
	data, err := json.Marshal(body)
	if err != nil {
		a.n.dropped.Add(uint64(n))
		a.log.Warn("code monitoring: encode upload", "err", err)
		return nil
	}
	b := &batch{body: data, items: n}
	if len(data) > gzipAbove {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(data)
		if zw.Close() == nil {
			b.body, b.gzip = buf.Bytes(), true
		}
	}
	return b
}

func (a *Agent) encodeEvent(ev *event, snaps *[]protocol.Snapshot, logs *[]protocol.LogLine) {
	defer func() {
		if r := recover(); r != nil {
			a.panicked("serialize", r)
			a.n.dropped.Add(1)
		}
	}()
	a.hook("serialize")
	if ev.bp.tmpl != nil {
		*logs = append(*logs, protocol.LogLine{
			ID: protocol.NewRecordID(ev.time), BreakpointID: ev.bp.wire.ID, CapturePoint: ev.point, File: ev.file, Line: ev.line, Time: ev.time,
			TraceID: ev.traceID, SpanID: ev.spanID, Message: ev.message,
		})
		return
	}
	vars, err := json.Marshal(ev.vars)
	if err != nil {
		a.n.dropped.Add(1)
		return
	}
	*snaps = append(*snaps, protocol.Snapshot{
		ID: protocol.NewRecordID(ev.time), BreakpointID: ev.bp.wire.ID, CapturePoint: ev.point, File: ev.file, Line: ev.line, Function: ev.function,
		Time: ev.time, TraceID: ev.traceID, SpanID: ev.spanID, Variables: vars,
		Stack: stackOf(ev.pcs, ev.file, ev.line), Truncated: ev.truncated,
	})
}

// sendPoints registers the capture points seen since the last call, at most
// 1,000 per request. Points of a failed request are sent again next time.
func (a *Agent) sendPoints(ctx context.Context) {
	a.pointsMu.Lock()
	pts := a.newPoints[:min(len(a.newPoints), 1000)]
	a.pointsMu.Unlock()
	if len(pts) == 0 || a.breakerOpen.Load() {
		return
	}
	body, err := json.Marshal(protocol.CapturePointsRequest{Instance: a.envelope(), Points: pts})
	if err != nil {
		return
	}
	status, err := a.post(ctx, protocol.PathCapturePoints, body, false, nil)
	if err != nil && (status == 0 || status >= 500) {
		return
	}
	a.pointsMu.Lock()
	a.newPoints = a.newPoints[len(pts):]
	a.pointsMu.Unlock()
	a.notify()
}

// checkLoop asks the server whether hits of conditional breakpoints capture,
// one at a time, and emits those it says yes to.
func (a *Agent) checkLoop() {
	defer a.bg.Done()
	for {
		select {
		case <-a.ctx.Done():
			a.n.dropped.Add(uint64(len(a.checks)))
			return
		case ev := <-a.checks:
			a.check(ev)
		}
	}
}

func (a *Agent) check(ev *event) {
	defer a.recoverPanic("check")
	if a.breakerOpen.Load() {
		a.n.dropped.Add(1)
		return
	}
	if !ev.bp.limit.peek(ev.mono) {
		a.n.rateLimited.Add(1)
		return
	}
	body, err := json.Marshal(protocol.CheckRequest{Instance: a.envelope(), BreakpointID: ev.bp.wire.ID, Variables: ev.vars})
	if err != nil {
		a.n.dropped.Add(1)
		return
	}
	a.n.checks.Add(1)
	var out protocol.CheckResponse
	if _, err := a.post(a.ctx, protocol.PathCheck, body, false, &out); err != nil {
		a.log.Debug("code monitoring: condition check", "breakpoint_id", ev.bp.wire.ID, "err", err)
		return
	}
	if out.Error != "" && !ev.bp.evalReported.Swap(true) {
		a.log.Warn("code monitoring: the server could not evaluate a condition",
			"breakpoint_id", ev.bp.wire.ID, "condition", ev.bp.wire.Condition, "err", out.Error)
	}
	if out.Capture {
		a.emit(nil, ev)
	}
}

// errAnswer is a refusal by the server.
var errAnswer = errors.New("refused")

// post sends a JSON body and decodes the answer into out. A network
// failure or a 5xx answer counts towards the circuit breaker; every failure
// counts in UploadFailures. It returns the status (0 without an answer).
func (a *Agent) post(ctx context.Context, path string, body []byte, gz bool, out any) (int, error) {
	rctx, cancel := context.WithTimeout(ctx, a.opts.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, a.url(path), bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if gz {
		req.Header.Set("Content-Encoding", "gzip")
	}
	a.auth(req)
	resp, err := a.hc.Do(req)
	if err != nil {
		if ctx.Err() == nil { // not our own shutdown
			a.failed(true)
		}
		return 0, fmt.Errorf("POST %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		a.failed(resp.StatusCode >= 500)
		return resp.StatusCode, fmt.Errorf("POST %s: %w: %w", path, errAnswer, answerError(resp))
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		if ctx.Err() == nil {
			a.failed(true)
		}
		return resp.StatusCode, fmt.Errorf("POST %s: read answer: %w", path, err)
	}
	if out != nil && len(data) > 0 {
		_ = json.Unmarshal(data, out)
	}
	return resp.StatusCode, nil
}

// failed counts a failed request; breaks counts it towards the breaker.
func (a *Agent) failed(breaks bool) {
	a.n.uploadFailures.Add(1)
	if !breaks {
		a.notify()
		return
	}
	now := a.now()
	a.mu.Lock()
	if a.brk.failure(now) {
		// Logged before anyone can see the breaker open.
		a.log.Warn("code monitoring: circuit breaker open; capturing and uploading nothing until the cooldown ends",
			"service", a.opts.Service, "failures", a.opts.Breaker.MaxFailures, "window", a.opts.Breaker.Window,
			"cooldown", a.opts.Breaker.Cooldown)
		a.breakerOpen.Store(true)
		a.publishLocked(now)
	}
	a.mu.Unlock()
	a.notify()
}
