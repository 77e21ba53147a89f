'use strict';
/**
 * @tracekit/node: OpenTelemetry tracing for Express, Fastify and fetch,
 * exported to a TraceKit server, and code monitoring.
 *
 *   const tracekit = require('@tracekit/node');
 *   const sdk = tracekit.init({ serviceName: 'my-service' });
 *   app.use(tracekit.Handlers.requestHandler());
 *
 * init is the only function that throws (for options it cannot use). Every
 * other function is safe before init and outside a request: it does nothing.
 */

const { trace, SpanStatusCode } = require('@opentelemetry/api');
const { resolve, ConfigError } = require('./lib/config');
const { SDK, FALLBACK_NOOP_SNAPSHOT_CLIENT } = require('./lib/sdk');
const state = require('./lib/state');
const express = require('./lib/express');
const { fastifyPlugin } = require('./lib/fastify');
const { fetch } = require('./lib/fetch');
const { recordException, errorMessage } = require('./lib/server');
const { VERSION } = require('./lib/version');

/**
 * Starts tracing: validates options (filling unset ones from TRACEKIT_*
 * environment variables), creates the exporter and registers the SDK with
 * OpenTelemetry. Throws a TypeError naming the option to fix. A second init
 * replaces the first, which is shut down.
 */
function init(options) {
  const { config, unknown } = resolve(options);
  const sdk = new SDK(config, unknown);
  const previous = state.sdk;
  if (previous) previous._unregisterGlobals();
  sdk._install();
  state.sdk = sdk;
  if (previous) previous.shutdown();
  return sdk;
}

/** The SDK init returned, or null before init and after shutdown. */
function getSDK() {
  return state.sdk;
}

function activeContext() {
  const sdk = state.sdk;
  return sdk ? sdk.contextManager.active() : undefined;
}

function toAttributeValue(value) {
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
      return value;
    case 'bigint':
      return value.toString();
    case 'undefined':
      return undefined;
    default:
      if (value === null) return undefined;
      if (Array.isArray(value) && value.every((v) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')) {
        return value;
      }
      if (value instanceof Date) return value.toISOString();
      try {
        return JSON.stringify(value);
      } catch {
        return String(value);
      }
  }
}

/**
 * Sets an attribute on the active span and on the current request's server
 * span (so that the request can be found by it). Does nothing before init or
 * outside a span; never throws.
 */
function setTag(key, value) {
  try {
    const ctx = activeContext();
    if (!ctx || typeof key !== 'string' || key === '') return;
    const v = toAttributeValue(value);
    if (v === undefined) return;
    const active = trace.getSpan(ctx);
    const request = ctx.getValue(state.REQUEST_SPAN_KEY);
    if (active) active.setAttribute(key, v);
    if (request && request !== active) request.setAttribute(key, v);
  } catch {
    // never into the application
  }
}

/**
 * Records err as an exception on the active span and marks the span as an
 * error. Does nothing before init or outside a span; never throws.
 */
function captureException(err) {
  try {
    const ctx = activeContext();
    if (!ctx) return;
    const span = trace.getSpan(ctx);
    if (!span) return;
    recordException(span, err);
    span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(err) });
  } catch {
    // never into the application
  }
}

/** The active span, or undefined before init or outside a span. */
function getActiveSpan() {
  const ctx = activeContext();
  return ctx ? trace.getSpan(ctx) : undefined;
}

/**
 * The snapshot client of the current SDK; a client that does nothing before
 * init. Prefer sdk.snapshotClient() held in your own module.
 */
function snapshotClient() {
  return state.sdk ? state.sdk.snapshotClient() : FALLBACK_NOOP_SNAPSHOT_CLIENT;
}

/** Shuts the current SDK down (see SDK#shutdown); resolves at once before init. */
function shutdown() {
  return state.sdk ? state.sdk.shutdown() : Promise.resolve();
}

/** Flushes the current SDK's spans (see SDK#forceFlush). */
function forceFlush() {
  return state.sdk ? state.sdk.forceFlush() : Promise.resolve();
}

const Handlers = Object.freeze({
  requestHandler: express.requestHandler,
  tracingHandler: express.tracingHandler,
  errorHandler: express.errorHandler,
});

module.exports = {
  init,
  getSDK,
  Handlers,
  fastifyPlugin,
  fetch,
  setTag,
  captureException,
  getActiveSpan,
  snapshotClient,
  shutdown,
  forceFlush,
  SDK,
  ConfigError,
  VERSION,
};
// The guide's backend-to-backend form: const { tracekit } = require('@tracekit/node').
module.exports.tracekit = module.exports;
