'use strict';

// capture turns a breakpoint's variables, arbitrary JavaScript values, into
// the JSON tree a snapshot carries, within limits (depth, string length,
// collection length, payload size, time), scrubbing every string and key
// with a Scrubber. It mirrors the Go SDK's package capture (same markers,
// same limits) for JavaScript's values.
//
// It runs no application code: properties are read through their
// descriptors (a getter is shown as "[getter]", never called), Proxies are
// detected and not enumerated, Maps and Sets are walked with the built-in
// iterators saved at load time, and no toJSON, toString, valueOf,
// Symbol.toPrimitive or inspect hook is ever called.

const { types } = require('node:util');

const TRUNCATED_MARKER = '[truncated]';
const CYCLE_MARKER = '[cycle]';
const TRUNCATED_KEY = '_truncated';
const MAX_DEPTH_LIMIT = 10;
const SCRUB_MARGIN = 1024;

const DEFAULT_LIMITS = Object.freeze({ maxDepth: 3, maxString: 256, maxCollection: 100, maxPayload: 64 << 10, timeoutMs: 2 });

// Built-ins saved at load, so that an application that patches a
// prototype cannot make capture run its code.
const getOwnPropertyDescriptor = Object.getOwnPropertyDescriptor;
const getPrototypeOf = Object.getPrototypeOf;
const objectKeys = Object.keys;
const isArray = Array.isArray;
const mapSize = getOwnPropertyDescriptor(Map.prototype, 'size').get;
const setSize = getOwnPropertyDescriptor(Set.prototype, 'size').get;
const mapEntries = Map.prototype.entries;
const setValues = Set.prototype.values;
const mapIterNext = getPrototypeOf(new Map().entries()).next;
const setIterNext = getPrototypeOf(new Set().values()).next;
const dateGetTime = Date.prototype.getTime;
const dateToISOString = Date.prototype.toISOString;
const regexpSource = getOwnPropertyDescriptor(RegExp.prototype, 'source').get;
const typedArrayLength = getOwnPropertyDescriptor(getPrototypeOf(Uint8Array.prototype), 'length').get;
const arrayBufferByteLength = getOwnPropertyDescriptor(ArrayBuffer.prototype, 'byteLength').get;
const symbolDescription = getOwnPropertyDescriptor(Symbol.prototype, 'description').get;
const bufferByteLength = Buffer.byteLength;
const now = () => performance.now();

function normalizeLimits(l = {}) {
  const d = DEFAULT_LIMITS;
  const out = {
    maxDepth: l.maxDepth > 0 ? Math.min(l.maxDepth, MAX_DEPTH_LIMIT) : d.maxDepth,
    maxString: l.maxString ? l.maxString : d.maxString,
    maxCollection: l.maxCollection ? l.maxCollection : d.maxCollection,
    maxPayload: l.maxPayload ? l.maxPayload : d.maxPayload,
    timeoutMs: l.timeoutMs ? l.timeoutMs : d.timeoutMs,
  };
  return out;
}

// dataProp reads obj[key] without running code: the value of a data
// property found on obj or its prototypes; undefined for an accessor or a
// Proxy on the way.
function dataProp(obj, key) {
  for (let o = obj, i = 0; o !== null && o !== undefined && i < 32; i++) {
    if (types.isProxy(o)) return undefined;
    const d = getOwnPropertyDescriptor(o, key);
    if (d) return 'value' in d ? d.value : undefined;
    o = getPrototypeOf(o);
  }
  return undefined;
}

function isEmpty(v) {
  return v === null || v === undefined || v === '';
}

class Walker {
  constructor(limits, scrub) {
    this.lim = limits;
    this.scrub = scrub && scrub.enabled ? scrub : null;
    this.deadline = this.lim.timeoutMs > 0 ? now() + this.lim.timeoutMs : 0;
    this.bytes = 0;
    // varCap is where the variable being captured must stop: its fair
    // share of what is left of maxPayload (see capture).
    this.varCap = Infinity;
    this.ticks = 0;
    this.stopped = false;
    this.path = [];
    this.stats = { values: 0, truncated: 0, redacted: 0, errors: 0, bytes: 0, payloadExceeded: false, timedOut: false };
  }

  add(n) {
    this.bytes += n;
    if (this.lim.maxPayload > 0 && this.bytes > Math.min(this.varCap, this.lim.maxPayload) && !this.stopped) {
      this.stats.payloadExceeded = true;
      this.stopped = true;
    }
  }

