'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { makePage, settle, ENDPOINT } = require('./fakebrowser.js');

const HEX32 = /^[0-9a-f]{32}$/;
const HEX16 = /^[0-9a-f]{16}$/;
const NANOS = /^[1-9][0-9]{18}$/;

/** Ends n spans through the public API (transactions). */
function spans(tk, n, name = 't') {
  for (let i = 0; i < n; i++) tk.startTransaction({ name: name + i }).finish();
}

function checkValue(v, where) {
  const keys = Object.keys(v);
  assert.equal(keys.length, 1, where);
  const [k] = keys;
  if (k === 'stringValue') assert.equal(typeof v[k], 'string', where);
  else if (k === 'boolValue') assert.equal(typeof v[k], 'boolean', where);
  else if (k === 'intValue') assert.match(v[k], /^-?\d+$/, where);
  else if (k === 'doubleValue') assert.equal(typeof v[k], 'number', where);
  else assert.fail(where + ': unexpected value kind ' + k);
}

function checkAttributes(list, where) {
  assert.ok(Array.isArray(list), where);
  for (const a of list) {
    assert.deepEqual(Object.keys(a).sort(), ['key', 'value'], where);
    assert.equal(typeof a.key, 'string');
    checkValue(a.value, where + ' ' + a.key);
  }
}

test('the export is OTLP/HTTP JSON with the fields and types the OTLP JSON mapping names', async () => {
  const env = makePage({ appReply: (r) => (r.url.endsWith('/boom') ? { status: 502 } : { status: 200 }) });
  const tk = env.init({ serviceVersion: '2.0.0', environment: 'staging', resourceAttributes: { 'app.region': 'eu' } });
  tk.setTag('user.id', 'u-1');
  tk.setTag('cart.total', 12.5);
  tk.setTag('beta', true);
  tk.setTag('count', 7);
  const tx = tk.startTransaction({ name: 'checkout' });
  await env.window.fetch('/boom');
  tx.finish();
  await tk.flush();

  assert.equal(env.exports.length, 1);
  const req = env.exports[0];
  assert.equal(req.url, ENDPOINT);
  assert.equal(req.method, 'POST');
  assert.equal(req.headers['content-type'], 'application/json');
  assert.equal(req.headers['x-api-key'], 'ik_test');
  assert.equal(req.keepalive, false);

  const body = JSON.parse(req.body);
  assert.deepEqual(Object.keys(body), ['resourceSpans']);
  assert.equal(body.resourceSpans.length, 1);
  const rs = body.resourceSpans[0];
  assert.deepEqual(Object.keys(rs).sort(), ['resource', 'scopeSpans']);
  assert.deepEqual(Object.keys(rs.resource), ['attributes']);
  checkAttributes(rs.resource.attributes, 'resource');
  const res = Object.fromEntries(rs.resource.attributes.map((a) => [a.key, a.value]));
  assert.deepEqual(res['service.name'], { stringValue: 'web' });
  assert.deepEqual(res['service.version'], { stringValue: '2.0.0' });
  assert.deepEqual(res['deployment.environment.name'], { stringValue: 'staging' });
  assert.deepEqual(res['app.region'], { stringValue: 'eu' });
  assert.deepEqual(res['telemetry.sdk.name'], { stringValue: 'tracekit' });
  assert.deepEqual(res['telemetry.sdk.language'], { stringValue: 'webjs' });
  assert.deepEqual(res['telemetry.sdk.version'], { stringValue: require('../package.json').version });
  assert.equal(rs.scopeSpans.length, 1);
  const ss = rs.scopeSpans[0];
  assert.deepEqual(Object.keys(ss).sort(), ['scope', 'spans']);
  assert.deepEqual(ss.scope, { name: '@tracekit/browser', version: require('../package.json').version });
  assert.equal(ss.spans.length, 2);

  for (const s of ss.spans) {
    const allowed = ['traceId', 'spanId', 'parentSpanId', 'name', 'kind', 'startTimeUnixNano', 'endTimeUnixNano', 'attributes', 'events', 'status', 'traceState'];
    for (const k of Object.keys(s)) assert.ok(allowed.includes(k), 'unexpected span field ' + k);
    assert.match(s.traceId, HEX32);
    assert.match(s.spanId, HEX16);
    assert.equal(typeof s.name, 'string');
    assert.ok(Number.isInteger(s.kind));
    assert.match(s.startTimeUnixNano, NANOS);
    assert.match(s.endTimeUnixNano, NANOS);
    assert.ok(BigInt(s.endTimeUnixNano) >= BigInt(s.startTimeUnixNano));
    checkAttributes(s.attributes, s.name);
    assert.ok(Array.isArray(s.events));
    assert.equal(typeof s.status.code, 'number');
  }
  const [fetchSpan, txSpan] = ss.spans;
  assert.equal(fetchSpan.kind, 3);
  assert.equal(txSpan.kind, 1);
  assert.match(fetchSpan.parentSpanId, HEX16);
  assert.equal(fetchSpan.parentSpanId, txSpan.spanId);
  assert.equal('parentSpanId' in txSpan, false, 'a root span has no parentSpanId');
  assert.deepEqual(fetchSpan.status, { code: 2, message: 'HTTP 502' });
  assert.deepEqual(txSpan.status, { code: 0 });
  // setTag: on every later span, with its type.
  for (const s of ss.spans) {
    assert.deepEqual(env.attr(s, 'user.id'), { stringValue: 'u-1' });
    assert.deepEqual(env.attr(s, 'cart.total'), { doubleValue: 12.5 });
    assert.deepEqual(env.attr(s, 'beta'), { boolValue: true });
    assert.deepEqual(env.attr(s, 'count'), { intValue: '7' });
  }
});

