'use strict';

// Line breakpoints on source-mapped files (TypeScript): set on the
// generated line, reported at the original file:line. The fixtures under
// fixtures/sourcemap are generated JavaScript written by hand as tsc or a
// minifier would emit it, with their maps; the .ts files are the sources
// (never run). Generated lines differ from the original ones on purpose.

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const fs = require('node:fs');
const { spawnSync } = require('node:child_process');
const { SourceMap } = require('node:module');

const { LineBreakpoints } = require('../lib/codemon/inspector');
const sm = require('../lib/codemon/inspector-sourcemap');
const { lineOf, waitFor, ticks, recorder, bp } = require('./fixtures/inspector/helpers');

const DIR = path.join(__dirname, 'fixtures', 'sourcemap');
const SRC = (f) => path.join(DIR, 'src', f);
const DIST = (f) => path.join(DIR, 'dist', f);

const users = require('./fixtures/sourcemap/dist/users');

const FULL = lineOf(SRC('users.ts'), 'full');
const GREET = lineOf(SRC('users.ts'), 'greet');

test('the VLQ decoder agrees with node:module SourceMap on every fixture segment', () => {
  for (const name of ['users.js.map', 'late.js.map', 'min.js.map', 'other.js.map']) {
    const payload = JSON.parse(fs.readFileSync(DIST(name), 'utf8'));
    const lines = sm.decodeMappings(payload.mappings, payload.sources.length);
    const node = new SourceMap(payload);
    let n = 0;
    lines.forEach((a, gl) => {
      for (let j = 0; a && j < a.length; j += 4) {
        const e = node.findEntry(gl, a[j]);
        assert.equal(e.generatedLine, gl, name);
        assert.equal(e.generatedColumn, a[j], name);
        assert.equal(e.originalLine, a[j + 2], `${name} ${gl}:${a[j]}`);
        assert.equal(e.originalColumn, a[j + 3], `${name} ${gl}:${a[j]}`);
        n++;
      }
    });
    assert.ok(n >= 5, `${name}: ${n} segments`);
  }
});

test('the VLQ decoder: signs, large values, empty lines, unsorted segments, malformed input', () => {
  // "D" is -1, "C" +1; "gggggB" is 2^24 (five continuation digits, the sign bit); ";;" empty lines
  const lines = sm.decodeMappings('AAAA;;AACC,AADD;gggggBAAA', 1);
  assert.equal(lines.length, 4);
  assert.equal(lines[1], null);
  assert.deepEqual([...lines[0]], [0, 0, 0, 0]);
  assert.deepEqual([...lines[2]], [0, 0, 1, 1, 0, 0, 0, 0]);
  assert.deepEqual([...lines[3]], [2 ** 24, 0, 0, 0]);
  assert.deepEqual([...sm.decodeMappings('KAAA,DAAC,B', 1)[0]], [4, 0, 0, 1, 4, -1, 0, 0, 5, 0, 0, 0]);
  assert.deepEqual([...sm.decodeMappings('UAAA,TAAC', 1)[0]], [1, 0, 0, 1, 10, 0, 0, 0]);
  for (const bad of ['AA', 'AAA', 'AAAAAA', 'A!AA', 'g', 'AAAA,D', 'ACAA', 'AADA', 'gggggggA']) {
    assert.throws(() => sm.decodeMappings(bad, 1), undefined, bad);
  }
});

