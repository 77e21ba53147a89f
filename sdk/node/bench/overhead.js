#!/usr/bin/env node
'use strict';
/**
 * Per-request overhead of @tracekit/node on an Express handler, against the
 * bare handler and against OpenTelemetry's own instrumentation pair
 * (@opentelemetry/instrumentation-http + instrumentation-express).
 *
 *   node bench/overhead.js [--duration 10] [--warmup 2] [--connections 10]
 *                          [--variants bare,tracekit,otel] [--rounds 1]
 *
 * Each variant runs in a child process of its own on 127.0.0.1, exporting
 * to a local OTLP sink (in this process) that reads and discards what it is
 * sent. autocannon loads it for --warmup seconds (not counted), then for
 * --duration seconds; the benchmark stops by itself. It prints req/s, p50 and
 * p99 latency, and the per-request overhead versus bare: 1e6/rps(variant) -
 * 1e6/rps(bare) in µs, the server thread's extra time per request (the
 * server is saturated, so its throughput is the inverse of its cost). With
 * --rounds N the variants alternate N times and the figures are the medians.
 */

const { spawn } = require('node:child_process');
const http = require('node:http');
const path = require('node:path');

const VARIANTS = ['bare', 'tracekit', 'otel'];

function parseArgs(argv) {
  const opts = { duration: 10, warmup: 2, connections: 10, variants: VARIANTS, rounds: 1, serve: null, sink: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    switch (a) {
      case '--duration': opts.duration = Number(next()); break;
      case '--warmup': opts.warmup = Number(next()); break;
      case '--connections': opts.connections = Number(next()); break;
      case '--rounds': opts.rounds = Number(next()); break;
      case '--variants': opts.variants = next().split(',').map((s) => s.trim()).filter(Boolean); break;
      case '--serve': opts.serve = next(); break;
      case '--sink': opts.sink = next(); break;
      case '-h':
      case '--help':
        console.log('usage: node bench/overhead.js [--duration s] [--warmup s] [--connections n] [--variants bare,tracekit,otel] [--rounds n]');
        process.exit(0);
        break;
      default:
        throw new Error(`unknown flag ${a}`);
    }
  }
  for (const v of opts.variants) if (!VARIANTS.includes(v)) throw new Error(`unknown variant ${v}; known: ${VARIANTS.join(', ')}`);
  for (const k of ['duration', 'connections', 'rounds']) {
    if (!(opts[k] > 0)) throw new Error(`--${k} must be a positive number`);
  }
  if (!(opts.warmup >= 0)) throw new Error('--warmup must be >= 0');
  return opts;
}

// ---------------------------------------------------------------- server side

/** The child: sets up the variant, serves the app, reports its port. */
function serve(variant, sink) {
  const endpoint = `${sink}/v1/traces`;
  let before = () => {};
  let shutdown = async () => {};
  if (variant === 'tracekit') {
    const tracekit = require('..');
    const sdk = tracekit.init({ serviceName: 'bench-tracekit', endpoint, logger: false });
    before = (app) => {
      app.use(tracekit.Handlers.requestHandler());
      app.use(tracekit.Handlers.tracingHandler());
    };
    shutdown = () => sdk.shutdown();
  } else if (variant === 'otel') {
    // As the OpenTelemetry documentation sets it up: instrumentations
    // registered before express and http are loaded.
    const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node');
    const { BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');
    const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http');
    const { resourceFromAttributes } = require('@opentelemetry/resources');
    const { registerInstrumentations } = require('@opentelemetry/instrumentation');
    const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');
    const { ExpressInstrumentation } = require('@opentelemetry/instrumentation-express');
    const provider = new NodeTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'bench-otel' }),
      spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: endpoint }))],
    });
    provider.register();
    registerInstrumentations({ instrumentations: [new HttpInstrumentation(), new ExpressInstrumentation()] });
    shutdown = () => provider.shutdown();
  }
  const express = require('express');
  const app = express();
  before(app);
  app.get('/api/users/:id', (req, res) => {
    res.json({ id: req.params.id, name: 'user' });
  });
  const server = app.listen(0, '127.0.0.1', () => {
    process.send({ port: server.address().port });
  });
  server.keepAliveTimeout = 60_000;
  process.on('message', async (m) => {
    if (m !== 'stop') return;
    server.close();
    server.closeAllConnections();
    await shutdown();
    process.exit(0);
  });
}

