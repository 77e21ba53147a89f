'use strict';

// Line breakpoints for @tracekit/node through Node's own inspector, in
// process: a breakpoint set from the dashboard on file:line pauses the
// thread at that line, the locals of the top frame are read through the
// Chrome DevTools Protocol (never by running application code), and the
// thread is resumed. See docs/line-breakpoints.md for the design and limits.
//
// The session is an in-thread inspector.Session: the Debugger.paused handler
// runs synchronously while the thread is paused, and session.post callbacks
// on the same thread are delivered synchronously, so a whole capture happens
// inside the handler and the application resumes before the handler returns.
//
// The code-monitoring agent calls this class:
//
//   const lb = new LineBreakpoints({ admit(bp) -> boolean, onHit(bp, hit), logger });
//   lb.update(breakpoints) -> Set<string>
//   lb.close()

const { fileURLToPath } = require('node:url');
const { serialize } = require('./inspector-capture');
const sourcemaps = require('./inspector-sourcemap');

const ACTIVE_SPAN_CONTEXT = Symbol.for('tracekit.activeSpanContext');
const TRACE_EXPRESSION = "globalThis[Symbol.for('tracekit.activeSpanContext')]?.()";

const DEFAULTS = Object.freeze({
  captureDepth: 3,
  maxStringLength: 256,
  maxProperties: 500, // values written into one capture, all variables together
  maxCollection: 100, // elements of one array, map, set or object
  pauseBudgetMs: 50, // wall time one pause may spend reading variables
  maxFrames: 20,
});

// installActiveSpanContext puts on globalThis the function the paused frame
// evaluates to link a hit to its trace. It reads the active span of
// @opentelemetry/api when that package can be loaded; a function already
// installed (by another copy of the SDK) is kept.
function installActiveSpanContext() {
  if (typeof globalThis[ACTIVE_SPAN_CONTEXT] === 'function') return;
  let api = null;
  try {
    api = require('@opentelemetry/api');
  } catch {
    api = null;
  }
  const fn = function activeSpanContext() {
    if (!api) return undefined;
    try {
      const sc = api.trace.getActiveSpan()?.spanContext();
      if (!sc || !api.isSpanContextValid(sc)) return undefined;
      return { traceId: sc.traceId, spanId: sc.spanId };
    } catch {
      return undefined;
    }
  };
  try {
    Object.defineProperty(globalThis, ACTIVE_SPAN_CONTEXT, {
      value: fn, configurable: true, writable: true, enumerable: false,
    });
  } catch {
    // a frozen globalThis: no trace link
  }
}
installActiveSpanContext();

// escapeRegExp escapes the regular-expression metacharacters of s.
function escapeRegExp(s) {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

// normalizeFile turns a breakpoint's file into the path suffix matched
// against script URLs: forward slashes, no leading "./". Returns '' when
// nothing is left.
function normalizeFile(file) {
  if (typeof file !== 'string') return '';
  let f = file.replace(/\\/g, '/').trim();
  while (f.startsWith('./')) f = f.slice(2);
  return f;
}

// urlRegexFor returns the regular expression matching the URL of every
// script whose path ends with suffix on a '/' boundary. CommonJS scripts are
// file:// URLs on Node 20 and absolute paths on older releases; both end
// with the path, so one expression serves both. Percent-encoded characters
// of file:// URLs (a space is %20) are matched in either spelling.
function urlRegexFor(suffix) {
  let body = '';
  for (const ch of suffix) {
    const esc = escapeRegExp(ch);
    const enc = ch === '/' ? ch : encodeURI(ch);
    body += enc !== ch && enc !== esc ? `(?:${esc}|${escapeRegExp(enc)})` : esc;
  }
  const anchor = suffix.startsWith('/') ? '(?:^|/|^file://)' : '(?:^|/)';
  return `${anchor}${body}$`;
}

// urlToPath turns a script URL into a path (file:// URLs), leaving other
// URLs (node:internal/..., evalmachine) as they are.
function urlToPath(url) {
  if (typeof url === 'string' && url.startsWith('file://')) {
    try {
      return fileURLToPath(url);
    } catch {
      return url;
    }
  }
  return url || '';
}

function clampInt(v, lo, hi, dflt) {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) return dflt;
  return Math.min(hi, Math.max(lo, Math.floor(n)));
}

