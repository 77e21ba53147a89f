'use strict';

// The code-monitoring agent of the Node SDK: the part of the process that
// speaks docs/protocol.md to a TraceKit server. It mirrors the Go SDK's
// sdk/go/internal/agent: the active state capture points read (one object,
// replaced on every change, so that an idle capture point costs a property
// read), matching, expiry, per-breakpoint rate limits, conditions and
// logpoints through the server's check, capture within limits scrubbed of
// PII, capture point registration (discovery windows), the bounded batched
// upload, the kill switch, the circuit breaker and crash isolation.
//
// Unlike the Go SDK it never evaluates conditions or logpoint templates in
// process: user expressions must never run as JavaScript in the
// application. It sends the scrubbed variables to POST /v1/codemon/check,
// whose answer says whether to capture and carries a logpoint's rendered
// message. So a condition on a field the scrubber redacts compares with the
// marker, never the value (docs/protocol.md).

// LINE_HIT_TIMEOUT_MS is only a backstop for scrubbing a line hit's
// variables, which runs after the paused application resumed: the inspector
// already bounded them (at most maxProperties values, maxStringLength
// each), so their size bounds the work. A tight timeout here cut variables
// on a busy machine (25 ms did, on CI's 2 cores with -race builds beside).
const LINE_HIT_TIMEOUT_MS = 1000;

// recordId names a snapshot or log line as protocol.NewRecordID does: the
// capture time in Unix nanoseconds (16 hex digits) and 4 random bytes, so
// that the server stores an upload retried after a timeout once.
function recordId(ms) {
  const ns = BigInt(Math.max(0, Math.floor(ms))) * 1000000n;
  return ns.toString(16).padStart(16, '0') + crypto.randomBytes(4).toString('hex');
}
const os = require('node:os');
const crypto = require('node:crypto');
const zlib = require('node:zlib');
const { Scrubber } = require('./pii');
const { capture, MAX_DEPTH_LIMIT } = require('./capture');
const { Transport, answerError } = require('./transport');
const { Sync } = require('./sync');

const PATH_CAPTURE_POINTS = '/v1/codemon/capture-points';
const PATH_CHECK = '/v1/codemon/check';
const PATH_SNAPSHOTS = '/v1/codemon/snapshots';

const DEFAULTS = Object.freeze({
  captureDepth: 3, // of a breakpoint that sets none
  rateLimit: 10, // per minute, of a breakpoint that sets none
  maxString: 256,
  maxPayload: 64 << 10,
  captureTimeoutMs: 2,
  pollIntervalMs: 30_000,
  streamTimeoutMs: 45_000,
  backoffMinMs: 1_000,
  backoffMaxMs: 30_000,
  flushIntervalMs: 1_000,
  batchSize: 50,
  batchBytes: 2 << 20,
  queueSize: 1_000,
  queueBytes: 8 << 20,
  maxChecksInFlight: 8,
  requestTimeoutMs: 10_000,
  shutdownTimeoutMs: 5_000,
  maxFailures: 3,
  windowMs: 60_000,
  cooldownMs: 300_000,
  discoveryInitialMs: 5 * 60_000,
  discoveryEveryMs: 10 * 60_000,
  discoveryWindowMs: 60_000,
  housekeepMs: 1_000,
});

const MAX_STACK = 32;
const MAX_CAPTURE_POINTS = 1_000;
const GZIP_ABOVE = 8 << 10;
const MAX_ATTEMPTS = 3;
const MAX_RETRIES = 4;

let otelTrace = null;
try {
  otelTrace = require('@opentelemetry/api').trace;
} catch { /* no OpenTelemetry API: snapshots carry no trace link */ }

// activeSpanIds returns [traceId, spanId] of the active span, or [].
function activeSpanIds() {
  if (!otelTrace) return [];
  const span = otelTrace.getActiveSpan();
  const sc = span && span.spanContext();
  if (!sc || !/^[0-9a-f]{32}$/.test(sc.traceId) || /^0+$/.test(sc.traceId) ||
    !/^[0-9a-f]{16}$/.test(sc.spanId) || /^0+$/.test(sc.spanId)) return [];
  return [sc.traceId, sc.spanId];
}

// rfc3339 formats ms since the epoch (fractional) with microseconds.
function rfc3339(ms) {
  const whole = Math.floor(ms);
  const iso = new Date(whole).toISOString(); // ...sss Z
  const micros = Math.min(999, Math.floor((ms - whole) * 1000));
  return `${iso.slice(0, -1)}${String(micros).padStart(3, '0')}Z`;
}

