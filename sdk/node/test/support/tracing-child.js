'use strict';
/**
 * A child process for the exit tests: initializes the SDK (endpoint from
 * argv[2], mode from argv[3]), serves one traced Express request, then
 * closes its server and, in mode "shutdown", shuts the SDK down. Prints
 * "served" once the request is answered; the test then expects the process
 * to exit by itself.
 */

const tracekit = require('../..');
const express = require('express');
const http = require('node:http');

const [endpoint, mode] = process.argv.slice(2);
const sdk = tracekit.init({
  serviceName: 'exit-child',
  endpoint,
  logger: false,
  enableCodeMonitoring: mode === 'codemon',
  codeMonitoringEndpoint: mode === 'codemon' ? endpoint.replace(/\/v1\/traces$/, '') : undefined,
});
const app = express();
app.use(tracekit.Handlers.requestHandler());
app.get('/x', (req, res) => res.send('ok'));
const server = app.listen(0, '127.0.0.1', () => {
  http.get({ host: '127.0.0.1', port: server.address().port, path: '/x', agent: false }, (res) => {
    res.resume();
    res.on('end', async () => {
      server.close();
      process.stdout.write('served\n');
      if (mode !== 'no-shutdown') await sdk.shutdown();
    });
  });
});
