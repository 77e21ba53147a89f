'use strict';
/**
 * The OpenTelemetry TextMapPropagator of the SDK: W3C Trace Context
 * (traceparent, tracestate) read and written by @tracekit/tracecontext, the
 * module the browser SDK shares, so that both sides agree on every edge case.
 * An invalid traceparent leaves the context as it is: the receiver starts a
 * new trace.
 */

const { trace, isSpanContextValid, defaultTextMapGetter, defaultTextMapSetter } = require('@opentelemetry/api');
const { isTracingSuppressed } = require('@opentelemetry/core');
const tc = require('@tracekit/tracecontext');

const FIELDS = Object.freeze(['traceparent', 'tracestate']);

class TraceContextPropagator {
  inject(context, carrier, setter = defaultTextMapSetter) {
    const sc = trace.getSpanContext(context);
    if (!sc || !isSpanContextValid(sc) || isTracingSuppressed(context)) return;
    tc.inject(sc, (name, value) => setter.set(carrier, name, value));
  }

  extract(context, carrier, getter = defaultTextMapGetter) {
    const sc = extractSpanContext((name) => getter.get(carrier, name));
    return sc ? trace.setSpanContext(context, sc) : context;
  }

  fields() {
    return FIELDS;
  }
}

/** The remote span context in the headers get reads, or null. Never throws. */
function extractSpanContext(get) {
  try {
    return tc.extract(get);
  } catch {
    return null;
  }
}

module.exports = { TraceContextPropagator, extractSpanContext };