// Limiter grants at most n captures in any rolling window (limit.go).
class Limiter {
  constructor(n, windowMs) {
    this.n = n;
    this.window = windowMs;
    this.times = [];
    this.head = 0;
  }

  free(now) {
    return this.times.length < this.n || now - this.times[this.head] >= this.window;
  }

  peek(now) { return this.free(now); }

  allow(now) {
    if (!this.free(now)) return false;
    if (this.times.length < this.n) this.times.push(now);
    else {
      this.times[this.head] = now;
      this.head = (this.head + 1) % this.n;
    }
    return true;
  }
}

// Breaker: maxFailures failures within windowMs open it for cooldownMs.
class Breaker {
  constructor({ maxFailures, windowMs, cooldownMs }) {
    this.max = maxFailures;
    this.window = windowMs;
    this.cooldown = cooldownMs;
    this.fails = [];
    this.open = false;
    this.until = 0;
    this.opens = 0;
  }

  failure(now) {
    if (this.open) return false;
    this.fails = this.fails.filter((t) => now - t < this.window);
    this.fails.push(now);
    if (this.fails.length < this.max) return false;
    this.open = true;
    this.until = now + this.cooldown;
    this.fails = [];
    this.opens++;
    return true;
  }

  tryClose(now) {
    if (!this.open || now < this.until) return false;
    this.open = false;
    return true;
  }
}

function normalizeFile(f) {
  let s = String(f || '').trim().replace(/\\/g, '/');
  if (s.startsWith('file://')) {
    try { s = require('node:url').fileURLToPath(s).replace(/\\/g, '/'); } catch { /* keep it */ }
  }
  while (s.startsWith('./')) s = s.slice(2);
  return s;
}

// fileMatches: f equals path, or is a suffix of it starting after a '/'.
function fileMatches(path, f) {
  if (!f || !path || !path.endsWith(f)) return false;
  return f.length === path.length || f[0] === '/' || path[path.length - f.length - 1] === '/';
}

const IDLE = Object.freeze({ idle: true, discover: false, n: 0, byName: null, byLine: null, lines: [] });

function clampInt(v, lo, hi, def) {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) return def;
  return Math.max(lo, Math.min(hi, Math.floor(n)));
}

class Agent {
  constructor(opts) {
    const o = { ...DEFAULTS, ...(opts.internal || {}) };
    this.o = o;
    this.now = typeof o.now === 'function' ? o.now : () => performance.timeOrigin + performance.now();
    this.logger = opts.logger || null;
    const cc = opts.captureConfig || {};
    if (cc.captureDepth !== undefined && !(Number.isInteger(cc.captureDepth) && cc.captureDepth >= 1 && cc.captureDepth <= MAX_DEPTH_LIMIT)) {
      throw new TypeError(`tracekit: captureConfig.captureDepth ${cc.captureDepth} is outside 1..${MAX_DEPTH_LIMIT}`);
    }
    this.scrub = new Scrubber({ disabled: cc.piiScrubbing === false, custom: cc.piiPatterns || [] });
    this.maxDepth = cc.captureDepth || MAX_DEPTH_LIMIT;
    this.defaultDepth = Math.min(DEFAULTS.captureDepth, this.maxDepth);
    this.defaultMaxString = cc.maxStringLength > 0 ? cc.maxStringLength : DEFAULTS.maxString;
    this.maxPayload = cc.maxPayload === undefined ? o.maxPayload : (cc.maxPayload < 0 ? -1 : cc.maxPayload || o.maxPayload);
    this.captureTimeoutMs = cc.captureTimeout === undefined ? o.captureTimeoutMs : (cc.captureTimeout < 0 ? -1 : cc.captureTimeout || o.captureTimeoutMs);
    this.lineBreakpoints = cc.lineBreakpoints !== false;
    const cb = cc.circuitBreaker || {};
    this.breaker = new Breaker({
      maxFailures: cb.maxFailures > 0 ? cb.maxFailures : o.maxFailures,
      windowMs: cb.windowMs > 0 ? cb.windowMs : o.windowMs,
      cooldownMs: cb.cooldownMs > 0 ? cb.cooldownMs : o.cooldownMs,
    });

    const service = String(opts.serviceName || '').trim();
    if (!service) throw new TypeError('tracekit: code monitoring needs a serviceName');
    const sdk = opts.sdkVersion ? (String(opts.sdkVersion).includes('/') ? String(opts.sdkVersion) : `node/${opts.sdkVersion}`) : 'node/0.1.0';
    this.instance = {
      service: service.slice(0, 255),
      environment: String(opts.environment || '').slice(0, 128),
      instance: o.instance || crypto.randomBytes(8).toString('hex'),
      host: String(o.host || safeHostname()).slice(0, 255),
      sdk: sdk.slice(0, 64),
    };
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(this.instance)) if (v || k === 'service') q.set(k, v);
    this.transport = new Transport({ baseURL: opts.baseURL, apiKey: opts.apiKey, query: q.toString(), requestTimeoutMs: o.requestTimeoutMs });

