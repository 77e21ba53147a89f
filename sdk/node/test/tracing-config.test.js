'use strict';
// init: the only function that throws, with a message naming the option;
// environment fallbacks and defaults; and the module API doing nothing,
// without throwing, before init.

const { test, afterEach } = require('node:test');
const assert = require('node:assert/strict');

const tracekit = require('..');

const ENV = [
  'TRACEKIT_API_KEY', 'TRACEKIT_ENDPOINT', 'TRACEKIT_SERVICE_NAME', 'TRACEKIT_ENVIRONMENT', 'OTEL_SERVICE_NAME',
  'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_RESOURCE_ATTRIBUTES', 'OTEL_TRACES_SAMPLER_ARG',
];
// Each test file runs in a process of its own: clearing is enough.
for (const k of ENV) delete process.env[k];

afterEach(async () => {
  await tracekit.shutdown();
  for (const k of ENV) delete process.env[k];
});

const silent = { logger: false };

test('before init every call is a harmless no-op', async () => {
  assert.equal(tracekit.getSDK(), null);
  assert.doesNotThrow(() => tracekit.setTag('a', 1));
  assert.doesNotThrow(() => tracekit.captureException(new Error('x')));
  assert.doesNotThrow(() => tracekit.snapshotClient().checkAndCapture('x', { a: 1 }));
  assert.equal(tracekit.getActiveSpan(), undefined);
  await tracekit.forceFlush();
  await tracekit.shutdown();
  const next = [];
  tracekit.Handlers.requestHandler()({ headers: {} }, {}, () => next.push('request'));
  tracekit.Handlers.tracingHandler()({ headers: {} }, {}, () => next.push('tracing'));
  assert.deepEqual(next, ['request', 'tracing']);
});

test('outside a span setTag and captureException do nothing', () => {
  tracekit.init({ serviceName: 's', ...silent });
  assert.doesNotThrow(() => tracekit.setTag('a', { nested: true }));
  assert.doesNotThrow(() => tracekit.captureException('not even an Error'));
  assert.doesNotThrow(() => tracekit.setTag(undefined, 1));
});

function throwsConfig(options, pattern) {
  assert.throws(() => tracekit.init(options), (err) => {
    assert.equal(err.code, 'TRACEKIT_INVALID_CONFIG');
    assert.ok(err instanceof TypeError);
    assert.match(err.message, /^tracekit\.init: /);
    assert.match(err.message, pattern);
    return true;
  });
}

