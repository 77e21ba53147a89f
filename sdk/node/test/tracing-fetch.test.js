'use strict';
// tracekit.fetch: a CLIENT span that is the parent of the downstream
// server's span, traceparent injected into every header form without
// touching the caller's objects, and network errors rethrown unchanged.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const express = require('express');
const net = require('node:net');

const tracekit = require('..');
const { tracekit: tk } = require('..');
const { setupTracing } = require('./support/tracing');
const { listen } = require('./support/http');

let tr;
let downstream; // records the trace headers it receives
let upstream; // an Express app calling downstream with tk.fetch
const received = [];

before(async () => {
  tr = await setupTracing();
  downstream = await listen((req, res) => {
    received.push({ url: req.url, traceparent: req.headers.traceparent, tracestate: req.headers.tracestate, other: req.headers['x-other'] });
    res.statusCode = req.url.startsWith('/missing') ? 404 : 200;
    res.end('{"data":1}');
  });
  const app = express();
  app.use(tracekit.Handlers.requestHandler());
  app.get('/api/gateway', async (req, res) => {
    const r = await tk.fetch(`${downstream.url}/api/data?q=1`);
    res.json(await r.json());
  });
  upstream = await listen(app);
});

after(async () => {
  await upstream.close();
  await downstream.close();
  await tr.close();
});

test('the guide form: tk.fetch in a handler makes a CLIENT child span and the downstream sees its traceparent', async () => {
  const res = await fetch(`${upstream.url}/api/gateway`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { data: 1 });
  const client = await tr.flushAndWait(
    (s) => s.find((x) => x.kind === 'CLIENT' && x.attributes['url.full'] === `${downstream.url}/api/data?q=1`),
    'the client span',
  );
  const server = tr.rx.spans.find((x) => x.kind === 'SERVER' && x.attributes['url.path'] === '/api/gateway');
  assert.ok(server, 'the gateway server span');
  const host = new URL(downstream.url).host;
  assert.equal(client.name, `GET ${host}/api/data`);
  assert.equal(client.traceId, server.traceId);
  assert.equal(client.parentSpanId, server.spanId);
  assert.equal(client.attributes['server.address'], '127.0.0.1');
  assert.equal(client.attributes['http.response.status_code'], 200);
  assert.equal(client.status.code, 0);
  const hop = received.find((r) => r.url === '/api/data?q=1');
  assert.equal(hop.traceparent, `00-${client.traceId}-${client.spanId}-01`);
});

/** Runs fn inside a span of its own and returns [result, spanContext]. */
async function inSpan(name, fn) {
  const tracer = tr.sdk.getTracer();
  return tracer.startActiveSpan(name, async (span) => {
    try {
      return [await fn(), span.spanContext()];
    } finally {
      span.end();
    }
  });
}

test('every header form gets the trace headers; the caller\'s objects are left alone', async () => {
  const stale = '00-11111111111111111111111111111111-2222222222222222-01';
  const plain = { 'x-other': 'plain', TraceParent: stale };
  const headers = new Headers({ 'x-other': 'headers' });
  const pairs = [['x-other', 'pairs'], ['traceparent', stale]];
  const request = new Request(`${downstream.url}/form/request`, { headers: { 'x-other': 'request' } });
  const [, sc] = await inSpan('forms', async () => {
    await tk.fetch(`${downstream.url}/form/plain`, { headers: plain });
    await tk.fetch(new URL(`${downstream.url}/form/headers`), { headers });
    await tk.fetch(`${downstream.url}/form/pairs`, { headers: pairs });
    await tk.fetch(request);
    await tk.fetch(`${downstream.url}/form/none`, { method: 'post', body: 'x' });
  });
  for (const form of ['plain', 'headers', 'pairs', 'request', 'none']) {
    const hop = received.find((r) => r.url === `/form/${form}`);
    assert.ok(hop, `${form} reached the server`);
    assert.match(hop.traceparent, new RegExp(`^00-${sc.traceId}-[0-9a-f]{16}-01$`), `${form}: traceparent`);
    assert.notEqual(hop.traceparent, stale);
    if (form !== 'none') assert.equal(hop.other, form, `${form}: the other headers kept`);
  }
  assert.equal(plain.TraceParent, stale, 'the plain object is unchanged');
  assert.equal(headers.get('traceparent'), null, 'the Headers object is unchanged');
  assert.equal(pairs.length, 2, 'the array is unchanged');
  const post = await tr.flushAndWait((s) => s.find((x) => x.kind === 'CLIENT' && x.attributes['url.full'].endsWith('/form/none')), 'the POST span');
  assert.equal(post.name, `POST ${new URL(downstream.url).host}/form/none`);
});

test('a 404 response marks the client span as an error', async () => {
  await inSpan('missing', () => tk.fetch(`${downstream.url}/missing`));
  const span = await tr.flushAndWait((s) => s.find((x) => x.kind === 'CLIENT' && x.attributes['url.full'].endsWith('/missing')), 'the 404 span');
  assert.equal(span.attributes['http.response.status_code'], 404);
  assert.equal(span.status.code, 2);
});

test('a network error is recorded on the span and rethrown unchanged', async () => {
  // A port nothing listens on: bind one, note it, close it.
  const port = await new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
  let original;
  const realFetch = globalThis.fetch;
  globalThis.fetch = (...args) =>
    realFetch(...args).catch((err) => {
      original = err;
      throw err;
    });
  try {
    await assert.rejects(
      inSpan('down', () => tk.fetch(`http://127.0.0.1:${port}/down`)),
      (err) => err === original && err instanceof TypeError,
    );
  } finally {
    globalThis.fetch = realFetch;
  }
  const span = await tr.flushAndWait((s) => s.find((x) => x.kind === 'CLIENT' && x.attributes['url.full'].endsWith('/down')), 'the failed span');
  assert.equal(span.status.code, 2);
  assert.ok(span.events.some((e) => e.name === 'exception'));
  assert.equal(span.attributes['http.response.status_code'], undefined);
});

test('outside any span, tk.fetch starts a new trace and still injects it', async () => {
  await tk.fetch(`${downstream.url}/root`);
  const hop = received.find((r) => r.url === '/root');
  assert.match(hop.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
});