test('times are nanoseconds since the epoch, exact to the microsecond', async () => {
  const env = makePage();
  const tk = env.init();
  env.clock.t = 1.234567; // ms after timeOrigin
  const tx = tk.startTransaction({ name: 'x' });
  env.clock.t = 2000.5;
  tx.finish();
  await tk.flush();
  const [s] = env.spans();
  assert.equal(s.startTimeUnixNano, '1700000000001234567');
  assert.equal(s.endTimeUnixNano, '1700000002000500000');
});

test('setTag applies to spans started later, and null removes it; tags set before init count', async () => {
  const env = makePage();
  const tk = env.load();
  tk.setTag('early', 'yes');
  tk.init({ endpoint: ENDPOINT, tracePageLoad: false });
  const before = tk.startTransaction({ name: 'before' });
  tk.setTag('user.plan', 'enterprise');
  before.finish();
  spans(tk, 1, 'after');
  tk.setTag('user.plan', null);
  spans(tk, 1, 'removed');
  tk.setTag(undefined, 'x');
  tk.setTag({}, 'x');
  await tk.flush();
  const [a, b, c] = env.spans();
  assert.equal(env.attr(a, 'user.plan'), undefined);
  assert.deepEqual(env.attr(a, 'early'), { stringValue: 'yes' });
  assert.deepEqual(env.attr(b, 'user.plan'), { stringValue: 'enterprise' });
  assert.equal(env.attr(c, 'user.plan'), undefined);
});

test('spans are batched: sent after flushInterval, or at once at maxBatchSize', async () => {
  const env = makePage();
  const tk = env.init();
  spans(tk, 3);
  await settle();
  assert.equal(env.exports.length, 0, 'nothing before the interval');
  await env.clock.advance(4999);
  assert.equal(env.exports.length, 0);
  await env.clock.advance(1);
  assert.equal(env.exports.length, 1);
  assert.equal(env.spans().length, 3);

  spans(tk, 99);
  await settle();
  assert.equal(env.exports.length, 1);
  spans(tk, 1); // the 100th
  await settle();
  assert.equal(env.exports.length, 2);
  assert.equal(env.bodies()[1].resourceSpans[0].scopeSpans[0].spans.length, 100);
  // 250 queued at once go as 100 + 100 + 50 on flush.
  env.exportReply = () => undefined; // hold the answers: nothing is sent while one is in flight
  spans(tk, 250);
  await settle();
  assert.equal(env.exports.length, 3);
  env.exportReply = () => ({ status: 200 });
  env.exports[2].respond(200);
  await tk.flush();
  const sizes = env.bodies().map((b) => b.resourceSpans[0].scopeSpans[0].spans.length);
  assert.deepEqual(sizes, [3, 100, 100, 100, 50]);
  assert.deepEqual({ ...tk.stats() }, { queued: 0, exported: 353, dropped: 0, failed: 0, retries: 0 });
});

