'use strict';

// Reading the locals of a paused frame as plain JSON-serialisable values,
// through Runtime.getProperties only: getters are never invoked and no
// application code runs. Markers follow the Go SDK (sdk/go/capture):
// "[truncated]" for a value nested deeper than the capture depth or left
// out by a limit, "_truncated" for the count an object or list left out
// (and, at the top, true when the capture was cut), strings cut to
// maxStringLength followed by "…[truncated N chars]".

const TRUNCATED = '[truncated]';
const TRUNCATED_KEY = '_truncated';

// Scopes whose variables are captured, innermost first; a name already
// seen in an inner scope shadows the outer one.
const SCOPES = new Set(['local', 'block', 'catch', 'closure']);

// Object subtypes captured as their description, never expanded.
const OPAQUE = new Set([
  'date', 'regexp', 'error', 'arraybuffer', 'dataview', 'node', 'generator',
  'iterator', 'weakref', 'webassemblymemory', 'wasmvalue', 'trustedtype',
  'weakmap', 'weakset',
]);

const PROPS = { ownProperties: true, accessorPropertiesOnly: false, generatePreview: false };
const GROUP = 'tracekit-capture';

// COPY_HEAD copies the first n elements of an array, typed array or
// [[Entries]] list through property descriptors (no getter, no species, no
// user code), so that a long list is not listed whole by getProperties.
const COPY_HEAD = 'function (n) { const out = new Array(n); for (let i = 0; i < n; i++) { ' +
  'const d = Object.getOwnPropertyDescriptor(this, i); ' +
  "out[i] = d === undefined ? undefined : ('value' in d ? d.value : '[getter]'); } return out; }";

// COPY_ENTRIES copies the first n entries of a Map (flat: key, value, ...)
// or Set through the built-in iterators, whatever the class of the object.
const COPY_ENTRIES = 'function (n, isMap) { const out = []; ' +
  'const it = isMap ? Map.prototype.entries.call(this) : Set.prototype.values.call(this); ' +
  'for (let i = 0; i < n; i++) { const r = it.next(); if (r.done) break; ' +
  'if (isMap) out.push(r.value[0], r.value[1]); else out.push(r.value); } return out; }';

class Walker {
  constructor(post, lim) {
    this.post = post;
    this.lim = lim;
    this.values = 0;
    this.truncated = 0;
    this.stopped = false;
    // cap is where the variable being read must stop (its fair share of
    // maxProperties, see serialize).
    this.cap = lim.maxProperties;
    this.usedGroup = false;
  }

  // props lists the own properties of an object, or returns null when the
  // time budget is spent.
  props(objectId) {
    if (this.stopped) return null;
    if (process.hrtime.bigint() > this.lim.deadline) {
      this.stopped = true;
      return null;
    }
    return this.post('Runtime.getProperties', { objectId, ...PROPS });
  }

  // head returns the objectId of an array holding the first n elements of
  // the list objectId.
  head(objectId, n) {
    this.usedGroup = true;
    const res = this.post('Runtime.callFunctionOn', {
      objectId, functionDeclaration: COPY_HEAD, arguments: [{ value: n }],
      silent: true, objectGroup: GROUP,
    });
    if (!res || res.exceptionDetails || !res.result || !res.result.objectId) return null;
    return res.result.objectId;
  }

  count() {
    this.values++;
    if (this.values >= this.cap) this.stopped = true;
  }

  // over reports whether the whole capture must stop: the time budget or
  // maxProperties is spent.
  over() {
    return this.values >= this.lim.maxProperties || process.hrtime.bigint() > this.lim.deadline;
  }

  cut() {
    this.truncated++;
    return TRUNCATED;
  }

  str(s) {
    if (typeof s !== 'string') s = String(s);
    const max = this.lim.maxString;
    if (s.length <= max) return s;
    this.truncated++;
    return `${s.slice(0, max)}…[truncated ${s.length - max} chars]`;
  }

  // prop turns a PropertyDescriptor into a value.
  prop(p, level) {
    if (p.value) return this.value(p.value, level);
    if (p.get && p.get.type !== 'undefined') {
      this.count();
      return '[getter]';
    }
    if (p.set && p.set.type !== 'undefined') {
      this.count();
      return '[setter]';
    }
    this.count();
    return null;
  }

