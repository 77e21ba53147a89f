'use strict';
/**
 * Server spans, shared by the Express middleware and the Fastify plugin: one
 * SERVER span per request, continuing the trace of the incoming traceparent
 * (or the span already active, when OpenTelemetry's http instrumentation
 * made one), with the HTTP semantic-convention attributes, named after the
 * route template once routing knows it, an error for a 5xx status.
 */

const { trace, SpanKind, SpanStatusCode } = require('@opentelemetry/api');
const { extractSpanContext } = require('./propagator');
const state = require('./state');

/**
 * One traced request: its span, the context handlers run in, and what the
 * framework learns along the way (route template, error).
 */
class RequestTrace {
  constructor(sdk, span, context, method, path) {
    this.sdk = sdk;
    this.span = span;
    this.context = context;
    this.method = method;
    this.path = path;
    this.route = undefined;
    this.error = undefined;
    this.ended = false;
  }

  /** Records err, thrown or passed to next: the span is an error if the status is >= 500. */
  recordError(err) {
    if (this.ended || err === undefined || err === null) return;
    if (this.error === err) return;
    this.error = err;
    recordException(this.span, err);
  }

  /**
   * Names the span after the route, records the status and ends the span.
   * status is the response status (0 when none was sent: the client went
   * away first).
   */
  end(status, route) {
    if (this.ended) return;
    this.ended = true;
    const span = this.span;
    if (route === undefined) route = this.route;
    if (route) {
      span.updateName(`${this.method} ${route}`);
      span.setAttribute('http.route', route);
    } else {
      span.updateName(`${this.method} ${this.path}`);
    }
    if (status > 0) {
      span.setAttribute('http.response.status_code', status);
      if (status >= 500) {
        span.setAttribute('error.type', String(status));
        span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(this.error) || `HTTP ${status}` });
      }
    } else if (this.error) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(this.error) });
    } else {
      span.setAttribute('error.type', 'aborted');
      span.setStatus({ code: SpanStatusCode.ERROR, message: 'the connection closed before the response was sent' });
    }
    span.end();
  }
}

function errorMessage(err) {
  if (err === undefined || err === null) return '';
  if (typeof err === 'object' && typeof err.message === 'string') return err.message;
  return String(err);
}

/** recordException for anything thrown, not only Errors. Never throws. */
function recordException(span, err) {
  try {
    if (err instanceof Error || (err && typeof err === 'object' && typeof err.message === 'string')) {
      span.recordException(err);
    } else {
      span.recordException({ name: typeof err, message: String(err) });
    }
  } catch {
    // a span that cannot record is not the application's problem
  }
}

/**
 * Starts the server span of req (a node IncomingMessage). Returns a
 * RequestTrace, or null before init. parent is the active context.
 */
function startRequest(req, parent) {
  const sdk = state.sdk;
  if (!sdk) return null;
  const headers = req.headers;
  const method = req.method || 'GET';
  const url = req.originalUrl || req.url || '/';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);

  // A span already active (OpenTelemetry's http instrumentation, or a
  // wrapping framework) already continued the caller's trace: ours is its
  // child. Otherwise the incoming headers name the parent.
  let parentCtx = parent;
  if (trace.getSpan(parent) === undefined) {
    const sc = extractSpanContext((name) => headers[name]);
    if (sc) parentCtx = trace.setSpanContext(parent, sc);
  }

  const socket = req.socket;
  const attributes = {
    'http.request.method': method,
    'url.path': path,
    'url.scheme': socket && socket.encrypted ? 'https' : 'http',
  };
  const host = headers.host;
  if (host) {
    const { hostname, port } = splitHost(host);
    if (hostname) attributes['server.address'] = hostname;
    if (port) attributes['server.port'] = port;
  }
  const ua = headers['user-agent'];
  if (ua) attributes['user_agent.original'] = ua;
  const client = clientAddress(headers, socket);
  if (client) attributes['client.address'] = client;
  if (req.httpVersion) attributes['network.protocol.version'] = req.httpVersion;

  const span = sdk.tracer.startSpan(method, { kind: SpanKind.SERVER, attributes }, parentCtx);
  const context = trace.setSpan(parentCtx, span).setValue(state.REQUEST_SPAN_KEY, span);
  return new RequestTrace(sdk, span, context, method, path);
}

/** Splits a Host header into hostname and port (0 when absent). */
function splitHost(host) {
  if (host.charCodeAt(0) === 91 /* [ */) {
    const close = host.indexOf(']');
    if (close < 0) return { hostname: host, port: 0 };
    const port = host.charCodeAt(close + 1) === 58 ? parsePort(host.slice(close + 2)) : 0;
    return { hostname: host.slice(1, close), port };
  }
  const colon = host.indexOf(':');
  if (colon < 0) return { hostname: host, port: 0 };
  if (host.indexOf(':', colon + 1) >= 0) return { hostname: host, port: 0 }; // bare IPv6
  return { hostname: host.slice(0, colon), port: parsePort(host.slice(colon + 1)) };
}

function parsePort(s) {
  const n = Number(s);
  return Number.isInteger(n) && n > 0 && n <= 65535 ? n : 0;
}

/** The first address in X-Forwarded-For, else the peer's. */
function clientAddress(headers, socket) {
  const xff = headers['x-forwarded-for'];
  if (typeof xff === 'string' && xff !== '') {
    const comma = xff.indexOf(',');
    const first = (comma < 0 ? xff : xff.slice(0, comma)).trim();
    if (first) return first;
  }
  return socket ? socket.remoteAddress : undefined;
}

module.exports = { startRequest, RequestTrace, recordException, errorMessage, splitHost };