test('init throws a clear error for options it cannot use', () => {
  throwsConfig({}, /serviceName is required/);
  throwsConfig({ serviceName: '   ' }, /serviceName is required/);
  throwsConfig(undefined, /serviceName is required/);
  throwsConfig('my-service', /options must be an object/);
  throwsConfig({ serviceName: 42 }, /serviceName must be a string, got a number/);
  throwsConfig({ serviceName: 's', endpoint: 'not a url' }, /endpoint "not a url" \(from options\.endpoint\) is not a URL/);
  throwsConfig({ serviceName: 's', endpoint: 'ftp://example.com/v1/traces' }, /http:\/\/ or https:\/\//);
  throwsConfig({ serviceName: 's', enableCodeMonitoring: 'yes' }, /enableCodeMonitoring must be a boolean/);
  throwsConfig({ serviceName: 's', logger: 'console' }, /logger must be an object with a warn/);
  throwsConfig({ serviceName: 's', sampleRate: 2 }, /sampleRate 2 is outside 0\.\.1/);
  throwsConfig({ serviceName: 's', maxQueueSize: -1 }, /maxQueueSize must be a non-negative integer/);
  throwsConfig({ serviceName: 's', captureConfig: [] }, /captureConfig must be an object/);
  throwsConfig({ serviceName: 's', captureConfig: { captureDepth: 0 } }, /captureConfig\.captureDepth must be a number >= 1/);
  throwsConfig({ serviceName: 's', captureConfig: { piiPatterns: [{ pattern: 'x', marker: 'y' }] } }, /piiPatterns\[0\]/);
  throwsConfig({ serviceName: 's', captureConfig: { circuitBreaker: { cooldownMs: -5 } } }, /circuitBreaker\.cooldownMs/);
  throwsConfig({ serviceName: 's', codeMonitoringEndpoint: 'tracekit' }, /codeMonitoringEndpoint "tracekit"/);
  process.env.TRACEKIT_ENDPOINT = '://bad';
  throwsConfig({ serviceName: 's' }, /from TRACEKIT_ENDPOINT/);
  assert.equal(tracekit.getSDK(), null, 'a failed init leaves no SDK behind');
});

test('defaults and environment fallbacks', () => {
  let sdk = tracekit.init({ serviceName: 's', ...silent });
  assert.equal(sdk.config.endpoint, 'http://localhost:4318/v1/traces');
  assert.equal(sdk.config.codeMonitoringEndpoint, 'http://localhost:4318');
  assert.equal(sdk.config.apiKey, '');

  process.env.TRACEKIT_API_KEY = 'from-env';
  process.env.TRACEKIT_ENDPOINT = 'https://tk.example.com/tracekit/v1/traces';
  process.env.TRACEKIT_SERVICE_NAME = 'env-service';
  process.env.TRACEKIT_ENVIRONMENT = 'staging';
  sdk = tracekit.init({ ...silent });
  assert.equal(sdk.config.apiKey, 'from-env');
  assert.equal(sdk.config.serviceName, 'env-service');
  assert.equal(sdk.config.environment, 'staging');
  assert.equal(sdk.config.endpoint, 'https://tk.example.com/tracekit/v1/traces');
  assert.equal(sdk.config.codeMonitoringEndpoint, 'https://tk.example.com/tracekit', 'the path prefix before /v1/traces is kept');

  sdk = tracekit.init({ serviceName: 'opt', apiKey: 'opt-key', endpoint: 'http://collector:4318', codeMonitoringEndpoint: 'https://cm.example.com/', ...silent });
  assert.equal(sdk.config.apiKey, 'opt-key', 'options win over the environment');
  assert.equal(sdk.config.serviceName, 'opt');
  assert.equal(sdk.config.endpoint, 'http://collector:4318/v1/traces', 'a URL without a path gets /v1/traces');
  assert.equal(sdk.config.codeMonitoringEndpoint, 'https://cm.example.com');
});

test('a second init replaces the first, which is shut down', async () => {
  const first = tracekit.init({ serviceName: 'one', ...silent });
  const second = tracekit.init({ serviceName: 'two', ...silent });
  assert.equal(tracekit.getSDK(), second);
  await first.shutdown();
  assert.equal(tracekit.getSDK(), second, 'shutting the old one down leaves the new one current');
  await second.shutdown();
  await second.shutdown(); // twice is fine
  assert.equal(tracekit.getSDK(), null);
});

test('an unknown option is reported, not fatal', () => {
  const warnings = [];
  tracekit.init({ serviceName: 's', servceName: 'typo', logger: { warn: (m) => warnings.push(m) } });
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /unknown option\(s\) servceName/);
});

test('snapshotClient never throws: a no-op client while code monitoring is off', () => {
  const sdk = tracekit.init({ serviceName: 's', ...silent });
  const client = sdk.snapshotClient();
  assert.equal(typeof client.checkAndCapture, 'function');
  assert.doesNotThrow(() => client.checkAndCapture('payment-failed', { orderId: 1 }));
  assert.equal(sdk.snapshotClient(), client, 'the same client every time');
});

test('the package shapes the guides use', () => {
  assert.equal(require('..').tracekit, tracekit);
  assert.equal(typeof tracekit.fetch, 'function');
  const fp = tracekit.fastifyPlugin;
  assert.equal(fp[Symbol.for('skip-override')], true);
  const apm = require('@tracekit/node-apm');
  assert.equal(apm.init, tracekit.init);
});
