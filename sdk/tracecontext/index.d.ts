/** W3C Trace Context: traceparent and tracestate, by the specification's rules. */
export interface Traceparent {
  version: string;
  traceId: string;
  spanId: string;
  traceFlags: number;
}
export interface SpanContextLike {
  traceId: string;
  spanId: string;
  traceFlags: number;
  traceState?: { serialize(): string };
}
export declare class TraceState {
  constructor(entries?: Array<[string, string]>);
  static parse(values: string | string[] | undefined | null): TraceState;
  get(key: string): string | undefined;
  set(key: string, value: string): TraceState;
  unset(key: string): TraceState;
  serialize(): string;
  readonly size: number;
}
export declare function parseTraceparent(value: string | string[] | undefined | null): Traceparent | null;
export declare function formatTraceparent(ctx: SpanContextLike): string;
export declare function extract(
  get: (name: string) => string | string[] | undefined | null,
): { traceId: string; spanId: string; traceFlags: number; traceState: TraceState; isRemote: true } | null;
export declare function inject(ctx: SpanContextLike, set: (name: string, value: string) => void): void;
export declare function randomTraceId(): string;
export declare function randomSpanId(): string;
export declare function isValidTraceId(id: string): boolean;
export declare function isValidSpanId(id: string): boolean;
export declare function isValidKey(key: string): boolean;
export declare function isValidValue(value: string): boolean;
export declare const MAX_TRACESTATE_MEMBERS: number;
export declare const MAX_TRACESTATE_LENGTH: number;