  // value turns a RemoteObject into a plain value; level 1 is a variable.
  value(ro, level) {
    this.count();
    switch (ro.type) {
      case 'undefined':
        return null;
      case 'string':
        return this.str(ro.value);
      case 'number':
        if ('unserializableValue' in ro) return ro.unserializableValue === '-0' ? 0 : ro.unserializableValue;
        return ro.value;
      case 'boolean':
        return ro.value;
      case 'bigint': {
        const digits = String(ro.unserializableValue || ro.description || '').replace(/n$/, '');
        const n = Number(digits);
        return Number.isSafeInteger(n) ? n : digits;
      }
      case 'symbol':
        return this.str(ro.description);
      case 'function':
        return functionName(ro.description);
      case 'object':
        return this.object(ro, level);
      default:
        return this.str(ro.description || ro.type);
    }
  }

  object(ro, level) {
    const st = ro.subtype;
    if (st === 'null') return null;
    if (st === 'proxy') return '[Proxy]';
    if (st === 'promise') return '[Promise]';
    if (OPAQUE.has(st)) return this.str(ro.description || st);
    if (level > this.lim.depth || !ro.objectId) return this.cut();
    if (this.stopped) return this.cut();
    if (st === 'array' || st === 'typedarray') return this.list(ro, level);
    if (st === 'map' || st === 'set') return this.collection(ro, level);
    return this.plain(ro, level);
  }

  list(ro, level) {
    const length = lengthOf(ro.description);
    const max = this.lim.maxCollection;
    let id = ro.objectId;
    if (length > max) id = this.head(id, max) || id;
    const res = this.props(id);
    if (!res) return this.cut();
    const out = [];
    for (const p of res.result) {
      if (!isIndex(p.name)) continue;
      if (out.length >= max || this.stopped) break;
      out.push(this.prop(p, level + 1));
    }
    const total = length >= 0 ? length : out.length;
    if (total > out.length) {
      this.truncated++;
      out.push({ [TRUNCATED_KEY]: total - out.length });
    }
    return out;
  }

  // collection captures a Map as an object and a Set as a list. Its first
  // maxCollection entries are copied by COPY_ENTRIES into one flat list
  // (key, value, key, value... for a Map): getProperties on the Map itself
  // would build the whole [[Entries]] list (a quarter of a second for
  // 100,000 entries).
  collection(ro, level) {
    const size = lengthOf(ro.description);
    const max = this.lim.maxCollection;
    if (this.stopped || process.hrtime.bigint() > this.lim.deadline) {
      this.stopped = true;
      return this.cut();
    }
    const isMap = ro.subtype === 'map';
    this.usedGroup = true;
    const res = this.post('Runtime.callFunctionOn', {
      objectId: ro.objectId, functionDeclaration: COPY_ENTRIES, arguments: [{ value: max }, { value: isMap }],
      silent: true, objectGroup: GROUP,
    });
    if (!res || res.exceptionDetails || !res.result || !res.result.objectId) return this.str(ro.description);
    const list = this.props(res.result.objectId);
    if (!list) return this.cut();
    const flat = [];
    for (const p of list.result) if (isIndex(p.name)) flat[Number(p.name)] = p;
    const out = isMap ? {} : [];
    let kept = 0;
    const step = isMap ? 2 : 1;
    for (let i = 0; i + step - 1 < flat.length; i += step) {
      if (this.stopped) break;
      kept++;
      if (isMap) {
        const k = flat[i] && flat[i].value;
        out[this.key(k)] = flat[i + 1] ? this.prop(flat[i + 1], level + 1) : null;
      } else {
        out.push(flat[i] ? this.prop(flat[i], level + 1) : null);
      }
    }
    const total = size >= 0 ? size : kept;
    if (total > kept) {
      this.truncated++;
      if (isMap) out[TRUNCATED_KEY] = total - kept;
      else out.push({ [TRUNCATED_KEY]: total - kept });
    }
    return out;
  }

  // key turns a Map key into an object key.
  key(ro) {
    if (!ro) return 'undefined';
    switch (ro.type) {
      case 'string':
        return this.str(ro.value);
      case 'number':
      case 'boolean':
        return String('unserializableValue' in ro ? ro.unserializableValue : ro.value);
      case 'undefined':
        return 'undefined';
      default:
        return this.str(ro.description || ro.type);
    }
  }