class LineBreakpoints {
  // opts.admit(bp) -> boolean is called while paused, before anything is
  // read; opts.onHit(bp, hit) is called after the thread resumed, from
  // setImmediate. opts.logger.warn(msg) is told about failures once.
  // Optional limits: maxProperties, maxCollection, pauseBudgetMs, maxFrames.
  constructor(opts = {}) {
    this._admit = typeof opts.admit === 'function' ? opts.admit : () => true;
    this._onHit = typeof opts.onHit === 'function' ? opts.onHit : () => {};
    this._logger = opts.logger || null;
    this._limits = {
      maxProperties: clampInt(opts.maxProperties, 1, 1e6, DEFAULTS.maxProperties),
      maxCollection: clampInt(opts.maxCollection, 1, 1e6, DEFAULTS.maxCollection),
      pauseBudgetMs: clampInt(opts.pauseBudgetMs, 1, 60000, DEFAULTS.pauseBudgetMs),
      maxFrames: clampInt(opts.maxFrames, 1, 200, DEFAULTS.maxFrames),
    };
    this._session = null;
    this._enabled = false; // Debugger domain enabled
    this._disabled = false; // a failure made this instance a no-op
    this._closed = false;
    this._inPause = false;
    this._warned = new Set();
    // key (urlRegex + line) -> { v8Id, regex, line, bps: Map<id, bp> }
    this._installed = new Map();
    // breakpoint id -> key
    this._byBp = new Map();
    // V8 breakpoint id -> key
    this._byV8 = new Map();
    // scriptId -> url, filled while the Debugger domain is enabled
    this._scripts = new Map();
    // source maps: the last list given to update, how many of its
    // breakpoints have no generated location yet, and whether a script
    // with a source map was parsed during an update (see _scriptParsed)
    this._lastList = [];
    this._unmapped = 0;
    this._updating = false;
    this._again = false;
    this._onPaused = (msg) => this._paused(msg);
    this._onScriptParsed = (msg) => this._scriptParsed(msg);
    this._onResolved = (msg) => this._resolved(msg);
  }

  // update installs the full set of active breakpoints: those with a file
  // and a line are set (new), removed (gone) or reinstalled (file or line
  // changed); other fields of an installed breakpoint are refreshed in
  // place. Returns the IDs installed, resolved to a loaded script or
  // pending until one loads.
  update(breakpoints) {
    if (this._updating) {
      this._again = true;
      return new Set(this._byBp.keys());
    }
    this._updating = true;
    this._again = false;
    try {
      let installed = this._update(breakpoints);
      // A script with a source map was parsed meanwhile (Debugger.enable
      // replays them): breakpoints without a generated location may have
      // one now.
      if (this._again && this._unmapped > 0) {
        this._again = false;
        installed = this._update(breakpoints);
      }
      return installed;
    } finally {
      this._updating = false;
      this._again = false;
    }
  }

  _update(breakpoints) {
    const installed = new Set();
    if (this._disabled || this._closed) return installed;
    try {
      this._lastList = Array.isArray(breakpoints) ? breakpoints.slice() : [];
      this._unmapped = 0;
      const wanted = new Map(); // bp id -> { bp, key, regex, line, column }
      for (const bp of this._lastList) {
        if (!bp || typeof bp.id !== 'string' || bp.id === '') continue;
        const line = Number(bp.line);
        const file = normalizeFile(bp.file);
        if (!file || !Number.isInteger(line) || line < 1) continue;
        const target = this._target(file, line);
        if (!target.mapped) this._unmapped++;
        const regex = urlRegexFor(target.file);
        const key = `${target.line}${target.column ? `:${target.column}` : ''}\u0000${regex}`;
        wanted.set(bp.id, { bp, key, regex, line: target.line, column: target.column });
      }

      // Remove what is gone or moved.
      for (const [id, key] of this._byBp) {
        const w = wanted.get(id);
        if (w && w.key === key) continue;
        this._removeBp(id, key);
      }

      if (wanted.size === 0) {
        this._setEnabled(false);
        return installed;
      }
      if (!this._setEnabled(true)) return installed;

      for (const [id, w] of wanted) {
        let slot = this._installed.get(w.key);
        if (slot && slot.moved) {
          // V8 placed it off its line (see _resolved): try again, the
          // function may have been compiled since.
          this._installed.delete(w.key);
          this._byV8.delete(slot.v8Id);
          this._post('Debugger.removeBreakpoint', { breakpointId: slot.v8Id });
          const again = this._install(w);
          if (again) for (const [bid, b] of slot.bps) if (bid !== id) again.bps.set(bid, b);
          slot = again;
        }
        if (!slot) slot = this._install(w);
        if (!slot) continue;
        slot.bps.set(id, w.bp); // refresh fields (depth, limits...) in place
        this._byBp.set(id, w.key);
        installed.add(id);
      }
      return installed;
    } catch (err) {
      this._fail('update', err);
      return new Set();
    }
  }

