'use strict';
/**
 * A fake OTLP/HTTP traces receiver for tests: a node http server on
 * 127.0.0.1 (port 0) that decodes the JSON the exporter posts to /v1/traces
 * and keeps the spans, flattened, with their resource attributes. waitFor
 * polls with a deadline instead of sleeping, so tests stay deterministic on a
 * busy machine.
 */

const http = require('node:http');

/** OTLP JSON AnyValue -> plain JS value. */
function anyValue(v) {
  if (!v || typeof v !== 'object') return undefined;
  if ('stringValue' in v) return v.stringValue;
  if ('boolValue' in v) return v.boolValue;
  if ('intValue' in v) return Number(v.intValue);
  if ('doubleValue' in v) return v.doubleValue;
  if ('arrayValue' in v) return (v.arrayValue.values || []).map(anyValue);
  if ('kvlistValue' in v) return attributes(v.kvlistValue.values);
  if ('bytesValue' in v) return v.bytesValue;
  return undefined;
}

function attributes(list) {
  const out = {};
  for (const kv of list || []) out[kv.key] = anyValue(kv.value);
  return out;
}

const KINDS = { 0: 'UNSPECIFIED', 1: 'INTERNAL', 2: 'SERVER', 3: 'CLIENT', 4: 'PRODUCER', 5: 'CONSUMER' };

/**
 * Starts a receiver. Options: status (HTTP status to answer, default 200).
 * Returns { url, endpoint, spans, requests, waitFor, close, setStatus }.
 */
async function startReceiver({ status = 200 } = {}) {
  const spans = [];
  const requests = [];
  let answer = status;
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      requests.push({ method: req.method, url: req.url, headers: req.headers, body });
      if (req.url === '/v1/traces' && answer === 200) {
        try {
          const doc = JSON.parse(body);
          for (const rs of doc.resourceSpans || []) {
            const resource = attributes(rs.resource && rs.resource.attributes);
            for (const ss of rs.scopeSpans || []) {
              for (const s of ss.spans || []) {
                spans.push({
                  traceId: s.traceId,
                  spanId: s.spanId,
                  parentSpanId: s.parentSpanId || '',
                  name: s.name,
                  kind: KINDS[s.kind] || String(s.kind),
                  attributes: attributes(s.attributes),
                  status: { code: (s.status && s.status.code) || 0, message: (s.status && s.status.message) || '' },
                  events: (s.events || []).map((e) => ({ name: e.name, attributes: attributes(e.attributes) })),
                  traceState: s.traceState || '',
                  scope: ss.scope ? ss.scope.name : '',
                  resource,
                });
              }
            }
          }
        } catch (err) {
          res.statusCode = 400;
          res.end(String(err));
          return;
        }
      }
      res.statusCode = answer;
      res.setHeader('content-type', 'application/json');
      res.end('{}');
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  const url = `http://127.0.0.1:${port}`;

  /**
   * Waits until predicate(spans) returns a truthy value and returns it;
   * rejects after timeoutMs with what was received.
   */
  async function waitFor(predicate, { timeoutMs = 15000, message = 'spans' } = {}) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = predicate(spans);
      if (v) return v;
      if (Date.now() > deadline) {
        const seen = spans.map((s) => `${s.kind} ${s.name}`).join(', ');
        throw new Error(`timed out waiting for ${message}; received: [${seen}]`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  function close() {
    return new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  return {
    url,
    endpoint: `${url}/v1/traces`,
    spans,
    requests,
    waitFor,
    close,
    setStatus(s) {
      answer = s;
    },
  };
}

module.exports = { startReceiver };