  tick() {
    this.stats.values++;
    this.ticks++;
    if ((this.ticks & 63) === 0 && this.deadline > 0 && now() > this.deadline) {
      this.stats.timedOut = true;
      this.stopped = true;
    }
  }

  scrubString(s) {
    return this.scrub ? this.scrub.string(s) : s;
  }

  // key scrubs an object key, numbering keys that scrubbing made equal.
  key(out, k) {
    const s = this.scrubString(k);
    if (s === k) return k;
    this.stats.redacted++;
    if (!Object.prototype.hasOwnProperty.call(out, s)) return s;
    for (let n = 2; ; n++) {
      const alt = `${s}#${n}`;
      if (!Object.prototype.hasOwnProperty.call(out, alt)) return alt;
    }
  }

  redacted(marker) {
    this.stats.redacted++;
    this.stats.values++;
    this.add(marker.length + 2);
    return marker;
  }

  // field captures the value of a property, variable or map entry called
  // name: the whole value becomes a marker when the name is sensitive.
  field(name, v, depth) {
    if (this.scrub && typeof name === 'string') {
      const m = this.scrub.nameMarker(name);
      if (m !== '' && !isEmpty(v)) return this.redacted(m);
    }
    return this.value(v, depth);
  }

  // str scrubs and truncates a string (lengths in UTF-16 code units; the
  // count of what was cut in UTF-8 bytes, as the Go SDK writes it).
  str(s) {
    const max = this.lim.maxString;
    if (max < 0 || s.length <= max) {
      const out = this.scrubString(s);
      if (out !== s) this.stats.redacted++;
      this.add(out.length + 2);
      return out;
    }
    let window = s;
    if (window.length > max + SCRUB_MARGIN) window = s.slice(0, max + SCRUB_MARGIN);
    const scrubbed = this.scrubString(window);
    if (scrubbed !== window) this.stats.redacted++;
    if (scrubbed.length <= max && window.length === s.length) {
      this.add(scrubbed.length + 2);
      return scrubbed;
    }
    let cut = Math.min(max, scrubbed.length);
    const c = scrubbed.charCodeAt(cut - 1);
    if (c >= 0xd800 && c <= 0xdbff) cut--; // do not split a surrogate pair
    this.stats.truncated++;
    const omitted = bufferByteLength(scrubbed.slice(cut)) + (window.length === s.length ? 0 : bufferByteLength(s.slice(window.length)));
    const out = `${scrubbed.slice(0, cut)}…[truncated ${omitted} bytes]`;
    this.add(out.length + 2);
    return out;
  }

  tooDeep() {
    this.stats.truncated++;
    this.add(TRUNCATED_MARKER.length + 2);
    return TRUNCATED_MARKER;
  }

  marker(s) {
    this.add(s.length + 2);
    return s;
  }

  value(v, depth) {
    this.tick();
    switch (typeof v) {
      case 'undefined':
        this.add(4);
        return null;
      case 'string':
        return this.str(v);
      case 'boolean':
        this.add(5);
        return v;
      case 'number':
        this.add(8);
        if (Number.isFinite(v)) return v;
        if (Number.isNaN(v)) return 'NaN';
        return v > 0 ? '+Inf' : '-Inf';
      case 'bigint': {
        const s = `${v}n`; // BigInt's own conversion, not user code
        this.add(s.length + 2);
        return s;
      }
      case 'symbol': {
        let d = '';
        try { d = symbolDescription.call(v) || ''; } catch { /* a symbol always has one */ }
        return this.str(`Symbol(${d})`);
      }
      case 'function':
        return this.func(v);
      case 'object':
        if (v === null) {
          this.add(4);
          return null;
        }
        return this.object(v, depth);
      default:
        return this.marker(`[${typeof v}]`);
    }
  }

  func(fn) {
    if (types.isProxy(fn)) return this.marker('[Proxy]');
    const name = dataProp(fn, 'name');
    const kind = types.isAsyncFunction(fn) ? 'async function' : types.isGeneratorFunction(fn) ? 'generator' : 'function';
    return this.str(typeof name === 'string' && name !== '' ? `[${kind} ${name}]` : `[${kind}]`);
  }

