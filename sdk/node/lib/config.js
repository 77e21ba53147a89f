'use strict';
/**
 * Options of tracekit.init: environment fallbacks, defaults and validation.
 * resolve() is the only place the SDK throws; everything after init reports
 * problems through the logger instead.
 */

const DEFAULT_ENDPOINT = 'http://localhost:4318/v1/traces';
const TRACES_PATH = '/v1/traces';
const MAX_CAPTURE_DEPTH = 10;

const DEFAULTS = Object.freeze({
  maxQueueSize: 2048,
  maxExportBatchSize: 512,
  batchTimeoutMs: 1000,
  exportTimeoutMs: 5000,
});

// Every option init knows, with the type it must have. An unknown option is
// reported once through the logger (a typo should not go unnoticed) but does
// not stop the service.
const TYPES = {
  apiKey: 'string',
  serviceName: 'string',
  serviceVersion: 'string',
  endpoint: 'string',
  environment: 'string',
  enableCodeMonitoring: 'boolean',
  codeMonitoringEndpoint: 'string',
  codeMonitoringPollIntervalMs: 'integer',
  captureConfig: 'object',
  logger: 'logger',
  registerGlobal: 'boolean',
  sampleRate: 'number',
  maxQueueSize: 'integer',
  maxExportBatchSize: 'integer',
  batchTimeoutMs: 'integer',
  exportTimeoutMs: 'integer',
  resourceAttributes: 'object',
  headers: 'object',
};

class ConfigError extends TypeError {
  constructor(message) {
    super(`tracekit.init: ${message}`);
    this.name = 'TraceKitConfigError';
    this.code = 'TRACEKIT_INVALID_CONFIG';
  }
}

function env(name) {
  const v = process.env[name];
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
}

function describe(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v)}`;
  return `a ${typeof v}`;
}

function checkType(name, value, type) {
  if (value === undefined) return;
  let ok;
  switch (type) {
    case 'object':
      ok = value !== null && typeof value === 'object' && !Array.isArray(value);
      break;
    case 'integer':
      ok = Number.isInteger(value) && value >= 0;
      if (!ok) throw new ConfigError(`${name} must be a non-negative integer, got ${describe(value)}`);
      return;
    case 'logger':
      ok = value === false || value === null ||
        (typeof value === 'object' && typeof value.warn === 'function');
      if (!ok) {
        throw new ConfigError(`logger must be an object with a warn(message) method (console works), or false to silence the SDK; got ${describe(value)}`);
      }
      return;
    default:
      ok = typeof value === type;
  }
  if (!ok) throw new ConfigError(`${name} must be ${type === 'object' ? 'an object' : `a ${type}`}, got ${describe(value)}`);
}

/** Parses OTEL_RESOURCE_ATTRIBUTES: comma-separated key=value, percent-encoded values. */
function parseResourceAttributes(s) {
  const out = {};
  if (!s) return out;
  for (const pair of s.split(',')) {
    if (pair.trim() === '') continue;
    const eq = pair.indexOf('=');
    const key = eq > 0 ? pair.slice(0, eq).trim() : '';
    if (!key) throw new ConfigError(`OTEL_RESOURCE_ATTRIBUTES: ${JSON.stringify(pair)} is not key=value`);
    let value = pair.slice(eq + 1).trim();
    try {
      value = decodeURIComponent(value);
    } catch {
      throw new ConfigError(`OTEL_RESOURCE_ATTRIBUTES: the value of ${key} is not valid percent-encoding`);
    }
    out[key] = value;
  }
  return out;
}

/**
 * Checks that s is an absolute http(s) URL; gives it /v1/traces when it has
 * no path. Returns the URL object.
 */
function parseEndpoint(s, source) {
  let u;
  try {
    u = new URL(s);
  } catch {
    throw new ConfigError(`endpoint ${JSON.stringify(s)} (from ${source}) is not a URL; want one such as ${DEFAULT_ENDPOINT}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new ConfigError(`endpoint ${JSON.stringify(s)} (from ${source}) must be an http:// or https:// URL such as ${DEFAULT_ENDPOINT}`);
  }
  if (u.pathname === '' || u.pathname === '/') u.pathname = TRACES_PATH;
  return u;
}