test('the queue is bounded: spans beyond maxQueueSize are dropped and counted', async () => {
  const env = makePage({ exportReply: () => undefined });
  const tk = env.init({ maxQueueSize: 2048 });
  spans(tk, 99);
  spans(tk, 1); // a batch of 100 goes out and never answers: the rest waits in the queue
  await settle();
  assert.equal(env.exports.length, 1);
  spans(tk, 2100);
  await settle();
  const st = tk.stats();
  assert.equal(st.queued, 2048);
  assert.equal(st.dropped, 2100 - 2048);
  assert.equal(env.exports.length, 1, 'one request in flight at a time');
});

test('429 and 503 are retried after Retry-After; 400 is not retried', async () => {
  const answers = [{ status: 429, headers: { 'Retry-After': '7' } }, { status: 503, headers: { 'Retry-After': '2' } }, { status: 200 }];
  const env = makePage({ exportReply: () => answers.shift() });
  const tk = env.init();
  spans(tk, 2);
  assert.equal(await tk.flush(), false, 'told to wait: spans still queued');
  assert.equal(env.exports.length, 1);
  await env.clock.advance(6999);
  assert.equal(env.exports.length, 1, 'not before Retry-After');
  assert.equal(await tk.flush(), false, 'flush does not jump the wait');
  assert.equal(env.exports.length, 1);
  await env.clock.advance(1);
  assert.equal(env.exports.length, 2);
  await env.clock.advance(2000);
  assert.equal(env.exports.length, 3);
  assert.equal(env.exports[2].body, env.exports[0].body, 'the same batch is resent');
  assert.deepEqual({ ...tk.stats() }, { queued: 0, exported: 2, dropped: 0, failed: 0, retries: 2 });

  const env2 = makePage({ exportReply: () => ({ status: 400 }) });
  const tk2 = env2.init();
  spans(tk2, 2);
  assert.equal(await tk2.flush(), true);
  await env2.clock.advance(600000);
  assert.equal(env2.exports.length, 1, 'a 400 is never retried');
  assert.deepEqual({ ...tk2.stats() }, { queued: 0, exported: 0, dropped: 0, failed: 2, retries: 0 });
  // 401/403/413 are not retried either.
  for (const status of [401, 403, 413, 500]) {
    const e = makePage({ exportReply: () => ({ status }) });
    const t = e.init();
    spans(t, 1);
    await t.flush();
    await e.clock.advance(600000);
    assert.equal(e.exports.length, 1, String(status));
  }
});

test('network errors are retried with growing backoff, then the batch is given up', async () => {
  const env = makePage({ exportReply: () => 'fail' });
  const tk = env.init({ maxRetries: 3 });
  spans(tk, 1);
  await tk.flush();
  assert.equal(env.exports.length, 1);
  const delays = [];
  for (let i = 0; i < 3; i++) {
    const t = env.clock.timers.find((x) => x.ms >= 500);
    delays.push(t.ms);
    await env.clock.advance(t.ms);
    assert.equal(env.exports.length, i + 2);
  }
  // 1 s, 2 s, 4 s, each with jitter of +-25 %.
  [1000, 2000, 4000].forEach((d, i) => assert.ok(delays[i] >= d * 0.75 && delays[i] <= d * 1.25, `${delays[i]} ~ ${d}`));
  assert.deepEqual({ ...tk.stats() }, { queued: 0, exported: 0, dropped: 0, failed: 1, retries: 3 });
  // A later span is sent again normally.
  env.exportReply = () => ({ status: 200 });
  spans(tk, 1);
  assert.equal(await tk.flush(), true);
  assert.equal(tk.stats().exported, 1);
});

