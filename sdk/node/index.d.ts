import type { Span, Tracer, TextMapPropagator } from '@opentelemetry/api';
import type { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Receives the SDK's warnings (rate-limited) and code monitoring's logpoint lines. console works. */
export interface Logger {
  warn(message: string): void;
  info?(message: string): void;
  error?(message: string): void;
  debug?(message: string): void;
}

/** A custom PII pattern: matches are replaced by marker in snapshots. */
export interface PIIPattern {
  pattern: RegExp;
  marker: string;
}

/** Code monitoring's circuit breaker: after maxFailures 5xx/network failures within windowMs, capture stops for cooldownMs. */
export interface CircuitBreakerConfig {
  /** Default 3. */
  maxFailures?: number;
  /** Default 60000. */
  windowMs?: number;
  /** Default 300000. */
  cooldownMs?: number;
}

/** What code monitoring captures and how it protects the service. */
export interface CaptureConfig {
  /** Levels of nested objects captured. Default 3. */
  captureDepth?: number;
  /** Strings longer than this are truncated. Default 256. */
  maxStringLength?: number;
  /** Scrub the 13 built-in PII patterns (and piiPatterns) before upload. Default true. */
  piiScrubbing?: boolean;
  /** Extra patterns scrubbed along with the built-in ones. */
  piiPatterns?: PIIPattern[];
  circuitBreaker?: CircuitBreakerConfig;
  /** Largest snapshot in bytes; bigger ones are truncated with a _truncated marker. Default: unlimited. */
  maxPayload?: number;
  /** Dashboard line breakpoints through node:inspector. Default true. */
  lineBreakpoints?: boolean;
}

/** Options of init. Unset ones come from the environment where noted. */
export interface Config {
  /** Sent as X-API-Key with every export. Default: TRACEKIT_API_KEY. Never put the key in code. */
  apiKey?: string;
  /** Names this service in every span; required. Default: TRACEKIT_SERVICE_NAME, then OTEL_SERVICE_NAME. */
  serviceName?: string;
  /** Recorded as service.version. Default: TRACEKIT_SERVICE_VERSION. */
  serviceVersion?: string;
  /**
   * Where spans are posted as OTLP/HTTP JSON. A URL without a path gets /v1/traces.
   * Default: TRACEKIT_ENDPOINT, then OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, then http://localhost:4318/v1/traces.
   */
  endpoint?: string;
  /** Recorded as deployment.environment.name, for example "production". Default: TRACEKIT_ENVIRONMENT. */
  environment?: string;
  /** Turns on code monitoring (snapshots, line breakpoints, logpoints). Default false. */
  enableCodeMonitoring?: boolean;
  /** Base URL of the code monitoring API. Default: the endpoint's origin plus any path before /v1/traces. */
  codeMonitoringEndpoint?: string;
  /** How often breakpoints are polled while their real-time stream is unavailable, in ms. */
  codeMonitoringPollIntervalMs?: number;
  captureConfig?: CaptureConfig;
  /** Default: console.warn with a [tracekit] prefix. false silences the SDK. */
  logger?: Logger | false | null;
  /** Register as OpenTelemetry's global tracer provider, context manager and propagator. Default true. */
  registerGlobal?: boolean;
  /** Fraction of new traces recorded, 0..1; traces arriving from another service keep the caller's decision. Default 1. */
  sampleRate?: number;
  /** Spans waiting for export; more are dropped. Default 2048. */
  maxQueueSize?: number;
  /** Spans per export request. Default 512. */
  maxExportBatchSize?: number;
  /** Longest a span waits before its batch is sent, in ms. Default 1000. */
  batchTimeoutMs?: number;
  /** Bound on one export, retries included, in ms; also how long shutdown can wait for a server that is down. Default 5000. */
  exportTimeoutMs?: number;
  /** Extra resource attributes for every span. */
  resourceAttributes?: Record<string, string | number | boolean>;
  /** Extra headers sent with every export. */
  headers?: Record<string, string>;
}

/** Captures code monitoring snapshots. Hold it in your own module and call it directly (see the guide). */
export interface SnapshotClient {
  checkAndCapture(name: string, data?: Record<string, unknown>): void;
}

/** The running SDK, as init returns it. */
export declare class SDK {
  /** The resolved configuration. */
  readonly config: Readonly<Omit<Config, 'logger'>> & { serviceName: string; endpoint: string; codeMonitoringEndpoint: string };
  readonly provider: NodeTracerProvider;
  readonly tracer: Tracer;
  readonly propagator: TextMapPropagator;
  /** Never null: while code monitoring is off its methods do nothing. */
  snapshotClient(): SnapshotClient;
  getTracer(): Tracer;
  /** Spans exported and lost so far. */
  stats(): { exported: number; failed: number };
  /** Exports every ended span; never rejects. */
  forceFlush(): Promise<void>;
  /** Flushes spans, stops code monitoring and the exporter; never rejects; safe to call twice. */
  shutdown(): Promise<void>;
}

/** Thrown by init for an option it cannot use; the message names the option. */
export declare class ConfigError extends TypeError {
  readonly code: 'TRACEKIT_INVALID_CONFIG';
}

type Next = (err?: unknown) => void;
type ExpressMiddleware = (req: IncomingMessage, res: ServerResponse, next: Next) => void;
type ExpressErrorMiddleware = (err: unknown, req: IncomingMessage, res: ServerResponse, next: Next) => void;

/** Express 4 and 5 middleware. Register requestHandler (and tracingHandler) first, errorHandler after the routes. */
export declare const Handlers: {
  requestHandler(): ExpressMiddleware;
  tracingHandler(): ExpressMiddleware;
  errorHandler(): ExpressErrorMiddleware;
};

/** Fastify plugin: fastify.register(fastifyPlugin). Applies to the whole application. */
export declare function fastifyPlugin(fastify: any, options: unknown, done: (err?: Error) => void): void;

/** Starts tracing. Throws ConfigError for bad options; nothing else in the SDK throws. */
export declare function init(options?: Config): SDK;
/** The SDK init returned; null before init and after shutdown. */
export declare function getSDK(): SDK | null;
/** The global fetch with a CLIENT span and traceparent/tracestate injected. */
export declare function fetch(input: string | URL | Request, init?: RequestInit): Promise<Response>;
/** Sets an attribute on the active span and the request's server span. No-op outside a span. */
export declare function setTag(key: string, value: unknown): void;
/** Records err on the active span and marks it as an error. No-op outside a span. */
export declare function captureException(err: unknown): void;
export declare function getActiveSpan(): Span | undefined;
/** The current SDK's snapshot client; a no-op one before init. */
export declare function snapshotClient(): SnapshotClient;
export declare function shutdown(): Promise<void>;
export declare function forceFlush(): Promise<void>;
export declare const VERSION: string;

/** The module itself, for `const { tracekit } = require('@tracekit/node')`. */
export declare const tracekit: {
  init: typeof init;
  getSDK: typeof getSDK;
  Handlers: typeof Handlers;
  fastifyPlugin: typeof fastifyPlugin;
  fetch: typeof fetch;
  setTag: typeof setTag;
  captureException: typeof captureException;
  getActiveSpan: typeof getActiveSpan;
  snapshotClient: typeof snapshotClient;
  shutdown: typeof shutdown;
  forceFlush: typeof forceFlush;
  VERSION: string;
};