  // close removes every breakpoint, disables the Debugger domain and
  // disconnects the session. Hits already captured are not delivered.
  close() {
    if (this._closed) return;
    this._closed = true;
    this._teardown();
  }

  // ---- installation ----

  _target(file, line) {
    // A breakpoint on a source-mapped file (TypeScript...) is set on the
    // generated line (and column, in a minified line) of the generated
    // script when a source map is known.
    try {
      const t = sourcemaps.generatedLocation(file, line, (key, msg) => this._warn(`sourcemap:${key}`, msg));
      if (t && typeof t.file === 'string' && t.file !== '' && Number.isInteger(t.line) && t.line >= 1) {
        const column = Number.isInteger(t.column) && t.column >= 1 ? t.column : 0;
        return { file: t.file, line: t.line, column, mapped: true };
      }
    } catch {
      // no mapping: the line as given
    }
    return { file, line, column: 0, mapped: false };
  }

  _session_() {
    if (this._session) return this._session;
    let inspector;
    try {
      inspector = require('node:inspector');
    } catch (err) {
      this._fail('node:inspector is unavailable', err);
      return null;
    }
    const session = new inspector.Session();
    session.connect();
    this._session = session;
    return session;
  }

  // _post sends a protocol command and returns its result synchronously
  // (in-thread sessions deliver callbacks before post returns); it throws
  // the protocol error.
  _post(method, params) {
    let done = false;
    let error = null;
    let result;
    this._session.post(method, params, (err, res) => {
      done = true;
      error = err;
      result = res;
    });
    if (!done) throw new Error(`inspector: ${method} did not answer synchronously`);
    if (error) throw error;
    return result;
  }

  _setEnabled(on) {
    if (on === this._enabled) return true;
    if (on) {
      const session = this._session_();
      if (!session) return false;
      session.on('Debugger.scriptParsed', this._onScriptParsed);
      session.on('Debugger.paused', this._onPaused);
      session.on('Debugger.breakpointResolved', this._onResolved);
      this._post('Debugger.enable', {});
      this._enabled = true;
      return true;
    }
    // Disabling the domain drops every V8 breakpoint and makes the session
    // idle: nothing is left to cost a line that has no breakpoint.
    this._installed.clear();
    this._byBp.clear();
    this._byV8.clear();
    this._scripts.clear();
    if (this._session) {
      try {
        this._post('Debugger.disable', {});
      } finally {
        this._session.removeListener('Debugger.scriptParsed', this._onScriptParsed);
        this._session.removeListener('Debugger.paused', this._onPaused);
        this._session.removeListener('Debugger.breakpointResolved', this._onResolved);
        this._enabled = false;
      }
    }
    this._enabled = false;
    return true;
  }

  _install(w) {
    const res = this._setBreakpoint(w.regex, w.line, w.column);
    if (!res) return null;
    const slot = { v8Id: res.breakpointId, regex: w.regex, line: w.line, bps: new Map(), moved: false };
    this._installed.set(w.key, slot);
    this._byV8.set(slot.v8Id, w.key);
    for (const loc of res.locations || []) this._located(slot, loc);
    return slot;
  }

  // _located notes where V8 put a breakpoint. V8 moves a breakpoint to the
  // next breakable location when its line has none, and also when the line
  // is in a function it has not compiled yet (never called since the script
  // loaded): the next location may then be in another function. Pauses off
  // the requested line are resumed without capture, and the breakpoint is
  // set again at the next update.
  _located(slot, loc) {
    if (!loc || loc.lineNumber === slot.line - 1) return;
    slot.moved = true;
    this._warn(`moved:${slot.v8Id}`, `tracekit: line breakpoint ${slot.regex}:${slot.line} was placed by V8 on line ` +
      `${loc.lineNumber + 1} (no breakable code on the line, or its function has not run yet); ` +
      'pauses there are ignored');
  }

  _resolved(msg) {
    const p = msg && msg.params;
    const key = p && this._byV8.get(p.breakpointId);
    const slot = key && this._installed.get(key);
    if (slot) this._located(slot, p.location);
  }

