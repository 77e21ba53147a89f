'use strict';

// Installing, diffing and removing line breakpoints; what the application
// sees (nothing) whatever happens.

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const fs = require('node:fs');

const { LineBreakpoints, urlRegexFor } = require('../lib/codemon/inspector');
const { lineOf, waitFor, ticks, recorder, dir, bp } = require('./fixtures/inspector/helpers');

const APP = path.join(dir, 'app.js');
const app = require('./fixtures/inspector/app');
const ADD = lineOf(APP, 'add');

test('admit false: no capture, the application continues', async (t) => {
  const rec = recorder();
  rec.admit = false;
  const lb = new LineBreakpoints(rec.opts);
  t.after(() => lb.close());
  lb.update([bp('no', 'app.js', ADD)]);
  assert.equal(app.add(2, 3), 10);
  assert.equal(app.add(2, 3), 10);
  assert.deepEqual(rec.admits, ['no', 'no']);
  await ticks();
  assert.equal(rec.hits.length, 0);

  rec.admit = () => { throw new Error('admit bug'); };
  assert.equal(app.add(1, 1), 4);
  await ticks();
  assert.equal(rec.hits.length, 0);
  assert.equal(rec.warnings.length, 1);
  assert.match(rec.warnings[0], /admit threw/);
});

test('removing a breakpoint stops the pauses; none left disables the debugger', async (t) => {
  const rec = recorder();
  const lb = new LineBreakpoints(rec.opts);
  t.after(() => lb.close());
  const other = lineOf(APP, 'other');
  assert.deepEqual([...lb.update([bp('a', 'app.js', ADD), bp('b', 'app.js', other)])].sort(), ['a', 'b']);
  app.add(1, 2);
  app.other(1);
  await waitFor(() => rec.hits.length === 2, 'two hits');

  assert.deepEqual([...lb.update([bp('b', 'app.js', other)])], ['b']);
  assert.equal(app.add(1, 2), 6);
  app.other(2);
  await waitFor(() => rec.hits.length === 3, 'third hit');
  assert.deepEqual(rec.admits, ['a', 'b', 'b']);
  assert.equal(rec.hits[2].bp.id, 'b');

  assert.equal(lb.update([]).size, 0);
  assert.equal(lb._enabled, false, 'Debugger domain disabled');
  app.add(1, 2);
  app.other(3);
  await ticks();
  assert.deepEqual(rec.admits, ['a', 'b', 'b']);

  // and back: everything is installed again
  lb.update([bp('a', 'app.js', ADD)]);
  app.add(5, 5);
  await waitFor(() => rec.hits.length === 4, 'hit after re-enable');
  assert.equal(rec.hits[3].hit.variables.a, 5);
});

test('update is cheap when nothing changed; other fields refresh in place; a moved line reinstalls', async (t) => {
  const rec = recorder();
  const lb = new LineBreakpoints(rec.opts);
  t.after(() => lb.close());
  lb.update([bp('a', 'app.js', ADD, { captureDepth: 3 })]);
  let posts = 0;
  const post = lb._post.bind(lb);
  lb._post = (m, p) => { posts++; return post(m, p); };
  assert.deepEqual([...lb.update([bp('a', 'app.js', ADD, { captureDepth: 1, maxStringLength: 3 })])], ['a']);
  assert.equal(posts, 0, 'no protocol call when no location changed');
  const nested = { deep: { er: 1 } };
  app.add(nested, 'abcdef');
  await waitFor(() => rec.hits.length === 1, 'hit');
  assert.equal(rec.hits[0].bp.captureDepth, 1, 'the new fields are used');
  assert.deepEqual(rec.hits[0].hit.variables.a, { deep: '[truncated]' });
  assert.equal(rec.hits[0].hit.variables.b, 'abc…[truncated 3 chars]');

  posts = 0;
  const ret = lineOf(APP, 'add-return');
  lb.update([bp('a', 'app.js', ret)]);
  assert.equal(posts, 2, 'remove + set');
  app.add(1, 1);
  await waitFor(() => rec.hits.length === 2, 'hit on the moved line');
  assert.equal(rec.hits[1].hit.line, ret);
  assert.equal(rec.hits[1].hit.variables.sum, 2);
});