    this.start = this.now();
    this.cur = IDLE; // what capture points read: never modified once published
    this.bps = new Map(); // id -> compiled breakpoint
    this.version = '';
    this.applied = false;
    this.killSwitch = false;
    this.closed = false;
    this.discovering = o.discovery !== false && this.discoveringAt(this.start);
    this.nextExpiry = 0;
    this.reported = new Set();
    this.points = new Set(); // registered capture points
    this.newPoints = [];
    this.queue = [];
    this.queueBytes = 0;
    this.retries = [];
    this.flushing = null; // the promise of the flush in progress
    this.flushSoon = false;
    this.checksInFlight = 0;
    this.inflight = new Set(); // promises of checks
    this.panicLogged = false;
    this.lines = null; // LineBreakpoints, built lazily
    this.linesFailed = false;
    this.installed = new Set(); // IDs of breakpoints the inspector installed
    this.waiters = new Set();
    this.n = {
      captures: 0, logs: 0, uploaded: 0, dropped: 0, rateLimited: 0, checks: 0, checksDropped: 0,
      panics: 0, uploadFailures: 0, capturePoints: 0,
    };
    this.sync = new Sync(this, {
      pollIntervalMs: opts.pollIntervalMs > 0 ? opts.pollIntervalMs : o.pollIntervalMs,
      streamTimeoutMs: o.streamTimeoutMs, backoffMinMs: o.backoffMinMs, backoffMaxMs: o.backoffMaxMs,
    });
    this.publish();
    this.flushTimer = setInterval(() => this.guard('flush', () => this.flush()), o.flushIntervalMs);
    this.flushTimer.unref();
    this.houseTimer = setInterval(() => this.guard('housekeep', () => this.housekeep()), o.housekeepMs);
    this.houseTimer.unref();
    this.sync.start();
  }

  // --- logging and crash isolation -------------------------------------

  log(level, msg) {
    const l = this.logger;
    try {
      if (l && typeof l[level] === 'function') l[level](msg);
      else if (l && level === 'debug') { /* the application's logger has no debug */ }
      else if (l && typeof l.warn === 'function' && level !== 'info') l.warn(msg);
      else if (!l && level === 'warn') console.warn(`[tracekit] ${msg}`);
      else if (!l && level === 'error') console.error(`[tracekit] ${msg}`);
    } catch {
      this.n.panics++;
    }
  }

  // logpoint writes a logpoint's line to the application's log.
  logpoint(msg) {
    const line = `[tracekit logpoint] ${msg}`;
    const l = this.logger;
    try {
      if (l && typeof l.info === 'function') l.info(line);
      else console.log(line);
    } catch {
      this.n.panics++;
    }
  }

  panicked(stage, err) {
    this.n.panics++;
    if (!this.panicLogged) {
      this.panicLogged = true;
      let what = 'an exception';
      try { what = err instanceof Error ? `${err.name}: ${err.message}` : typeof err; } catch { /* keep it vague */ }
      this.log('error', `code monitoring: recovered from an exception at ${stage}; the application was not affected (${what})`);
    }
  }

  // guard runs fn, turning an exception into a count.
  guard(stage, fn) {
    try {
      return fn();
    } catch (err) {
      this.panicked(stage, err);
      return undefined;
    }
  }

  hook(stage) {
    if (this.o.hook) this.o.hook(stage);
  }

  // --- state ------------------------------------------------------------

  discoveringAt(now) {
    const o = this.o;
    if (o.discovery === false) return false;
    const t = now - this.start;
    return t < o.discoveryInitialMs || t % o.discoveryEveryMs < o.discoveryWindowMs;
  }

  expired(bp, now) {
    return bp.expiresAt > 0 && now >= bp.expiresAt;
  }

  // apply makes a breakpoint set the one in effect.
  apply(set) {
    if (this.closed || !set || typeof set !== 'object') return;
    const version = typeof set.version === 'string' ? set.version : '';
    if (this.applied && version !== '' && version === this.version) return;
    const list = Array.isArray(set.breakpoints) ? set.breakpoints : [];
    const next = new Map();
    for (const w of list) {
      if (!w || typeof w !== 'object' || typeof w.id !== 'string') continue;
      if (w.environment && w.environment !== this.instance.environment) continue;
      const old = this.bps.get(w.id);
      const key = JSON.stringify(w);
      if (old && old.key === key) {
        next.set(w.id, old);
        continue;
      }
      const bp = this.compile(w, key);
      if (typeof bp === 'string') {
        const rk = `${key}`;
        if (!this.reported.has(rk)) {
          this.reported.add(rk);
          this.log('warn', `code monitoring: breakpoint ${w.id} disabled: ${bp}`);
        }
        continue;
      }
      if (old && old.limit.n === bp.limit.n) bp.limit = old.limit;
      next.set(w.id, bp);
    }
    const ks = set.killSwitch === true;
    if (ks !== this.killSwitch) this.log('info', `code monitoring: kill switch of service ${this.instance.service} is ${ks ? 'on' : 'off'}`);
    this.bps = next;
    this.version = version;
    this.killSwitch = ks;
    this.applied = true;
    this.publish();
  }

  // compile prepares a breakpoint, or returns why it cannot fire.
  compile(w, key) {
    const type = w.type;
    if (type !== 'line' && type !== 'conditional' && type !== 'logpoint') return `type ${JSON.stringify(type)} is not line, conditional or logpoint`;
    const file = normalizeFile(w.file);
    const line = Number.isInteger(w.line) ? w.line : 0;
    const capturePoint = typeof w.capturePoint === 'string' ? w.capturePoint : '';
    if (!capturePoint && (!file || line <= 0)) return 'neither a capture point nor a file and line to match';
    const condition = typeof w.condition === 'string' ? w.condition.trim() : '';
    if (type === 'conditional' && !condition) return 'a conditional breakpoint without a condition';
    let expiresAt = 0;
    if (w.expiresAt && !String(w.expiresAt).startsWith('0001-01-01')) {
      expiresAt = Date.parse(w.expiresAt);
      if (!Number.isFinite(expiresAt)) return `expiresAt ${JSON.stringify(w.expiresAt)} is not a time`;
    }
    const depth = Math.min(clampInt(w.captureDepth, 1, MAX_DEPTH_LIMIT, DEFAULTS.captureDepth), this.maxDepth);
    return {
      key, wire: w, id: w.id, type, file, line, capturePoint, condition, expiresAt,
      logpoint: type === 'logpoint',
      needsCheck: condition !== '' || type === 'logpoint',
      limits: {
        maxDepth: depth,
        maxString: clampInt(w.maxStringLength, 1, 1 << 20, this.defaultMaxString),
        maxCollection: 100,
        maxPayload: this.maxPayload,
        timeoutMs: this.captureTimeoutMs,
      },
      limit: new Limiter(clampInt(w.rateLimit, 1, 1e6, DEFAULTS.rateLimit), 60_000),
      reportedError: false,
    };
  }

  // publish computes the state capture points read.
  publish() {
    const now = this.now();
    this.nextExpiry = 0;
    let st;
    if (this.closed || this.killSwitch || this.breaker.open) {
      st = IDLE;
    } else {
      st = { idle: false, discover: this.discovering, n: 0, byName: new Map(), byLine: new Map(), lines: [] };
      for (const id of [...this.bps.keys()].sort()) {
        const bp = this.bps.get(id);
        if (this.expired(bp, now)) continue;
        if (bp.expiresAt > 0 && (this.nextExpiry === 0 || bp.expiresAt < this.nextExpiry)) this.nextExpiry = bp.expiresAt;
        st.n++;
        if (bp.capturePoint) {
          if (!st.byName.has(bp.capturePoint)) st.byName.set(bp.capturePoint, []);
          st.byName.get(bp.capturePoint).push(bp);
        }
        if (bp.file && bp.line > 0) {
          if (!st.byLine.has(bp.line)) st.byLine.set(bp.line, []);
          st.byLine.get(bp.line).push(bp);
          if (!bp.capturePoint) st.lines.push(bp.wire);
        }
      }
      if (st.n === 0 && !st.discover) st = IDLE;
    }
    this.cur = st;
    this.updateLines(st.lines);
    this.changed();
  }

  // updateLines hands the line breakpoints that can fire now to the
  // inspector, which is built the first time one needs it.
  updateLines(list) {
    if (!this.lineBreakpoints || this.linesFailed) return;
    if (!this.lines) {
      if (list.length === 0) return;
      try {
        const LineBreakpoints = this.o.LineBreakpoints || require('./inspector.js').LineBreakpoints;
        this.lines = new LineBreakpoints({
          admit: (bp) => this.admit(bp),
          onHit: (bp, hit) => this.guard('line hit', () => this.onLineHit(bp, hit)),
          logger: this.logger || undefined,
        });
      } catch (err) {
        this.linesFailed = true;
        this.log('warn', `code monitoring: line breakpoints are unavailable; breakpoints on a file and line fire only at capture points (${err && err.message})`);
        return;
      }
    }
    try {
      const got = this.lines.update(list);
      if (got && typeof got.then === 'function') {
        got.then((s) => { this.installed = s instanceof Set ? s : new Set(); }, (err) => this.panicked('line breakpoints', err));
      } else {
        this.installed = got instanceof Set ? got : new Set();
      }
    } catch (err) {
      this.installed = new Set();
      this.panicked('line breakpoints', err);
    }
  }

  // admit is asked synchronously, while the application is paused at a
  // line breakpoint, whether to capture: cheap, and never throws.
  admit(wire) {
    try {
      if (this.cur.idle || !wire) return false;
      const bp = this.bps.get(wire.id);
      if (!bp) return false;
      const now = this.now();
      return !this.expired(bp, now) && bp.limit.peek(now);
    } catch {
      this.n.panics++;
      return false;
    }
  }

  onLineHit(wire, hit) {
    if (this.cur.idle || !wire || !hit) return;
    const bp = this.bps.get(wire.id);
    if (!bp) return;
    const stack = Array.isArray(hit.stack) ? hit.stack.slice(0, MAX_STACK).map((f) => ({
      function: String((f && f.function) || ''), file: String((f && f.file) || ''), line: Number((f && f.line) || 0),
    })) : [];
    let time = this.now();
    if (hit.time instanceof Date && Number.isFinite(hit.time.getTime())) time = hit.time.getTime();
    this.fire(bp, {
      point: '', file: String(hit.file || bp.file), line: Number(hit.line || bp.line), function: String(hit.function || ''),
      stack, traceId: hit.traceId || '', spanId: hit.spanId || '', time,
    }, hit.variables, true);
  }

  // --- hits -----------------------------------------------------------------

  // hit handles a capture point's call: sites are V8 CallSites, [0] the
  // wrapper, [1] the call site.
  hit(name, data, sites) {
    const st = this.cur;
    if (st.idle) return;
    this.hook('match');
    const cs = sites && (sites[1] || sites[0]);
    if (!cs) return;
    const file = siteFile(cs);
    const line = cs.getLineNumber() || 0;
    const fn = siteFunction(cs);
    const pname = typeof name === 'string' ? name : String(name);
    this.register(pname, file, line, fn);
    if (st.n === 0) return;
    let matched = null;
    const byName = st.byName.get(pname);
    if (byName) matched = byName.slice();
    const byLine = st.byLine.get(line);
    if (byLine) {
      for (const bp of byLine) {
        if (bp.capturePoint && bp.capturePoint === pname) continue;
        if (!bp.capturePoint && this.installed.has(bp.id)) continue; // the inspector captures that line
        if (fileMatches(file, bp.file)) (matched || (matched = [])).push(bp);
      }
    }
    if (!matched) return;
    let stack = null;
    for (const bp of matched) {
      try {
        if (stack === null) stack = stackOf(sites.slice(sites[1] ? 1 : 0));
        this.fire(bp, { point: pname, file, line, function: fn, stack, traceId: undefined, spanId: undefined, time: 0 }, data);
      } catch (err) {
        this.panicked('capture', err);
      }
    }
  }

  register(name, file, line, fn) {
    const k = `${name}\u0000${file}\u0000${line}`;
    if (this.points.has(k) || this.points.size >= MAX_CAPTURE_POINTS) return;
    this.points.add(k);
    this.newPoints.push({ name, file, line, function: fn });
  }

  // fire handles one breakpoint's hit: data is read here, synchronously.
  // A line hit's data are plain values the inspector already bounded, read
  // after the application resumed: its capture has more time than a
  // capture point's, which runs on the application's own call.
  fire(bp, site, data, lineHit = false) {
    const now = this.now();
    if (this.expired(bp, now)) return;
    if (!bp.limit.peek(now)) {
      this.n.rateLimited++;
      return;
    }
    this.hook('capture');
    const limits = lineHit ? { ...bp.limits, timeoutMs: Math.max(bp.limits.timeoutMs, LINE_HIT_TIMEOUT_MS) } : bp.limits;
    const { vars, truncated, stats } = capture(data, limits, this.scrub);
    if (site.traceId === undefined) {
      const ids = activeSpanIds();
      site.traceId = ids[0] || '';
      site.spanId = ids[1] || '';
    }
    const ev = {
      bp, point: site.point, file: site.file, line: site.line, function: site.function,
      time: site.time || now, mono: now, traceId: site.traceId, spanId: site.spanId,
      vars, truncated, stack: site.stack || [], message: '', bytes: stats.bytes + 256 + 96 * (site.stack ? site.stack.length : 0),
    };
    if (bp.needsCheck) {
      this.check(ev);
      return;
    }
    this.emit(ev);
  }

  // check asks the server whether a hit of a conditional breakpoint or a
  // logpoint fires; the variables sent are the scrubbed capture.
  check(ev) {
    if (this.checksInFlight >= this.o.maxChecksInFlight || this.breaker.open || this.closed) {
      this.n.checksDropped++;
      this.n.dropped++;
      return;
    }
    this.checksInFlight++;
    this.n.checks++;
    const body = Buffer.from(JSON.stringify({ ...this.instance, breakpointId: ev.bp.id, variables: ev.vars }));
    const p = this.post(PATH_CHECK, body, false).then((res) => {
      if (!res.ok) {
        this.log('debug', `code monitoring: condition check of ${ev.bp.id}: ${res.error.message}`);
        return;
      }
      let out = {};
      try { out = JSON.parse(res.body.toString('utf8')) || {}; } catch { /* no answer */ }
      if (typeof out.error === 'string' && out.error && !ev.bp.reportedError) {
        ev.bp.reportedError = true;
        this.log('warn', `code monitoring: the server could not evaluate the condition of breakpoint ${ev.bp.id}: ${out.error}`);
      }
      if (out.capture !== true || out.killSwitch === true || this.cur.idle) return;
      if (ev.bp.logpoint) {
        if (typeof out.message !== 'string') {
          this.n.dropped++;
          if (!ev.bp.reportedError) {
            ev.bp.reportedError = true;
            this.log('warn', `code monitoring: the server did not render logpoint ${ev.bp.id}; upgrade the server`);
          }
          return;
        }
        ev.message = this.scrub.string(out.message);
        ev.vars = null;
      }
      this.emit(ev);
    }).catch((err) => this.panicked('check', err)).finally(() => {
      this.checksInFlight--;
      this.inflight.delete(p);
      this.changed();
    });
    this.inflight.add(p);
  }

  // emit takes the rate limit's grant and queues the event; a logpoint's
  // line is written to the application's log too.
  emit(ev) {
    if (this.closed) {
      this.n.dropped++;
      return;
    }
    if (!ev.bp.limit.allow(ev.mono)) {
      this.n.rateLimited++;
      return;
    }
    if (ev.bp.logpoint) {
      this.logpoint(ev.message);
      ev.bytes = ev.message.length * 3 + 256;
      if (this.enqueue(ev)) this.n.logs++;
      return;
    }
    if (this.enqueue(ev)) this.n.captures++;
  }

  enqueue(ev) {
    if (this.queue.length >= this.o.queueSize || this.queueBytes + ev.bytes > this.o.queueBytes) {
      this.n.dropped++;
      this.changed();
      return false;
    }
    this.queue.push(ev);
    this.queueBytes += ev.bytes;
    if (this.queue.length >= this.o.batchSize && !this.flushSoon) {
      this.flushSoon = true;
      setImmediate(() => {
        this.flushSoon = false;
        this.guard('flush', () => this.flush());
      }).unref();
    }
    this.changed();
    return true;
  }

  // --- uploads ------------------------------------------------------------

  // post sends a JSON body; a network failure or a 5xx answer counts
  // towards the circuit breaker, a 4xx does not. It resolves
  // { ok, status, body, error }.
  async post(path, body, gz) {
    const headers = { 'Content-Type': 'application/json' };
    if (gz) headers['Content-Encoding'] = 'gzip';
    let res;
    try {
      res = await this.transport.request('POST', path, { body, headers });
    } catch (error) {
      if (!this.closed) this.failed(true);
      return { ok: false, status: 0, error };
    }
    if (res.status < 200 || res.status > 299) {
      this.failed(res.status >= 500);
      return { ok: false, status: res.status, error: answerError('POST', path, res) };
    }
    return { ok: true, status: res.status, body: res.body };
  }

  failed(breaks) {
    this.n.uploadFailures++;
    if (!breaks) return;
    if (this.breaker.failure(this.now())) {
      const b = this.breaker;
      this.log('warn', `code monitoring: circuit breaker open after ${b.max} failures within ${b.window / 1000} s; capturing and sending nothing for ${b.cooldown / 1000} s`);
      this.sync.stop();
      this.dropQueued();
      this.publish();
    }
  }

  dropQueued() {
    this.n.dropped += this.queue.length;
    for (const b of this.retries) this.n.dropped += b.items;
    this.queue = [];
    this.queueBytes = 0;
    this.retries = [];
  }

  housekeep() {
    const now = this.now();
    let changed = false;
    if (this.breaker.tryClose(now)) {
      this.log('info', `code monitoring: circuit breaker closed; capturing again (service ${this.instance.service})`);
      changed = true;
      if (!this.closed) this.sync.start();
    }
    const d = this.discoveringAt(now);
    if (d !== this.discovering) {
      this.discovering = d;
      changed = true;
    }
    if (this.nextExpiry > 0 && now >= this.nextExpiry) changed = true;
    if (changed) this.publish();
  }

  // flush sends the registered capture points, then the failed batches due
  // for another attempt, then the queue in batches. One flush at a time.
  flush() {
    if (this.flushing) return this.flushing;
    this.flushing = this.flushOnce().catch((err) => this.panicked('upload', err)).finally(() => {
      this.flushing = null;
      this.changed();
    });
    return this.flushing;
  }

  async flushOnce(final = false) {
    if (this.breaker.open) {
      this.dropQueued();
      return;
    }
    await this.sendPoints();
    const now = this.now();
    while (this.retries.length > 0 && !this.breaker.open) {
      const b = this.retries[0];
      if (!final && b.notBefore > now) break;
      if (!(await this.send(b, final))) break;
      this.retries.shift();
    }
    while (this.queue.length > 0 && !this.breaker.open) {
      let n = 0;
      let bytes = 0;
      while (n < this.queue.length && n < this.o.batchSize && (n === 0 || bytes + this.queue[n].bytes <= this.o.batchBytes)) {
        bytes += this.queue[n].bytes;
        n++;
      }
      const evs = this.queue.splice(0, n);
      this.queueBytes -= bytes;
      const b = await this.encode(evs);
      if (!b) continue;
      if (await this.send(b, final)) continue;
      if (this.retries.length >= MAX_RETRIES) this.n.dropped += this.retries.shift().items;
      this.retries.push(b);
      if (!final) break;
    }
    if (this.breaker.open) this.dropQueued();
  }

  async encode(evs) {
    const snapshots = [];
    const logs = [];
    for (const ev of evs) {
      try {
        this.hook('serialize');
        if (!ev.id) ev.id = recordId(ev.time);
        const base = { id: ev.id, breakpointId: ev.bp.id };
        if (ev.point) base.capturePoint = ev.point;
        base.file = ev.file;
        base.line = ev.line;
        if (ev.bp.logpoint) {
          const l = { ...base, time: rfc3339(ev.time) };
          if (ev.traceId) l.traceId = ev.traceId;
          if (ev.spanId) l.spanId = ev.spanId;
          l.message = ev.message;
          logs.push(l);
          continue;
        }
        const s = { ...base };
        if (ev.function) s.function = ev.function;
        s.time = rfc3339(ev.time);
        if (ev.traceId) s.traceId = ev.traceId;
        if (ev.spanId) s.spanId = ev.spanId;
        s.variables = ev.vars || {};
        s.stack = ev.stack;
        s.truncated = !!ev.truncated;
        snapshots.push(s);
      } catch (err) {
        this.panicked('serialize', err);
        this.n.dropped++;
      }
    }
    const items = snapshots.length + logs.length;
    if (items === 0) return null;
    const req = { ...this.instance };
    if (snapshots.length) req.snapshots = snapshots;
    if (logs.length) req.logs = logs;
    let body;
    try {
      body = Buffer.from(JSON.stringify(req));
    } catch (err) {
      this.n.dropped += items;
      this.panicked('serialize', err);
      return null;
    }
    let gz = false;
    if (body.length > GZIP_ABOVE) {
      body = await new Promise((resolve) => zlib.gzip(body, (err, out) => {
        if (err) resolve(body);
        else {
          gz = true;
          resolve(out);
        }
      }));
    }
    return { body, gz, items, attempts: 0, notBefore: 0 };
  }

  // send posts one batch and reports whether it is done with (sent,
  // refused for good, or out of attempts).
  async send(b, final) {
    b.attempts++;
    const res = await this.post(PATH_SNAPSHOTS, b.body, b.gz);
    if (res.ok) {
      let accepted = b.items;
      try {
        const out = JSON.parse(res.body.toString('utf8'));
        if (out && Number.isInteger(out.accepted)) accepted = out.accepted;
      } catch { /* 202 without a body */ }
      this.n.uploaded += accepted;
      return true;
    }
    if ((res.status >= 400 && res.status < 500) || b.attempts >= MAX_ATTEMPTS || final || this.closed) {
      this.n.dropped += b.items;
      this.log('debug', `code monitoring: upload of ${b.items} items dropped: ${res.error.message}`);
      return true;
    }
    b.notBefore = this.now() + this.o.flushIntervalMs * (2 ** (b.attempts - 1));
    return false;
  }

  async sendPoints() {
    if (this.newPoints.length === 0 || this.breaker.open) return;
    const pts = this.newPoints.slice(0, 1000);
    const body = Buffer.from(JSON.stringify({ ...this.instance, points: pts }));
    const res = await this.post(PATH_CAPTURE_POINTS, body, false);
    if (!res.ok && (res.status === 0 || res.status >= 500)) return; // sent again next time
    this.newPoints.splice(0, pts.length);
    if (res.ok) this.n.capturePoints += pts.length;
  }

  // --- stats and shutdown ------------------------------------------------

  stats() {
    return {
      ...this.n,
      breakerOpen: this.breaker.open,
      breakerOpens: this.breaker.opens,
      killSwitch: this.killSwitch,
      streaming: this.sync.streaming,
      version: this.version,
      breakpoints: this.cur.n,
      queued: this.queue.length,
      checksInFlight: this.checksInFlight,
      lineBreakpoints: this.installed.size,
    };
  }

  changed() {
    for (const w of this.waiters) w();
  }

  // waitFor resolves when pred(stats) holds, or rejects after timeoutMs.
  waitFor(pred, timeoutMs = 10_000) {
    return new Promise((resolve, reject) => {
      const deadline = setTimeout(() => {
        cleanup();
        reject(new Error(`code monitoring: condition not met within ${timeoutMs} ms; stats ${JSON.stringify(this.stats())}`));
      }, timeoutMs);
      const tick = setInterval(() => check(), 10);
      const check = () => {
        let ok = false;
        try { ok = pred(this.stats()); } catch { ok = false; }
        if (ok) {
          cleanup();
          resolve(this.stats());
        }
      };
      const cleanup = () => {
        clearTimeout(deadline);
        clearInterval(tick);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  async shutdown() {
    if (this.closed) return;
    this.closed = true;
    this.publish();
    this.sync.stop();
    clearInterval(this.flushTimer);
    clearInterval(this.houseTimer);
    if (this.lines) {
      try { this.lines.close(); } catch (err) { this.panicked('line breakpoints', err); }
    }
    let timer;
    const limit = new Promise((resolve) => {
      timer = setTimeout(resolve, this.o.shutdownTimeoutMs);
      timer.unref();
    });
    const drain = (async () => {
      await Promise.allSettled([...this.inflight]);
      if (this.flushing) await this.flushing;
      if (!this.breaker.open) await this.flushOnce(true);
    })().catch((err) => this.panicked('shutdown', err));
    await Promise.race([drain, limit]);
    clearTimeout(timer);
    this.n.dropped += this.queue.length;
    for (const b of this.retries) this.n.dropped += b.items;
    this.queue = [];
    this.retries = [];
    this.transport.close();
    this.changed();
  }
}

function safeHostname() {
  try { return os.hostname(); } catch { return ''; }
}

function siteFile(cs) {
  let f = cs.getFileName ? cs.getFileName() : null;
  if (!f && cs.isEval && cs.isEval()) f = cs.getScriptNameOrSourceURL ? cs.getScriptNameOrSourceURL() : null;
  if (!f) return '<anonymous>';
  if (f.startsWith('file://')) return normalizeFile(f);
  return f;
}

function siteFunction(cs) {
  let fn = cs.getFunctionName();
  let type = null;
  try {
    if (!cs.isToplevel() && !cs.isConstructor()) type = cs.getTypeName();
  } catch { type = null; }
  if (fn && type && type !== 'Object' && !fn.startsWith(`${type}.`)) fn = `${type}.${fn}`;
  if (!fn) fn = cs.getMethodName ? cs.getMethodName() : null;
  return fn || '<anonymous>';
}

// stackOf turns CallSites into frames, from the call site outwards.
function stackOf(sites) {
  const out = [];
  for (let i = 0; i < sites.length && out.length < MAX_STACK; i++) {
    const cs = sites[i];
    out.push({ function: siteFunction(cs), file: siteFile(cs), line: cs.getLineNumber() || 0 });
  }
  return out;
}

module.exports = {
  Agent, Limiter, Breaker, fileMatches, normalizeFile, rfc3339, DEFAULTS, MAX_STACK,
  PATH_CAPTURE_POINTS, PATH_CHECK, PATH_SNAPSHOTS,
};
