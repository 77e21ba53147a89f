'use strict';

// What a line breakpoint hit captures: locals, stack, trace link.

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { trace, context } = require('@opentelemetry/api');
const { BasicTracerProvider } = require('@opentelemetry/sdk-trace-base');
const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks');

const { LineBreakpoints } = require('../lib/codemon/inspector');
const { lineOf, waitFor, recorder, dir, bp } = require('./fixtures/inspector/helpers');

const APP = path.join(dir, 'app.js');
const app = require('./fixtures/inspector/app');

test('locals of a line with no capture call', async (t) => {
  const rec = recorder();
  const lb = new LineBreakpoints(rec.opts);
  t.after(() => lb.close());
  const line = lineOf(APP, 'locals');
  const ids = lb.update([bp('bp1', 'inspector/app.js', line, { maxStringLength: 10, captureDepth: 3 })]);
  assert.deepEqual([...ids], ['bp1']);

  const out = app.locals(8);
  assert.equal(out.result, 50, 'return value unchanged');
  await waitFor(() => rec.hits.length === 1, 'hit');
  assert.deepEqual(rec.admits, ['bp1']);
  const { bp: got, hit } = rec.hits[0];
  assert.equal(got.id, 'bp1');
  assert.equal(hit.file, APP);
  assert.equal(hit.line, line);
  assert.equal(hit.function, 'locals');
  assert.ok(hit.time instanceof Date);
  const v = hit.variables;

  // numbers, strings cut at maxStringLength
  assert.equal(v.input, 8);
  assert.equal(v.count, 42);
  assert.equal(v.ratio, 0.5);
  assert.equal(v.name, 'xxxxxxxxxx…[truncated 290 chars]');
  assert.equal(hit.truncated, true);
  // nested objects bounded by depth: the variable's own value is level 1,
  // as in the Go SDK; depth 3 expands three levels
  assert.deepEqual(v.nested, { a: { b: { c: '[truncated]' } } });
  // a getter is reported, never invoked
  assert.deepEqual(v.withGetter, { plain: 1, expensive: '[getter]' });
  assert.equal(out.getterCalls(), 0, 'getter not invoked');
  // Map and Set
  assert.deepEqual(v.map, { alpha: 1, beta: { v: 2 } });
  assert.deepEqual(v.set, ['s1', 's2']);
  // a cyclic object is bounded by the depth
  assert.deepEqual(v.cyclic, { name: 'loop', self: { name: 'loop', self: { name: 'loop', self: '[truncated]' } } });
  assert.deepEqual(v.list, [1, 'two', { three: 3 }]);
  assert.equal(v.nothing, null);
  assert.equal(v.undef, null);
  assert.equal(v.big, 12);
  // dates and errors as their description (an error's includes its stack)
  assert.equal(v.when.slice(0, 10), new Date(0).toString().slice(0, 10));
  assert.match(v.err, /^Error: boo…\[truncated \d+ chars\]$/);
  assert.equal(v.fn, '[function namedFn]');
  // the module wrapper's scope (imports, top-level state) is left out
  assert.equal('moduleLevel' in v, false);
  assert.equal('require' in v, false);
  // not yet assigned at the paused line
  assert.equal(v.result, null);

  // stack: paths, 1-based lines, the caller below
  assert.equal(hit.stack[0].function, 'locals');
  assert.equal(hit.stack[0].file, APP);
  assert.equal(hit.stack[0].line, line);
  assert.ok(hit.stack.length >= 2 && hit.stack.length <= 20);
  assert.equal(hit.stack[1].file, __filename);
  assert.ok(hit.stack.every((f) => !f.file.startsWith('file://') && f.line >= 1));
  assert.equal(hit.traceId, undefined, 'no active span');
});

test('depth 1 and default limits', async (t) => {
  const rec = recorder();
  const lb = new LineBreakpoints(rec.opts);
  t.after(() => lb.close());
  lb.update([bp('d1', 'app.js', lineOf(APP, 'locals'), { captureDepth: 1 })]);
  app.locals(1);
  await waitFor(() => rec.hits.length === 1, 'hit');
  const v = rec.hits[0].hit.variables;
  assert.deepEqual(v.nested, { a: '[truncated]' });
  assert.equal(v.count, 42);
  assert.equal(v.name, 'x'.repeat(256) + '…[truncated 44 chars]');
});

test('long lists, buffers and maps are cut at maxCollection', async (t) => {
  const rec = recorder();
  const lb = new LineBreakpoints({ ...rec.opts, maxCollection: 5 });
  t.after(() => lb.close());
  lb.update([bp('long', 'app.js', lineOf(APP, 'longList'))]);
  assert.equal(app.longList(100000), 300000);
  await waitFor(() => rec.hits.length === 1, 'hit');
  const v = rec.hits[0].hit.variables;
  assert.deepEqual(v.arr, [0, 1, 2, 3, 4, { _truncated: 99995 }]);
  assert.deepEqual(v.buf, [0, 0, 0, 0, 0, { _truncated: 99995 }]);
  assert.deepEqual(v.bigMap, { k0: 0, k1: 1, k2: 2, k3: 3, k4: 4, _truncated: 99995 });
  assert.equal(v.n, 100000);
});

