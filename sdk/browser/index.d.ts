/** @tracekit/browser: page load, fetch/XHR and click spans with W3C trace propagation, exported as OTLP/HTTP JSON. */

export type AttributeValue = string | number | boolean;

export interface InitOptions {
  /** Ingest-scope API key, sent as the X-API-Key header. Anyone who opens the page can read it: never use an admin key. */
  apiKey?: string;
  /** service.name of every span. Default 'unknown_service:browser'. */
  serviceName?: string;
  /** Full URL of the server's OTLP/HTTP intake. Default 'http://localhost:4318/v1/traces'. */
  endpoint?: string;
  /**
   * Requests that get traceparent/tracestate headers: strings match as substrings of the
   * absolute request URL, regular expressions are tested against it. Default: same-origin
   * requests only. [] sends headers nowhere.
   */
  tracePropagationTargets?: Array<string | RegExp> | string | RegExp;
  /** service.version resource attribute. */
  serviceVersion?: string;
  /** deployment.environment.name resource attribute. */
  environment?: string;
  /** More resource attributes. */
  resourceAttributes?: Record<string, AttributeValue>;
  /** Trace fetch. Default true. */
  instrumentFetch?: boolean;
  /** Trace XMLHttpRequest. Default true. */
  instrumentXHR?: boolean;
  /** Click spans on buttons, links and [data-tracekit-name] elements. Default true. */
  traceInteractions?: boolean;
  /** The page load span. Default true. */
  tracePageLoad?: boolean;
  /** Record window 'error' and 'unhandledrejection'. Default true. */
  captureErrors?: boolean;
  /** Milliseconds between exports. Default 5000. */
  flushInterval?: number;
  /** Spans per export request; a full batch is sent at once. Default 100. */
  maxBatchSize?: number;
  /** Spans kept waiting for export; more are dropped and counted. Default 2048. */
  maxQueueSize?: number;
  /** Retries of a batch after 429/502/503/504 or a network error. Default 5. */
  maxRetries?: number;
  /** Share of new traces recorded, 0 to 1. Default 1. Traces continued from a traceparent follow its sampled flag. */
  sampleRate?: number;
  /** Report export problems and SDK errors with console.warn. Default false. */
  debug?: boolean;
}

export interface Transaction {
  /** Trace ID of the transaction (32 hex digits), '' before init. */
  readonly traceId: string;
  /** Span ID of the transaction (16 hex digits), '' before init. */
  readonly spanId: string;
  setTag(key: string, value: AttributeValue): Transaction;
  /** Ends the transaction; calling it again does nothing. */
  finish(): void;
}

export interface Stats {
  /** Spans waiting to be sent. */
  queued: number;
  /** Spans the server accepted. */
  exported: number;
  /** Spans dropped because the queue was full. */
  dropped: number;
  /** Spans the server refused, or whose retries ran out. */
  failed: number;
  /** Batches sent again. */
  retries: number;
}

/** Starts the SDK. A second call is ignored; bad options never throw. */
export declare function init(options?: InitOptions): void;
/** Sets an attribute on every span started after this call; a null value removes it. */
export declare function setTag(key: string, value: AttributeValue | null | undefined): void;
/** Records an exception event on the active span (a click being handled or an open transaction), or on a short error span. */
export declare function captureException(error: unknown): void;
/** Opens a transaction: until finish(), fetch and XHR spans are its children. */
export declare function startTransaction(options: { name: string }): Transaction;
/** Sends the spans queued now; resolves true when none is left (false while the server asked to wait). */
export declare function flush(): Promise<boolean>;
/** Removes every hook, sends what is queued and stops; init may be called again. */
export declare function shutdown(): Promise<boolean>;
/** Counters of the export queue. */
export declare function stats(): Stats;
/** The SDK's version. */
export declare const version: string;
export declare const DEFAULT_ENDPOINT: string;

declare const TraceKit: {
  init: typeof init;
  setTag: typeof setTag;
  captureException: typeof captureException;
  startTransaction: typeof startTransaction;
  flush: typeof flush;
  shutdown: typeof shutdown;
  stats: typeof stats;
  version: string;
};
export default TraceKit;

declare global {
  interface Window {
    /** Set by dist/tracekit.min.js loaded with a plain <script>. */
    TraceKit: typeof TraceKit;
  }
}
