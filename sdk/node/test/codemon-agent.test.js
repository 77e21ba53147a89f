'use strict';

// Code monitoring end to end against the fake server: sync (SSE, polling),
// capture points and their call site, conditions and logpoints through the
// server's check, limits, PII, the kill switch, the circuit breaker, bounded
// uploads, crash isolation, line breakpoints through a stand-in inspector.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { context, trace, ROOT_CONTEXT, TraceFlags } = require('@opentelemetry/api');
const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks');
const codemon = require('../lib/codemon');
const { startFakeServer } = require('./support/fake-codemon-server');

const GOLDEN = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'go', 'protocol', 'testdata', 'messages.golden.json'), 'utf8'));
const THIS_FILE = fs.readFileSync(__filename, 'utf8').split('\n');
const lineOf = (marker) => THIS_FILE.findIndex((l) => l.includes(marker) && !l.includes('lineOf(')) + 1;

// The JSON field names of each struct of the Go protocol package, read
// from its source (embedded structs included): the one definition.
const PROTOCOL_GO = fs.readFileSync(path.join(__dirname, '..', '..', 'go', 'protocol', 'protocol.go'), 'utf8');
function goFields(type) {
  const m = new RegExp(`type ${type} struct \\{([^}]*)\\}`).exec(PROTOCOL_GO);
  assert.ok(m, `no struct ${type} in protocol.go`);
  const out = new Map(); // name -> omitempty
  for (const line of m[1].split('\n')) {
    const tag = /json:"([^,"]+)(,omitempty)?"/.exec(line);
    if (tag) out.set(tag[1], !!tag[2]);
    else if (/^\s*[A-Z]\w*\s*$/.test(line)) for (const [k, v] of goFields(line.trim())) out.set(k, v);
  }
  return out;
}

// assertFieldsOf: msg has only fields of the Go type, and every field the
// Go type always sends; the golden file's example has the same names.
function assertFieldsOf(msg, type, what) {
  const fields = goFields(type);
  for (const key of Object.keys(msg)) assert.ok(fields.has(key), `${what}: field ${key} is not in protocol.${type} (${[...fields.keys()]})`);
  for (const [key, omitempty] of fields) if (!omitempty) assert.ok(key in msg, `${what}: field ${key} of protocol.${type} is missing`);
}

function recorder() {
  const lines = { info: [], warn: [], error: [], debug: [] };
  const logger = {};
  for (const level of Object.keys(lines)) logger[level] = (m) => lines[level].push(String(m));
  return { logger, lines };
}

async function setup(t, { internal = {}, captureConfig, server: srv, baseURL } = {}) {
  const server = srv || await startFakeServer();
  const { logger, lines } = recorder();
  const h = codemon.start({
    apiKey: 'key-1',
    baseURL: baseURL || server.url,
    serviceName: 'checkout',
    environment: 'production',
    sdkVersion: '0.1.0',
    captureConfig,
    logger,
    internal: { flushIntervalMs: 20, housekeepMs: 10, backoffMinMs: 20, backoffMaxMs: 100, ...internal },
  });
  t.after(async () => {
    await h.shutdown();
    await server.close();
  });
  const client = h.snapshotClient;
  return { server, h, client, lines, capture: (name, data) => client.checkAndCapture(name, data) };
}

const bp = (over) => ({ id: 'bp_1', type: 'line', capturePoint: 'payment-failed', captureDepth: 3, rateLimit: 100, maxStringLength: 256, expiresAt: '2099-01-01T00:00:00Z', ...over });

async function applied(client, server) {
  await client.waitFor((s) => s.version === server.version);
}