test('the total property budget cuts the capture and marks it', async (t) => {
  const rec = recorder();
  const lb = new LineBreakpoints({ ...rec.opts, maxProperties: 5 });
  t.after(() => lb.close());
  lb.update([bp('budget', 'app.js', lineOf(APP, 'locals'))]);
  app.locals(1);
  await waitFor(() => rec.hits.length === 1, 'hit');
  const { hit } = rec.hits[0];
  assert.equal(hit.truncated, true);
  assert.equal(hit.variables._truncated, true);
  const cut = Object.values(hit.variables).filter((x) => x && x._truncated === true);
  assert.ok(cut.length > 5, 'variables past the budget are marked');
});

test('block scopes, this, and the innermost binding wins', async (t) => {
  const rec = recorder();
  const lb = new LineBreakpoints(rec.opts);
  t.after(() => lb.close());
  lb.update([
    bp('blk', 'app.js', lineOf(APP, 'blocks')),
    bp('meth', 'app.js', lineOf(APP, 'method')),
  ]);
  rec.admit = (b) => b.id === 'meth' || rec.admits.filter((x) => x === 'blk').length === 3;
  assert.equal(app.blocks(4), 14);
  const svc = new app.Service();
  assert.equal(svc.handle({ path: '/x' }), '/x');
  await waitFor(() => rec.hits.length === 2, 'hits');
  const blk = rec.hits.find((h) => h.bp.id === 'blk').hit.variables;
  assert.equal(blk.i, 2);
  assert.equal(blk.sq, 4);
  assert.equal(blk.total, 1);
  assert.equal(blk.n, 4);
  const meth = rec.hits.find((h) => h.bp.id === 'meth').hit;
  assert.deepEqual(meth.variables.req, { path: '/x' });
  assert.deepEqual(meth.variables.this, { calls: 1, label: 'svc' });
  assert.equal(meth.function, 'handle');
});

test('traceId and spanId of the active OpenTelemetry span', async (t) => {
  const cm = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(cm);
  const provider = new BasicTracerProvider();
  const tracer = provider.getTracer('inspector-test');
  t.after(async () => {
    context.disable();
    await provider.shutdown();
  });
  const rec = recorder();
  const lb = new LineBreakpoints(rec.opts);
  t.after(() => lb.close());
  lb.update([bp('traced', 'app.js', lineOf(APP, 'add'))]);
  // the direct call agrees with evaluating on the paused frame
  const links = [];
  const direct = lb._traceLink.bind(lb);
  lb._traceLink = (id) => {
    const a = direct(id);
    const v = lb._evaluateTraceLink(id);
    links.push([a, { traceId: v?.traceId, spanId: v?.spanId }]);
    return a;
  };

  const span = tracer.startSpan('op');
  const sc = span.spanContext();
  // across an await: the async context is that of the paused code
  const r = await context.with(trace.setSpan(context.active(), span), async () => {
    await new Promise((res) => setTimeout(res, 1));
    return app.add(1, 2);
  });
  span.end();
  assert.equal(r, 6);
  await waitFor(() => rec.hits.length === 1, 'hit');
  const { hit } = rec.hits[0];
  assert.equal(hit.traceId, sc.traceId);
  assert.equal(hit.spanId, sc.spanId);
  assert.deepEqual({ a: hit.variables.a, b: hit.variables.b }, { a: 1, b: 2 });

  // outside the span: no link
  app.add(3, 4);
  await waitFor(() => rec.hits.length === 2, 'second hit');
  assert.equal(rec.hits[1].hit.traceId, undefined);
  assert.equal(rec.hits[1].hit.spanId, undefined);
  assert.equal(links.length, 2);
  for (const [a, b] of links) assert.deepEqual(a, b);
  assert.equal(links[0][1].traceId, sc.traceId);
});

test('closure scopes of an inner function', async (t) => {
  const rec = recorder();
  const lb = new LineBreakpoints(rec.opts);
  t.after(() => lb.close());
  lb.update([bp('cl', 'app.js', lineOf(APP, 'closure'))]);
  const bump = app.makeCounter(10);
  assert.equal(bump(5), 'counter:15');
  await waitFor(() => rec.hits.length === 1, 'hit');
  const v = rec.hits[0].hit.variables;
  assert.deepEqual(v, { step: 5, hits: 15, label: 'counter' });
  assert.equal(rec.hits[0].hit.function, 'bump');
});
