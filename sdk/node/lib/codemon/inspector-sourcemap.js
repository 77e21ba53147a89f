'use strict';

// Source maps for line breakpoints (see docs/line-breakpoints.md, "Source
// maps"): a breakpoint on an original file:line (src/users.ts:12) is set on
// the generated script's line (dist/users.js:17), and a hit on a generated
// file:line is reported at its original file:line.
//
//   generatedLocation(file, line, warn?) -> { file, line, column? } | null
//     file: a breakpoint's path suffix; line 1-based. Returns the absolute
//     path of the generated script, its 1-based line, and a 1-based column
//     only when the generated line also holds code of other original lines
//     (minified bundles). warn(key, message) is told about unreadable maps.
//   originalLocation(file, line, column?) -> { file, line, column } | null
//     file: a generated script's absolute path (or file:// URL); line and
//     column 1-based. The original file is absolute when it resolves to a
//     path (webpack://... sources stay as they are).
//   noteScript(url, sourceMapURL)
//     The inspector tells about every script V8 parsed (Debugger.scriptParsed)
//     and the sourceMappingURL V8 found in it, if any.
//
// Where a map comes from, for a generated script: node:module findSourceMap
// (when Node's source maps are enabled), else the sourceMappingURL V8
// reported, else the file's own //# sourceMappingURL= comment (its last
// 4 KiB, more only when the last line is longer). A map file or an inline
// data: URL is read up to MAX_MAP_BYTES. Nothing here throws.
//
// Caches (the files of a running service do not change): per generated
// script its map's resolved sources and raw mappings string, or null (no
// map: the negative answer is remembered, so a script without a map costs
// one Map lookup), or the reason it is unreadable; decoded mappings for the
// last MAX_DECODED maps used.

const fs = require('node:fs');
const path = require('node:path');
const { fileURLToPath } = require('node:url');

let findSourceMap = null;
try {
  findSourceMap = require('node:module').findSourceMap || null;
} catch {
  findSourceMap = null;
}

const MAX_MAP_BYTES = 8 * 1024 * 1024;
const TAIL_BYTES = 4096;
const MAX_DECODED = 64;
const MAX_ENTRIES = 50000;
// An original line with no mapping (a type annotation, a line of a
// statement that starts above...) takes the next mapped one within this many
// lines.
const LOOKAHEAD = 3;

// generated path -> entry { gen, where, sources, mappings } | null (no map)
// | { gen, where, error } (unreadable)
const entries = new Map();
// the entries that are not null: those generatedLocation looks through
const live = new Map();
// generated path -> sourceMappingURL V8 reported, not read yet (null: an
// inline map, read from the file); scripts under node_modules apart
const pending = new Map();
const pendingDeps = new Map();
// require.cache is looked through once per turn of the event loop at most
// (modules loaded within one turn while breakpoints are set are reported by
// the inspector through noteScript anyway)
let cacheScanned = 0; // 1: but node_modules, 2: all
// generated path -> decoded { lines, rev } (LRU, MAX_DECODED)
const decodedCache = new Map();

// ---- Base64 VLQ ----

const B64 = new Int8Array(128).fill(-1);
'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.split('').forEach((c, i) => {
  B64[c.charCodeAt(0)] = i;
});
const MAX_INT = 0x7fffffff;