// ---------------------------------------------------------------- driver side

/** An OTLP sink: reads every body, answers 200 {}, counts what it got. */
function startSink() {
  const stats = { requests: 0, bytes: 0 };
  const server = http.createServer((req, res) => {
    req.on('data', (c) => (stats.bytes += c.length));
    req.on('end', () => {
      stats.requests++;
      res.setHeader('content-type', 'application/json');
      res.end('{}');
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${server.address().port}`, stats, server }));
  });
}

function startVariant(variant, sinkURL) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [__filename, '--serve', variant, '--sink', sinkURL], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      cwd: path.join(__dirname, '..'),
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${variant} did not start within 30 s`));
    }, 30_000);
    child.once('message', (m) => {
      clearTimeout(timer);
      resolve({ child, url: `http://127.0.0.1:${m.port}/api/users/42` });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${variant} exited with ${code} before serving`));
    });
  });
}

function stopVariant(child) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.removeAllListeners('exit');
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.send('stop');
  });
}

function load(url, seconds, connections) {
  const autocannon = require('autocannon');
  return new Promise((resolve, reject) => {
    autocannon({ url, duration: seconds, connections }, (err, result) => (err ? reject(err) : resolve(result)));
  });
}

async function measure(variant, opts, sink) {
  const { child, url } = await startVariant(variant, sink.url);
  try {
    if (opts.warmup > 0) await load(url, opts.warmup, opts.connections);
    const before = { ...sink.stats };
    const r = await load(url, opts.duration, opts.connections);
    await new Promise((res) => setTimeout(res, 1500)); // the last batch
    return {
      variant,
      rps: r.requests.average,
      p50: r.latency.p50,
      p99: r.latency.p99,
      total: r.requests.total,
      errors: r.errors + r.timeouts + r.non2xx,
      exports: sink.stats.requests - before.requests,
      exportedKB: (sink.stats.bytes - before.bytes) / 1024,
    };
  } finally {
    await stopVariant(child);
  }
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.serve) return serve(opts.serve, opts.sink);

  const sink = await startSink();
  console.log(`node ${process.version}, ${require('node:os').cpus().length} CPUs; ` +
    `${opts.duration} s per variant after ${opts.warmup} s of warm-up, ${opts.connections} connections, ${opts.rounds} round(s)`);
  const runs = Object.fromEntries(opts.variants.map((v) => [v, []]));
  for (let round = 0; round < opts.rounds; round++) {
    for (const v of opts.variants) {
      const r = await measure(v, opts, sink);
      runs[v].push(r);
      console.log(`  round ${round + 1} ${v.padEnd(8)} ${r.rps.toFixed(0)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, ` +
        `${r.errors} errors, ${r.exports} exports (${r.exportedKB.toFixed(0)} KiB)`);
    }
  }
  sink.server.close();

  const summary = Object.fromEntries(
    Object.entries(runs).map(([v, rs]) => [v, { rps: median(rs.map((r) => r.rps)), p50: median(rs.map((r) => r.p50)), p99: median(rs.map((r) => r.p99)) }]),
  );
  const bare = summary.bare;
  console.log('');
  console.log('variant    req/s    p50 ms  p99 ms  overhead/request vs bare');
  for (const [v, s] of Object.entries(summary)) {
    const over = bare && v !== 'bare' ? `${(1e6 / s.rps - 1e6 / bare.rps).toFixed(1)} µs` : '-';
    console.log(`${v.padEnd(9)} ${s.rps.toFixed(0).padStart(7)} ${String(s.p50).padStart(8)} ${String(s.p99).padStart(7)}  ${over}`);
  }
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : err);
  process.exit(1);
});
