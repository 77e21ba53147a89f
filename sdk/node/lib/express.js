'use strict';
/**
 * Express 4 and 5: Handlers.requestHandler() and Handlers.tracingHandler()
 * start the request's server span and run the rest of the chain in its
 * context; whichever runs first does it, the other passes (one span per
 * request, and either alone is enough). Handlers.errorHandler() records the
 * error a route passed on.
 *
 * The span is named after the route template ("GET /api/users/:id"): the
 * mount path (req.baseUrl) and req.route.path as they are when the router
 * assigns req.route, which is when both are right, even if the response is
 * sent later by an error handler outside the router.
 */

const state = require('./state');
const { startRequest } = require('./server');
const { bindEmitter } = require('./context');

const TRACE = Symbol.for('tracekit.requestTrace');
const ROUTE_VALUE = Symbol('tracekit.route');
const HOOKED = Symbol.for('tracekit.routeHook');

const { IncomingMessage } = require('node:http');

function routeTemplate(baseUrl, route) {
  if (!route) return undefined;
  let p = route.path;
  if (p === undefined || p === null) return undefined;
  if (typeof p !== 'string') p = Array.isArray(p) ? p.map(String).join(',') : String(p);
  if (!baseUrl) return p;
  if (p === '/' || p === '') return baseUrl;
  return baseUrl + p;
}

/**
 * Watches assignments to req.route on Express's per-application request
 * prototype, once per application, to learn the route while req.baseUrl
 * still holds its mount path.
 */
function hookRoute(req) {
  const proto = Object.getPrototypeOf(req);
  if (!proto || proto === IncomingMessage.prototype || proto === Object.prototype) return;
  if (Object.prototype.hasOwnProperty.call(proto, HOOKED)) return;
  if (Object.prototype.hasOwnProperty.call(proto, 'route')) {
    proto[HOOKED] = false; // something else owns it: fall back to reading it at the end
    return;
  }
  try {
    Object.defineProperty(proto, 'route', {
      configurable: true,
      enumerable: true,
      get() {
        return this[ROUTE_VALUE];
      },
      set(value) {
        this[ROUTE_VALUE] = value;
        const t = this[TRACE];
        if (t && value) t.route = routeTemplate(this.baseUrl, value);
      },
    });
    proto[HOOKED] = true;
  } catch {
    // a frozen prototype: the end of the request reads req.route instead
  }
}

/** Whether req has a body to read, as body parsers decide it. */
function hasBody(req) {
  const h = req.headers;
  if (h['transfer-encoding'] !== undefined) return true;
  const len = h['content-length'];
  return len !== undefined && len !== '0';
}

/**
 * Starts the span of req and calls next in its context. Shared by
 * requestHandler and tracingHandler.
 */
function tracekitExpressMiddleware(req, res, next) {
  if (req[TRACE] !== undefined || !state.sdk) {
    next();
    return;
  }
  const sdk = state.sdk;
  let t;
  try {
    t = startRequest(req, sdk.contextManager.active());
  } catch (err) {
    sdk.logger.warnLimited('middleware', `could not trace a request: ${err && err.message}`);
    t = null;
  }
  req[TRACE] = t;
  if (!t) {
    next();
    return;
  }
  hookRoute(req);
  // 'close' comes once, after the response is sent or the client left.
  res.on('close', () => {
    if (t.route === undefined) t.route = routeTemplate(req.baseUrl, req.route);
    t.end(res.headersSent ? res.statusCode : 0);
  });
  // Body parsers call next from the request stream's events, which run in
  // the connection's context, not this one: run them in the request's. A
  // request without a body is not read, and skips the cost.
  if (hasBody(req)) bindEmitter(sdk.contextManager, t.context, req);
  sdk.contextManager.with(t.context, next);
}

function requestHandler() {
  return tracekitExpressMiddleware;
}

function tracingHandler() {
  return tracekitExpressMiddleware;
}

/**
 * Records the error on the request's span (an error if the response is a
 * 5xx) and passes it on to the next error handler unchanged.
 */
function errorHandler() {
  return function tracekitErrorHandler(err, req, res, next) {
    const t = req && req[TRACE];
    if (t) t.recordError(err);
    next(err);
  };
}

module.exports = { requestHandler, tracingHandler, errorHandler, TRACE, routeTemplate, hasBody };