test('a breakpoint on a .ts line fires on the generated line and reports the original file:line', async (t) => {
  users.greet({ first: 'x', last: 'y' }); // compiled: V8 places the breakpoint on its line
  const rec = recorder({ pauseBudgetMs: 60000 }); // no time budget: the machine may be busy
  const lb = new LineBreakpoints(rec.opts);
  t.after(() => lb.close());
  assert.deepEqual([...lb.update([bp('ts', 'src/users.ts', FULL)])], ['ts']);
  assert.equal(users.greet({ first: 'Ada', last: 'Lovelace' }), 'Hello, Dr Ada Lovelace');
  await waitFor(() => rec.hits.length >= 1, 'hit');
  const { hit } = rec.hits[0];
  assert.equal(hit.file, SRC('users.ts'));
  assert.equal(hit.line, FULL);
  assert.deepEqual(hit.generated, { file: DIST('users.js'), line: FULL + 3 });
  assert.notEqual(hit.generated.line, FULL, 'the fixture shifts lines');
  assert.deepEqual(hit.variables.parts, ['Dr', 'Ada', 'Lovelace']);
  assert.equal(hit.variables.full, null, 'paused before the line runs');
  assert.equal(hit.function, 'fullName');
  assert.deepEqual(hit.stack[0], { function: 'fullName', file: SRC('users.ts'), line: FULL });
  assert.deepEqual(hit.stack[1], { function: 'greet', file: SRC('users.ts'), line: GREET });
  assert.equal(hit.stack[2].file, __filename, 'frames with no map stay as they are');
});

test('an original line with no code takes the next mapped line; a generated line is reported as the original', async (t) => {
  const rec = recorder({ pauseBudgetMs: 60000 }); // no time budget: the machine may be busy
  const lb = new LineBreakpoints(rec.opts);
  t.after(() => lb.close());
  const blank = FULL - 1;
  assert.equal(fs.readFileSync(SRC('users.ts'), 'utf8').split('\n')[blank - 1].trim(), '');
  lb.update([bp('blank', 'sourcemap/src/users.ts', blank), bp('gen', 'dist/users.js', 20)]);
  users.greet({ first: 'Alan', last: 'Turing' });
  await waitFor(() => rec.hits.length >= 2, 'two hits');
  const byId = Object.fromEntries(rec.hits.map((h) => [h.bp.id, h.hit]));
  assert.equal(byId.blank.line, FULL);
  assert.equal(byId.blank.file, SRC('users.ts'));
  // a breakpoint on the generated JavaScript works as before, its hit is reported in the .ts
  assert.equal(byId.gen.file, SRC('users.ts'));
  assert.equal(byId.gen.line, GREET);
  assert.deepEqual(byId.gen.generated, { file: DIST('users.js'), line: 20 });
  assert.deepEqual(byId.gen.variables.user, { first: 'Alan', last: 'Turing' });
  // a line of a type declaration, with no code within the next lines: no location, pending
  assert.equal(sm.generatedLocation('src/users.ts', 3), null);
});

test('an inline data: URL map', async (t) => {
  const inline = require('./fixtures/sourcemap/dist/inline');
  inline.area({ x: 0, y: 0 }, 1);
  const rec = recorder({ pauseBudgetMs: 60000 }); // no time budget: the machine may be busy
  const lb = new LineBreakpoints(rec.opts);
  t.after(() => lb.close());
  const line = lineOf(SRC('inline.ts'), 'area');
  lb.update([bp('in', 'inline.ts', line)]);
  assert.equal(inline.area({ x: 2, y: 3 }, 10), 600);
  await waitFor(() => rec.hits.length >= 1, 'hit');
  const { hit } = rec.hits[0];
  assert.equal(hit.file, SRC('inline.ts'));
  assert.equal(hit.line, line);
  assert.equal(hit.generated.line, line + 1);
  assert.equal(hit.variables.w, 20);
  assert.equal(hit.variables.h, 30);
});

