'use strict';

// Benchmark of capture points (node bench/capture.js):
//  1. a capture point with no active breakpoint (outside a discovery
//     window): ns per call, target <= 50 ns;
//  2. a capture point with an active breakpoint, depth 3, ~20 fields, PII
//     scrubbing on: median and p99 of the synchronous cost to the caller
//     (call site, match, capture, scrub, queue), target median <= 50 µs.
// The server is the tests' fake server on 127.0.0.1; uploads are not
// measured (they are asynchronous) and are held back during the run.

const codemon = require('../lib/codemon');
const { startFakeServer } = require('../test/support/fake-codemon-server');

let client = null;
function capture(name, data) { client.checkAndCapture(name, data); } // the guide's wrapper

function data(i) {
  return {
    orderId: `o-${i}`, userId: 42, email: 'jane@example.com', amount: 129.99, currency: 'EUR',
    status: 'pending', retries: 2, paid: false, createdAt: new Date(1700000000000),
    note: 'customer asked for gift wrapping', phone: '+44 20 7946 0958', sku: 'SKU-100234',
    items: [{ sku: 'A-1', qty: 1, price: 99.99 }, { sku: 'B-2', qty: 2, price: 15 }],
    address: { street: '1 Main St', city: 'Paris', zip: '75001', geo: { lat: 48.85, lon: 2.35 } },
    headers: { 'user-agent': 'Mozilla/5.0', authorization: 'Bearer abc.def.ghi' },
    password: 'hunter2', token: 'tok_123', flags: new Set(['a', 'b']), meta: new Map([['k', 'v']]),
    description: 'x'.repeat(300),
  };
}

function nowNs() { return process.hrtime.bigint(); }

async function main() {
  const server = await startFakeServer();
  const wait = (pred) => client.waitFor(pred, 10_000);

  // 1. Idle.
  let h = codemon.start({ baseURL: server.url, serviceName: 'bench', logger: {}, internal: { discovery: false } });
  client = h.snapshotClient;
  await wait((s) => s.version === server.version);
  const d = data(0);
  for (let i = 0; i < 1e6; i++) capture('idle-point', d);
  const N = 20e6;
  let t0 = nowNs();
  for (let i = 0; i < N; i++) capture('idle-point', d);
  const idleNs = Number(nowNs() - t0) / N;
  t0 = nowNs();
  for (let i = 0; i < N; i++) noop('idle-point', d);
  const loopNs = Number(nowNs() - t0) / N;
  await h.shutdown();

  // 2. Active, depth 3, PII on.
  server.setBreakpoints([{ id: 'bp_bench', type: 'line', capturePoint: 'hot', captureDepth: 3, rateLimit: 1e6, maxStringLength: 256 }]);
  h = codemon.start({
    baseURL: server.url, serviceName: 'bench', logger: {},
    internal: { discovery: false, flushIntervalMs: 1e9, queueSize: 1e6, queueBytes: 1 << 30, batchSize: 1e6 },
  });
  client = h.snapshotClient;
  await wait((s) => s.breakpoints === 1);
  const inputs = Array.from({ length: 100 }, (_, i) => data(i));
  for (let i = 0; i < 2000; i++) capture('hot', inputs[i % 100]);
  const M = 5000;
  const times = new Float64Array(M);
  for (let i = 0; i < M; i++) {
    const a = nowNs();
    capture('hot', inputs[i % 100]);
    times[i] = Number(nowNs() - a) / 1000;
  }
  times.sort();
  const captured = client.stats().captures;
  const sample = client._agent.queue[0];
  await h.shutdown();
  await server.close();

  const fields = Object.keys(data(0)).length;
  console.log(`node ${process.version}, ${require('node:os').cpus().length} CPUs`);
  console.log(`capture point, no active breakpoint: ${idleNs.toFixed(1)} ns/op (empty loop with a call: ${loopNs.toFixed(1)} ns/op; target <= 50 ns)`);
  console.log(`active capture, depth 3, ${fields} fields, PII on: median ${times[M >> 1].toFixed(1)} µs, p99 ${times[Math.floor(M * 0.99)].toFixed(1)} µs (target median <= 50 µs; ${captured} captured)`);
  if (process.env.BENCH_SHOW) console.log(JSON.stringify(sample.vars, null, 1));
}

function noop(name, data) { return name === data; }

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