/**
 * The code monitoring API's base URL by default: the endpoint's origin plus
 * whatever path prefix comes before /v1/traces (a server behind a reverse
 * proxy at https://example.com/tracekit/v1/traces has its API at
 * https://example.com/tracekit).
 */
function codeMonitoringBase(endpointURL) {
  let path = endpointURL.pathname;
  const i = path.lastIndexOf(TRACES_PATH);
  path = i >= 0 ? path.slice(0, i) : '';
  return (endpointURL.origin + path).replace(/\/+$/, '');
}

function checkCaptureConfig(cc) {
  if (cc === undefined) return undefined;
  const num = (k, min) => {
    const v = cc[k];
    if (v === undefined) return;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min) {
      throw new ConfigError(`captureConfig.${k} must be a number >= ${min}, got ${describe(v)}`);
    }
  };
  num('captureDepth', 1);
  if (cc.captureDepth !== undefined && cc.captureDepth > MAX_CAPTURE_DEPTH) {
    throw new ConfigError(`captureConfig.captureDepth ${cc.captureDepth} is above the maximum, ${MAX_CAPTURE_DEPTH}`);
  }
  num('maxStringLength', 1);
  num('maxPayload', 1);
  num('captureTimeout', 0);
  for (const k of ['piiScrubbing', 'lineBreakpoints']) {
    if (cc[k] !== undefined && typeof cc[k] !== 'boolean') {
      throw new ConfigError(`captureConfig.${k} must be a boolean, got ${describe(cc[k])}`);
    }
  }
  if (cc.piiPatterns !== undefined) {
    if (!Array.isArray(cc.piiPatterns)) {
      throw new ConfigError(`captureConfig.piiPatterns must be an array of {pattern: RegExp, marker: string}, got ${describe(cc.piiPatterns)}`);
    }
    cc.piiPatterns.forEach((p, i) => {
      if (!p || !(p.pattern instanceof RegExp) || typeof p.marker !== 'string') {
        throw new ConfigError(`captureConfig.piiPatterns[${i}] must be {pattern: RegExp, marker: string}`);
      }
    });
  }
  if (cc.circuitBreaker !== undefined) {
    const cb = cc.circuitBreaker;
    if (cb === null || typeof cb !== 'object' || Array.isArray(cb)) {
      throw new ConfigError(`captureConfig.circuitBreaker must be an object, got ${describe(cb)}`);
    }
    for (const k of ['maxFailures', 'windowMs', 'cooldownMs']) {
      if (cb[k] !== undefined && !(Number.isInteger(cb[k]) && cb[k] > 0)) {
        throw new ConfigError(`captureConfig.circuitBreaker.${k} must be a positive integer, got ${describe(cb[k])}`);
      }
    }
  }
  return cc;
}

/**
 * Applies environment fallbacks and defaults to the options given to init
 * and validates them. Throws a ConfigError naming the option to change.
 * Returns { config, unknown } where unknown lists option names init does not
 * know.
 */