  plain(ro, level) {
    const res = this.props(ro.objectId);
    if (!res) return this.cut();
    const out = {};
    const max = this.lim.maxCollection;
    let kept = 0;
    let omitted = 0;
    const all = res.result.concat(res.privateProperties || []);
    for (const p of all) {
      if (p.isOwn === false || p.enumerable === false || p.name === '__proto__') continue;
      if (kept >= max || this.stopped) {
        omitted++;
        continue;
      }
      kept++;
      out[p.name] = this.prop(p, level + 1);
    }
    if (omitted > 0) {
      this.truncated++;
      out[TRUNCATED_KEY] = omitted;
    }
    return out;
  }
}

function isIndex(name) {
  return typeof name === 'string' && name.length > 0 && name.length < 16 && /^\d+$/.test(name);
}

// lengthOf reads the length V8 puts in a description: "Array(3)",
// "Map(2)", "Uint8Array(16)", "Buffer(5) [Uint8Array]"; -1 when absent.
function lengthOf(description) {
  const m = /\((\d+)\)/.exec(description || '');
  return m ? Number(m[1]) : -1;
}

// functionName names a function from its description (its source text),
// which is never captured whole.
// weight orders variables for reading: primitives, then arrays and plain
// objects, then everything else.
function weight(p) {
  const v = p.value;
  if (!v || v.type !== 'object' || v.subtype === 'null') return 0;
  if (v.subtype === 'array') return 1;
  return v.className === 'Object' ? 1 : 2;
}

function functionName(description) {
  const m = /^\s*(?:async\s+)?(?:function\s*\*?\s*|class\s+)([\w$]+)/.exec(description || '');
  return m ? `[function ${m[1]}]` : '[function]';
}

// serialize captures the variables of a paused call frame. lim: depth,
// maxString, maxProperties, maxCollection, deadline (hrtime bigint).
// Returns { variables, truncated }.
function serialize(post, frame, lim) {
  const w = new Walker(post, lim);
  const variables = {};
  const seen = new Set();
  // The outermost closure scope of a function in a CommonJS module is the
  // module wrapper's: the module's imports and top-level state, large and
  // seldom what a breakpoint is about. It is left out.
  const chain = frame.scopeChain || [];
  let outer = -1;
  for (let i = 0; i < chain.length; i++) if (chain[i].type === 'closure') outer = i;
  if (outer >= 0 && !chain.slice(outer + 1).every((sc) => sc.type === 'global' || sc.type === 'script')) outer = -1;
  try {
    // First the names of every variable, then their values, each variable
    // with a fair share of what is left of maxProperties: a large object
    // (an HTTP request, say) must not use it all up before the variables
    // after it are read.
    const entries = [];
    for (let i = 0; i < chain.length; i++) {
      const scope = chain[i];
      if (i === outer || !SCOPES.has(scope.type) || !scope.object || !scope.object.objectId) continue;
      const res = w.props(scope.object.objectId);
      if (!res) break;
      for (const p of res.result) {
        if (seen.has(p.name)) continue;
        seen.add(p.name);
        entries.push(p);
      }
    }
    // Small values first, so that they are never cut for a large one.
    entries.sort((a, b) => weight(a) - weight(b));
    for (let i = 0; i < entries.length; i++) {
      const p = entries[i];
      if (w.over()) {
        w.stopped = true;
        w.truncated++;
        variables[p.name] = { [TRUNCATED_KEY]: true };
        continue;
      }
      w.stopped = false;
      w.cap = w.values + Math.max(1, Math.floor((lim.maxProperties - w.values) / (entries.length - i)));
      variables[p.name] = w.prop(p, 1);
    }
    w.stopped = w.over();
    const t = frame.this;
    if (!seen.has('this') && t && t.type === 'object' && t.subtype !== 'null' && t.className !== 'global' && !w.stopped) {
      variables.this = w.value(t, 1);
    }
  } finally {
    if (w.usedGroup) {
      try {
        post('Runtime.releaseObjectGroup', { objectGroup: GROUP });
      } catch {
        // released with the pause anyway
      }
    }
  }
  if (w.stopped && w.values < lim.maxProperties) w.truncated++; // the time budget cut it
  if (w.stopped) variables[TRUNCATED_KEY] = true;
  return { variables, truncated: w.truncated > 0 };
}

module.exports = { serialize, TRUNCATED, TRUNCATED_KEY, lengthOf, functionName };
