// Spans, the active-parent rules and the shared state of one page's SDK.
import { randomTraceId, randomSpanId } from '@tracekit/tracecontext';

export { VERSION } from './version.js';

export const KIND_INTERNAL = 1;
export const KIND_CLIENT = 3;

// The page's global object, looked up when used (never at import, so the
// module can be imported during server-side rendering).
export function G() {
  return typeof window !== 'undefined' ? window : globalThis;
}

export const state = {
  on: false,
  opts: null,
  tags: {}, // TraceKit.setTag: copied onto every span started later
  sync: [], // spans active while synchronous code runs (click handlers)
  tx: [], // open transactions, the most recent last
  exporter: null,
  sampleRate: 1,
  busy: false, // true while the SDK itself runs code that may call hooks
};

/**
 * Span times are milliseconds on the page's monotonic clock
 * (performance.now(), from performance.timeOrigin), turned into epoch
 * nanoseconds only when encoded, so that adding the epoch keeps every digit.
 */
export function now() {
  const p = G().performance;
  return p && p.timeOrigin && p.now ? p.now() : Date.now();
}

function origin() {
  const p = G().performance;
  return p && p.timeOrigin && p.now ? p.timeOrigin : 0;
}

/** A time from now() as an OTLP nanosecond string (epoch). */
export function ns(t) {
  const o = origin();
  let whole = Math.floor(o);
  const ms = o - whole + t;
  const w = Math.floor(ms);
  whole += w;
  let frac = Math.round((ms - w) * 1e6);
  if (frac >= 1e6) {
    whole++;
    frac -= 1e6;
  }
  return whole ? whole + String(frac).padStart(6, '0') : String(frac);
}

/** The parent a span started now gets: a click being handled, else the latest open transaction. */
export function activeParent() {
  const s = state.sync.length ? state.sync : state.tx;
  return s.length ? s[s.length - 1] : null;
}

export class Span {
  /**
   * parent: a Span of this page, a remote context ({traceId, spanId,
   * traceFlags, traceState}), or null for a new trace.
   */
  constructor(name, kind, parent, attrs, start) {
    this.name = name;
    this.kind = kind;
    if (parent) {
      this.traceId = parent.traceId;
      this.parentSpanId = parent.spanId;
      this.traceFlags = parent.traceFlags;
      this.traceState = parent.traceState;
    } else {
      this.traceId = randomTraceId();
      this.traceFlags = Math.random() < state.sampleRate ? 1 : 0;
    }
    this.spanId = randomSpanId();
    this.start = start == null ? now() : start;
    this.attrs = Object.assign({}, state.tags, attrs);
    this.events = [];
    this.status = null;
    this.ended = false;
    this.open = 0; // children of this page not ended yet
    this.onIdle = null; // called when the last open child ends
    this.parent = parent instanceof Span ? parent : null;
    if (this.parent) this.parent.open++;
  }

  setAttribute(k, v) {
    if (!this.ended && typeof k === 'string' && v != null) this.attrs[k] = v;
    return this;
  }

  addEvent(name, attrs, time) {
    if (!this.ended) this.events.push({ name, attrs: attrs || {}, time: time == null ? now() : time });
    return this;
  }

  setError(message) {
    if (!this.ended) this.status = { code: 2, message: String(message || '') };
    return this;
  }

  end(time) {
    if (this.ended) return;
    this.ended = true;
    this.endTime = time == null ? now() : Math.max(time, this.start);
    if (state.exporter && this.traceFlags & 1) state.exporter.add(this);
    const p = this.parent;
    if (p && --p.open === 0 && p.onIdle) p.onIdle();
  }
}

/** Starts a span under the active parent (or parent, when given). */
export function startSpan(name, kind, attrs, parent) {
  return new Span(name, kind, parent === undefined ? activeParent() : parent, attrs);
}

/** Runs fn, swallowing and (in debug mode) reporting what it throws. */
export function safe(fn, a, b, c) {
  try {
    return fn(a, b, c);
  } catch (e) {
    debug('internal error', e);
  }
}

export function debug() {
  try {
    const c = G().console;
    if (state.opts && state.opts.debug && c) c.warn.apply(c, ['[tracekit]'].concat([].slice.call(arguments)));
  } catch (e) {
    // nothing to report it with
  }
}
