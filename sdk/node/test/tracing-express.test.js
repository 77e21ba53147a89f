'use strict';
// Express: one SERVER span per request, continuing an incoming traceparent,
// named after the route template, an error for 5xx, and the request's
// context kept for handlers (setTag, captureException) even after a body
// parser.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const express = require('express');

const tracekit = require('..');
const { setupTracing } = require('./support/tracing');
const { listen, request } = require('./support/http');

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_ID = '00f067aa0ba902b7';
const TRACEPARENT = `00-${TRACE_ID}-${PARENT_ID}-01`;

let tr;
let app;
let srv;

before(async () => {
  tr = await setupTracing();
  app = express();
  app.use(tracekit.Handlers.requestHandler());
  app.use(tracekit.Handlers.tracingHandler());
  app.use(express.json());

  const api = express.Router();
  api.get('/users/:id', (req, res) => {
    tracekit.setTag('user.id', req.params.id);
    res.json({ id: req.params.id });
  });
  api.post('/orders', async (req, res) => {
    await new Promise((r) => setImmediate(r));
    tracekit.setTag('order.id', req.body.orderId);
    res.status(201).json({ ok: true });
  });
  api.get('/fail/:code', async (req) => {
    throw new Error(`failed with ${req.params.code}`);
  });
  api.get('/caught', (req, res) => {
    tracekit.captureException(new Error('handled but worth knowing'));
    res.status(200).send('ok');
  });
  api.get('/notfound', (req, res) => res.status(404).send('nope'));
  app.use('/api', api);
  app.use(tracekit.Handlers.errorHandler());
  // eslint-disable-next-line no-unused-vars
  app.use((err, req, res, next) => res.status(500).send('server error'));
  srv = await listen(app);
});

after(async () => {
  await srv.close();
  await tr.close();
});

function serverSpans(spans, path) {
  return spans.filter((s) => s.kind === 'SERVER' && s.attributes['url.path'] === path);
}

test('a request with a traceparent continues its trace, named after the route template', async () => {
  const res = await request(`${srv.url}/api/users/42?x=1`, {
    headers: { traceparent: TRACEPARENT, tracestate: 'vendor=abc', 'user-agent': 'test-agent/1' },
  });
  assert.equal(res.status, 200);
  const [span] = await tr.flushAndWait((s) => {
    const found = serverSpans(s, '/api/users/42');
    return found.length ? found : null;
  }, 'the /api/users/42 span');
  assert.equal(span.name, 'GET /api/users/:id');
  assert.equal(span.traceId, TRACE_ID);
  assert.equal(span.parentSpanId, PARENT_ID);
  assert.equal(span.traceState, 'vendor=abc');
  const a = span.attributes;
  assert.equal(a['http.request.method'], 'GET');
  assert.equal(a['http.route'], '/api/users/:id');
  assert.equal(a['http.response.status_code'], 200);
  assert.equal(a['url.scheme'], 'http');
  assert.equal(a['server.address'], '127.0.0.1');
  assert.equal(a['user_agent.original'], 'test-agent/1');
  assert.equal(a['client.address'], '127.0.0.1');
  assert.equal(a['user.id'], '42', 'setTag in the handler reached the server span');
  assert.equal(span.status.code, 0);
  assert.equal(span.resource['service.name'], 'tracing-test');
  assert.equal(tr.rx.requests.find((r) => r.url === '/v1/traces').headers['x-api-key'], 'test-key');
});

test('both handlers registered make one span per request', async () => {
  await request(`${srv.url}/api/users/7`);
  await request(`${srv.url}/api/users/8`);
  await tr.flushAndWait((s) => serverSpans(s, '/api/users/8').length > 0, 'the /api/users/8 span');
  assert.equal(serverSpans(tr.rx.spans, '/api/users/7').length, 1);
  assert.equal(serverSpans(tr.rx.spans, '/api/users/8').length, 1);
});

test('a malformed traceparent starts a new trace', async () => {
  await request(`${srv.url}/api/users/99`, { headers: { traceparent: `00-${TRACE_ID}-${PARENT_ID}-zz` } });
  const [span] = await tr.flushAndWait((s) => {
    const found = serverSpans(s, '/api/users/99');
    return found.length ? found : null;
  }, 'the /api/users/99 span');
  assert.notEqual(span.traceId, TRACE_ID);
  assert.match(span.traceId, /^[0-9a-f]{32}$/);
  assert.equal(span.parentSpanId, '');
});

test('the context survives the body parser: setTag after express.json() reaches the span', async () => {
  const res = await request(`${srv.url}/api/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ orderId: 'ord-1' }),
  });
  assert.equal(res.status, 201);
  const [span] = await tr.flushAndWait((s) => {
    const found = serverSpans(s, '/api/orders');
    return found.length ? found : null;
  }, 'the /api/orders span');
  assert.equal(span.name, 'POST /api/orders');
  assert.equal(span.attributes['order.id'], 'ord-1');
  assert.equal(span.attributes['http.response.status_code'], 201);
});

test('an error passed on to an error handler outside the router: 500, error status, route kept', async () => {
  const res = await request(`${srv.url}/api/fail/7`);
  assert.equal(res.status, 500);
  const [span] = await tr.flushAndWait((s) => {
    const found = serverSpans(s, '/api/fail/7');
    return found.length ? found : null;
  }, 'the /api/fail/7 span');
  assert.equal(span.name, 'GET /api/fail/:code');
  assert.equal(span.attributes['http.response.status_code'], 500);
  assert.equal(span.status.code, 2);
  assert.equal(span.status.message, 'failed with 7');
  const ev = span.events.find((e) => e.name === 'exception');
  assert.ok(ev, 'errorHandler recorded the exception');
  assert.equal(ev.attributes['exception.message'], 'failed with 7');
});

test('captureException marks the span as an error; 4xx is not one', async () => {
  await request(`${srv.url}/api/caught`);
  await request(`${srv.url}/api/notfound`);
  await request(`${srv.url}/no/such/route`);
  await tr.flushAndWait((s) => serverSpans(s, '/no/such/route').length > 0, 'the unrouted span');
  const caught = serverSpans(tr.rx.spans, '/api/caught')[0];
  assert.equal(caught.status.code, 2);
  assert.equal(caught.status.message, 'handled but worth knowing');
  assert.ok(caught.events.some((e) => e.name === 'exception'));
  const nf = serverSpans(tr.rx.spans, '/api/notfound')[0];
  assert.equal(nf.attributes['http.response.status_code'], 404);
  assert.equal(nf.status.code, 0);
  const unrouted = serverSpans(tr.rx.spans, '/no/such/route')[0];
  assert.equal(unrouted.name, 'GET /no/such/route', 'without a route: method and path');
  assert.equal(unrouted.attributes['http.route'], undefined);
});

test('tracingHandler alone traces too', async () => {
  const solo = express();
  solo.use(tracekit.Handlers.tracingHandler());
  solo.get('/solo/:n', (req, res) => res.send('ok'));
  const s = await listen(solo);
  try {
    await request(`${s.url}/solo/1`, { headers: { traceparent: TRACEPARENT } });
    const [span] = await tr.flushAndWait((sp) => {
      const found = serverSpans(sp, '/solo/1');
      return found.length ? found : null;
    }, 'the /solo/1 span');
    assert.equal(span.name, 'GET /solo/:n');
    assert.equal(span.traceId, TRACE_ID);
  } finally {
    await s.close();
  }
});