test('a breakpoint set pushed on the stream reaches the SDK; the snapshot carries the span and the protocol fields', async (t) => {
  const { server, client, capture } = await setup(t);
  await client.waitFor((s) => s.streaming && s.version === server.version);
  server.setBreakpoints([bp()]);
  await applied(client, server);
  const mgr = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(mgr);
  t.after(() => context.disable());
  const sc = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: TraceFlags.SAMPLED };
  context.with(trace.setSpanContext(ROOT_CONTEXT, sc), () => {
    capture('payment-failed', { order_id: 'o-1', email: 'jane@example.com', amount: 12.5 });
  });
  await client.waitFor((s) => s.uploaded === 1);
  const up = server.uploads[0];
  const snap = server.snapshots[0];
  assert.equal(snap.breakpointId, 'bp_1');
  assert.equal(snap.capturePoint, 'payment-failed');
  assert.equal(snap.traceId, sc.traceId);
  assert.equal(snap.spanId, sc.spanId);
  assert.deepEqual(snap.variables, { order_id: 'o-1', email: '[REDACTED:email]', amount: 12.5 });
  assert.equal(snap.truncated, false);
  assert.match(snap.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  assert.ok(Array.isArray(snap.stack) && snap.stack.length > 0);
  assertFieldsOf(snap, 'Snapshot', 'snapshot');
  for (const key of Object.keys(GOLDEN.UploadRequest.snapshots[0])) assert.ok(key in snap, `golden snapshot field ${key}`);
  assertFieldsOf(snap.stack[0], 'Frame', 'frame');
  assertFieldsOf(up, 'UploadRequest', 'upload');
  const { snapshots, logs, ...inst } = up;
  assert.equal(inst.service, 'checkout');
  assert.equal(inst.environment, 'production');
  assert.equal(inst.sdk, 'node/0.1.0');
  assert.match(inst.instance, /^[0-9a-f]{16}$/);
  // Every request carries the key and the instance.
  const stream = server.requests.find((r) => r.path === '/v1/codemon/stream');
  assert.equal(stream.headers['x-api-key'], 'key-1');
  assert.equal(stream.headers.accept, 'text/event-stream');
  assert.equal(stream.query.service, 'checkout');
  assert.equal(stream.query.instance, inst.instance);
  // The capture point was registered.
  await client.waitFor(() => server.points.length > 0);
  assertFieldsOf(server.points[0], 'CapturePoint', 'capture point');
  const reg = server.requests.find((r) => r.path === '/v1/codemon/capture-points').body;
  assertFieldsOf(reg, 'CapturePointsRequest', 'capture points request');
  for (const key of Object.keys(GOLDEN.CapturePointsRequest)) assert.ok(key in reg, `golden field ${key}`);
});

test('the stream resumes with Last-Event-ID after it drops', async (t) => {
  const { server, client } = await setup(t);
  await client.waitFor((s) => s.streaming && s.version === server.version);
  server.endStreams();
  await client.waitFor(() => server.requests.filter((r) => r.path === '/v1/codemon/stream').length >= 2);
  const again = server.requests.filter((r) => r.path === '/v1/codemon/stream')[1];
  assert.equal(again.headers['last-event-id'], server.version);
});

test('polling covers a stream that fails', async (t) => {
  const server = await startFakeServer();
  server.streamStatus = 503;
  server.setBreakpoints([bp()]);
  const { client, capture } = await setup(t, { server });
  await applied(client, server);
  assert.equal(client.stats().streaming, false);
  assert.ok(server.count('GET', '/v1/codemon/breakpoints') >= 1);
  capture('payment-failed', { x: 1 });
  await client.waitFor((s) => s.uploaded === 1);
  // The next poll sends the version it has.
  server.streamStatus = 429;
});

function wrapper(client, name, data) {
  client.checkAndCapture(name, data); // the guide's one-level wrapper
}

test('the call site is the caller of the wrapper', async (t) => {
  const prepareBefore = Error.prepareStackTrace;
  const limitBefore = Error.stackTraceLimit;
  const server = await startFakeServer();
  const line = lineOf('CALL-SITE-MARKER');
  server.setBreakpoints([bp({ capturePoint: '', file: 'test/codemon-agent.test.js', line })]);
  const { client } = await setup(t, { server });
  await applied(client, server);
  function handlePayment() {
    wrapper(client, 'by-line', { ok: true }); // CALL-SITE-MARKER
  }
  handlePayment();
  await client.waitFor((s) => s.uploaded === 1);
  const snap = server.snapshots[0];
  assert.equal(snap.file, __filename);
  assert.equal(snap.line, line);
  assert.equal(snap.function, 'handlePayment');
  assert.equal(snap.stack[0].function, 'handlePayment');
  assert.equal(snap.stack[0].line, line);
  // Error.prepareStackTrace is left as it was.
  assert.equal(Error.prepareStackTrace, prepareBefore);
  assert.equal(Error.stackTraceLimit, limitBefore);
  assert.equal(typeof new Error('x').stack, 'string');
});

