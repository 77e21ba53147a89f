'use strict';
// The Node.js API of the guide's scenario (port 3001): Express with
// @tracekit/node. GET /api/users continues the trace the browser started
// (traceparent), calls the Go service with tracekit.fetch (which carries the
// trace on), and answers the users with the trace ID. Code monitoring is on:
// a line breakpoint set from the dashboard on any line of this file captures
// that line's locals, with no capture call in the code.
const tracekit = require('@tracekit/node');
const { trace } = require('@opentelemetry/api');

const sdk = tracekit.init({
  apiKey: process.env.TRACEKIT_API_KEY,
  serviceName: 'node-api',
  endpoint: process.env.TRACEKIT_ENDPOINT || 'http://localhost:4318/v1/traces',
  environment: 'development',
  enableCodeMonitoring: true,
});

const express = require('express');

const port = Number(process.env.API_PORT || 3001);
const goURL = process.env.GO_SERVICE_URL || 'http://localhost:8080';
// The page's origin, allowed to call this API with trace headers.
const webOrigins = (process.env.WEB_ORIGINS || 'http://localhost:3000,http://127.0.0.1:3000').split(',');

const app = express();
// TraceKit's middleware comes first, as the guide says.
app.use(tracekit.Handlers.requestHandler());
app.use(tracekit.Handlers.tracingHandler());
app.use((req, res, next) => {
  const origin = req.get('origin');
  if (origin && webOrigins.includes(origin)) {
    res.set('Access-Control-Allow-Origin', origin);
    res.set('Vary', 'Origin');
    res.set('Access-Control-Allow-Headers', 'Content-Type, Authorization, traceparent, tracestate');
    res.set('Access-Control-Allow-Methods', 'GET, OPTIONS');
  }
  if (req.method === 'OPTIONS') return res.sendStatus(204);
  next();
});

app.get('/api/users', async (req, res, next) => {
  try {
    const requestedBy = { name: 'Support Desk', email: 'support@example.com', plan: 'enterprise' };
    const upstream = await tracekit.tracekit.fetch(`${goURL}/api/users`);
    if (!upstream.ok) throw new Error(`go-service answered ${upstream.status}`);
    const users = await upstream.json();
    const count = users.length;
    tracekit.setTag('users.count', count); // tracekit:line-breakpoint (the e2e test sets one here)
    res.json({ users, count, requestedBy: requestedBy.name, traceId: trace.getActiveSpan()?.spanContext().traceId });
  } catch (err) {
    next(err);
  }
});

app.use(tracekit.Handlers.errorHandler());
app.use((err, req, res, _next) => {
  tracekit.captureException(err);
  res.status(502).json({ error: String(err.message || err) });
});

const server = app.listen(port, '127.0.0.1', () => {
  console.log(`node-api listening on http://127.0.0.1:${port} (GET /api/users -> ${goURL})`);
});

function stop() {
  server.close();
  sdk.shutdown().finally(() => process.exit(0));
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