  object(o, depth) {
    if (types.isProxy(o)) return this.marker('[Proxy]');
    if (types.isDate(o)) {
      const t = dateGetTime.call(o);
      this.add(32);
      return Number.isNaN(t) ? 'Invalid Date' : dateToISOString.call(new Date(t));
    }
    if (types.isNativeError(o)) return this.error(o);
    if (types.isUint8Array(o)) return this.bytesOf(o);
    if (types.isTypedArray(o)) return this.typedArray(o, depth);
    if (types.isAnyArrayBuffer(o)) return this.marker(`[ArrayBuffer ${arrayBufferByteLength.call(o) || 0} bytes]`);
    if (types.isDataView(o)) return this.marker('[DataView]');
    if (types.isRegExp(o)) return this.str(`/${regexpSource.call(o)}/`);
    if (types.isPromise(o)) return this.marker('[Promise]');
    if (types.isWeakMap(o)) return this.marker('[WeakMap]');
    if (types.isWeakSet(o)) return this.marker('[WeakSet]');
    if (types.isBoxedPrimitive(o)) return this.marker('[boxed primitive]');
    if (depth > this.lim.maxDepth) return this.tooDeep();
    if (this.path.includes(o)) return this.marker(CYCLE_MARKER);
    this.path.push(o);
    try {
      if (isArray(o)) return this.array(o, depth);
      if (types.isMap(o)) return this.map(o, depth);
      if (types.isSet(o)) return this.set(o, depth);
      return this.plain(o, depth);
    } finally {
      this.path.pop();
    }
  }

  error(e) {
    const name = dataProp(e, 'name');
    const message = dataProp(e, 'message');
    const code = dataProp(e, 'code');
    let s = typeof name === 'string' ? name : 'Error';
    if (typeof code === 'string' || typeof code === 'number') s += ` [${code}]`;
    if (typeof message === 'string' && message !== '') s += `: ${message}`;
    return this.str(s);
  }

  bytesOf(b) {
    const len = typedArrayLength.call(b);
    const max = this.lim.maxString;
    const window = max >= 0 ? Math.min(len, max * 3 + SCRUB_MARGIN) : len;
    let text = true;
    for (let i = 0; i < window; i++) {
      const c = b[i];
      if ((c < 0x20 && c !== 10 && c !== 13 && c !== 9) || c === 0x7f) {
        text = false;
        break;
      }
    }
    if (text) {
      const dec = Buffer.from(b.buffer, b.byteOffset, window).toString('utf8');
      if (!dec.includes('\ufffd') || window < len) {
        if (window === len) return this.str(dec);
        const out = this.str(dec);
        if (typeof out === 'string' && !out.includes('…[truncated')) this.stats.truncated++;
        return out;
      }
    }
    const n = Math.min(len, 32);
    let out = 'hex:' + Buffer.from(b.buffer, b.byteOffset, n).toString('hex');
    if (len > n) {
      this.stats.truncated++;
      out += '…';
    }
    out += ` (${len} bytes)`;
    return this.marker(out);
  }

  typedArray(a, depth) {
    if (depth > this.lim.maxDepth) return this.tooDeep();
    const len = typedArrayLength.call(a);
    const keep = this.lim.maxCollection >= 0 ? Math.min(len, this.lim.maxCollection) : len;
    const out = [];
    for (let i = 0; i < keep && !this.stopped; i++) {
      this.add(1);
      out.push(this.value(a[i], depth + 1)); // elements of a typed array are never accessors
    }
    return this.endArray(out, len);
  }

  endArray(out, total) {
    const omitted = total - out.length;
    if (omitted > 0) {
      this.stats.truncated++;
      out.push({ [TRUNCATED_KEY]: omitted });
    }
    return out;
  }

  array(a, depth) {
    const len = a.length; // an array's own length is a data property
    const keep = this.lim.maxCollection >= 0 ? Math.min(len, this.lim.maxCollection) : len;
    const out = [];
    for (let i = 0; i < keep && !this.stopped; i++) {
      this.add(1);
      const d = getOwnPropertyDescriptor(a, i);
      if (d === undefined) out.push(this.value(undefined, depth + 1));
      else if ('value' in d) out.push(this.value(d.value, depth + 1));
      else out.push(this.marker('[getter]'));
    }
    return this.endArray(out, len);
  }

