'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { makePage, ENDPOINT } = require('./fakebrowser.js');

const PARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

async function pageLoad(opts, init) {
  const env = makePage(opts);
  const tk = env.load();
  tk.init(Object.assign({ endpoint: ENDPOINT }, init));
  await env.clock.advance(0);
  await tk.flush();
  const spans = env.spans();
  return { env, tk, spans, load: spans.find((s) => s.name.startsWith('page load')), doc: spans.find((s) => s.name === 'document fetch') };
}

test('page load: a span from navigation start to the end of the load event, with its phases', async () => {
  const { env, load, doc } = await pageLoad();
  assert.equal(load.name, 'page load /users');
  assert.equal(load.kind, 1);
  assert.equal(load.startTimeUnixNano, '1700000000000000000');
  assert.equal(load.endTimeUnixNano, '1700000000305000000');
  assert.deepEqual(env.attr(load, 'url.full'), { stringValue: 'https://app.example.com/users?tab=1' });
  assert.deepEqual(env.attr(load, 'browser.navigation.type'), { stringValue: 'navigate' });
  const ev = Object.fromEntries(load.events.map((e) => [e.name, e.timeUnixNano]));
  assert.equal(ev.fetchStart, '1700000000005000000');
  assert.equal(ev.responseEnd, '1700000000080000000');
  assert.equal(ev.domContentLoadedEventEnd, '1700000000155000000');
  assert.equal(ev.loadEventEnd, '1700000000305000000');
  assert.equal(load.events.length, 15);
  assert.equal(doc.parentSpanId, load.spanId);
  assert.equal(doc.traceId, load.traceId);
  assert.equal(doc.kind, 3);
  assert.equal(doc.startTimeUnixNano, '1700000000005000000');
  assert.equal(doc.endTimeUnixNano, '1700000000080000000');
  assert.deepEqual(env.attr(doc, 'http.response.status_code'), { intValue: '200' });
  assert.equal(load.parentSpanId, undefined, 'no meta tag: a new trace');
});

test('a phase the browser did not go through (0) is left out', async () => {
  const { load } = await pageLoad({ nav: { secureConnectionStart: 0, domainLookupStart: 0 } });
  const names = load.events.map((e) => e.name);
  assert.equal(names.includes('secureConnectionStart'), false);
  assert.equal(names.includes('domainLookupStart'), false);
  assert.equal(names.length, 13);
});

test('the page load waits for the load event when the page is still loading', async () => {
  const env = makePage({ readyState: 'loading' });
  const tk = env.load();
  tk.init({ endpoint: ENDPOINT });
  await env.clock.advance(0);
  await tk.flush();
  assert.equal(env.spans().length, 0);
  env.document.readyState = 'complete';
  env.fire('load');
  await env.clock.advance(0);
  await tk.flush();
  assert.equal(env.spans().filter((s) => s.name === 'page load /users').length, 1);
  env.fire('load'); // once only
  await env.clock.advance(0);
  await tk.flush();
  assert.equal(env.spans().filter((s) => s.name === 'page load /users').length, 1);
});

test('<meta name="traceparent"> makes the page load join the server\'s trace, with its tracestate', async () => {
  const { load, doc } = await pageLoad({ metas: { traceparent: PARENT, tracestate: 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7' } });
  assert.equal(load.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
  assert.equal(load.parentSpanId, '00f067aa0ba902b7');
  assert.equal(load.traceState, 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7');
  assert.equal(doc.traceId, load.traceId);
});

test('a malformed meta traceparent starts a new trace', async () => {
  for (const bad of ['garbage', '00-00000000000000000000000000000000-00f067aa0ba902b7-01', '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01', PARENT + '-x', '']) {
    const { load } = await pageLoad({ metas: { traceparent: bad } });
    assert.match(load.traceId, /^[0-9a-f]{32}$/);
    assert.notEqual(load.traceId, '4bf92f3577b34da6a3ce929d0e0e4736', bad);
    assert.equal(load.parentSpanId, undefined, bad);
    assert.equal(load.traceState, undefined);
  }
});

test('a meta traceparent that is not sampled (flags 00): the page load is not exported', async () => {
  const { spans } = await pageLoad({ metas: { traceparent: PARENT.slice(0, -2) + '00' } });
  assert.equal(spans.length, 0);
});

test('no PerformanceNavigationTiming, or tracePageLoad: false: no page load span, nothing breaks', async () => {
  assert.equal((await pageLoad({ noNav: true })).spans.length, 0);
  assert.equal((await pageLoad({}, { tracePageLoad: false })).spans.length, 0);
});
