// @tracekit/browser: TraceKit's browser SDK. Page load, fetch/XHR and click
// spans with W3C trace propagation, exported as OTLP/HTTP JSON. Nothing here
// throws into the page: every hook and API call is wrapped.
import { G, KIND_INTERNAL, VERSION, activeParent, debug, safe, startSpan, state } from './core.js';
import { createExporter } from './exporter.js';
import { patchFetch, patchXHR } from './http.js';
import { watchClicks } from './interaction.js';
import { tracePageLoad } from './pageload.js';

export { VERSION as version };

export const DEFAULT_ENDPOINT = 'http://localhost:4318/v1/traces';

let undo = [];

const str = (v, d) => (typeof v === 'string' && v ? v : d);
const num = (v, d, min) => (typeof v === 'number' && v >= min && v < Infinity ? v : d);
const bool = (v) => v !== false;

function options(o) {
  const w = G();
  const nav = w.navigator;
  const opts = {
    apiKey: str(o.apiKey, ''),
    serviceName: str(o.serviceName, 'unknown_service:browser'),
    endpoint: str(o.endpoint, DEFAULT_ENDPOINT),
    targets: o.tracePropagationTargets == null ? null : [].concat(o.tracePropagationTargets),
    flushInterval: num(o.flushInterval, 5000, 1),
    maxBatchSize: Math.floor(num(o.maxBatchSize, 100, 1)),
    maxQueueSize: Math.floor(num(o.maxQueueSize, 2048, 1)),
    maxRetries: Math.floor(num(o.maxRetries, 5, 0)),
    sampleRate: num(o.sampleRate, 1, 0),
    debug: o.debug === true,
  };
  opts.resource = Object.assign(
    {
      'service.name': opts.serviceName,
      'telemetry.sdk.name': 'tracekit',
      'telemetry.sdk.language': 'webjs',
      'telemetry.sdk.version': VERSION,
    },
    o.serviceVersion ? { 'service.version': String(o.serviceVersion) } : null,
    o.environment ? { 'deployment.environment.name': String(o.environment) } : null,
    nav && nav.userAgent ? { 'user_agent.original': nav.userAgent } : null,
    o.resourceAttributes && typeof o.resourceAttributes === 'object' ? o.resourceAttributes : null,
  );
  return opts;
}

function listen(target, type, fn, capture) {
  if (!target || typeof target.addEventListener !== 'function') return;
  const h = (e) => safe(fn, e);
  target.addEventListener(type, h, capture);
  undo.push(() => target.removeEventListener(type, h, capture));
}

function start(o) {
  if (state.on) return debug('init: already initialized; the second call is ignored');
  if (typeof window === 'undefined') return; // not a browser (server-side rendering)
  o = o && typeof o === 'object' ? o : {};
  const w = G();
  const opts = options(o);
  state.opts = opts;
  state.sampleRate = Math.min(opts.sampleRate, 1);
  // Exports go through the page's fetch as it is now, before it is wrapped.
  const f = w.fetch;
  state.exporter = createExporter(opts, (url, init) => f.call(w, url, init));
  state.on = true;
  undo = [() => state.exporter && state.exporter.stop()];
  if (bool(o.instrumentFetch)) undo.push(patchFetch(opts.targets));
  if (bool(o.instrumentXHR)) undo.push(patchXHR(opts.targets));
  if (bool(o.traceInteractions)) undo.push(watchClicks());
  if (bool(o.tracePageLoad)) tracePageLoad();
  if (bool(o.captureErrors)) {
    listen(w, 'error', (e) => {
      if (e.error != null) capture(e.error);
      else if (e.message)
        capture({ name: 'Error', message: e.message, stack: e.filename ? 'at ' + e.filename + ':' + e.lineno + ':' + e.colno : '' });
    });
    listen(w, 'unhandledrejection', (e) => capture(e.reason));
  }
  const bye = () => state.exporter && state.exporter.unload();
  listen(w, 'pagehide', bye);
  listen(w.document, 'visibilitychange', () => w.document.visibilityState === 'hidden' && bye());
  if (typeof f !== 'function') debug('init: this page has no fetch, spans cannot be sent');
}

/** Starts the SDK. Calling it again, or with bad options, is harmless. */
export function init(options) {
  safe(start, options);
}

/** Sets key=value on every span started after this call (a null value removes it). */
export function setTag(key, value) {
  safe(() => {
    if (typeof key !== 'string' || !key) return;
    if (value == null) delete state.tags[key];
    else state.tags[key] = value;
  });
}

/** exception.* attributes for any thrown value. */
function exceptionAttrs(err) {
  if (err && typeof err === 'object') {
    return {
      'exception.type': String(err.name || (err.constructor && err.constructor.name) || 'Error'),
      'exception.message': String(err.message != null ? err.message : err),
      'exception.stacktrace': String(err.stack || ''),
    };
  }
  return { 'exception.type': typeof err, 'exception.message': String(err), 'exception.stacktrace': '' };
}

function capture(err) {
  if (!state.on) return;
  const a = exceptionAttrs(err);
  let span = activeParent();
  const own = !span;
  if (own) span = startSpan('exception', KIND_INTERNAL, a);
  span.addEvent('exception', a);
  span.setError(a['exception.message']);
  if (own) span.end();
}

/**
 * Records err as an exception event on the active span (a click being
 * handled or an open transaction), or else on a short error span of its own.
 */
export function captureException(err) {
  safe(capture, err);
}

const noop = { traceId: '', spanId: '', setTag() { return this; }, finish() {} };

/** Opens a transaction: until finish(), fetch and XHR spans are its children. */
export function startTransaction(o) {
  return (
    safe(() => {
      if (!state.on) return noop;
      const span = startSpan(str(o && o.name, 'transaction'), KIND_INTERNAL, {});
      state.tx.push(span);
      return {
        traceId: span.traceId,
        spanId: span.spanId,
        setTag(k, v) {
          safe(() => span.setAttribute(String(k), v));
          return this;
        },
        finish() {
          safe(() => {
            const i = state.tx.indexOf(span);
            if (i !== -1) state.tx.splice(i, 1);
            span.end();
          });
        },
      };
    }) || noop
  );
}

/** Sends the spans queued now; resolves true when none is left queued (false while the server asks to wait). */
export function flush() {
  try {
    return Promise.resolve(state.exporter ? state.exporter.flush() : true).catch(() => false);
  } catch (e) {
    return Promise.resolve(false);
  }
}

/** Removes every hook, sends what is queued, and stops. init may be called again after it. */
export function shutdown() {
  const ex = state.exporter;
  safe(() => {
    for (const u of undo.reverse()) safe(u);
    undo = [];
    state.on = false;
    state.sync.length = state.tx.length = 0;
  });
  return flush().then((ok) => {
    if (state.exporter === ex) state.exporter = null;
    safe(() => ex && ex.stop());
    return ok;
  });
}

/** Counters of the export queue: queued, exported, dropped (queue full), failed (refused), retries. */
export function stats() {
  return safe(() => state.exporter && state.exporter.stats()) || { queued: 0, exported: 0, dropped: 0, failed: 0, retries: 0 };
}

export default { init, setTag, captureException, startTransaction, flush, shutdown, stats, version: VERSION };
