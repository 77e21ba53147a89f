'use strict';
// The application's own OpenTelemetry code joins TraceKit's traces: spans
// from trace.getTracer('x') inside a traced request are children of its
// server span, setTag reaches both, and the OpenTelemetry propagation API
// writes our traceparent.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const express = require('express');
const { trace, context, propagation } = require('@opentelemetry/api');

const tracekit = require('..');
const { setupTracing } = require('./support/tracing');
const { listen, request } = require('./support/http');

let tr;
let srv;

before(async () => {
  tr = await setupTracing();
  const app = express();
  app.use(tracekit.Handlers.requestHandler());
  app.get('/work', async (req, res) => {
    const tracer = trace.getTracer('x');
    await tracer.startActiveSpan('db.query', async (span) => {
      await new Promise((r) => setImmediate(r));
      tracekit.setTag('tenant.id', 't-9');
      span.end();
    });
    res.send('done');
  });
  srv = await listen(app);
});

after(async () => {
  await srv.close();
  await tr.close();
});

test('an existing OpenTelemetry tracer joins the request trace', async () => {
  await request(`${srv.url}/work`, { headers: { traceparent: '00-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-bbbbbbbbbbbbbbbb-01' } });
  const inner = await tr.flushAndWait((s) => s.find((x) => x.name === 'db.query'), 'the db.query span');
  const server = tr.rx.spans.find((x) => x.kind === 'SERVER' && x.attributes['url.path'] === '/work');
  assert.ok(server);
  assert.equal(server.traceId, 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa');
  assert.equal(inner.traceId, server.traceId);
  assert.equal(inner.parentSpanId, server.spanId);
  assert.equal(inner.scope, 'x');
  assert.equal(inner.attributes['tenant.id'], 't-9', 'setTag on the active span');
  assert.equal(server.attributes['tenant.id'], 't-9', 'and on the request span');
});

test('the OpenTelemetry globals are ours: tracer provider, context manager, propagator', async () => {
  const tracer = trace.getTracer('y');
  const carrier = {};
  let sc;
  tracer.startActiveSpan('outer', (span) => {
    sc = span.spanContext();
    assert.equal(tracekit.getActiveSpan(), span, 'tracekit sees the OpenTelemetry active span');
    propagation.inject(context.active(), carrier);
    span.end();
  });
  assert.equal(carrier.traceparent, `00-${sc.traceId}-${sc.spanId}-01`);
  const extracted = propagation.extract(context.active(), { traceparent: carrier.traceparent, tracestate: 'k=v' });
  const remote = trace.getSpanContext(extracted);
  assert.equal(remote.traceId, sc.traceId);
  assert.equal(remote.isRemote, true);
  assert.equal(remote.traceState.get('k'), 'v');
  assert.equal(trace.getSpanContext(propagation.extract(context.active(), { traceparent: 'bad' })), undefined);
  assert.deepEqual(propagation.fields(), ['traceparent', 'tracestate']);
});
