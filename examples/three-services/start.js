#!/usr/bin/env node
'use strict';
// One command for the guide's scenario: builds what it needs, then starts the
// page (3000), the Node.js API (3001) and the Go service (8080) against a
// running TraceKit server, and stops them all on Ctrl-C or when one fails.
//
//   TRACEKIT_API_KEY=<admin key> node examples/three-services/start.js
//
// Environment: TRACEKIT_SERVER (http://127.0.0.1:4318), TRACEKIT_API_KEY (an
// admin key: it mints the ingest key the three services send with, unless
// TRACEKIT_INGEST_KEY is set), WEB_PORT, API_PORT, GO_PORT (3000, 3001,
// 8080), GO (the go command).
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');
const server = (process.env.TRACEKIT_SERVER || 'http://127.0.0.1:4318').replace(/\/+$/, '');
const adminKey = process.env.TRACEKIT_API_KEY || '';
const ports = {
  web: Number(process.env.WEB_PORT || 3000),
  api: Number(process.env.API_PORT || 3001),
  go: Number(process.env.GO_PORT || 8080),
};
const webOrigin = `http://localhost:${ports.web}`;

function fail(msg) {
  console.error(`three-services: ${msg}`);
  process.exit(1);
}

async function ingestKey() {
  if (process.env.TRACEKIT_INGEST_KEY) return process.env.TRACEKIT_INGEST_KEY;
  if (!adminKey) fail('set TRACEKIT_API_KEY to an admin key of the TraceKit server (the one it printed at first start)');
  let res;
  try {
    res = await fetch(`${server}/api/v1/keys`, {
      method: 'POST',
      headers: { 'X-API-Key': adminKey, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: `three-services ${new Date().toISOString()}`, scope: 'ingest' }),
    });
  } catch (err) {
    fail(`no TraceKit server at ${server} (${err.cause?.code || err.message}): start one with\n` +
      `  go run ./cmd/tracekit server --cors-origins ${webOrigin}`);
  }
  if (!res.ok) fail(`minting an ingest key at ${server}: ${res.status} ${await res.text()}`);
  return (await res.json()).secret;
}

// The browser sends spans from the page's origin: the server must allow it.
async function checkCORS() {
  try {
    const res = await fetch(`${server}/v1/traces`, {
      method: 'OPTIONS',
      headers: { Origin: webOrigin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type,x-api-key' },
    });
    if (res.headers.get('access-control-allow-origin') !== webOrigin) {
      console.warn(`three-services: the server does not allow ${webOrigin}: the page's spans will be refused. ` +
        `Restart it with --cors-origins ${webOrigin}`);
    }
  } catch {
    // ingestKey reported an unreachable server already.
  }
}

function build(tmp) {
  const bundle = path.join(root, 'sdk', 'browser', 'dist', 'tracekit.min.js');
  if (!fs.existsSync(bundle)) {
    console.log('three-services: building the browser SDK');
    execFileSync(process.execPath, [path.join(root, 'sdk', 'browser', 'build.js')], { stdio: 'inherit', cwd: path.join(root, 'sdk', 'browser') });
  }
  console.log('three-services: building the Go service');
  const bin = path.join(tmp, 'go-service');
  execFileSync(process.env.GO || 'go', ['build', '-o', bin, '.'], { stdio: 'inherit', cwd: path.join(__dirname, 'go-service') });
  return bin;
}

async function waitFor(name, url, child, deadline) {
  while (Date.now() < deadline) {
    if (child.exitCode !== null) fail(`${name} exited with ${child.exitCode}`);
    try {
      await fetch(url);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  fail(`${name} did not answer at ${url}`);
}

async function main() {
  const key = await ingestKey();
  await checkCORS();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tracekit-three-services-'));
  const goBin = build(tmp);

  const common = { ...process.env, TRACEKIT_API_KEY: key, TRACEKIT_ENDPOINT: `${server}/v1/traces` };
  const children = [];
  let stopping = false;
  const stop = (code) => {
    if (stopping) return;
    stopping = true;
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    setTimeout(() => process.exit(code), 3000).unref();
    Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : null))).then(() => {
      fs.rmSync(tmp, { recursive: true, force: true });
      process.exit(code);
    });
  };
  const start = (name, cmd, args, env) => {
    const c = spawn(cmd, args, { env: { ...common, ...env }, stdio: ['ignore', 'inherit', 'inherit'] });
    c.on('exit', (code, signal) => {
      if (!stopping) {
        console.error(`three-services: ${name} stopped (${signal || code}); stopping the others`);
        stop(1);
      }
    });
    children.push(c);
    return c;
  };
  process.on('SIGINT', () => stop(0));
  process.on('SIGTERM', () => stop(0));

  const goSvc = start('go-service', goBin, [], { ADDR: `127.0.0.1:${ports.go}` });
  const api = start('node-api', process.execPath, [path.join(__dirname, 'api', 'server.js')], {
    API_PORT: String(ports.api),
    GO_SERVICE_URL: `http://localhost:${ports.go}`,
    WEB_ORIGINS: `${webOrigin},http://127.0.0.1:${ports.web}`,
  });
  const web = start('web', process.execPath, [path.join(__dirname, 'web', 'server.js')], {
    WEB_PORT: String(ports.web),
    API_URL: `http://localhost:${ports.api}`,
    TRACEKIT_BROWSER_KEY: key,
    TRACEKIT_BROWSER_ENDPOINT: `${server}/v1/traces`,
  });
  const deadline = Date.now() + 60_000;
  await waitFor('go-service', `http://127.0.0.1:${ports.go}/healthz`, goSvc, deadline);
  await waitFor('node-api', `http://127.0.0.1:${ports.api}/`, api, deadline);
  await waitFor('web', `http://127.0.0.1:${ports.web}/`, web, deadline);
  console.log(`three-services: ready: open ${webOrigin} and click "Load Users"; traces at ${server}/`);
}

main().catch((err) => fail(err.stack || String(err)));