test('a minified line: the breakpoint is set at the column of the original line', async (t) => {
  const min = require('./fixtures/sourcemap/dist/min');
  min.a(0);
  min.b(0);
  const rec = recorder({ pauseBudgetMs: 60000 }); // no time budget: the machine may be busy
  const lb = new LineBreakpoints(rec.opts);
  t.after(() => lb.close());
  const lineB = lineOf(SRC('min.ts'), 'min-b');
  const loc = sm.generatedLocation('src/min.ts', lineB);
  assert.equal(loc.line, 1);
  assert.ok(loc.column > 1);
  lb.update([bp('b', 'src/min.ts', lineB)]);
  assert.equal(min.a(1), 2);
  assert.equal(min.b(3), 6);
  await waitFor(() => rec.hits.length >= 1, 'hit');
  await ticks();
  assert.equal(rec.hits.length, 1, 'a() on the same generated line does not pause');
  const { hit } = rec.hits[0];
  assert.equal(hit.file, SRC('min.ts'));
  assert.equal(hit.line, lineB);
  assert.equal(hit.function, 'b');
  assert.equal(hit.variables.q, 6);
  assert.equal(hit.variables.z, 3);

  const lineA = lineOf(SRC('min.ts'), 'min-a');
  lb.update([bp('a', 'src/min.ts', lineA)]);
  min.b(1);
  assert.equal(min.a(4), 5);
  await waitFor(() => rec.hits.length >= 2, 'hit in a');
  assert.equal(rec.hits[1].hit.line, lineA);
  assert.equal(rec.hits[1].hit.variables.y, 5);
});

test('a .ts breakpoint whose module is not loaded yet is pending, and set when the module loads', async (t) => {
  const rec = recorder({ pauseBudgetMs: 60000 }); // no time budget: the machine may be busy
  const lb = new LineBreakpoints(rec.opts);
  t.after(() => lb.close());
  assert.equal(require.cache[DIST('late.js')], undefined, 'not loaded yet');
  const line = lineOf(SRC('late.ts'), 'late');
  assert.deepEqual([...lb.update([bp('late', 'src/late.ts', line)])], ['late']);
  const late = require('./fixtures/sourcemap/dist/late');
  assert.equal(late.late(7), 21);
  await waitFor(() => rec.hits.length >= 1, 'hit');
  await ticks();
  assert.equal(rec.hits.length, 1, 'one hit (the breakpoint set while its script was parsed is listed twice by V8)');
  const { hit } = rec.hits[0];
  assert.equal(hit.file, SRC('late.ts'));
  assert.equal(hit.line, line);
  assert.deepEqual(hit.generated, { file: DIST('late.js'), line: line + 3 });
  assert.equal(hit.variables.v, 7);
  assert.equal(rec.warnings.length, 0, rec.warnings.join('\n'));
});

test('a map whose sources do not match the breakpoint file: nothing fires', async (t) => {
  const other = require('./fixtures/sourcemap/dist/other');
  other.other(0);
  const rec = recorder({ pauseBudgetMs: 60000 }); // no time budget: the machine may be busy
  const lb = new LineBreakpoints(rec.opts);
  t.after(() => lb.close());
  // its source is src/other-name.ts (sourceRoot "../src/" + "other-name.ts")
  assert.deepEqual([...lb.update([bp('o', 'src/other.ts', 3), bp('n', 'name.ts', 3)])].sort(), ['n', 'o']);
  assert.equal(other.other(1), 101);
  await ticks();
  assert.equal(rec.hits.length, 0);
  assert.equal(sm.generatedLocation('name.ts', 3), null, 'a suffix matches on a / boundary only');
  assert.deepEqual(sm.generatedLocation('src/other-name.ts', 3), { file: DIST('other.js'), line: 5 });

  lb.update([bp('o', 'src/other-name.ts', 3)]);
  assert.equal(other.other(2), 102);
  await waitFor(() => rec.hits.length >= 1, 'hit through sourceRoot');
  assert.equal(rec.hits[0].hit.file, SRC('other-name.ts'));
  assert.equal(rec.hits[0].hit.line, 3);
});

