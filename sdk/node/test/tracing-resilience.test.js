'use strict';
// A TraceKit server that is down or failing costs spans, never requests:
// nothing is thrown into the application, the failure is logged once a
// minute. And the SDK never keeps the process alive: it exits after
// shutdown (and without it, once its work is done).

const { test } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const path = require('node:path');
const { spawn } = require('node:child_process');
const express = require('express');

const tracekit = require('..');
const { startReceiver } = require('./support/otlp-receiver');
const { listen, request } = require('./support/http');

/** A port on 127.0.0.1 that nothing listens on. */
function closedPort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

async function deadline(pred, ms, what) {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function serveThrough(sdk, n) {
  const app = express();
  app.use(tracekit.Handlers.requestHandler());
  app.get('/ok/:i', (req, res) => {
    tracekit.setTag('i', req.params.i);
    res.send('fine');
  });
  const srv = await listen(app);
  try {
    for (let i = 0; i < n; i++) {
      const res = await request(`${srv.url}/ok/${i}`);
      assert.equal(res.status, 200);
      assert.equal(res.body, 'fine');
      if (i % 5 === 4) await sdk.forceFlush(); // several failed exports
    }
  } finally {
    await srv.close();
  }
}

test('a server that is down: requests keep working, one warning, nothing thrown', async () => {
  const unhandled = [];
  const onUnhandled = (err) => unhandled.push(err);
  process.on('unhandledRejection', onUnhandled);
  const warnings = [];
  const port = await closedPort();
  const sdk = tracekit.init({
    serviceName: 'down',
    endpoint: `http://127.0.0.1:${port}/v1/traces`,
    batchTimeoutMs: 10,
    exportTimeoutMs: 2000,
    logger: { warn: (m) => warnings.push(m) },
  });
  try {
    await serveThrough(sdk, 20);
    await sdk.forceFlush();
    await deadline(() => sdk.stats().failed >= 20, 20000, 'the failed exports to be counted');
    assert.equal(warnings.length, 1, `one warning a minute, got: ${warnings.join(' | ')}`);
    assert.match(warnings[0], /^\[tracekit\] could not export \d+ span\(s\) to http:\/\/127\.0\.0\.1:\d+\/v1\/traces: .*ECONNREFUSED/);
    assert.equal(sdk.stats().exported, 0);
  } finally {
    await sdk.shutdown();
    process.off('unhandledRejection', onUnhandled);
  }
  assert.deepEqual(unhandled, []);
});

test('a server answering 500, then recovering: spans resume', async () => {
  const rx = await startReceiver({ status: 500 });
  const warnings = [];
  const sdk = tracekit.init({
    serviceName: 'flaky',
    endpoint: rx.endpoint,
    batchTimeoutMs: 10,
    logger: { warn: (m) => warnings.push(m) },
  });
  try {
    await serveThrough(sdk, 5);
    await sdk.forceFlush();
    await deadline(() => sdk.stats().failed >= 5, 20000, 'the rejected exports');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /could not export/);
    rx.setStatus(200);
    await serveThrough(sdk, 3);
    await rx.waitFor((s) => s.length >= 3, { message: 'spans after recovery' });
  } finally {
    await sdk.shutdown();
    await rx.close();
  }
});

/** Runs the exit child in mode; resolves with its exit code, or rejects if it is still alive after ms. */
function runChild(endpoint, mode, ms = 30000) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, 'support', 'tracing-child.js'), endpoint, mode], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the ${mode} child did not exit within ${ms} ms (stdout: ${out}, stderr: ${err})`));
    }, ms);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

test('after sdk.shutdown() the process exits by itself, its span exported', async () => {
  const rx = await startReceiver();
  try {
    const { code, out, err } = await runChild(rx.endpoint, 'shutdown');
    assert.equal(code, 0, err);
    assert.equal(out, 'served\n');
    assert.ok(rx.spans.some((s) => s.name === 'GET /x' && s.resource['service.name'] === 'exit-child'));
  } finally {
    await rx.close();
  }
});

test('without shutdown the SDK does not keep the process alive either', async () => {
  const port = await closedPort();
  const { code, out, err } = await runChild(`http://127.0.0.1:${port}/v1/traces`, 'no-shutdown');
  assert.equal(code, 0, err);
  assert.equal(out, 'served\n');
});

test('with code monitoring on and its server down, shutdown still lets the process exit', async () => {
  const port = await closedPort();
  const { code, out, err } = await runChild(`http://127.0.0.1:${port}/v1/traces`, 'codemon');
  assert.equal(code, 0, err);
  assert.equal(out, 'served\n');
});