  _setBreakpoint(regex, line, column) {
    try {
      return this._post('Debugger.setBreakpointByUrl', {
        urlRegex: regex, lineNumber: line - 1, columnNumber: column ? column - 1 : 0,
      });
    } catch (err) {
      this._warn(`setBreakpointByUrl:${err && err.message}`,
        `tracekit: line breakpoint ${regex}:${line} not installed: ${err && err.message}`);
      return null;
    }
  }

  _removeBp(id, key) {
    this._byBp.delete(id);
    const slot = this._installed.get(key);
    if (!slot) return;
    slot.bps.delete(id);
    if (slot.bps.size > 0) return;
    this._installed.delete(key);
    this._byV8.delete(slot.v8Id);
    if (this._enabled) this._post('Debugger.removeBreakpoint', { breakpointId: slot.v8Id });
  }

  // _scriptParsed notes every script. One with a source map may be what a
  // breakpoint with no generated location yet (a .ts file whose module was
  // not loaded) waits for: the breakpoints are set again at once, while
  // the script is parsed and before its code runs, as a breakpoint on a
  // plain script loaded later is.
  _scriptParsed(msg) {
    const p = msg && msg.params;
    if (!p || !p.url) return;
    this._scripts.set(p.scriptId, p.url);
    try {
      sourcemaps.noteScript(p.url, p.sourceMapURL || '');
    } catch {
      // no source map
    }
    if (!p.sourceMapURL || this._unmapped === 0 || this._closed || this._disabled) return;
    if (this._updating) {
      this._again = true;
    } else if (this._inPause) {
      setImmediate(() => {
        if (!this._closed && !this._disabled && this._unmapped > 0) this.update(this._lastList);
      });
    } else {
      this.update(this._lastList);
    }
  }

  // ---- the pause ----

  _paused(msg) {
    // Whatever happens below, the thread is resumed before this returns.
    let hits = null;
    try {
      if (this._inPause || this._closed || this._disabled) return;
      this._inPause = true;
      hits = this._capture(msg.params);
    } catch (err) {
      this._fail('paused', err);
    } finally {
      this._inPause = false;
      this._resume();
    }
    if (hits && hits.length) setImmediate(() => this._deliver(hits));
  }

  _resume() {
    try {
      if (this._session) this._session.post('Debugger.resume');
    } catch (err) {
      this._fail('resume', err);
    }
  }

  _capture(params) {
    // A breakpoint set while its script is being parsed (see _scriptParsed)
    // is listed twice.
    const ids = params && Array.isArray(params.hitBreakpoints) ? [...new Set(params.hitBreakpoints)] : [];
    const frames = params && params.callFrames;
    if (ids.length === 0 || !frames || frames.length === 0) return null; // not ours (a debugger statement...)

    const admitted = [];
    const pausedLine = frames[0].location.lineNumber + 1;
    for (const v8Id of ids) {
      const key = this._byV8.get(v8Id);
      const slot = key && this._installed.get(key);
      if (!slot || slot.line !== pausedLine) continue; // moved by V8 off its line
      for (const bp of slot.bps.values()) {
        let ok = false;
        try {
          ok = this._admit(bp) === true;
        } catch (err) {
          this._warn('admit', `tracekit: admit threw, breakpoint skipped: ${err && err.message}`);
        }
        if (ok) admitted.push(bp);
      }
    }
    if (admitted.length === 0) return null;

    const start = process.hrtime.bigint();
    const deadline = start + BigInt(this._limits.pauseBudgetMs) * 1000000n;
    const top = frames[0];
    const stack = this._stack(frames);
    const columns = frames.slice(0, stack.length).map((f) => f.location.columnNumber + 1);
    const link = this._traceLink(top.callFrameId);
    const hits = [];
    for (const bp of admitted) {
      const { variables, truncated } = serialize(this._post.bind(this), top, {
        depth: clampInt(bp.captureDepth, 1, 10, DEFAULTS.captureDepth),
        maxString: clampInt(bp.maxStringLength, 1, 1e7, DEFAULTS.maxStringLength),
        maxProperties: this._limits.maxProperties,
        maxCollection: this._limits.maxCollection,
        deadline,
      });
      const hit = {
        file: stack[0].file,
        line: stack[0].line,
        function: stack[0].function,
        variables,
        stack,
        traceId: link.traceId,
        spanId: link.spanId,
        time: new Date(),
        truncated,
      };
      hits.push({ bp, hit, columns });
    }
    return hits;
  }

