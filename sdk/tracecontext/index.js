'use strict';
/**
 * @tracekit/tracecontext owns the W3C Trace Context wire format
 * (https://www.w3.org/TR/trace-context/): reading and writing the
 * `traceparent` and `tracestate` headers by the specification's rules. Both
 * JavaScript SDKs use it: @tracekit/browser to inject, @tracekit/node as its
 * OpenTelemetry propagator. It has no dependencies and never throws on input
 * from the network: what it cannot accept it reports as null (traceparent,
 * which starts a new trace) or an empty TraceState (tracestate).
 */

const VERSION = '00';
const INVALID_TRACE_ID = '0'.repeat(32);
const INVALID_SPAN_ID = '0'.repeat(16);
const TRACEPARENT_V0_LENGTH = 55;
const HEX2 = /^[0-9a-f]{2}$/;
const TRACE_ID = /^[0-9a-f]{32}$/;
const SPAN_ID = /^[0-9a-f]{16}$/;

/** At most this many list members in a tracestate (spec 3.3.1.1). */
const MAX_TRACESTATE_MEMBERS = 32;
/** The length a tracestate is kept within when it is sent (spec 3.3.1.5). */
const MAX_TRACESTATE_LENGTH = 512;
/** Members longer than this are the first dropped to fit (spec 3.3.1.5). */
const LONG_MEMBER = 128;

