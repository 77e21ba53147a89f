'use strict';

// transport: the HTTP requests of code monitoring, on node:http/https with
// keep-alive, bounded in time and in the size of what is read back. Every
// request can be aborted at shutdown.

const http = require('node:http');
const https = require('node:https');

const MAX_ANSWER_BYTES = 1 << 20;

class Transport {
  constructor({ baseURL, apiKey, query, requestTimeoutMs }) {
    const u = new URL(baseURL);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') {
      throw new TypeError(`tracekit: code monitoring baseURL ${JSON.stringify(baseURL)} is not an http:// or https:// URL`);
    }
    this.base = `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
    this.mod = u.protocol === 'https:' ? https : http;
    this.agent = new this.mod.Agent({ keepAlive: true, maxSockets: 8, maxFreeSockets: 4, timeout: 60_000 });
    this.apiKey = apiKey || '';
    this.query = query;
    this.timeoutMs = requestTimeoutMs;
    this.open = new Set(); // requests in flight, aborted by close()
    this.closed = false;
  }

  url(path) {
    return `${this.base}${path}?${this.query}`;
  }

  headers(extra) {
    const h = { 'User-Agent': 'tracekit-node-codemon', ...extra };
    if (this.apiKey) h['X-API-Key'] = this.apiKey;
    return h;
  }

  // request resolves { status, headers, body: Buffer } for any answer and
  // rejects on a network failure or timeout.
  request(method, path, { body, headers, maxBytes = MAX_ANSWER_BYTES, timeoutMs = this.timeoutMs } = {}) {
    return new Promise((resolve, reject) => {
      if (this.closed) {
        reject(new Error('code monitoring is shut down'));
        return;
      }
      let done = false;
      const finish = (err, res) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.open.delete(req);
        if (err) reject(err);
        else resolve(res);
      };
      const h = this.headers(headers);
      if (body) h['Content-Length'] = body.length;
      const req = this.mod.request(this.url(path), { method, headers: h, agent: this.agent });
      this.open.add(req);
      const timer = setTimeout(() => {
        req.destroy(new Error(`${method} ${path}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      req.on('error', (err) => finish(err));
      req.on('response', (res) => {
        const chunks = [];
        let n = 0;
        res.on('data', (c) => {
          n += c.length;
          if (n <= maxBytes) chunks.push(c);
          else res.destroy(new Error(`${method} ${path}: answer larger than ${maxBytes} bytes`));
        });
        res.on('error', (err) => finish(err));
        res.on('end', () => finish(null, { status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('aborted', () => finish(new Error(`${method} ${path}: answer aborted`)));
      });
      req.end(body);
    });
  }

  // stream opens a long GET; it returns the request, whose 'response' and
  // 'error' events the caller handles. It is aborted by close() too.
  stream(path, headers) {
    const req = this.mod.request(this.url(path), { method: 'GET', headers: this.headers(headers), agent: false });
    this.open.add(req);
    req.on('close', () => this.open.delete(req));
    req.end();
    return req;
  }

  close() {
    this.closed = true;
    for (const req of this.open) req.destroy(new Error('code monitoring is shut down'));
    this.open.clear();
    this.agent.destroy();
  }
}

// answerError describes a refused request with the server's message.
function answerError(method, path, res) {
  let msg = res.body ? res.body.toString('utf8', 0, Math.min(res.body.length, 4096)).trim() : '';
  try {
    const e = JSON.parse(msg);
    if (e && typeof e.error === 'string' && e.error) msg = e.error;
  } catch { /* not JSON */ }
  const err = new Error(`${method} ${path}: server answered ${res.status}${msg ? `: ${msg}` : ''}`);
  err.status = res.status;
  return err;
}

// retryAfterMs reads a Retry-After header (seconds or an HTTP date).
function retryAfterMs(headers, nowMs) {
  const v = headers && headers['retry-after'];
  if (!v) return 0;
  const secs = Number(v);
  if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
  const t = Date.parse(v);
  return Number.isFinite(t) ? Math.max(0, t - nowMs) : 0;
}

module.exports = { Transport, answerError, retryAfterMs };