test('a malformed map: no throw, no hit, one warning per map, for a breakpoint it may concern', async (t) => {
  const { broken } = require('./fixtures/sourcemap/dist/broken');
  const { brokenJson } = require('./fixtures/sourcemap/dist/broken-json');
  const rec = recorder({ pauseBudgetMs: 60000 }); // no time budget: the machine may be busy
  const lb = new LineBreakpoints(rec.opts);
  t.after(() => lb.close());
  for (let i = 0; i < 3; i++) {
    const ids = lb.update([bp('x', 'src/broken.ts', 2 + i), bp('y', 'src/broken-json.ts', 2 + i)]);
    assert.deepEqual([...ids].sort(), ['x', 'y']);
    assert.equal(broken(5), 4);
    assert.equal(brokenJson(5), 3);
  }
  await ticks();
  assert.equal(rec.hits.length, 0);
  const about = (f) => rec.warnings.filter((w) => w.includes(`${DIST(f)} (`));
  assert.equal(about('broken.js').length, 1, rec.warnings.join('\n'));
  assert.match(about('broken.js')[0], /bad mappings: invalid character/);
  assert.equal(about('broken-json.js').length, 1, rec.warnings.join('\n'));
  assert.match(about('broken-json.js')[0], /JSON/);
  assert.equal(sm.originalLocation(DIST('broken.js'), 4), null);
  assert.equal(sm.originalLocation(DIST('broken-json.js'), 4), null);
});

test('plain JavaScript is unaffected, and a file with no map is read once at most', async (t) => {
  const PLAIN = path.join(DIR, 'plain.js');
  const { plain } = require('./fixtures/sourcemap/plain');
  const rec = recorder({ pauseBudgetMs: 60000 }); // no time budget: the machine may be busy
  const lb = new LineBreakpoints(rec.opts);
  t.after(() => lb.close());
  const line = lineOf(PLAIN, 'plain');
  lb.update([bp('p', 'sourcemap/plain.js', line)]);
  assert.equal(plain(1), 2);
  await waitFor(() => rec.hits.length >= 1, 'hit');
  const { hit } = rec.hits[0];
  assert.equal(hit.file, PLAIN);
  assert.equal(hit.line, line);
  assert.equal(hit.generated, undefined);
  assert.equal(hit.variables.v, 1);
  assert.equal(rec.warnings.length, 0, rec.warnings.join('\n'));

  // negative answers are cached: a file with no map comment is opened once
  const open = fs.openSync;
  let opened = 0;
  fs.openSync = (...args) => { opened++; return open(...args); };
  try {
    const ts = SRC('users.ts'); // no sourceMappingURL
    assert.equal(sm.originalLocation(ts, 3), null);
    assert.equal(sm.originalLocation(ts, 4), null);
    assert.equal(sm.originalLocation(PLAIN, line), null);
    assert.equal(sm.generatedLocation('plain.js', line), null);
    assert.equal(sm.generatedLocation('plain.js', line), null);
  } finally {
    fs.openSync = open;
  }
  assert.ok(opened <= 1, `opened ${opened} times`);
  assert.equal(sm.generatedLocation('', 1), null);
  assert.equal(sm.generatedLocation('src/users.ts', 0), null);
  assert.equal(sm.originalLocation('relative/users.js', 1), null);
  assert.equal(sm.originalLocation(null, 1), null);
});

test('under --enable-source-maps (node:module findSourceMap) and without, set before the module loads', () => {
  const script = path.join(DIR, 'child.js');
  for (const flags of [['--enable-source-maps'], []]) {
    const r = spawnSync(process.execPath, [...flags, script], { encoding: 'utf8', timeout: 60000 });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').pop());
    assert.equal(out.sourceMaps, flags.length > 0);
    assert.equal(out.greeting, 'Hello, Dr Grace Hopper');
    assert.deepEqual(out.warnings, []);
    assert.ok(out.hit, `a hit (${flags.join(' ')})`);
    assert.equal(out.hit.file, SRC('users.ts'));
    assert.equal(out.hit.line, FULL);
    assert.deepEqual(out.hit.generated, { file: DIST('users.js'), line: FULL + 3 });
    assert.deepEqual(out.hit.parts, ['Dr', 'Grace', 'Hopper']);
    assert.deepEqual(out.hit.stack[1], { function: 'greet', file: SRC('users.ts'), line: GREET });
  }
});