// simple-key = lcalpha 0*255( lcalpha / DIGIT / "_" / "-"/ "*" / "/" )
// multi-tenant-key = tenant-id "@" system-id
//   tenant-id = ( lcalpha / DIGIT ) 0*240( lcalpha / DIGIT / "_" / "-"/ "*" / "/" )
//   system-id = lcalpha 0*13( lcalpha / DIGIT / "_" / "-"/ "*" / "/" )
const SIMPLE_KEY = /^[a-z][a-z0-9_\-*/]{0,255}$/;
const MULTI_TENANT_KEY = /^[a-z0-9][a-z0-9_\-*/]{0,240}@[a-z][a-z0-9_\-*/]{0,13}$/;
// value = 0*255(chr) nblk-chr; nblk-chr = %x21-2B / %x2D-3C / %x3E-7E; chr = %x20 / nblk-chr
const VALUE = /^[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;

/** True for a 32-digit lowercase hex trace ID that is not all zeros. */
function isValidTraceId(id) {
  return typeof id === 'string' && TRACE_ID.test(id) && id !== INVALID_TRACE_ID;
}

/** True for a 16-digit lowercase hex span ID that is not all zeros. */
function isValidSpanId(id) {
  return typeof id === 'string' && SPAN_ID.test(id) && id !== INVALID_SPAN_ID;
}

/** True when key is a valid tracestate key, simple or multi-tenant. */
function isValidKey(key) {
  return typeof key === 'string' && (SIMPLE_KEY.test(key) || MULTI_TENANT_KEY.test(key));
}

/** True when value is a valid tracestate value. */
function isValidValue(value) {
  return typeof value === 'string' && VALUE.test(value);
}

// One header value from what a carrier holds: a string, or the values of a
// header that arrived several times. Optional whitespace around it is not
// part of the value (RFC 9110 5.5).
function trimOWS(s) {
  return s.replace(/^[ \t]+|[ \t]+$/g, '');
}

/**
 * Parses a traceparent header. A header sent more than once (an array of
 * several values) is ambiguous and refused. Returns null when the value is
 * not valid: the receiver then starts a new trace. Versions above 00 are read
 * as the specification says (the version-00 fields, then the end or a dash);
 * version ff is invalid.
 * @returns {{version: string, traceId: string, spanId: string, traceFlags: number} | null}
 */
function parseTraceparent(value) {
  if (Array.isArray(value)) {
    if (value.length !== 1) return null;
    value = value[0];
  }
  if (typeof value !== 'string') return null;
  value = trimOWS(value);
  if (value.length < TRACEPARENT_V0_LENGTH) return null;
  const version = value.slice(0, 2);
  if (!HEX2.test(version) || version === 'ff') return null;
  if (version === VERSION && value.length !== TRACEPARENT_V0_LENGTH) return null;
  if (value.length > TRACEPARENT_V0_LENGTH && value[TRACEPARENT_V0_LENGTH] !== '-') return null;
  if (value[2] !== '-' || value[35] !== '-' || value[52] !== '-') return null;
  const traceId = value.slice(3, 35);
  const spanId = value.slice(36, 52);
  const flags = value.slice(53, 55);
  if (!isValidTraceId(traceId) || !isValidSpanId(spanId) || !HEX2.test(flags)) return null;
  return { version, traceId, spanId, traceFlags: parseInt(flags, 16) };
}

/**
 * Formats a traceparent header of version 00. Returns '' for a context whose
 * IDs are not valid, so that nothing invalid is ever sent.
 */
function formatTraceparent(ctx) {
  if (!ctx || !isValidTraceId(ctx.traceId) || !isValidSpanId(ctx.spanId)) return '';
  const flags = (Number(ctx.traceFlags) & 0xff) >>> 0;
  return `${VERSION}-${ctx.traceId}-${ctx.spanId}-${flags.toString(16).padStart(2, '0')}`;
}

/**
 * An immutable tracestate: vendor entries in order, the most recently
 * updated first. Its methods match OpenTelemetry's TraceState interface, so
 * it can be the traceState of an OpenTelemetry SpanContext.
 */
class TraceState {
  /** @param {Array<[string, string]>} [entries] valid entries, in order */
  constructor(entries) {
    this._entries = entries || [];
  }

  /**
   * Parses the values of the tracestate header: several headers are one
   * list, joined in order. A list with an invalid member, a duplicated key,
   * or more than 32 members is discarded whole (an empty TraceState), as the
   * specification's test suite expects. Empty members are allowed and
   * skipped.
   */
  static parse(values) {
    if (values === undefined || values === null) return EMPTY;
    const list = Array.isArray(values) ? values.join(',') : String(values);
    const entries = [];
    const seen = new Set();
    for (const raw of list.split(',')) {
      const member = trimOWS(raw);
      if (member === '') continue;
      const eq = member.indexOf('=');
      if (eq <= 0) return EMPTY;
      const key = member.slice(0, eq);
      const value = member.slice(eq + 1);
      if (!isValidKey(key) || !isValidValue(value) || seen.has(key)) return EMPTY;
      seen.add(key);
      entries.push([key, value]);
      if (entries.length > MAX_TRACESTATE_MEMBERS) return EMPTY;
    }
    return entries.length === 0 ? EMPTY : new TraceState(entries);
  }

  /** The value of key, or undefined. */
  get(key) {
    for (const [k, v] of this._entries) if (k === key) return v;
    return undefined;
  }

  /**
   * A TraceState with key set to value and moved to the front, as a vendor
   * updating its own entry must. An invalid key or value leaves it as it is;
   * past 32 members the oldest (rightmost) is dropped.
   */
  set(key, value) {
    if (!isValidKey(key) || !isValidValue(value)) return this;
    const entries = [[key, value]];
    for (const e of this._entries) if (e[0] !== key) entries.push(e);
    if (entries.length > MAX_TRACESTATE_MEMBERS) entries.length = MAX_TRACESTATE_MEMBERS;
    return new TraceState(entries);
  }

  /** A TraceState without key. */
  unset(key) {
    const entries = this._entries.filter((e) => e[0] !== key);
    return entries.length === this._entries.length ? this : new TraceState(entries);
  }

  /** The number of entries. */
  get size() {
    return this._entries.length;
  }

  /**
   * The header value, in order. Kept within 512 characters: members longer
   * than 128 characters are dropped first, from the right, then the oldest.
   */
  serialize() {
    let members = this._entries.map(([k, v]) => `${k}=${v}`);
    const length = (ms) => ms.reduce((n, m) => n + m.length, 0) + Math.max(ms.length - 1, 0);
    if (length(members) > MAX_TRACESTATE_LENGTH) {
      for (let i = members.length - 1; i >= 0 && length(members) > MAX_TRACESTATE_LENGTH; i--) {
        if (members[i].length > LONG_MEMBER) members = members.slice(0, i).concat(members.slice(i + 1));
      }
      while (length(members) > MAX_TRACESTATE_LENGTH) members = members.slice(0, -1);
    }
    return members.join(',');
  }
}

const EMPTY = new TraceState([]);

/**
 * Reads the trace context of an incoming request. get(name) returns a
 * header's value (string), its values (array) or undefined; names are asked
 * in lower case. Returns null when there is no valid traceparent; tracestate
 * is read only when traceparent is valid.
 */
function extract(get) {
  let tp;
  try {
    tp = parseTraceparent(get('traceparent'));
  } catch {
    return null;
  }
  if (!tp) return null;
  let traceState = EMPTY;
  try {
    traceState = TraceState.parse(get('tracestate'));
  } catch {
    traceState = EMPTY;
  }
  return { traceId: tp.traceId, spanId: tp.spanId, traceFlags: tp.traceFlags & 0xff, traceState, isRemote: true };
}

/**
 * Writes ctx as headers through set(name, value): traceparent, and
 * tracestate when it has entries. Writes nothing for an invalid context.
 */
function inject(ctx, set) {
  const tp = formatTraceparent(ctx);
  if (!tp) return;
  set('traceparent', tp);
  const ts = ctx.traceState && typeof ctx.traceState.serialize === 'function' ? ctx.traceState.serialize() : '';
  if (ts) set('tracestate', ts);
}

function randomHex(bytes) {
  const buf = new Uint8Array(bytes);
  globalThis.crypto.getRandomValues(buf);
  let s = '';
  for (let i = 0; i < buf.length; i++) s += (buf[i] < 16 ? '0' : '') + buf[i].toString(16);
  return s;
}

/** A random, valid trace ID. */
function randomTraceId() {
  for (;;) {
    const id = randomHex(16);
    if (id !== INVALID_TRACE_ID) return id;
  }
}

/** A random, valid span ID. */
function randomSpanId() {
  for (;;) {
    const id = randomHex(8);
    if (id !== INVALID_SPAN_ID) return id;
  }
}

module.exports = {
  parseTraceparent,
  formatTraceparent,
  TraceState,
  extract,
  inject,
  randomTraceId,
  randomSpanId,
  isValidTraceId,
  isValidSpanId,
  isValidKey,
  isValidValue,
  MAX_TRACESTATE_MEMBERS,
  MAX_TRACESTATE_LENGTH,
};
