'use strict';
/**
 * The SDK the module-level API (middlewares, fetch, setTag,
 * captureException) uses: the one tracekit.init made last, null before init
 * and after its shutdown. Kept in one place so that every module sees the
 * same one.
 */

const { createContextKey } = require('@opentelemetry/api');

module.exports = {
  /** @type {import('./sdk').SDK | null} */
  sdk: null,
  /** Context key of the current request's server span, for setTag. */
  REQUEST_SPAN_KEY: createContextKey('tracekit.request_span'),
};