test('conditions are evaluated by the server on scrubbed variables: true, false, error', async (t) => {
  const server = await startFakeServer();
  server.setBreakpoints([bp({ type: 'conditional', condition: 'order.total > 10000' })]);
  server.decide = (c) => {
    if (c.variables.order === undefined) return { capture: false, error: 'order.total: no such variable' };
    return { capture: c.variables.order.total > 10000 };
  };
  const { client, capture, lines } = await setup(t, { server });
  await applied(client, server);
  capture('payment-failed', { order: { total: 12000 }, email: 'jane@example.com' });
  capture('payment-failed', { order: { total: 5 } });
  capture('payment-failed', { other: 1 });
  await client.waitFor((s) => s.checks === 3 && s.checksInFlight === 0 && s.uploaded === 1);
  assert.equal(server.snapshots.length, 1);
  assert.equal(server.snapshots[0].variables.order.total, 12000);
  assert.equal(server.checks[0].variables.email, '[REDACTED:email]');
  assertFieldsOf(server.checks[0], 'CheckRequest', 'check');
  for (const key of Object.keys(GOLDEN.CheckRequest)) assert.ok(key in server.checks[0], `golden field ${key}`);
  assert.ok(lines.warn.some((l) => l.includes('could not evaluate') && l.includes('no such variable')));
});

test('a logpoint writes the server-rendered line, scrubbed, and uploads it', async (t) => {
  const server = await startFakeServer();
  server.setBreakpoints([bp({ id: 'lp_1', type: 'logpoint', message: 'order {order_id} by {email}' })]);
  server.decide = (c) => ({ capture: true, message: `order ${c.variables.order_id} by jane@example.com` });
  const { client, capture, lines } = await setup(t, { server });
  await applied(client, server);
  capture('payment-failed', { order_id: 'o-1', email: 'jane@example.com' });
  await client.waitFor((s) => s.uploaded === 1);
  assert.deepEqual(lines.info.filter((l) => l.includes('logpoint')), ['[tracekit logpoint] order o-1 by [REDACTED:email]']);
  const log = server.logs[0];
  assert.equal(log.message, 'order o-1 by [REDACTED:email]');
  assert.equal(log.breakpointId, 'lp_1');
  assertFieldsOf(log, 'LogLine', 'log line');
  assert.equal(server.snapshots.length, 0);
});

test('rate limit per breakpoint, and expiry, on the injected clock', async (t) => {
  let now = Date.parse('2030-01-01T00:00:00Z');
  const server = await startFakeServer();
  server.setBreakpoints([bp({ rateLimit: 2, expiresAt: '2030-01-01T00:05:00Z' })]);
  const { client, capture } = await setup(t, { server, internal: { now: () => now } });
  await applied(client, server);
  for (let i = 0; i < 5; i++) capture('payment-failed', { i });
  assert.equal(client.stats().captures, 2);
  assert.equal(client.stats().rateLimited, 3);
  now += 60_000;
  capture('payment-failed', { i: 5 });
  assert.equal(client.stats().captures, 3);
  now += 5 * 60_000; // past expiresAt
  capture('payment-failed', { i: 6 });
  assert.equal(client.stats().captures, 3);
  await client.waitFor((s) => s.breakpoints === 0 && s.uploaded === 3);
});

test('the kill switch stops capture and evaluation', async (t) => {
  const server = await startFakeServer();
  server.setBreakpoints([bp(), bp({ id: 'c_1', type: 'conditional', condition: 'x == 1' })]);
  const { client, capture } = await setup(t, { server });
  await applied(client, server);
  server.setBreakpoints(server.breakpoints, { killSwitch: true });
  await client.waitFor((s) => s.killSwitch && s.version === server.version);
  capture('payment-failed', { x: 1 });
  const s = client.stats();
  assert.equal(s.captures + s.checks, 0);
  server.setBreakpoints(server.breakpoints, { killSwitch: false });
  await client.waitFor((st) => !st.killSwitch);
  capture('payment-failed', { x: 1 });
  await client.waitFor((st) => st.uploaded >= 1 && st.checks === 1);
});