// decodeMappings turns a "mappings" string into one entry per generated
// line: null (no segment) or an Int32Array of [genColumn, source,
// origLine, origColumn] quadruples sorted by genColumn (source -1: a
// segment mapped to nothing). Throws on anything malformed.
function decodeMappings(s, nSources) {
  const lines = [];
  let cur = [];
  let genCol = 0;
  let src = 0;
  let oLine = 0;
  let oCol = 0;
  const fields = [0, 0, 0, 0, 0];
  const n = s.length;
  let pos = 0;
  while (pos < n) {
    const c = s.charCodeAt(pos);
    if (c === 59) { // ';' ends a generated line
      lines.push(packLine(cur));
      cur = [];
      genCol = 0;
      pos++;
      continue;
    }
    if (c === 44) { // ',' between segments
      pos++;
      continue;
    }
    let k = 0;
    while (pos < n) {
      const d = s.charCodeAt(pos);
      if (d === 44 || d === 59) break;
      if (k === 5) throw new Error(`a segment with more than 5 fields at ${pos}`);
      let value = 0;
      let scale = 1;
      let digit;
      do {
        if (pos >= n) throw new Error('a truncated VLQ at the end');
        const ch = s.charCodeAt(pos++);
        digit = ch < 128 ? B64[ch] : -1;
        if (digit < 0) throw new Error(`invalid character ${JSON.stringify(s[pos - 1])} at ${pos - 1}`);
        if (scale > 2 ** 30) throw new Error(`a VLQ too long at ${pos - 1}`);
        value += (digit & 31) * scale;
        scale *= 32;
      } while (digit & 32);
      const half = Math.floor(value / 2);
      fields[k++] = value % 2 === 1 ? -half : half;
    }
    if (k !== 1 && k !== 4 && k !== 5) throw new Error(`a segment with ${k} fields at ${pos}`);
    genCol += fields[0];
    if (genCol < 0 || genCol > MAX_INT) throw new Error(`generated column out of range at ${pos}`);
    if (k === 1) {
      cur.push(genCol, -1, 0, 0);
      continue;
    }
    src += fields[1];
    oLine += fields[2];
    oCol += fields[3];
    if (src < 0 || src >= nSources) throw new Error(`source index ${src} out of range at ${pos}`);
    if (oLine < 0 || oLine > MAX_INT || oCol < 0 || oCol > MAX_INT) throw new Error(`original position out of range at ${pos}`);
    cur.push(genCol, src, oLine, oCol);
  }
  lines.push(packLine(cur));
  return lines;
}

function packLine(cur) {
  if (cur.length === 0) return null;
  let sorted = true;
  for (let i = 4; i < cur.length; i += 4) if (cur[i] < cur[i - 4]) sorted = false;
  if (!sorted) {
    const quads = [];
    for (let i = 0; i < cur.length; i += 4) quads.push(cur.slice(i, i + 4));
    quads.sort((a, b) => a[0] - b[0]);
    cur = quads.flat();
  }
  return Int32Array.from(cur);
}

// ---- paths ----

function toPath(fileOrUrl) {
  if (typeof fileOrUrl !== 'string' || fileOrUrl === '') return null;
  if (fileOrUrl.startsWith('file://')) {
    try {
      return fileURLToPath(fileOrUrl);
    } catch {
      return null;
    }
  }
  return path.isAbsolute(fileOrUrl) ? fileOrUrl : null;
}

function slashes(p) {
  return p.indexOf('\\') >= 0 ? p.replace(/\\/g, '/') : p;
}

function isDep(p) {
  return slashes(p).includes('/node_modules/');
}

const SCHEME = /^[a-zA-Z][a-zA-Z0-9+.-]*:/;

// resolveSource resolves a map's source against its sourceRoot and the
// directory of the map (base): an absolute path when it names a file,
// else the URL as written (webpack://app/./src/x.ts).
function resolveSource(src, root, base) {
  let s = typeof src === 'string' ? src : '';
  if (root) s = root.endsWith('/') || s === '' ? root + s : `${root}/${s}`;
  if (/^file:/i.test(s)) {
    try {
      return fileURLToPath(s);
    } catch {
      return s;
    }
  }
  if (SCHEME.test(s) && !/^[a-zA-Z]:[\\/]/.test(s)) return s;
  if (path.isAbsolute(s)) return path.normalize(s);
  return base ? path.resolve(base, s) : s;
}

// matches says whether a resolved source ends with suffix on a '/' boundary
// (an absolute suffix must be the whole path), as inspector.js matches
// script URLs.
function matches(source, suffix) {
  const s = slashes(source);
  if (suffix.startsWith('/')) return s === suffix;
  if (!s.endsWith(suffix)) return false;
  return s.length === suffix.length || s[s.length - suffix.length - 1] === '/';
}