  _stack(frames) {
    const out = [];
    const n = Math.min(frames.length, this._limits.maxFrames);
    for (let i = 0; i < n; i++) {
      const f = frames[i];
      const url = f.url || this._scripts.get(f.location.scriptId) || '';
      out.push({
        function: f.functionName || '<anonymous>',
        file: urlToPath(url),
        line: f.location.lineNumber + 1,
      });
    }
    return out;
  }

  // _traceLink returns the trace and span IDs of the span active in the
  // paused code. The paused handler runs on the paused thread, nested in
  // the paused call and in its async context, so the function installed on
  // globalThis is called directly: the same answer as evaluating it on the
  // paused frame (Debugger.evaluateOnCallFrame), which is kept as the
  // fallback when the direct call is not possible, at 1 µs instead of about
  // 200 µs (the tests check that both agree).
  _traceLink() {
    const fn = globalThis[ACTIVE_SPAN_CONTEXT];
    try {
      const v = typeof fn === 'function' ? fn() : undefined;
      if (v && typeof v.traceId === 'string' && typeof v.spanId === 'string') {
        return { traceId: v.traceId, spanId: v.spanId };
      }
    } catch {
      // no trace link
    }
    return { traceId: undefined, spanId: undefined };
  }

  // _evaluateTraceLink is the reference: the expression evaluated on the
  // paused frame.
  _evaluateTraceLink(callFrameId) {
    const res = this._post('Debugger.evaluateOnCallFrame', {
      callFrameId, expression: TRACE_EXPRESSION, returnByValue: true, silent: true,
    });
    return res && !res.exceptionDetails && res.result ? res.result.value : undefined;
  }

  // _mapHits reports generated locations at their original file:line where
  // a source map says (the hit, and each frame of its stack), after the
  // application resumed: reading a map is not done while it is paused. The
  // hit keeps the generated location as hit.generated.
  _mapHits(hits) {
    const done = new Map(); // stack -> mapped top frame or null
    for (const h of hits) {
      const stack = h.hit.stack;
      if (!done.has(stack)) {
        let top = null;
        for (let i = 0; i < stack.length; i++) {
          const f = stack[i];
          let m = null;
          try {
            m = sourcemaps.originalLocation(f.file, f.line, h.columns && h.columns[i]);
          } catch {
            m = null;
          }
          if (!m || typeof m.file !== 'string' || !Number.isInteger(m.line)) continue;
          if (i === 0) top = { file: f.file, line: f.line };
          f.file = m.file;
          f.line = m.line;
        }
        done.set(stack, top);
      }
      const generated = done.get(stack);
      if (generated && stack.length > 0) {
        h.hit.generated = generated;
        h.hit.file = stack[0].file;
        h.hit.line = stack[0].line;
      }
    }
  }

  _deliver(hits) {
    if (this._closed) return;
    try {
      this._mapHits(hits);
    } catch {
      // the generated locations stay
    }
    for (const { bp, hit } of hits) {
      try {
        this._onHit(bp, hit);
      } catch (err) {
        this._warn('onHit', `tracekit: a line breakpoint hit handler threw: ${err && err.message}`);
      }
    }
  }

  // ---- failures ----

  _warn(key, message) {
    if (this._warned.has(key)) return;
    this._warned.add(key);
    try {
      if (this._logger && typeof this._logger.warn === 'function') this._logger.warn(message);
    } catch {
      // a logger that throws is not our concern
    }
  }

  // _fail logs once and turns this instance into a no-op.
  _fail(what, err) {
    this._warn(`fail:${what}`, `tracekit: line breakpoints disabled (${what}): ${err && err.message ? err.message : err}`);
    this._disabled = true;
    this._teardown();
  }

  _teardown() {
    const session = this._session;
    this._session = null;
    this._installed.clear();
    this._byBp.clear();
    this._byV8.clear();
    this._scripts.clear();
    if (!session) return;
    try {
      if (this._enabled && !this._inPause) session.post('Debugger.disable');
    } catch {
      // disconnecting below drops the domain anyway
    }
    this._enabled = false;
    try {
      session.removeListener('Debugger.paused', this._onPaused);
      session.removeListener('Debugger.scriptParsed', this._onScriptParsed);
      session.removeListener('Debugger.breakpointResolved', this._onResolved);
    } catch {
      // ignore
    }
    if (this._inPause) {
      // Resume first (the finally of _paused does it); disconnect after.
      try {
        session.post('Debugger.resume');
      } catch {
        // ignore
      }
    }
    try {
      session.disconnect();
    } catch {
      // ignore
    }
  }
}

module.exports = { LineBreakpoints, urlRegexFor, normalizeFile, DEFAULTS };