test('two breakpoints in one file, and two on one line', async (t) => {
  const rec = recorder();
  const lb = new LineBreakpoints(rec.opts);
  t.after(() => lb.close());
  const ret = lineOf(APP, 'add-return');
  const ids = lb.update([
    bp('first', 'app.js', ADD),
    bp('second', 'inspector/app.js', ret),
    bp('twin', 'fixtures/inspector/app.js', ret, { type: 'conditional', condition: 'process.exit(3)' }),
  ]);
  assert.deepEqual([...ids].sort(), ['first', 'second', 'twin']);
  assert.equal(app.add(10, 20), 60);
  await waitFor(() => rec.hits.length === 3, 'three hits');
  const byId = Object.fromEntries(rec.hits.map((h) => [h.bp.id, h.hit]));
  assert.equal(byId.first.line, ADD);
  assert.equal(byId.first.variables.sum, null, 'paused before the line runs');
  assert.equal(byId.second.line, ret);
  assert.equal(byId.second.variables.sum, 30);
  // conditions are never evaluated in the process (the agent asks the server)
  assert.equal(byId.twin.variables.sum, 30);
});

test('a file suffix matches on a / boundary only', async (t) => {
  const rec = recorder();
  const lb = new LineBreakpoints(rec.opts);
  t.after(() => lb.close());
  const server = require('./fixtures/inspector/server');
  const xserver = require('./fixtures/inspector/xserver');
  const line = lineOf(path.join(dir, 'server.js'), 'serve');
  lb.update([bp('srv', 'server.js', line)]);
  assert.equal(xserver.serve(1), 2);
  assert.equal(server.serve(2), 3);
  await waitFor(() => rec.hits.length === 1, 'hit');
  await ticks();
  assert.equal(rec.hits.length, 1);
  assert.equal(rec.hits[0].hit.file, path.join(dir, 'server.js'));
  assert.deepEqual(rec.admits, ['srv']);

  // the regular expression itself
  const re = new RegExp(urlRegexFor('api/server.js'));
  assert.ok(re.test('file:///srv/app/api/server.js'));
  assert.ok(re.test('/srv/app/api/server.js'));
  assert.ok(re.test('api/server.js'));
  assert.ok(!re.test('file:///srv/app/api/xserver.js'));
  assert.ok(!re.test('file:///srv/app/myapi/server.js'));
  assert.ok(!re.test('file:///srv/app/api/serverXjs'));
  assert.ok(!re.test('file:///srv/app/api/server.js.map'));
  const abs = new RegExp(urlRegexFor('/srv/app/api/server.js'));
  assert.ok(abs.test('file:///srv/app/api/server.js'));
  assert.ok(abs.test('/srv/app/api/server.js'));
  assert.ok(!abs.test('file:///other/srv/app/api/server.js'));
});

test('a module loaded after update: the breakpoint is pending until it loads', async (t) => {
  const rec = recorder();
  const lb = new LineBreakpoints(rec.opts);
  t.after(() => lb.close());
  const later = path.join(dir, 'later.js');
  assert.equal(require.cache[later], undefined, 'not loaded yet');
  const line = lineOf(later, 'late');
  assert.deepEqual([...lb.update([bp('late', 'inspector/later.js', line)])], ['late']);
  const mod = require(later);
  assert.equal(mod.late(21), 42);
  await waitFor(() => rec.hits.length === 1, 'hit');
  assert.equal(rec.hits[0].hit.variables.v, 21);
  assert.equal(rec.hits[0].hit.file, later);
});

test('paths with spaces and regular-expression characters', async (t) => {
  const rec = recorder();
  const lb = new LineBreakpoints(rec.opts);
  t.after(() => lb.close());
  const file = path.join(dir, 'dir with space', 'spaced+name.js');
  lb.update([bp('sp', 'dir with space/spaced+name.js', lineOf(file, 'spaced'))]);
  assert.equal(require(file).spaced('ok'), 'ok');
  await waitFor(() => rec.hits.length === 1, 'hit');
  assert.equal(rec.hits[0].hit.file, file);
  assert.equal(rec.hits[0].hit.variables.v, 'ok');
});

test('exceptions in onHit never reach the application', async (t) => {
  const rec = recorder({ onHit() { throw new Error('agent bug'); } });
  const lb = new LineBreakpoints(rec.opts);
  t.after(() => lb.close());
  let uncaught = 0;
  const onUncaught = () => { uncaught++; };
  process.on('uncaughtException', onUncaught);
  t.after(() => process.removeListener('uncaughtException', onUncaught));
  lb.update([bp('x', 'app.js', ADD)]);
  assert.equal(app.add(1, 2), 6);
  assert.equal(app.add(1, 2), 6);
  await waitFor(() => rec.warnings.length === 1, 'warning');
  await ticks();
  assert.equal(uncaught, 0);
  assert.match(rec.warnings[0], /agent bug/);
  assert.equal(rec.warnings.length, 1, 'logged once');
});

