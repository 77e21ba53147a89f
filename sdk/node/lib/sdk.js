'use strict';
/**
 * The SDK object tracekit.init returns: an OpenTelemetry NodeTracerProvider
 * with the service's Resource, a BatchSpanProcessor and an OTLP/HTTP JSON
 * exporter, our W3C propagator and an AsyncLocalStorage context manager,
 * registered as OpenTelemetry's globals so that other OpenTelemetry
 * instrumentation joins the same traces; and code monitoring when enabled.
 */

const api = require('@opentelemetry/api');
const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node');
const {
  BatchSpanProcessor,
  ParentBasedSampler,
  AlwaysOnSampler,
  TraceIdRatioBasedSampler,
} = require('@opentelemetry/sdk-trace-base');
const { defaultResource, resourceFromAttributes } = require('@opentelemetry/resources');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http');
const { ExportResultCode } = require('@opentelemetry/core');

const { Logger } = require('./logger');
const { ConfigError } = require('./config');
const { TraceContextPropagator } = require('./propagator');
const { AsyncLocalStorageContextManager } = require('./context');
const { VERSION, NAME } = require('./version');

const INSTRUMENTATION_NAME = NAME;

/** What snapshotClient() returns when code monitoring is off or unavailable. */
const FALLBACK_NOOP_SNAPSHOT_CLIENT = Object.freeze({
  checkAndCapture() {},
});

/**
 * Passes spans to the OTLP exporter and reports failures (a server that is
 * down, a rejected API key) through the logger at most once a minute. The
 * spans of a failed export are dropped; the application never sees the error.
 */
class ReportingExporter {
  constructor(inner, sdk) {
    this._inner = inner;
    this._sdk = sdk;
  }

  export(spans, resultCallback) {
    const sdk = this._sdk;
    let called = false;
    const done = (result) => {
      if (called) return;
      called = true;
      if (result && result.code === ExportResultCode.SUCCESS) {
        sdk._stats.exported += spans.length;
      } else {
        sdk._stats.failed += spans.length;
        const err = result && result.error;
        sdk._stats.lastError = err || new Error('export failed');
        sdk.logger.warnLimited(
          'export',
          `could not export ${spans.length} span(s) to ${sdk.config.endpoint}: ${describeError(err)}. ` +
            'The application is unaffected; spans are dropped until the server is reachable.',
        );
      }
      resultCallback(result);
    };
    try {
      this._inner.export(spans, done);
    } catch (err) {
      done({ code: ExportResultCode.FAILED, error: err });
    }
  }

  forceFlush() {
    return this._inner.forceFlush ? this._inner.forceFlush() : Promise.resolve();
  }

  shutdown() {
    return this._inner.shutdown();
  }
}

function describeError(err) {
  if (!err) return 'unknown error';
  const parts = [];
  if (err.code) parts.push(err.code);
  if (err.message) parts.push(err.message);
  else parts.push(String(err));
  if (err.data && typeof err.data === 'string' && err.data.length < 200) parts.push(err.data.trim());
  return parts.join(' ');
}

class SDK {
  /**
   * Use tracekit.init: it validates the options and makes this SDK the one
   * the middlewares, fetch, setTag and captureException use.
   */
  constructor(config, unknownOptions = []) {
    this.config = config;
    this.logger = new Logger(config.logger);
    this._stats = { exported: 0, failed: 0, lastError: null };
    this._shutdown = null;
    this._registered = { trace: false, context: false, propagation: false };
    this._codemon = null;
    this._noopSnapshotClient = null;

    if (unknownOptions.length > 0) {
      this.logger.warn(`tracekit.init: ignoring unknown option(s) ${unknownOptions.join(', ')}`);
    }

    const headers = { ...config.headers };
    if (config.apiKey) headers['X-API-Key'] = config.apiKey;
    const otlp = new OTLPTraceExporter({
      url: config.endpoint,
      headers,
      timeoutMillis: config.exportTimeoutMs,
    });
    this._exporter = new ReportingExporter(otlp, this);
    this._processor = new BatchSpanProcessor(this._exporter, {
      maxQueueSize: config.maxQueueSize,
      maxExportBatchSize: config.maxExportBatchSize,
      scheduledDelayMillis: config.batchTimeoutMs,
      exportTimeoutMillis: config.exportTimeoutMs,
    });
    const root = config.sampleRate >= 1 ? new AlwaysOnSampler() : new TraceIdRatioBasedSampler(config.sampleRate);
    this.provider = new NodeTracerProvider({
      resource: buildResource(config),
      sampler: new ParentBasedSampler({ root }),
      spanProcessors: [this._processor],
    });
    this.tracer = this.provider.getTracer(INSTRUMENTATION_NAME, VERSION);
    this.propagator = new TraceContextPropagator();

    // The context manager the middlewares run requests in. When another
    // one is already registered globally (the application set up
    // OpenTelemetry itself), that one is used, so that its spans and ours
    // see the same active context.
    this._ownContextManager = new AsyncLocalStorageContextManager();
    this.contextManager = this._ownContextManager;

    if (config.enableCodeMonitoring) {
      try {
        this._startCodeMonitoring();
      } catch (err) {
        this.provider.shutdown().catch(() => {});
        throw err;
      }
    }
  }

  /** Makes this SDK OpenTelemetry's globals, unless registerGlobal is false. Called by init. */
  _install() {
    if (this.config.registerGlobal) this._registerGlobals();
  }