function resolve(options) {
  if (options === undefined || options === null) options = {};
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw new ConfigError(`the options must be an object such as { serviceName: 'my-service' }, got ${describe(options)}`);
  }
  const unknown = [];
  for (const key of Object.keys(options)) {
    if (Object.prototype.hasOwnProperty.call(TYPES, key)) checkType(key, options[key], TYPES[key]);
    else unknown.push(key);
  }

  const resourceAttrs = parseResourceAttributes(env('OTEL_RESOURCE_ATTRIBUTES'));

  const serviceName = (options.serviceName !== undefined ? options.serviceName.trim() : '') ||
    env('TRACEKIT_SERVICE_NAME') || env('OTEL_SERVICE_NAME') || resourceAttrs['service.name'] || '';
  if (!serviceName) {
    throw new ConfigError("serviceName is required: pass { serviceName: 'my-service' } (unique to this service) or set TRACEKIT_SERVICE_NAME");
  }

  let endpoint;
  let source;
  if (options.endpoint !== undefined && options.endpoint.trim() !== '') {
    endpoint = options.endpoint.trim();
    source = 'options.endpoint';
  } else if (env('TRACEKIT_ENDPOINT')) {
    endpoint = env('TRACEKIT_ENDPOINT');
    source = 'TRACEKIT_ENDPOINT';
  } else if (env('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT')) {
    endpoint = env('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
    source = 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT';
  } else if (env('OTEL_EXPORTER_OTLP_ENDPOINT')) {
    endpoint = env('OTEL_EXPORTER_OTLP_ENDPOINT').replace(/\/+$/, '') + TRACES_PATH;
    source = 'OTEL_EXPORTER_OTLP_ENDPOINT';
  } else {
    endpoint = DEFAULT_ENDPOINT;
    source = 'the default';
  }
  const endpointURL = parseEndpoint(endpoint, source);

  let codeMonitoringEndpoint;
  if (options.codeMonitoringEndpoint !== undefined && options.codeMonitoringEndpoint.trim() !== '') {
    let u;
    try {
      u = new URL(options.codeMonitoringEndpoint.trim());
    } catch {
      u = null;
    }
    if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:')) {
      throw new ConfigError(`codeMonitoringEndpoint ${JSON.stringify(options.codeMonitoringEndpoint)} must be the server's base URL, such as https://tracekit.example.com`);
    }
    codeMonitoringEndpoint = (u.origin + u.pathname).replace(/\/+$/, '');
  } else {
    codeMonitoringEndpoint = codeMonitoringBase(endpointURL);
  }

  let sampleRate = options.sampleRate;
  if (sampleRate === undefined) {
    const arg = env('OTEL_TRACES_SAMPLER_ARG');
    sampleRate = arg === undefined ? 1 : Number(arg);
    if (!(sampleRate >= 0 && sampleRate <= 1)) {
      throw new ConfigError(`OTEL_TRACES_SAMPLER_ARG ${JSON.stringify(arg)} is not a number between 0 and 1`);
    }
  } else if (!(sampleRate >= 0 && sampleRate <= 1)) {
    throw new ConfigError(`sampleRate ${sampleRate} is outside 0..1: use 1 to record every trace, 0.1 for one in ten`);
  }

  const num = (k) => {
    const v = options[k];
    return v === undefined || v === 0 ? DEFAULTS[k] : v;
  };
  const maxQueueSize = num('maxQueueSize');
  const maxExportBatchSize = Math.min(num('maxExportBatchSize'), maxQueueSize);

  const headers = {};
  if (options.headers) {
    for (const [k, v] of Object.entries(options.headers)) {
      if (typeof v !== 'string') throw new ConfigError(`headers.${k} must be a string, got ${describe(v)}`);
      headers[k] = v;
    }
  }
  const resourceAttributes = {};
  if (options.resourceAttributes) {
    for (const [k, v] of Object.entries(options.resourceAttributes)) {
      const t = typeof v;
      if (t !== 'string' && t !== 'number' && t !== 'boolean') {
        throw new ConfigError(`resourceAttributes.${k} must be a string, number or boolean, got ${describe(v)}`);
      }
      resourceAttributes[k] = v;
    }
  }

  const config = {
    apiKey: options.apiKey !== undefined && options.apiKey !== '' ? options.apiKey : env('TRACEKIT_API_KEY') || '',
    serviceName,
    serviceVersion: options.serviceVersion || env('TRACEKIT_SERVICE_VERSION') || resourceAttrs['service.version'] || '',
    environment: options.environment || env('TRACEKIT_ENVIRONMENT') ||
      resourceAttrs['deployment.environment.name'] || resourceAttrs['deployment.environment'] || '',
    endpoint: endpointURL.href,
    enableCodeMonitoring: options.enableCodeMonitoring === true,
    codeMonitoringEndpoint,
    codeMonitoringPollIntervalMs: options.codeMonitoringPollIntervalMs || undefined,
    captureConfig: checkCaptureConfig(options.captureConfig),
    logger: options.logger,
    registerGlobal: options.registerGlobal !== false,
    sampleRate,
    maxQueueSize,
    maxExportBatchSize,
    batchTimeoutMs: num('batchTimeoutMs'),
    exportTimeoutMs: num('exportTimeoutMs'),
    headers,
    resourceAttributes,
    envResourceAttributes: resourceAttrs,
  };
  return { config, unknown };
}

module.exports = { resolve, ConfigError, DEFAULT_ENDPOINT, DEFAULTS, codeMonitoringBase };
