'use strict';

// sync keeps the agent's breakpoint set current (docs/protocol.md, "The
// breakpoint set"): the Server-Sent Events stream, with Last-Event-ID resume,
// a 45 s silence timeout and reconnects with exponential backoff and jitter;
// and polling with If-None-Match, once at start and every pollInterval while
// the stream is down. Stream and poll failures do not count towards the
// circuit breaker (polling covers the stream), but nothing is sent while the
// breaker is open.

const { answerError, retryAfterMs } = require('./transport');

const PATH_STREAM = '/v1/codemon/stream';
const PATH_BREAKPOINTS = '/v1/codemon/breakpoints';
const MAX_SET_BYTES = 8 << 20;

class Sync {
  constructor(agent, { pollIntervalMs, streamTimeoutMs, backoffMinMs, backoffMaxMs }) {
    this.a = agent;
    this.pollIntervalMs = pollIntervalMs;
    this.streamTimeoutMs = streamTimeoutMs;
    this.backoffMinMs = backoffMinMs;
    this.backoffMaxMs = Math.max(backoffMaxMs, backoffMinMs);
    this.backoff = backoffMinMs;
    this.streaming = false;
    this.running = false;
    this.req = null; // the stream's request
    this.reconnectTimer = null;
    this.pollTimer = null;
    this.idleTimer = null;
    this.lastPoll = 0; // monotonic ms
    this.polling = false;
    this.notBefore = 0; // Retry-After of the polling endpoint
    this.lost = false; // the stream's loss was logged
    this.authLogged = false;
  }

  start() {
    if (this.running) return;
    this.running = true;
    this.backoff = this.backoffMinMs;
    this.poll(); // at once: capture works before the stream is up
    this.connect();
  }

