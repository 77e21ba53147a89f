'use strict';

// A fake TraceKit server for the code-monitoring tests: the endpoints of
// docs/protocol.md, on 127.0.0.1 and a port of the system's choosing, with
// knobs to make each of them fail. It records every request.

const http = require('node:http');
const zlib = require('node:zlib');
const crypto = require('node:crypto');

class FakeCodemonServer {
  constructor() {
    this.service = 'checkout';
    this.killSwitch = false;
    this.breakpoints = [];
    this.version = '';
    this.requests = []; // { method, path, query, headers, body }
    this.snapshots = [];
    this.logs = [];
    this.uploads = []; // upload request bodies
    this.points = [];
    this.checks = [];
    this.streams = new Set();
    // Knobs: a status to answer instead of the protocol's, per endpoint.
    this.streamStatus = 0;
    this.pollStatus = 0;
    this.uploadStatus = 0;
    this.checkStatus = 0;
    this.pointsStatus = 0;
    // decide(check) returns the CheckResponse of a check.
    this.decide = () => ({ capture: true });
    this.bump();
    this.server = http.createServer((req, res) => this.handle(req, res));
  }

  async listen() {
    await new Promise((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address();
    this.url = `http://127.0.0.1:${port}`;
    return this;
  }

  bump() {
    this.version = crypto.createHash('sha256')
      .update(JSON.stringify([this.killSwitch, this.breakpoints])).digest('hex').slice(0, 16);
  }

  set() {
    return { service: this.service, version: this.version, killSwitch: this.killSwitch, breakpoints: this.breakpoints };
  }

  // setBreakpoints replaces the set and pushes it to open streams.
  setBreakpoints(breakpoints, { killSwitch = this.killSwitch } = {}) {
    this.breakpoints = breakpoints;
    this.killSwitch = killSwitch;
    this.bump();
    for (const s of this.streams) this.sendSet(s);
  }

  sendSet(res) {
    res.write(`id: ${this.version}\nevent: breakpoints\ndata: ${JSON.stringify(this.set())}\n\n`);
  }

  endStreams() {
    for (const s of this.streams) s.destroy();
    this.streams.clear();
  }

  count(method, path) {
    return this.requests.filter((r) => r.method === method && r.path === path).length;
  }

  async handle(req, res) {
    const u = new URL(req.url, 'http://x');
    const chunks = [];
    for await (const c of req) chunks.push(c);
    let raw = Buffer.concat(chunks);
    if (req.headers['content-encoding'] === 'gzip') raw = zlib.gunzipSync(raw);
    let body = null;
    if (raw.length) {
      try { body = JSON.parse(raw.toString('utf8')); } catch { body = raw.toString('utf8'); }
    }
    const rec = { method: req.method, path: u.pathname, query: Object.fromEntries(u.searchParams), headers: req.headers, body };
    this.requests.push(rec);
    const json = (status, obj, headers = {}) => {
      res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
      res.end(obj === undefined ? undefined : JSON.stringify(obj));
    };
    const fail = (status) => json(status, { error: `fake failure ${status}` }, status === 429 || status === 503 ? { 'Retry-After': '0' } : {});
    switch (`${req.method} ${u.pathname}`) {
      case 'GET /v1/codemon/stream': {
        if (this.streamStatus) return fail(this.streamStatus);
        res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
        res.write(': hello\n\n');
        if (req.headers['last-event-id'] !== this.version) this.sendSet(res);
        this.streams.add(res);
        res.on('close', () => this.streams.delete(res));
        return undefined;
      }
      case 'GET /v1/codemon/breakpoints': {
        if (this.pollStatus) return fail(this.pollStatus);
        const etag = `"${this.version}"`;
        if (req.headers['if-none-match'] === etag) {
          res.writeHead(304, { ETag: etag });
          return res.end();
        }
        return json(200, this.set(), { ETag: etag });
      }
      case 'POST /v1/codemon/capture-points':
        if (this.pointsStatus) return fail(this.pointsStatus);
        this.points.push(...(body.points || []));
        res.writeHead(204);
        return res.end();
      case 'POST /v1/codemon/check': {
        if (this.checkStatus) return fail(this.checkStatus);
        this.checks.push(body);
        if (this.killSwitch) return json(200, { capture: false, killSwitch: true });
        if (!this.breakpoints.some((b) => b.id === body.breakpointId)) return json(404, { error: 'breakpoint is not active' });
        return json(200, this.decide(body));
      }
      case 'POST /v1/codemon/snapshots': {
        if (this.uploadStatus) return fail(this.uploadStatus);
        if (this.killSwitch) return json(409, { error: `kill switch of service "${this.service}" is on` });
        this.uploads.push(body);
        this.snapshots.push(...(body.snapshots || []));
        this.logs.push(...(body.logs || []));
        return json(202, { accepted: (body.snapshots || []).length + (body.logs || []).length });
      }
      default:
        return json(404, { error: 'no such endpoint' });
    }
  }

  async close() {
    this.endStreams();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(() => resolve()));
  }
}

async function startFakeServer() {
  return new FakeCodemonServer().listen();
}

module.exports = { FakeCodemonServer, startFakeServer };