  _registerGlobals() {
    this._registered.trace = api.trace.setGlobalTracerProvider(this.provider);
    if (!this._registered.trace) {
      this.logger.warn('another OpenTelemetry tracer provider is already registered; spans started through the OpenTelemetry API go to it, not to TraceKit');
    }
    this._registered.context = api.context.setGlobalContextManager(this._ownContextManager);
    if (!this._registered.context) {
      // Share the application's: the active span must be one for both.
      this.contextManager = api.context;
    }
    this._registered.propagation = api.propagation.setGlobalPropagator(this.propagator);
  }

  _unregisterGlobals() {
    if (this._registered.trace) api.trace.disable();
    if (this._registered.context) api.context.disable();
    if (this._registered.propagation) api.propagation.disable();
    this._registered = { trace: false, context: false, propagation: false };
  }

  _startCodeMonitoring() {
    const codemon = loadCodemon(this.logger);
    if (!codemon || typeof codemon.start !== 'function') return;
    try {
      this._codemon = codemon.start({
        apiKey: this.config.apiKey,
        baseURL: this.config.codeMonitoringEndpoint,
        serviceName: this.config.serviceName,
        environment: this.config.environment,
        sdkVersion: VERSION,
        captureConfig: this.config.captureConfig,
        logger: this.logger,
        pollIntervalMs: this.config.codeMonitoringPollIntervalMs,
      }) || null;
    } catch (err) {
      if (err instanceof TypeError) {
        // A setting code monitoring cannot use: init's to report.
        throw new ConfigError(`code monitoring: ${err.message}`);
      }
      this.logger.warn(`code monitoring could not start, tracing continues without it: ${describeError(err)}`);
      this._codemon = null;
    }
  }

  /**
   * The client that captures code monitoring snapshots. Never null: while
   * code monitoring is off (or could not start) its methods do nothing.
   */
  snapshotClient() {
    const cm = this._codemon;
    if (cm && !this._shutdown) {
      const client = typeof cm.snapshotClient === 'function' ? cm.snapshotClient() : cm.snapshotClient;
      if (client) return client;
    }
    if (!this._noopSnapshotClient) {
      let noop = null;
      try {
        noop = require('./codemon').noopSnapshotClient;
      } catch {
        noop = null;
      }
      this._noopSnapshotClient = noop && typeof noop.checkAndCapture === 'function' ? noop : FALLBACK_NOOP_SNAPSHOT_CLIENT;
    }
    return this._noopSnapshotClient;
  }

  /** The tracer the SDK starts its spans with. */
  getTracer() {
    return this.tracer;
  }

  /** Spans exported and lost so far. */
  stats() {
    return { exported: this._stats.exported, failed: this._stats.failed };
  }

  /**
   * Exports every span that has ended. Resolves when the export is done;
   * never rejects (a failed export is reported through the logger).
   */
  async forceFlush() {
    if (this._shutdown) return;
    try {
      await this.provider.forceFlush();
    } catch (err) {
      // Shares the export failures' budget: it is the same problem.
      this.logger.warnLimited('export', `flush failed, spans are dropped: ${describeError(err)}`);
    }
  }

  /**
   * Exports the spans still queued, stops code monitoring and the exporter
   * and removes the SDK from OpenTelemetry's globals. Safe to call more than
   * once; never rejects. Afterwards nothing is recorded and the process can
   * exit.
   */
  shutdown() {
    if (!this._shutdown) {
      this._shutdown = this._doShutdown();
    }
    return this._shutdown;
  }

  async _doShutdown() {
    const state = require('./state');
    if (state.sdk === this) state.sdk = null;
    const cm = this._codemon;
    this._codemon = null;
    const tasks = [];
    if (cm && typeof cm.shutdown === 'function') {
      tasks.push(
        Promise.resolve()
          .then(() => cm.shutdown())
          .catch((err) => this.logger.warn(`code monitoring shutdown: ${describeError(err)}`)),
      );
    }
    tasks.push(
      this.provider.shutdown().catch((err) => this.logger.warn(`shutdown: ${describeError(err)}`)),
    );
    await Promise.all(tasks);
    this._unregisterGlobals();
  }
}

function loadCodemon(logger) {
  try {
    return require('./codemon');
  } catch (err) {
    logger.warn(`code monitoring is not available in this build of @tracekit/node, tracing continues without it: ${describeError(err)}`);
    return null;
  }
}

function buildResource(config) {
  const attrs = {
    ...config.resourceAttributes,
    'service.name': config.serviceName,
    'telemetry.distro.name': NAME,
    'telemetry.distro.version': VERSION,
  };
  if (config.serviceVersion) attrs['service.version'] = config.serviceVersion;
  if (config.environment) {
    attrs['deployment.environment.name'] = config.environment;
    // The name before semantic conventions 1.27, still read by older
    // dashboards and backends.
    attrs['deployment.environment'] = config.environment;
  }
  // Lowest precedence first: telemetry.sdk.* from the default resource,
  // then OTEL_RESOURCE_ATTRIBUTES, then the options.
  return defaultResource()
    .merge(resourceFromAttributes(config.envResourceAttributes))
    .merge(resourceFromAttributes(attrs));
}

module.exports = { SDK, describeError, FALLBACK_NOOP_SNAPSHOT_CLIENT, INSTRUMENTATION_NAME };
