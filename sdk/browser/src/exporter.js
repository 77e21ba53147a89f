// Batches ended spans and sends them as OTLP/HTTP JSON: every flushInterval
// or at maxBatchSize spans, one request at a time, from a bounded queue;
// retries 429/502/503/504 and network errors with backoff (honouring
// Retry-After), drops a batch the server refuses otherwise. When the page is
// hidden or unloaded, everything queued goes at once with keepalive.
import { G, debug } from './core.js';
import { span as encodeSpan, body } from './otlp.js';

const RETRYABLE = { 429: 1, 502: 1, 503: 1, 504: 1 };
/** Browsers refuse keepalive requests once the bodies in flight pass 64 KiB. */
export const KEEPALIVE_QUOTA = 65536;
/** The largest body sent with keepalive (the rest of the quota is for other requests of the page). */
export const KEEPALIVE_BODY = 60000;
const MAX_BACKOFF = 30000;
const MAX_RETRY_AFTER = 300000;
const EXPORT_TIMEOUT = 30000;

function bytes(s) {
  const TE = G().TextEncoder;
  return TE ? new TE().encode(s).length : s.length * 3;
}

/** Retry-After as milliseconds (delta-seconds or an HTTP date), 0 when absent or unreadable. */
export function retryAfter(v) {
  if (!v) return 0;
  v = String(v).trim();
  const ms = /^\d+$/.test(v) ? Number(v) * 1000 : Date.parse(v) - Date.now();
  return ms > 0 ? Math.min(ms, MAX_RETRY_AFTER) : 0;
}

/**
 * o: {endpoint, apiKey, resource, flushInterval, maxBatchSize, maxQueueSize, maxRetries}
 * fetchFn: the page's fetch as it was before the SDK wrapped it, so that
 * exports are never traced and never carry trace headers.
 */
export function createExporter(o, fetchFn) {
  const g = G();
  const setT = (f, ms) => g.setTimeout(f, ms);
  const clearT = (t) => t && g.clearTimeout(t);
  const q = [];
  const stats = { exported: 0, dropped: 0, failed: 0, retries: 0 };
  let timer = null;
  let backoff = null;
  let failures = 0;
  let busy = null;
  let kaBytes = 0;

  function send(b, keepalive) {
    const headers = { 'Content-Type': 'application/json' };
    if (o.apiKey) headers['X-API-Key'] = o.apiKey;
    const init = { method: 'POST', headers, body: b, credentials: 'omit' };
    let t;
    if (keepalive) init.keepalive = true;
    else if (g.AbortController) {
      const c = new g.AbortController();
      init.signal = c.signal;
      t = setT(() => c.abort(), EXPORT_TIMEOUT);
    }
    let p;
    try {
      p = Promise.resolve(fetchFn(o.endpoint, init));
    } catch (e) {
      p = Promise.reject(e);
    }
    return p.then(
      (r) => {
        clearT(t);
        const st = r && r.status;
        if (st >= 200 && st < 300) return { ok: 1 };
        debug('export refused with HTTP', st);
        if (RETRYABLE[st]) return { retry: retryAfter(r.headers && r.headers.get && r.headers.get('Retry-After')) };
        return {};
      },
      (e) => {
        clearT(t);
        debug('export failed', e);
        return { retry: 0 };
      },
    );
  }

  function requeue(spans) {
    q.unshift.apply(q, spans);
    const extra = q.length - o.maxQueueSize;
    if (extra > 0) {
      q.length = o.maxQueueSize;
      stats.dropped += extra;
    }
  }

  // Counts a batch's outcome; false when the queue must wait (backing off).
  function settle(r, spans) {
    if (r.ok) {
      stats.exported += spans.length;
      failures = 0;
      return true;
    }
    if (r.retry != null && failures < o.maxRetries) {
      failures++;
      stats.retries++;
      requeue(spans);
      const d = r.retry || Math.min(MAX_BACKOFF, 1000 * 2 ** (failures - 1)) * (0.75 + Math.random() / 2);
      clearT(timer);
      timer = null;
      clearT(backoff);
      backoff = setT(() => {
        backoff = null;
        kick();
      }, d);
      return false;
    }
    stats.failed += spans.length;
    failures = 0;
    return true;
  }

  async function drain() {
    while (q.length && !backoff) {
      const spans = q.splice(0, o.maxBatchSize);
      if (!settle(await send(body(o.resource, spans), false), spans)) break;
    }
  }

  function schedule() {
    if (!timer && !backoff && !busy && q.length)
      timer = setT(() => {
        timer = null;
        kick();
      }, o.flushInterval);
  }

  function kick() {
    clearT(timer);
    timer = null;
    if (!busy) {
      const done = () => {
        busy = null;
        schedule();
      };
      busy = drain().then(done, done);
    }
    return busy;
  }

  // Splits spans into bodies of at most KEEPALIVE_BODY bytes (a single
  // larger span stays one body).
  function chunks(spans, out) {
    const b = body(o.resource, spans);
    const n = bytes(b);
    if (n <= KEEPALIVE_BODY || spans.length < 2) out.push([spans, b, n]);
    else {
      const h = spans.length >> 1;
      chunks(spans.slice(0, h), out);
      chunks(spans.slice(h), out);
    }
    return out;
  }

  return {
    stats: () => Object.assign({ queued: q.length }, stats),

    add(s) {
      if (q.length >= o.maxQueueSize) {
        stats.dropped++;
        debug('queue full: span dropped');
        return;
      }
      q.push(encodeSpan(s));
      if (q.length >= o.maxBatchSize) kick();
      else schedule();
    },

    /** Sends what is queued (not while backing off); resolves true when the queue is empty. */
    async flush() {
      if (busy) await busy;
      if (q.length && !backoff) await kick();
      return q.length === 0;
    },

    /** The page is going away (pagehide) or hidden: send everything now, with keepalive. */
    unload() {
      clearT(timer);
      clearT(backoff);
      timer = backoff = null;
      if (!q.length) return;
      for (const [spans, b, n] of chunks(q.splice(0), [])) {
        const ka = n <= KEEPALIVE_BODY && kaBytes + n <= KEEPALIVE_QUOTA;
        if (ka) kaBytes += n;
        send(b, ka).then((r) => {
          if (ka) kaBytes -= n;
          settle(r, spans);
        });
      }
    },

    stop() {
      clearT(timer);
      clearT(backoff);
      timer = backoff = null;
    },
  };
}
