'use strict';
/**
 * Starts a fake OTLP receiver and a TraceKit SDK exporting to it, with a
 * logger that keeps the SDK's warnings. flushAndWait exports what has ended
 * and polls the receiver until predicate holds.
 */

const tracekit = require('../..');
const { startReceiver } = require('./otlp-receiver');

async function setupTracing(options = {}) {
  const rx = await startReceiver();
  const warnings = [];
  const logger = { warn: (m) => warnings.push(m), info: () => {}, error: (m) => warnings.push(m) };
  const sdk = tracekit.init({
    serviceName: 'tracing-test',
    endpoint: rx.endpoint,
    apiKey: 'test-key',
    batchTimeoutMs: 50,
    logger,
    ...options,
  });
  return {
    rx,
    sdk,
    warnings,
    async flushAndWait(predicate, message) {
      await sdk.forceFlush();
      return rx.waitFor(predicate, { message });
    },
    async close() {
      await sdk.shutdown();
      await rx.close();
    },
  };
}

/** The span in spans named name (and matching extra), or undefined. */
function findSpan(spans, name, extra = () => true) {
  return spans.find((s) => s.name === name && extra(s));
}

module.exports = { setupTracing, findSpan };