  // stop ends the stream and the timers; start() resumes.
  stop() {
    this.running = false;
    this.streaming = false;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.pollTimer);
    clearTimeout(this.idleTimer);
    this.reconnectTimer = this.pollTimer = this.idleTimer = null;
    if (this.req) {
      const req = this.req;
      this.req = null;
      req.destroy();
    }
  }

  connect() {
    if (!this.running || this.req) return;
    const a = this.a;
    const headers = { Accept: 'text/event-stream', 'Cache-Control': 'no-cache' };
    if (a.version) headers['Last-Event-ID'] = a.version;
    let req;
    try {
      req = a.transport.stream(PATH_STREAM, headers);
    } catch (err) {
      this.down(false, err, 0);
      return;
    }
    this.req = req;
    let connected = false;
    let ended = false;
    const end = (err, retryMs) => {
      if (ended) return;
      ended = true;
      clearTimeout(this.idleTimer);
      if (this.req === req) this.req = null;
      req.destroy();
      this.down(connected, err, retryMs || 0);
    };
    this.armIdle(() => end(new Error(`stream silent for ${this.streamTimeoutMs} ms`)));
    req.on('error', (err) => end(err));
    req.on('response', (res) => {
      if (res.statusCode !== 200) {
        const chunks = [];
        res.on('data', (c) => { if (chunks.length < 4) chunks.push(c); });
        res.on('end', () => {
          const r = { status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) };
          if ((r.status === 401 || r.status === 403) && !this.authLogged) {
            this.authLogged = true;
            a.log('warn', `code monitoring: the server refused the API key for the breakpoint stream (${r.status}); check TRACEKIT_API_KEY`);
          }
          end(answerError('GET', PATH_STREAM, r), retryAfterMs(r.headers, Date.now()));
        });
        res.on('error', (err) => end(err));
        return;
      }
      connected = true;
      this.streaming = true;
      this.backoff = this.backoffMinMs;
      clearTimeout(this.pollTimer);
      this.pollTimer = null;
      if (this.lost) {
        this.lost = false;
        a.log('info', 'code monitoring: breakpoint stream connected again');
      }
      a.changed();
      res.setEncoding('utf8');
      let buf = '';
      let ev = { name: '', data: [], hasData: false };
      res.on('data', (chunk) => {
        a.guard('stream', () => {
          this.armIdle(() => end(new Error(`stream silent for ${this.streamTimeoutMs} ms`)));
          buf += chunk;
          let nl;
          while ((nl = buf.indexOf('\n')) >= 0) {
            let line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            if (line.endsWith('\r')) line = line.slice(0, -1);
            if (line === '') {
              if (ev.hasData && (ev.name || 'message') === 'breakpoints') this.onSet(ev.data.join('\n'));
              ev = { name: '', data: [], hasData: false };
              continue;
            }
            if (line[0] === ':') continue;
            const i = line.indexOf(':');
            const field = i < 0 ? line : line.slice(0, i);
            let value = i < 0 ? '' : line.slice(i + 1);
            if (value[0] === ' ') value = value.slice(1);
            if (field === 'event') ev.name = value;
            else if (field === 'data') {
              ev.data.push(value);
              ev.hasData = true;
            }
          }
          if (buf.length > MAX_SET_BYTES) end(new Error('stream event larger than 8 MiB'));
        });
      });
      res.on('error', (err) => end(err));
      res.on('end', () => end(new Error('stream ended')));
      res.on('close', () => end(new Error('stream closed')));
    });
  }

  armIdle(fn) {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(fn, this.streamTimeoutMs);
    this.idleTimer.unref();
  }

  onSet(data) {
    let set;
    try {
      set = JSON.parse(data);
    } catch (err) {
      this.a.log('warn', `code monitoring: a breakpoint set could not be read; keeping the current one (${err.message})`);
      return;
    }
    this.a.apply(set);
  }

  // down: the stream failed or ended. Poll now (unless a poll is recent),
  // and reconnect after the backoff.
  down(connected, err, retryMs) {
    this.streaming = false;
    if (!this.running) return;
    const a = this.a;
    a.changed();
    if (connected) {
      this.backoff = this.backoffMinMs;
      a.log('debug', `code monitoring: breakpoint stream ended: ${err && err.message}`);
    } else if (!this.lost) {
      this.lost = true;
      a.log('warn', `code monitoring: breakpoint stream unavailable; polling every ${Math.round(this.pollIntervalMs / 1000)} s until it is back (${err && err.message})`);
    }
    this.schedulePoll();
    const half = this.backoff / 2;
    const delay = Math.max(half + Math.random() * half, retryMs);
    if (!connected) this.backoff = Math.min(this.backoff * 2, this.backoffMaxMs);
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      a.guard('connect', () => this.connect());
    }, delay);
    this.reconnectTimer.unref();
  }

  schedulePoll() {
    if (!this.running || this.streaming || this.pollTimer) return;
    const since = performance.now() - this.lastPoll;
    let delay = this.lastPoll === 0 || since >= this.pollIntervalMs ? 0 : this.pollIntervalMs - since;
    delay = Math.max(delay, this.notBefore - performance.now());
    this.pollTimer = setTimeout(() => {
      this.pollTimer = null;
      this.poll();
    }, delay);
    this.pollTimer.unref();
  }

  async poll() {
    if (!this.running || this.polling) return;
    this.polling = true;
    this.lastPoll = performance.now();
    const a = this.a;
    try {
      const headers = {};
      if (a.version) headers['If-None-Match'] = `"${a.version}"`;
      const res = await a.transport.request('GET', PATH_BREAKPOINTS, { headers, maxBytes: MAX_SET_BYTES });
      if (res.status === 200) this.onSet(res.body.toString('utf8'));
      else if (res.status !== 304) {
        if (res.status === 429 || res.status === 503) this.notBefore = performance.now() + retryAfterMs(res.headers, Date.now());
        if ((res.status === 401 || res.status === 403) && !this.authLogged) {
          this.authLogged = true;
          a.log('warn', `code monitoring: the server refused the API key (${res.status}); check TRACEKIT_API_KEY`);
        }
        a.log('debug', `code monitoring: poll breakpoints: ${answerError('GET', PATH_BREAKPOINTS, res).message}`);
      }
    } catch (err) {
      if (this.running) a.log('debug', `code monitoring: poll breakpoints: ${err.message}`);
    } finally {
      this.polling = false;
    }
    if (this.running && !this.streaming) this.schedulePoll();
  }
}

module.exports = { Sync, PATH_STREAM, PATH_BREAKPOINTS };
