'use strict';
// Fastify: the plugin's hooks apply to the whole application (also to routes
// registered by other plugins), continue an incoming traceparent, name the
// span after the route template, and keep the request's context for the
// handler, body included.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const Fastify = require('fastify');

const tracekit = require('..');
const { setupTracing } = require('./support/tracing');
const { request } = require('./support/http');

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const PARENT_ID = 'b7ad6b7169203331';

let tr;
let app;
let url;

before(async () => {
  tr = await setupTracing();
  app = Fastify();
  app.register(require('..').fastifyPlugin);
  // Routes in an encapsulated child plugin: the hooks must still apply.
  app.register(
    async (child) => {
      child.get('/users/:id', async (req) => {
        tracekit.setTag('user.id', req.params.id);
        return { id: req.params.id };
      });
      child.post('/orders', async (req, reply) => {
        await new Promise((r) => setImmediate(r));
        tracekit.setTag('order.id', req.body.orderId);
        reply.code(201);
        return { ok: true };
      });
      child.get('/boom', async () => {
        throw new Error('fastify kaboom');
      });
    },
    { prefix: '/api' },
  );
  url = await app.listen({ port: 0, host: '127.0.0.1' });
});

after(async () => {
  await app.close();
  await tr.close();
});

function serverSpan(spans, path) {
  return spans.find((s) => s.kind === 'SERVER' && s.attributes['url.path'] === path);
}

test('a request with a traceparent continues its trace, named after the route template', async () => {
  const res = await request(`${url}/api/users/5`, { headers: { traceparent: `00-${TRACE_ID}-${PARENT_ID}-01` } });
  assert.equal(res.status, 200);
  const span = await tr.flushAndWait((s) => serverSpan(s, '/api/users/5'), 'the /api/users/5 span');
  assert.equal(span.name, 'GET /api/users/:id');
  assert.equal(span.traceId, TRACE_ID);
  assert.equal(span.parentSpanId, PARENT_ID);
  assert.equal(span.attributes['http.route'], '/api/users/:id');
  assert.equal(span.attributes['http.response.status_code'], 200);
  assert.equal(span.attributes['user.id'], '5');
  assert.equal(span.status.code, 0);
});

test('a malformed traceparent starts a new trace', async () => {
  await request(`${url}/api/users/6`, { headers: { traceparent: 'garbage' } });
  const span = await tr.flushAndWait((s) => serverSpan(s, '/api/users/6'), 'the /api/users/6 span');
  assert.notEqual(span.traceId, TRACE_ID);
  assert.equal(span.parentSpanId, '');
});

test('the handler runs in the span context after the body is parsed', async () => {
  const res = await request(`${url}/api/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ orderId: 'f-1' }),
  });
  assert.equal(res.status, 201);
  const span = await tr.flushAndWait((s) => serverSpan(s, '/api/orders'), 'the /api/orders span');
  assert.equal(span.name, 'POST /api/orders');
  assert.equal(span.attributes['order.id'], 'f-1');
});

test('a thrown error: 500, error status, exception recorded', async () => {
  const res = await request(`${url}/api/boom`);
  assert.equal(res.status, 500);
  const span = await tr.flushAndWait((s) => serverSpan(s, '/api/boom'), 'the /api/boom span');
  assert.equal(span.name, 'GET /api/boom');
  assert.equal(span.status.code, 2);
  assert.equal(span.status.message, 'fastify kaboom');
  assert.ok(span.events.some((e) => e.name === 'exception' && e.attributes['exception.message'] === 'fastify kaboom'));
});

test('an unknown route is named after method and path, 404 is not an error', async () => {
  const res = await request(`${url}/nothing/here`);
  assert.equal(res.status, 404);
  const span = await tr.flushAndWait((s) => serverSpan(s, '/nothing/here'), 'the 404 span');
  assert.equal(span.name, 'GET /nothing/here');
  assert.equal(span.status.code, 0);
});
