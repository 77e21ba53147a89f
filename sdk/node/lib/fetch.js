'use strict';
/**
 * tracekit.fetch(input, init): the global fetch with a CLIENT span
 * ("GET host/path") and traceparent/tracestate injected into whatever form
 * the headers take (Headers, plain object, array of pairs, or a Request's
 * own). The caller's objects are never modified. A network error is recorded
 * on the span and rethrown unchanged; a response of 400 and above marks the
 * span as an error, as the HTTP client conventions say.
 */

const { trace, SpanKind, SpanStatusCode, isSpanContextValid } = require('@opentelemetry/api');
const { isTracingSuppressed } = require('@opentelemetry/core');
const tc = require('@tracekit/tracecontext');
const state = require('./state');
const { recordException, errorMessage } = require('./server');

const PROPAGATED = new Set(['traceparent', 'tracestate']);

function isRequest(v) {
  return typeof Request === 'function' && v instanceof Request;
}

/** The trace headers of ctx's span as [name, value] pairs. */
function traceHeaders(ctx) {
  const out = [];
  const sc = trace.getSpanContext(ctx);
  if (!sc || !isSpanContextValid(sc) || isTracingSuppressed(ctx)) return out;
  tc.inject(sc, (name, value) => out.push([name, value]));
  return out;
}

/**
 * Returns init with the trace headers added. base is where the headers come
 * from when init has none (a Request's own headers).
 */
function withTraceHeaders(init, base, pairs) {
  if (pairs.length === 0) return init;
  const given = init && init.headers !== undefined && init.headers !== null ? init.headers : base;
  let headers;
  if (given === undefined || given === null) {
    headers = Object.fromEntries(pairs);
  } else if (typeof Headers === 'function' && given instanceof Headers) {
    headers = new Headers(given);
    for (const [k, v] of pairs) headers.set(k, v);
  } else if (Array.isArray(given)) {
    headers = given.filter((p) => !(Array.isArray(p) && PROPAGATED.has(String(p[0]).toLowerCase())));
    for (const p of pairs) headers.push(p);
  } else if (typeof given === 'object' && typeof given[Symbol.iterator] === 'function') {
    // Another iterable of pairs (a Map, a Headers from another realm).
    headers = new Headers(given);
    for (const [k, v] of pairs) headers.set(k, v);
  } else if (typeof given === 'object') {
    headers = {};
    for (const k of Object.keys(given)) {
      if (!PROPAGATED.has(k.toLowerCase())) headers[k] = given[k];
    }
    for (const [k, v] of pairs) headers[k] = v;
  } else {
    return init; // not something fetch accepts either; let it report that
  }
  return { ...init, headers };
}

function parseTarget(input) {
  try {
    if (isRequest(input)) return new URL(input.url);
    if (input instanceof URL) return input;
    return new URL(String(input));
  } catch {
    return null;
  }
}

function tracedFetch(input, init) {
  const fetchImpl = globalThis.fetch;
  const sdk = state.sdk;
  if (!sdk) return fetchImpl(input, init);

  let span;
  let ctx;
  let newInit = init;
  try {
    const url = parseTarget(input);
    let method = init && typeof init.method === 'string' ? init.method : isRequest(input) ? input.method : 'GET';
    method = method.toUpperCase();
    const parent = sdk.contextManager.active();
    const attributes = { 'http.request.method': method };
    let name = method;
    if (url) {
      name = `${method} ${url.host}${url.pathname}`;
      attributes['url.full'] = redact(url);
      attributes['server.address'] = url.hostname.replace(/^\[|\]$/g, '');
      const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : url.protocol === 'http:' ? 80 : 0;
      if (port) attributes['server.port'] = port;
    }
    span = sdk.tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes }, parent);
    ctx = trace.setSpan(parent, span);
    newInit = withTraceHeaders(init, isRequest(input) ? input.headers : undefined, traceHeaders(ctx));
  } catch (err) {
    sdk.logger.warnLimited('fetch', `could not trace a fetch: ${err && err.message}`);
    if (span) span.end();
    return fetchImpl(input, init);
  }

  let promise;
  try {
    promise = sdk.contextManager.with(ctx, () => fetchImpl(input, newInit));
  } catch (err) {
    // fetch throwing synchronously (a replaced global): still the caller's error.
    fail(span, err);
    throw err;
  }
  return Promise.resolve(promise).then(
    (res) => {
      try {
        const status = res && res.status;
        if (typeof status === 'number') {
          span.setAttribute('http.response.status_code', status);
          if (status >= 400) {
            span.setAttribute('error.type', String(status));
            span.setStatus({ code: SpanStatusCode.ERROR, message: `HTTP ${status}` });
          }
        }
        span.end();
      } catch {
        // never into the application
      }
      return res;
    },
    (err) => {
      fail(span, err);
      throw err;
    },
  );
}

function fail(span, err) {
  try {
    recordException(span, err);
    const type = err && typeof err === 'object' && (err.cause && err.cause.code ? err.cause.code : err.name);
    if (type) span.setAttribute('error.type', String(type));
    const cause = err && err.cause && err.cause.message ? `: ${err.cause.message}` : '';
    span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(err) + cause });
    span.end();
  } catch {
    // never into the application
  }
}

/** url.full without credentials, as the conventions require. */
function redact(url) {
  if (!url.username && !url.password) return url.href;
  const u = new URL(url.href);
  u.username = 'REDACTED';
  u.password = u.password ? 'REDACTED' : '';
  return u.href;
}

module.exports = { fetch: tracedFetch, withTraceHeaders };
