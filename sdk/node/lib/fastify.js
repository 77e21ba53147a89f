'use strict';
/**
 * Fastify: fastify.register(require('@tracekit/node').fastifyPlugin). The
 * plugin skips Fastify's encapsulation (skip-override), so its hooks apply to
 * every route of the application, including those registered by other
 * plugins. onRequest starts the server span and runs the rest of the
 * request in its context, onError records the error, onResponse names the
 * span after the route template (request.routeOptions.url) and ends it.
 */

const state = require('./state');
const { startRequest } = require('./server');
const { bindEmitter } = require('./context');
const { hasBody } = require('./express');

const TRACE = Symbol.for('tracekit.requestTrace');

function routeOf(request) {
  const opts = request.routeOptions;
  if (opts && typeof opts.url === 'string' && opts.url !== '') return opts.url;
  return undefined;
}

function onRequest(request, reply, done) {
  const sdk = state.sdk;
  const raw = request.raw;
  if (!sdk || raw[TRACE] !== undefined) {
    done();
    return;
  }
  let t;
  try {
    t = startRequest(raw, sdk.contextManager.active());
  } catch (err) {
    sdk.logger.warnLimited('middleware', `could not trace a request: ${err && err.message}`);
    t = null;
  }
  raw[TRACE] = t;
  if (!t) {
    done();
    return;
  }
  // The body is read from the request stream, whose events run in the
  // connection's context: run them, and the handler after them, in ours.
  if (hasBody(raw)) bindEmitter(sdk.contextManager, t.context, raw);
  sdk.contextManager.with(t.context, done);
}

function onError(request, reply, error, done) {
  const t = request.raw[TRACE];
  if (t) t.recordError(error);
  done();
}

function onResponse(request, reply, done) {
  const t = request.raw[TRACE];
  if (t) t.end(reply.statusCode, routeOf(request));
  done();
}

function onRequestAbort(request, done) {
  const t = request.raw[TRACE];
  if (t) t.end(0, routeOf(request));
  done();
}

function fastifyPlugin(fastify, options, done) {
  fastify.addHook('onRequest', onRequest);
  fastify.addHook('onError', onError);
  fastify.addHook('onResponse', onResponse);
  try {
    fastify.addHook('onRequestAbort', onRequestAbort);
  } catch {
    // Fastify before 4.21 has no onRequestAbort; aborted requests end in onResponse there.
  }
  done();
}

// Register on the application itself, not in a child context (what
// fastify-plugin does, without the dependency).
fastifyPlugin[Symbol.for('skip-override')] = true;
fastifyPlugin[Symbol.for('fastify.display-name')] = '@tracekit/node';
fastifyPlugin[Symbol.for('plugin-meta')] = { name: '@tracekit/node', fastify: '>=4' };

module.exports = { fastifyPlugin };