test('a debugger statement is resumed at once', async (t) => {
  const rec = recorder();
  const lb = new LineBreakpoints(rec.opts);
  t.after(() => lb.close());
  lb.update([bp('x', 'app.js', ADD)]);
  assert.equal(app.withDebuggerStatement(1), 2);
  await ticks();
  assert.equal(rec.admits.length, 0);
});

test('close leaves the application running normally', async () => {
  const rec = recorder();
  const lb = new LineBreakpoints(rec.opts);
  lb.update([bp('x', 'app.js', ADD)]);
  app.add(1, 1);
  lb.close(); // the hit queued before close is dropped
  await ticks();
  assert.equal(rec.hits.length, 0);
  assert.equal(app.add(2, 2), 8);
  assert.equal(rec.admits.length, 1);
  assert.equal(lb.update([bp('x', 'app.js', ADD)]).size, 0, 'closed: a no-op');
  lb.close();
  // a new instance works after a close
  const rec2 = recorder();
  const lb2 = new LineBreakpoints(rec2.opts);
  lb2.update([bp('y', 'app.js', ADD)]);
  app.add(3, 3);
  await waitFor(() => rec2.hits.length === 1, 'hit');
  lb2.close();
});

test('inspector unavailable: warned once, a no-op, nothing thrown', async (t) => {
  const inspector = require('node:inspector');
  const orig = inspector.Session.prototype.connect;
  inspector.Session.prototype.connect = function () { throw new Error('no inspector here'); };
  t.after(() => { inspector.Session.prototype.connect = orig; });
  const rec = recorder();
  const lb = new LineBreakpoints(rec.opts);
  assert.equal(lb.update([bp('x', 'app.js', ADD)]).size, 0);
  assert.equal(lb.update([bp('x', 'app.js', ADD)]).size, 0);
  assert.equal(rec.warnings.length, 1);
  assert.match(rec.warnings[0], /no inspector here/);
  assert.equal(app.add(1, 1), 4);
  lb.close();
});

test('a protocol error while paused: resumed, warned, a no-op', async (t) => {
  const rec = recorder();
  const lb = new LineBreakpoints(rec.opts);
  t.after(() => lb.close());
  lb.update([bp('x', 'app.js', ADD)]);
  const post = lb._post.bind(lb);
  lb._post = (m, p) => {
    if (m === 'Runtime.getProperties') throw new Error('protocol broke');
    return post(m, p);
  };
  assert.equal(app.add(1, 1), 4);
  assert.equal(app.add(1, 1), 4);
  await ticks();
  assert.equal(rec.hits.length, 0);
  assert.deepEqual(rec.admits, ['x'], 'no-op after the failure');
  assert.equal(rec.warnings.length, 1);
  assert.match(rec.warnings[0], /protocol broke/);
});

test('under --inspect, and in a worker thread', async () => {
  const { spawnSync } = require('node:child_process');
  const script = path.join(dir, 'child.js');
  for (const args of [['--inspect=127.0.0.1:0'], ['--no-warnings']]) {
    const r = spawnSync(process.execPath, [...args, script], { encoding: 'utf8', timeout: 60000 });
    assert.equal(r.status, 0, `${args}: ${r.stderr}`);
    const out = JSON.parse(r.stdout.trim().split('\n').pop());
    assert.deepEqual(out, { main: 1, worker: 1, result: 6, workerResult: 6 });
  }
});

test('a line V8 places elsewhere (function not compiled yet) is not captured off its line, and is set again later', async (t) => {
  const rec = recorder();
  const lb = new LineBreakpoints(rec.opts);
  t.after(() => lb.close());
  const line = lineOf(APP, 'uncompiled');
  const want = [bp('u', 'app.js', line)];
  lb.update(want);
  // whichever function V8 chose, nothing but the requested line is captured
  app.add(1, 1);
  app.Service && new app.Service().handle({ path: '/' });
  assert.equal(app.neverCalledBefore(2), 10);
  await ticks();
  assert.ok(rec.hits.every((h) => h.hit.line === line));
  const before = rec.hits.length;
  // the next update sets a moved breakpoint again: now the function exists
  lb.update(want);
  assert.equal(app.neverCalledBefore(3), 15);
  await waitFor(() => rec.hits.length === before + 1, 'hit on the requested line');
  assert.equal(rec.hits.at(-1).hit.line, line);
  assert.equal(rec.hits.at(-1).hit.variables.v, 3);
});
