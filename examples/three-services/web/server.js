'use strict';
// The page's server (port 3000): static files, the browser SDK's bundle,
// the page's settings as /config.js, and /echo-headers, which shows what
// headers a request from the page carried.
const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');

const port = Number(process.env.WEB_PORT || 3000);
const apiURL = process.env.API_URL || 'http://localhost:3001';
const bundle = path.join(path.dirname(require.resolve('@tracekit/browser/package.json')), 'dist', 'tracekit.min.js');

const config = {
  apiKey: process.env.TRACEKIT_BROWSER_KEY || '',
  endpoint: process.env.TRACEKIT_BROWSER_ENDPOINT || 'http://localhost:4318/v1/traces',
  apiURL,
  // The API's host:port, as the guide writes targets; the Go service is
  // reached through the API only.
  tracePropagationTargets: [new URL(apiURL).host],
};

const files = {
  '/': [path.join(__dirname, 'index.html'), 'text/html; charset=utf-8'],
  '/app.js': [path.join(__dirname, 'app.js'), 'text/javascript; charset=utf-8'],
  '/tracekit.min.js': [bundle, 'text/javascript; charset=utf-8'],
};

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/config.js') {
    res.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(`window.EXAMPLE_CONFIG = ${JSON.stringify(config)};\n`);
    return;
  }
  if (url.pathname === '/echo-headers') {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ traceparent: req.headers.traceparent || null, tracestate: req.headers.tracestate || null }));
    return;
  }
  const f = files[url.pathname];
  if (!f) {
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('not found\n');
    return;
  }
  fs.readFile(f[0], (err, body) => {
    if (err) {
      res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end(`cannot read ${path.basename(f[0])}: build the browser SDK first (npm run build -w @tracekit/browser)\n`);
      return;
    }
    res.writeHead(200, { 'Content-Type': f[1], 'Cache-Control': 'no-store' });
    res.end(body);
  });
});

server.listen(port, '127.0.0.1', () => console.log(`web listening on http://localhost:${port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
process.on('SIGINT', () => server.close(() => process.exit(0)));
