'use strict';

// Code monitoring (live debugging) for @tracekit/node: capture points
// (SnapshotClient.checkAndCapture), line breakpoints (through
// ./inspector.js), and the agent that syncs breakpoints with the server and
// uploads what they capture, scrubbed of PII. See docs/code-monitoring.md.

const { Agent } = require('./agent');

const STACK_LIMIT = 34; // the wrapper, the call site and 32 frames of stack

function structured(_err, sites) { return sites; }

// callSites returns the V8 CallSites above fn: [0] is fn's caller (the
// guide's one-level wrapper), [1] the call site the capture point reports.
// Error.prepareStackTrace and Error.stackTraceLimit are restored to whatever
// they were, even if something throws.
function callSites(fn) {
  const prevPrepare = Error.prepareStackTrace;
  const prevLimit = Error.stackTraceLimit;
  try {
    Error.prepareStackTrace = structured;
    Error.stackTraceLimit = STACK_LIMIT;
    const holder = {};
    Error.captureStackTrace(holder, fn);
    const sites = holder.stack;
    return Array.isArray(sites) ? sites : null;
  } finally {
    Error.prepareStackTrace = prevPrepare;
    Error.stackTraceLimit = prevLimit;
  }
}

/**
 * SnapshotClient captures snapshots at named capture points when an active
 * breakpoint matches them. Hold it directly and call it from a thin
 * wrapper: the call site it reports is the caller of the function that
 * calls checkAndCapture (call site -> your capture() -> checkAndCapture).
 *
 * It never throws, never blocks on the network, reads data before it
 * returns and keeps only a bounded, scrubbed copy. With no breakpoint
 * active (outside discovery windows) a call costs one property check.
 */
class SnapshotClient {
  constructor(agent) {
    this._agent = agent || null;
  }

  checkAndCapture(name, data) {
    const a = this._agent;
    if (a === null || a.cur.idle) return;
    try {
      a.hit(name, data, callSites(SnapshotClient.prototype.checkAndCapture));
    } catch (err) {
      try { a.panicked('match', err); } catch { /* never reaches the caller */ }
    }
  }

  /** Counts and state of code monitoring (for tests and readiness checks). */
  stats() {
    return this._agent ? this._agent.stats() : null;
  }

  /** Resolves when pred(stats()) holds; rejects after timeoutMs. */
  waitFor(pred, timeoutMs) {
    if (!this._agent) return Promise.reject(new Error('code monitoring is off'));
    return this._agent.waitFor(pred, timeoutMs);
  }
}

/** A SnapshotClient that does nothing: code monitoring is off. */
const noopSnapshotClient = Object.freeze({
  checkAndCapture() {},
  stats() { return null; },
  waitFor() { return Promise.reject(new Error('code monitoring is off')); },
});

/**
 * start begins code monitoring: breakpoint sync with the server at
 * baseURL, and the agent behind the SnapshotClient it returns.
 * It throws a TypeError for invalid settings (no serviceName, a baseURL
 * that is not http(s), a captureDepth outside 1..10, an invalid custom PII
 * pattern): fail at init, never later.
 */
function start({ apiKey, baseURL, serviceName, environment, sdkVersion, captureConfig, logger, pollIntervalMs, internal } = {}) {
  const agent = new Agent({ apiKey, baseURL, serviceName, environment, sdkVersion, captureConfig, logger, pollIntervalMs, internal });
  const snapshotClient = new SnapshotClient(agent);
  return {
    snapshotClient,
    shutdown: () => agent.shutdown().catch(() => {}),
  };
}

module.exports = { start, SnapshotClient, noopSnapshotClient, callSites };