function normSuffix(file) {
  if (typeof file !== 'string') return '';
  let f = slashes(file.trim());
  while (f.startsWith('./')) f = f.slice(2);
  return f;
}

// ---- reading ----

// readTail reads the last n bytes of a file (at most its size).
function readTail(fd, size, n) {
  const len = Math.min(size, n);
  const buf = Buffer.alloc(len);
  let off = 0;
  while (off < len) {
    const got = fs.readSync(fd, buf, off, len - off, size - len + off);
    if (got <= 0) break;
    off += got;
  }
  return buf.toString('utf8', 0, off);
}

const COMMENT = /^[ \t]*\/\/[#@][ \t]*sourceMappingURL=([^\s'"]+)[ \t]*\r?$/gm;

function lastComment(text) {
  let url = null;
  COMMENT.lastIndex = 0;
  for (let m = COMMENT.exec(text); m; m = COMMENT.exec(text)) url = m[1];
  return url;
}

// commentURL returns the sourceMappingURL comment of a generated file, or
// null. The comment is at the end: the last 4 KiB are read, and up to
// MAX_MAP_BYTES when the last line (an inline map) is longer than that.
function commentURL(file) {
  let fd = -1;
  try {
    fd = fs.openSync(file, 'r');
    const size = fs.fstatSync(fd).size;
    let text = readTail(fd, size, TAIL_BYTES);
    let url = lastComment(text);
    if (!url && size > TAIL_BYTES && text.trimEnd().lastIndexOf('\n') < 0) {
      text = readTail(fd, size, MAX_MAP_BYTES + TAIL_BYTES);
      url = lastComment(text);
    }
    return url;
  } catch {
    return null;
  } finally {
    if (fd >= 0) {
      try {
        fs.closeSync(fd);
      } catch {
        // ignore
      }
    }
  }
}

// readMap returns { text, base } for a sourceMappingURL of generated file
// gen: base is the directory sources are resolved against. Throws why not.
function readMap(url, gen) {
  if (url.startsWith('data:')) {
    const comma = url.indexOf(',');
    if (comma < 0) throw new Error('a data: URL without data');
    const meta = url.slice(5, comma).toLowerCase();
    const data = url.slice(comma + 1);
    if (data.length > MAX_MAP_BYTES * 1.4) throw new Error(`an inline map larger than ${MAX_MAP_BYTES} bytes`);
    if (meta && !meta.includes('json')) throw new Error(`an inline map of type ${meta}`);
    const text = meta.endsWith(';base64') ? Buffer.from(data, 'base64').toString('utf8') : decodeURIComponent(data);
    return { text, base: path.dirname(gen), where: `${gen} (inline)` };
  }
  let file;
  if (/^file:/i.test(url)) file = fileURLToPath(url);
  else if (SCHEME.test(url) && !/^[a-zA-Z]:[\\/]/.test(url)) throw new Error(`a map at ${url} (not a file)`);
  else {
    let rel = url;
    try {
      rel = decodeURIComponent(url);
    } catch {
      rel = url;
    }
    file = path.resolve(path.dirname(gen), rel);
  }
  const size = fs.statSync(file).size;
  if (size > MAX_MAP_BYTES) throw new Error(`${file} is larger than ${MAX_MAP_BYTES} bytes`);
  return { text: fs.readFileSync(file, 'utf8'), base: path.dirname(file), where: file };
}

// makeEntry validates a parsed map.
function makeEntry(gen, payload, base, where) {
  if (!payload || typeof payload !== 'object') throw new Error('not a JSON object');
  if (Array.isArray(payload.sections)) throw new Error('index maps ("sections") are not supported');
  if (payload.version !== 3) throw new Error(`version ${JSON.stringify(payload.version)}, not 3`);
  if (!Array.isArray(payload.sources)) throw new Error('no "sources" list');
  if (typeof payload.mappings !== 'string') throw new Error('no "mappings" string');
  const root = typeof payload.sourceRoot === 'string' ? payload.sourceRoot : '';
  const sources = payload.sources.map((s) => resolveSource(s, root, base));
  return { gen, where, sources, mappings: payload.mappings };
}

function remember(gen, value) {
  if (entries.size >= MAX_ENTRIES && !entries.has(gen)) return value;
  entries.set(gen, value);
  if (value) live.set(gen, value);
  else live.delete(gen);
  return value;
}

// load finds and reads the map of generated script gen (hint: the
// sourceMappingURL V8 reported, if any) and caches the answer.
function load(gen, hint) {
  pending.delete(gen);
  pendingDeps.delete(gen);
  let where = gen;
  try {
    let sm = null;
    if (findSourceMap) {
      try {
        sm = findSourceMap(gen);
      } catch {
        sm = null;
      }
    }
    if (sm && sm.payload) return remember(gen, makeEntry(gen, sm.payload, path.dirname(gen), `${gen} (node:module)`));
    const url = hint || commentURL(gen);
    if (!url) return remember(gen, null);
    const r = readMap(url, gen);
    where = r.where;
    return remember(gen, makeEntry(gen, JSON.parse(r.text), r.base, r.where));
  } catch (err) {
    return remember(gen, { gen, where, error: (err && err.message) || String(err) });
  }
}

// decoded returns the decoded mappings of an entry, or null when they are
// malformed (the entry then records why).
function decoded(e) {
  let d = decodedCache.get(e.gen);
  if (d && d.entry === e) {
    decodedCache.delete(e.gen);
    decodedCache.set(e.gen, d); // most recently used last
    return d;
  }
  try {
    d = { entry: e, lines: decodeMappings(e.mappings, e.sources.length), rev: new Map() };
  } catch (err) {
    remember(e.gen, { gen: e.gen, where: e.where, sources: e.sources, error: `bad mappings: ${err.message}` });
    decodedCache.delete(e.gen);
    return null;
  }
  decodedCache.set(e.gen, d);
  while (decodedCache.size > MAX_DECODED) decodedCache.delete(decodedCache.keys().next().value);
  return d;
}

// reverse returns, for one source, origLine -> [genLine, genColumn] of the
// first generated position mapped from it (smallest line, then column).
function reverse(d, src) {
  let m = d.rev.get(src);
  if (m) return m;
  m = new Map();
  for (let gl = 0; gl < d.lines.length; gl++) {
    const a = d.lines[gl];
    if (!a) continue;
    for (let j = 0; j < a.length; j += 4) {
      if (a[j + 1] === src && !m.has(a[j + 2])) m.set(a[j + 2], [gl, a[j]]);
    }
  }
  d.rev.set(src, m);
  return m;
}

function stem(p) {
  const b = path.posix.basename(slashes(p));
  const dot = b.lastIndexOf('.');
  return dot > 0 ? b.slice(0, dot) : b;
}

// warnBroken tells about an unreadable map that may be the one a breakpoint
// on suffix needs: one of its sources matches, or (sources unknown) its
// generated file has the same name (users.js for users.ts).
function warnBroken(e, warn, suffix) {
  if (!warn || !e || !e.error) return;
  const concerns = e.sources ? e.sources.some((s) => matches(s, suffix)) : stem(e.gen) === stem(suffix);
  if (!concerns) return;
  try {
    warn(e.gen, `tracekit: the source map of ${e.gen} (${e.where}) is not used: ${e.error}`);
  } catch {
    // a warn that throws is not our concern
  }
}

// candidates loads what is not known yet among the scripts that may be
// generated from suffix: those V8 reported with a sourceMappingURL, and
// require.cache. Scripts under node_modules are considered only when the
// suffix names node_modules.
function candidates(deps) {
  for (const [gen, hint] of [...pending]) load(gen, hint);
  if (deps) for (const [gen, hint] of [...pendingDeps]) load(gen, hint);
  const cache = require.cache;
  const level = deps ? 2 : 1;
  if (cache && cacheScanned < level) {
    if (cacheScanned === 0) {
      const t = setImmediate(() => { cacheScanned = 0; });
      if (t && typeof t.unref === 'function') t.unref();
    }
    cacheScanned = level;
    for (const gen of Object.keys(cache)) {
      if (entries.has(gen) || (!deps && isDep(gen)) || !path.isAbsolute(gen)) continue;
      load(gen, null);
    }
  }
}

function generatedLocation(file, line, warn) {
  try {
    const suffix = normSuffix(file);
    if (!suffix || !Number.isInteger(line) || line < 1) return null;
    const deps = suffix.includes('node_modules/');
    candidates(deps);
    for (const e of [...live.values()]) {
      if (!e || (!deps && isDep(e.gen))) continue;
      if (e.error) {
        warnBroken(e, warn, suffix);
        continue;
      }
      for (let i = 0; i < e.sources.length; i++) {
        if (!matches(e.sources[i], suffix)) continue;
        const d = decoded(e);
        if (!d) {
          warnBroken(entries.get(e.gen), warn, suffix);
          break;
        }
        const loc = lookupGenerated(d, e, i, line - 1);
        if (loc) return loc;
      }
    }
  } catch {
    // no mapping
  }
  return null;
}

function lookupGenerated(d, e, src, oLine) {
  const rev = reverse(d, src);
  for (let k = 0; k <= LOOKAHEAD; k++) {
    const at = rev.get(oLine + k);
    if (!at) continue;
    const [gl, gc] = at;
    const a = d.lines[gl];
    // A column only when code of another original line comes first on the
    // generated line: else the whole line is that original line's, and the
    // breakpoint goes at its start like any line breakpoint.
    let shared = false;
    for (let j = 0; j < a.length && a[j] < gc; j += 4) {
      if (a[j + 1] >= 0 && (a[j + 1] !== src || a[j + 2] !== oLine + k)) shared = true;
    }
    const out = { file: e.gen, line: gl + 1 };
    if (shared) out.column = gc + 1;
    return out;
  }
  return null;
}

function originalLocation(file, line, column) {
  try {
    const gen = toPath(file);
    if (!gen || !Number.isInteger(line) || line < 1) return null;
    let e = entries.get(gen);
    if (e === undefined) e = load(gen, pending.has(gen) ? pending.get(gen) : pendingDeps.get(gen));
    if (!e || e.error) return null;
    const d = decoded(e);
    if (!d) return null;
    const a = d.lines[line - 1];
    if (!a) return null;
    const col = Number.isInteger(column) && column >= 1 ? column - 1 : -1;
    let best = -1;
    for (let j = 0; j < a.length; j += 4) {
      if (a[j + 1] < 0) continue;
      if (best < 0 || (col >= 0 && a[j] <= col)) best = j;
      if (col < 0 || a[j] > col) break;
    }
    if (best < 0) return null;
    return { file: e.sources[a[best + 1]], line: a[best + 2] + 1, column: a[best + 3] + 1 };
  } catch {
    return null;
  }
}

function noteScript(url, sourceMapURL) {
  try {
    const gen = toPath(url);
    if (!gen) return;
    const known = entries.get(gen);
    if (known || (known === null && !sourceMapURL)) return;
    if (!sourceMapURL) {
      remember(gen, null);
      return;
    }
    // An inline map is read now, from the URL V8 found (code a loader
    // compiled in memory has it nowhere else); a map file when needed.
    const dep = isDep(gen);
    if (sourceMapURL.startsWith('data:') && !dep) load(gen, sourceMapURL);
    else {
      const q = dep ? pendingDeps : pending;
      if (q.size < MAX_ENTRIES) q.set(gen, sourceMapURL.startsWith('data:') ? null : sourceMapURL);
    }
  } catch {
    // nothing
  }
}

// _reset empties the caches (tests).
function _reset() {
  entries.clear();
  live.clear();
  pending.clear();
  pendingDeps.clear();
  decodedCache.clear();
  cacheScanned = 0;
}

module.exports = {
  generatedLocation, originalLocation, noteScript, decodeMappings, MAX_MAP_BYTES, _reset,
};