  map(m, depth) {
    const size = mapSize.call(m);
    const keep = this.lim.maxCollection >= 0 ? Math.min(size, this.lim.maxCollection) : size;
    const out = {};
    const it = mapEntries.call(m);
    let done = 0;
    while (done < keep && !this.stopped) {
      const r = mapIterNext.call(it);
      if (r.done) break;
      const k = r.value[0];
      const v = r.value[1];
      let name;
      if (typeof k === 'string') name = k;
      else if (typeof k === 'number' || typeof k === 'boolean' || typeof k === 'bigint' || k === null || k === undefined) name = String(k);
      else if (typeof k === 'symbol') name = `Symbol(${symbolDescription.call(k) || ''})`;
      else name = `[${typeof k === 'function' ? 'function' : 'object'} key #${done + 1}]`;
      const key = this.key(out, name);
      this.add(key.length + 4);
      out[key] = this.field(name, v, depth + 1);
      done++;
    }
    if (size - done > 0) {
      this.stats.truncated++;
      out[TRUNCATED_KEY] = size - done;
    }
    return out;
  }

  set(s, depth) {
    const size = setSize.call(s);
    const keep = this.lim.maxCollection >= 0 ? Math.min(size, this.lim.maxCollection) : size;
    const out = [];
    const it = setValues.call(s);
    while (out.length < keep && !this.stopped) {
      const r = setIterNext.call(it);
      if (r.done) break;
      this.add(1);
      out.push(this.value(r.value, depth + 1));
    }
    return this.endArray(out, size);
  }

  plain(o, depth) {
    const keys = objectKeys(o); // own enumerable string keys; no user code for non-Proxies
    const keep = this.lim.maxCollection >= 0 ? Math.min(keys.length, this.lim.maxCollection) : keys.length;
    const out = {};
    let done = 0;
    for (; done < keep && !this.stopped; done++) {
      const k = keys[done];
      const d = getOwnPropertyDescriptor(o, k);
      const key = this.key(out, k);
      this.add(key.length + 4);
      if (d === undefined) out[key] = null;
      else if ('value' in d) out[key] = this.field(k, d.value, depth + 1);
      else out[key] = this.marker('[getter]');
    }
    if (keys.length - done > 0) {
      this.stats.truncated++;
      out[TRUNCATED_KEY] = keys.length - done;
    }
    return out;
  }

  // variable captures one variable; an exception becomes an error marker.
  variable(name, v) {
    const depth = this.path.length;
    try {
      return this.field(name, v, 1);
    } catch (err) {
      this.path.length = depth;
      this.stats.errors++;
      return '[capture error]';
    }
  }
}

// capture returns the snapshot tree of vars (an object of variables) within
// limits, every string and key scrubbed by scrub (null: none), and its stats.
// It never throws and never modifies vars.
function capture(vars, limits, scrub) {
  const w = new Walker(limits, scrub);
  const out = {};
  let names = [];
  if (vars !== null && typeof vars === 'object' && !types.isProxy(vars)) {
    try {
      names = objectKeys(vars).sort();
    } catch {
      names = [];
    }
  } else if (vars !== null && vars !== undefined) {
    names = null; // not an object of variables: captured as one value
  }
  if (names === null) {
    out.value = w.variable('value', vars);
  } else {
    for (let i = 0; i < names.length; i++) {
      const name = names[i];
      // Each variable gets a fair share of what is left of the payload, so
      // that a large one (an HTTP request, say) cannot crowd out the
      // variables after it.
      if (!w.stats.timedOut && !(w.lim.maxPayload > 0 && w.bytes >= w.lim.maxPayload)) {
        w.stopped = false;
        if (w.lim.maxPayload > 0) {
          w.varCap = w.bytes + Math.max(256, Math.floor((w.lim.maxPayload - w.bytes) / (names.length - i)));
        }
      }
      if (w.stopped) {
        for (const rest of names.slice(i)) out[w.key(out, rest)] = { [TRUNCATED_KEY]: true };
        out[TRUNCATED_KEY] = true;
        break;
      }
      const key = w.key(out, name);
      w.add(key.length + 4);
      let v;
      const d = getOwnPropertyDescriptor(vars, name);
      if (d && 'value' in d) v = d.value;
      out[key] = d && !('value' in d) ? w.marker('[getter]') : w.variable(name, v);
    }
  }
  w.stats.bytes = w.bytes;
  return { vars: out, stats: w.stats, truncated: w.stats.truncated > 0 || w.stats.payloadExceeded || w.stats.timedOut };
}

module.exports = {
  capture, normalizeLimits, DEFAULT_LIMITS, MAX_DEPTH_LIMIT, TRUNCATED_MARKER, CYCLE_MARKER, TRUNCATED_KEY,
};
