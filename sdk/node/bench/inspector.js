'use strict';

// Benchmark of line breakpoints (lib/codemon/inspector.js):
//   node bench/inspector.js [hits]
// 1. a call to a function with no breakpoint: no inspector session at all,
//    then an idle LineBreakpoints (no breakpoint: Debugger domain disabled),
//    then with a breakpoint on a line of another function (Debugger enabled);
// 2. a line breakpoint hit with ~10 locals captured at depth 3 under an
//    active span: pause-to-resume and the whole call, median and p99.

const fs = require('node:fs');
const { trace, context } = require('@opentelemetry/api');
const { BasicTracerProvider } = require('@opentelemetry/sdk-trace-base');
const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks');

function target(x) {
  let s = x | 0;
  s = (s * 31 + 7) | 0; // BENCH:target
  return s ^ (s >>> 3);
}

function elsewhere(x) {
  return x + 1; // BENCH:elsewhere
}

function handler(req) {
  const id = req.id;
  const user = { name: 'Ada Lovelace', email: 'ada@example.com', roles: ['admin', 'dev'], address: { city: 'London', zip: 'N1' } };
  const items = [{ sku: 'a-1', qty: 2, price: 9.5 }, { sku: 'b-2', qty: 1, price: 120 }];
  const total = items.reduce((t, i) => t + i.qty * i.price, 0);
  const currency = 'EUR';
  const flags = new Map([['beta', true], ['fast', false]]);
  const started = Date.now();
  const note = 'n'.repeat(400);
  const retries = 0;
  const ok = total > 0; // BENCH:handler
  return ok ? total + id + retries + started * 0 + note.length * 0 + flags.size * 0 + currency.length * 0 + user.roles.length * 0 : 0;
}

function lineOf(marker) {
  const lines = fs.readFileSync(__filename, 'utf8').split('\n');
  return lines.findIndex((l) => l.trimEnd().endsWith(`// BENCH:${marker}`)) + 1;
}

// nsPerOp returns the median over rounds of the time of one call.
function nsPerOp(fn, n = 5e6, rounds = 7) {
  const res = [];
  let sink = 0;
  for (let r = 0; r < rounds; r++) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) sink ^= fn(i);
    res.push(Number(process.hrtime.bigint() - t) / n);
  }
  if (sink === 0.5) console.log(sink);
  res.sort((a, b) => a - b);
  return res[rounds >> 1];
}

function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
}

async function main() {
  const hits = Number(process.argv[2]) || 2000;
  const { LineBreakpoints } = require('../lib/codemon/inspector');
  const file = 'bench/inspector.js';
  nsPerOp(target, 2e6, 3); // warm up
  elsewhere(1); // compiled, as a function that has run is (see the docs for one that has not)

  const none = nsPerOp(target);
  let captured = 0;
  const lb = new LineBreakpoints({ admit: () => true, onHit: () => { captured++; }, logger: console });
  lb.update([{ id: 'warm', file, line: lineOf('elsewhere') }]);
  lb.update([]); // session connected, Debugger disabled: idle
  const idle = nsPerOp(target);
  lb.update([{ id: 'other', file, line: lineOf('elsewhere') }]);
  const other = nsPerOp(target);
  lb.update([]);
  const idle2 = nsPerOp(target);

  console.log(`node ${process.version}, ${require('node:os').cpus().length} cpus`);
  console.log('call to a function with no breakpoint (ns/op, median of 7 rounds of 5e6 calls):');
  console.log(`  no inspector session           ${none.toFixed(2)}`);
  console.log(`  inspector idle (no breakpoint) ${idle.toFixed(2)}  (again after a breakpoint came and went: ${idle2.toFixed(2)})`);
  console.log(`  breakpoint on another function ${other.toFixed(2)}`);

  // Hits, under an active span (trace link included).
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const provider = new BasicTracerProvider();
  const span = provider.getTracer('bench').startSpan('bench');
  let t0 = 0n;
  const pause = [];
  const paused = lb._paused.bind(lb);
  lb._paused = (msg) => {
    t0 = process.hrtime.bigint();
    paused(msg);
    pause.push(Number(process.hrtime.bigint() - t0) / 1000);
  };
  lb.update([{ id: 'hit', file, line: lineOf('handler'), captureDepth: 3, maxStringLength: 256 }]);
  const call = [];
  let last;
  await context.with(trace.setSpan(context.active(), span), async () => {
    for (let i = 0; i < hits; i++) {
      const t = process.hrtime.bigint();
      handler({ id: i });
      call.push(Number(process.hrtime.bigint() - t) / 1000);
      if (i % 100 === 99) await new Promise((r) => setImmediate(r)); // let hits be delivered
    }
    await new Promise((r) => setImmediate(r));
    lb._onHit = (bp, hit) => { last = hit; };
    handler({ id: 1 });
    await new Promise((r) => setImmediate(r));
  });
  span.end();
  lb.close();
  await provider.shutdown();
  pause.sort((a, b) => a - b);
  call.sort((a, b) => a - b);
  const n = Object.keys(last.variables).length;
  console.log(`line breakpoint hit, ${n} variables at depth 3, trace link (µs, ${hits} hits, ${captured} delivered):`);
  console.log(`  pause-to-resume   median ${pct(pause, 50).toFixed(1)}  p99 ${pct(pause, 99).toFixed(1)}`);
  console.log(`  whole call        median ${pct(call, 50).toFixed(1)}  p99 ${pct(call, 99).toFixed(1)}`);
  console.log(`  traceId linked: ${last.traceId === span.spanContext().traceId}, truncated: ${last.truncated}, ${JSON.stringify(last.variables).length} bytes of JSON`);
  const after = nsPerOp(target);
  console.log(`after close: ${after.toFixed(2)} ns/op`);
}

main().catch((e) => { console.error(e); process.exitCode = 1; });