test('an HTTP-date Retry-After is honoured', async () => {
  const answers = [{ status: 503, headers: { 'Retry-After': new Date(Date.now() + 120000).toUTCString() } }, { status: 200 }];
  const env = makePage({ exportReply: () => answers.shift() });
  const tk = env.init();
  spans(tk, 1);
  await tk.flush();
  const t = env.clock.timers.find((x) => x.ms > 30000);
  assert.ok(t && t.ms > 100000 && t.ms <= 120000, t && String(t.ms));
});

test('pagehide sends everything at once with keepalive and the API key, split under 64 KiB', async () => {
  const env = makePage({ exportReply: () => undefined });
  const tk = env.init();
  // About 300 KB of spans.
  const big = 'x'.repeat(1000);
  for (let i = 0; i < 300; i++) {
    const t = tk.startTransaction({ name: 'n' + i });
    t.setTag('payload', big);
    t.finish();
  }
  await settle();
  const first = env.exports.length; // batches of 100 went out already; one is in flight
  assert.equal(first, 1);
  env.fire('pagehide', { persisted: false });
  const ka = env.exports.slice(first);
  assert.ok(ka.length >= 4, String(ka.length));
  let total = 0;
  let inflightKeepalive = 0;
  for (const r of ka) {
    const n = Buffer.byteLength(r.body);
    assert.ok(n < 65536, `body of ${n} bytes`);
    assert.equal(r.headers['x-api-key'], 'ik_test');
    if (r.keepalive) inflightKeepalive += n;
    total += JSON.parse(r.body).resourceSpans[0].scopeSpans[0].spans.length;
  }
  assert.equal(total, 200, 'every queued span');
  assert.ok(ka[0].keepalive);
  assert.ok(inflightKeepalive <= 65536, 'the keepalive quota of the page is not exceeded');
  assert.equal(env.beacons.length, 0, 'sendBeacon cannot carry X-API-Key: not used');
  // Nothing is left to send twice.
  env.fire('pagehide', { persisted: false });
  assert.equal(env.exports.length, first + ka.length);
});

test('visibilitychange to hidden flushes with keepalive; visible does not', async () => {
  const env = makePage();
  const tk = env.init();
  spans(tk, 3);
  env.document.visibilityState = 'visible';
  env.dispatch(env.document, { type: 'visibilitychange', bubbles: true });
  assert.equal(env.exports.length, 0);
  env.document.visibilityState = 'hidden';
  env.dispatch(env.document, { type: 'visibilitychange', bubbles: true });
  assert.equal(env.exports.length, 1);
  assert.equal(env.exports[0].keepalive, true);
  await settle();
  assert.equal(tk.stats().exported, 3);
  // A failed keepalive send is kept for later while the page lives.
  env.exportReply = () => ({ status: 503, headers: { 'Retry-After': '1' } });
  spans(tk, 1);
  env.fire('pagehide');
  await settle();
  assert.equal(tk.stats().queued, 1);
  env.exportReply = () => ({ status: 200 });
  await env.clock.advance(1000);
  assert.equal(tk.stats().exported, 4);
});

test('shutdown sends what is queued, unhooks fetch and XHR, and allows init again', async () => {
  const env = makePage();
  const orig = env.window.fetch;
  const origSend = env.window.XMLHttpRequest.prototype.send;
  const tk = env.init();
  assert.notEqual(env.window.fetch, orig);
  spans(tk, 2);
  assert.equal(await tk.shutdown(), true);
  assert.equal(env.window.fetch, orig);
  assert.equal(env.window.XMLHttpRequest.prototype.send, origSend);
  assert.equal(env.spans().length, 2);
  await env.window.fetch('/untraced');
  assert.equal(env.requests[0].headers.traceparent, undefined);
  tk.init({ endpoint: ENDPOINT, tracePageLoad: false });
  await env.window.fetch('/traced');
  assert.ok(env.requests[1].headers.traceparent);
});
