'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { makePage, settle, ENDPOINT } = require('./fakebrowser.js');

test('the API before init, and init twice, are harmless', async () => {
  const env = makePage();
  const tk = env.load();
  tk.setTag('a', 1);
  tk.captureException(new Error('early'));
  const tx = tk.startTransaction({ name: 'early' });
  assert.equal(typeof tx.setTag, 'function');
  assert.equal(tx.setTag('k', 'v'), tx);
  tx.finish();
  assert.equal(await tk.flush(), true);
  assert.equal(typeof tk.stats().dropped, 'number');
  await tk.shutdown();
  const origFetch = env.window.fetch;
  tk.init({ endpoint: ENDPOINT, tracePageLoad: false });
  const wrapped = env.window.fetch;
  assert.notEqual(wrapped, origFetch);
  tk.init({ endpoint: 'https://elsewhere.example/v1/traces' });
  assert.equal(env.window.fetch, wrapped, 'not wrapped twice');
  await env.window.fetch('/x');
  await tk.flush();
  assert.equal(env.exports.length, 1, 'the first init\'s endpoint is kept');
  assert.equal(env.spans().length, 1, 'one span per request');
  assert.deepEqual(env.consoleCalls, []);
});

test('bad options never throw', async () => {
  for (const o of [undefined, null, 'key', 42, [], { tracePropagationTargets: 'api.example.com' }, { tracePropagationTargets: [null, 3, {}, 'x'] }, { flushInterval: -1, maxBatchSize: 'a', maxQueueSize: NaN, sampleRate: 'x' }, { endpoint: 5, apiKey: {}, serviceName: [] }]) {
    const env = makePage();
    const tk = env.load();
    assert.doesNotThrow(() => tk.init(o), String(o));
    await env.window.fetch('/x');
    assert.equal(env.requests.length, 1);
    await tk.flush();
  }
  // A single string target works like a list of one.
  const env = makePage();
  env.init({ tracePropagationTargets: 'api.example.com' });
  await env.window.fetch('https://api.example.com/a');
  assert.ok(env.requests[0].headers.traceparent);
});

test('a server that is down or answers errors changes nothing for the page', async () => {
  for (const reply of [() => 'fail', () => ({ status: 500 }), () => ({ status: 503 }), () => ({ status: 401 }), () => { throw new Error('exporter fetch throws'); }]) {
    const env = makePage({ exportReply: reply });
    const tk = env.init();
    const unhandled = [];
    const onUnhandled = (e) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      for (let i = 0; i < 5; i++) {
        const r = await env.window.fetch('/api');
        assert.equal(r.status, 200);
      }
      await tk.flush();
      await env.clock.advance(120000);
      env.fire('pagehide');
      await settle();
      await env.window.fetch('/still-works');
      assert.equal(env.requests.length, 6);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    assert.deepEqual(unhandled, []);
    assert.deepEqual(env.consoleCalls, [], 'silent unless debug');
  }
});

test('debug: true reports export failures on the console', async () => {
  const env = makePage({ exportReply: () => ({ status: 400 }) });
  const tk = env.init({ debug: true });
  tk.startTransaction({ name: 'x' }).finish();
  await tk.flush();
  assert.ok(env.consoleCalls.some((c) => c[0] === '[tracekit]'));
});

test('the page\'s fetch keeps its behaviour: arguments, this, rejections, sync throws', async () => {
  const env = makePage({ appReply: () => undefined });
  let seen;
  const base = env.window.fetch;
  env.window.fetch = function (input, init) {
    seen = { self: this, input, init };
    if (input === 'throw') throw new TypeError('sync');
    return base(input, init);
  };
  const tk = env.init({ tracePropagationTargets: [] });
  const init = { method: 'POST', body: 'b', headers: { a: '1' } };
  const p = env.window.fetch('/x', init);
  assert.equal(seen.init, init, 'no trace headers: the same init object is passed');
  env.requests[0].respond(201);
  assert.equal((await p).status, 201);
  assert.throws(() => env.window.fetch('throw'), { message: 'sync' });
  await tk.flush();
  const spans = env.spans();
  assert.equal(spans.length, 2);
  assert.equal(spans[1].status.code, 2);
});

test('a hook that fails inside the SDK still lets the request through', async () => {
  const env = makePage();
  const tk = env.init();
  // A URL object whose href getter throws: the SDK cannot describe it.
  const weird = { toString() { throw new Error('no'); } };
  await assert.rejects(() => env.window.fetch(weird), /no/); // the page's own fetch rejects as it would have
  await env.window.fetch('/fine');
  assert.equal(env.requests.length, 1);
  await tk.flush();
});

test('no window (server-side rendering): the CJS and ESM builds import and no-op', async () => {
  const cjs = require('../dist/tracekit.cjs');
  for (const k of ['init', 'setTag', 'captureException', 'startTransaction', 'flush', 'shutdown', 'stats']) assert.equal(typeof cjs[k], 'function', k);
  assert.equal(typeof cjs.default.init, 'function');
  assert.doesNotThrow(() => cjs.init({ apiKey: 'k' }));
  cjs.startTransaction({ name: 'x' }).finish();
  assert.equal(await cjs.flush(), true);
  const esm = await import('../dist/tracekit.esm.js');
  assert.equal(typeof esm.default.init, 'function');
  assert.equal(typeof esm.init, 'function');
});

test('the IIFE exposes window.TraceKit with the whole API', () => {
  const env = makePage();
  env.load();
  const tk = env.run('window.TraceKit');
  for (const k of ['init', 'setTag', 'captureException', 'startTransaction', 'flush', 'shutdown', 'stats']) assert.equal(typeof tk[k], 'function', k);
  assert.equal(tk.version, require('../package.json').version);
});
