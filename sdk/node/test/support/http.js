'use strict';
/** Small helpers for tracing tests: listen on 127.0.0.1:0, request, close. */

const http = require('node:http');

/** Listens on 127.0.0.1, port 0; returns { server, url, close }. */
async function listen(handler) {
  const server = typeof handler === 'function' ? http.createServer(handler) : handler;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    server,
    url,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        if (server.closeAllConnections) server.closeAllConnections();
      }),
  };
}

/**
 * GETs (or sends method with body) url with headers, without keep-alive, and
 * resolves with { status, headers, body }.
 */
function request(url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

module.exports = { listen, request };