test('circuit breaker: 3 5xx open it, 4xx do not count, it closes after the cooldown', async (t) => {
  let now = Date.parse('2030-01-01T00:00:00Z');
  const server = await startFakeServer();
  server.setBreakpoints([bp({ type: 'conditional', condition: 'x == 1' })]);
  const { client, capture, lines } = await setup(t, { server, internal: { now: () => now } });
  await applied(client, server);
  server.checkStatus = 400;
  for (let i = 0; i < 5; i++) capture('payment-failed', { x: 1 });
  await client.waitFor((s) => s.checks === 5 && s.checksInFlight === 0);
  assert.equal(client.stats().breakerOpen, false);
  server.checkStatus = 503;
  for (let i = 0; i < 3; i++) capture('payment-failed', { x: 1 });
  await client.waitFor((s) => s.breakerOpen && s.checksInFlight === 0);
  assert.ok(lines.warn.some((l) => l.includes('circuit breaker open')));
  const requests = server.requests.length;
  capture('payment-failed', { x: 1 });
  assert.equal(client.stats().checks, 8); // nothing evaluated, nothing sent
  now += 60_000;
  assert.equal(client.stats().breakerOpen, true);
  assert.equal(server.requests.length, requests);
  server.checkStatus = 0;
  now += 5 * 60_000;
  await client.waitFor((s) => !s.breakerOpen);
  await applied(client, server);
  capture('payment-failed', { x: 1 });
  await client.waitFor((s) => s.uploaded === 1);
  assert.ok(lines.info.some((l) => l.includes('circuit breaker closed')));
});

test('upload failures (5xx, network) count towards the breaker; 409 drops the batch', async (t) => {
  const server = await startFakeServer();
  server.setBreakpoints([bp()]);
  const { client, capture } = await setup(t, { server });
  await applied(client, server);
  server.uploadStatus = 409;
  capture('payment-failed', { x: 1 });
  await client.waitFor((s) => s.dropped === 1 && s.uploadFailures === 1);
  assert.equal(client.stats().breakerOpen, false);
  server.uploadStatus = 500;
  capture('payment-failed', { x: 2 });
  await client.waitFor((s) => s.breakerOpen || s.dropped === 2, 20_000);
  server.uploadStatus = 0;
});

test('the upload queue is bounded: beyond it, hits are dropped and counted', async (t) => {
  const server = await startFakeServer();
  server.setBreakpoints([bp()]);
  const { client, capture, h } = await setup(t, { server, internal: { flushIntervalMs: 1e9, queueSize: 3, batchSize: 1000 } });
  await applied(client, server);
  for (let i = 0; i < 10; i++) capture('payment-failed', { i });
  const s = client.stats();
  assert.equal(s.captures, 3);
  assert.equal(s.dropped, 7);
  await h.shutdown(); // flushes what is queued
  assert.equal(server.snapshots.length, 3);
});

test('an exception inside the SDK never reaches the caller', async (t) => {
  const server = await startFakeServer();
  server.setBreakpoints([bp()]);
  let stage = 'match';
  const { client, capture, lines } = await setup(t, { server, internal: { hook: (s) => { if (s === stage) throw new Error(`boom at ${s}`); } } });
  await applied(client, server);
  for (const s of ['match', 'capture', 'serialize']) {
    stage = s;
    assert.doesNotThrow(() => capture('payment-failed', { x: 1 }));
  }
  await client.waitFor((st) => st.panics >= 3);
  assert.ok(lines.error.some((l) => l.includes('recovered from an exception')));
  stage = '';
  capture('payment-failed', { x: 1 });
  await client.waitFor((st) => st.uploaded === 1); // it keeps working
  // A logger that throws is contained too.
  client._agent.logger = { info() { throw new Error('logger'); }, warn() { throw new Error('logger'); } };
  assert.doesNotThrow(() => client._agent.log('warn', 'x'));
});

test('server down: the application is unaffected and shutdown is prompt', async (t) => {
  const server = await startFakeServer();
  const url = server.url;
  await server.close();
  const { logger } = recorder();
  const h = codemon.start({ baseURL: url, serviceName: 'svc', logger, internal: { backoffMinMs: 10, backoffMaxMs: 20, flushIntervalMs: 10 } });
  t.after(() => h.shutdown());
  let sum = 0;
  for (let i = 0; i < 1000; i++) {
    h.snapshotClient.checkAndCapture('p', { i });
    sum += i;
  }
  assert.equal(sum, 499500);
  await h.snapshotClient.waitFor(() => true);
  await h.shutdown();
  assert.doesNotThrow(() => h.snapshotClient.checkAndCapture('p', {}));
  assert.doesNotThrow(() => codemon.noopSnapshotClient.checkAndCapture('p', {}));
});

