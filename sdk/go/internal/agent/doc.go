// Package agent is the code-monitoring agent of the Go SDK: the part of a
// service's process that speaks docs/protocol.md to a TraceKit server.
//
// It owns, for one SDK:
//   - breakpoint sync: the Server-Sent Events stream (Last-Event-ID resume,
//     a 45 s read deadline, reconnects with exponential backoff and jitter)
//     and, while the stream fails, polling with If-None-Match;
//   - the active state the capture points read: an immutable value behind
//     one atomic pointer, so that a capture point with nothing to do costs a
//     load and a branch;
//   - matching (capture point name, or file suffix and line; environment),
//     expiry, per-breakpoint rate limits, in-process conditions (or the
//     server's check, when asked), logpoint rendering, and capture within the
//     breakpoint's limits, scrubbed of PII before anything leaves the process;
//   - conditions and logpoint templates evaluated on the values the code
//     has (captured within the breakpoint's limits, unscrubbed, never kept
//     past the hit), so that user.email == "a@b.c" can match, while what
//     leaves the process is scrubbed: snapshot variables, and logpoint
//     lines, where a placeholder showing a value scrubbing hides writes its
//     marker. The server's check, when asked for, is sent scrubbed
//     variables (docs/protocol.md), so there such a condition compares with
//     the marker;
//   - capture point registration, during discovery windows (the first 5
//     minutes after start, then the first minute of every 10: 10:00–11:00,
//     20:00–21:00, …) and whenever a breakpoint is active, once per name,
//     file and line;
//   - the bounded, batched, never-blocking upload of snapshots and log lines;
//   - the kill switch, the circuit breaker (5xx answers and network failures
//     of uploads, checks and registrations; not 4xx, not the stream) and
//     crash isolation: a panic in the agent is recovered and counted and
//     never reaches the application.
//
// It does not own the public API (package tracekit's SnapshotClient resolves
// the call site with runtime.Caller and hands it here), tracing, the
// expression language (package condition), the capture walk (package
// capture) or the PII patterns (package pii).
package agent
