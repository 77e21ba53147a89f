// OTLP/HTTP JSON encoding (opentelemetry-proto, JSON mapping: hex IDs,
// nanosecond times as decimal strings, 64-bit integers as strings).
import { ns, VERSION } from './core.js';

function value(v) {
  switch (typeof v) {
    case 'string':
      return { stringValue: v };
    case 'boolean':
      return { boolValue: v };
    case 'number':
      if (Number.isSafeInteger(v)) return { intValue: String(v) };
      if (isFinite(v)) return { doubleValue: v };
      return { stringValue: String(v) };
    case 'bigint':
      return { intValue: String(v) };
  }
  if (v == null) return null;
  try {
    return { stringValue: typeof v === 'object' ? JSON.stringify(v) : String(v) };
  } catch (e) {
    return { stringValue: String(v) };
  }
}

export function attributes(o) {
  const out = [];
  for (const key in o) {
    if (!Object.prototype.hasOwnProperty.call(o, key)) continue;
    const v = value(o[key]);
    if (v) out.push({ key, value: v });
  }
  return out;
}

/** One span in OTLP JSON. */
export function span(s) {
  const o = {
    traceId: s.traceId,
    spanId: s.spanId,
    name: s.name,
    kind: s.kind,
    startTimeUnixNano: ns(s.start),
    endTimeUnixNano: ns(s.endTime),
    attributes: attributes(s.attrs),
    events: s.events.map((e) => ({ timeUnixNano: ns(e.time), name: e.name, attributes: attributes(e.attrs) })),
    status: s.status || { code: 0 },
  };
  if (s.parentSpanId) o.parentSpanId = s.parentSpanId;
  const ts = s.traceState && s.traceState.serialize ? s.traceState.serialize() : '';
  if (ts) o.traceState = ts;
  return o;
}

/** The request body for spans (OTLP JSON objects) of one resource. */
export function body(resource, spans) {
  return JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: attributes(resource) },
        scopeSpans: [{ scope: { name: '@tracekit/browser', version: VERSION }, spans }],
      },
    ],
  });
}