test('invalid settings fail at start', () => {
  assert.throws(() => codemon.start({ baseURL: 'ftp://x', serviceName: 's' }), /http/);
  assert.throws(() => codemon.start({ baseURL: 'http://127.0.0.1:1', serviceName: '' }), /serviceName/);
  assert.throws(() => codemon.start({ baseURL: 'http://127.0.0.1:1', serviceName: 's', captureConfig: { captureDepth: 11 } }), /captureDepth/);
});

test('PII: custom patterns and piiScrubbing false', async (t) => {
  const server = await startFakeServer();
  server.setBreakpoints([bp()]);
  const a = await setup(t, { server, captureConfig: { piiPatterns: [{ pattern: /CUSTOM-\d+/, marker: '[REDACTED:custom_id]' }] } });
  await applied(a.client, server);
  a.capture('payment-failed', { ticket: 'CUSTOM-123', password: 'hunter2', card: '4111111111111111' });
  await a.client.waitFor((s) => s.uploaded === 1);
  assert.deepEqual(server.snapshots[0].variables, { ticket: '[REDACTED:custom_id]', password: '[REDACTED:password]', card: '[REDACTED:credit_card]' });

  const server2 = await startFakeServer();
  server2.setBreakpoints([bp()]);
  const b = await setup(t, { server: server2, captureConfig: { piiScrubbing: false } });
  await applied(b.client, server2);
  b.capture('payment-failed', { email: 'jane@example.com', password: 'hunter2' });
  await b.client.waitFor((s) => s.uploaded === 1);
  assert.deepEqual(server2.snapshots[0].variables, { email: 'jane@example.com', password: 'hunter2' });
});

test('depth and string limits come from the breakpoint', async (t) => {
  const server = await startFakeServer();
  server.setBreakpoints([bp({ captureDepth: 1, maxStringLength: 4 })]);
  const { client, capture } = await setup(t, { server });
  await applied(client, server);
  capture('payment-failed', { o: { a: { b: 1 } }, s: 'abcdefgh' });
  await client.waitFor((s) => s.uploaded === 1);
  const snap = server.snapshots[0];
  assert.deepEqual(snap.variables, { o: { a: '[truncated]' }, s: 'abcd…[truncated 4 bytes]' });
  assert.equal(snap.truncated, true);
});

test('line breakpoints go to the inspector, which captures them instead of capture points', async (t) => {
  const stub = { lists: [], opts: null, closed: false };
  class StubLines {
    constructor(o) { stub.opts = o; }
    update(list) { stub.lists.push(list); return new Set(list.map((b) => b.id)); }
    close() { stub.closed = true; }
  }
  const server = await startFakeServer();
  const line = lineOf('LINE-BP-MARKER');
  const lineBp = bp({ id: 'L1', capturePoint: '', file: 'codemon-agent.test.js', line });
  server.setBreakpoints([lineBp, bp({ id: 'N1' })]);
  const { client, h } = await setup(t, { server, internal: { LineBreakpoints: StubLines } });
  await applied(client, server);
  assert.deepEqual(stub.lists.at(-1).map((b) => b.id), ['L1']);
  wrapper(client, 'other', { x: 1 }); // LINE-BP-MARKER: installed, so not captured here
  assert.equal(client.stats().captures, 0);
  assert.equal(stub.opts.admit(lineBp), true);
  stub.opts.onHit(lineBp, {
    file: __filename, line, function: 'fn', variables: { email: 'jane@example.com', n: 1 },
    stack: [{ function: 'fn', file: __filename, line }], traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7',
    time: new Date(),
  });
  await client.waitFor((s) => s.uploaded === 1);
  const snap = server.snapshots[0];
  assert.equal(snap.breakpointId, 'L1');
  assert.equal(snap.capturePoint, undefined);
  assert.deepEqual(snap.variables, { email: '[REDACTED:email]', n: 1 });
  assert.equal(snap.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
  server.setBreakpoints(server.breakpoints, { killSwitch: true });
  await client.waitFor((s) => s.killSwitch);
  assert.equal(stub.opts.admit(lineBp), false);
  assert.deepEqual(stub.lists.at(-1), []);
  await h.shutdown();
  assert.equal(stub.closed, true);
});

test('noopSnapshotClient does nothing', () => {
  assert.equal(codemon.noopSnapshotClient.checkAndCapture('x', { a: 1 }), undefined);
});
