'use strict';
/**
 * An OpenTelemetry ContextManager on node:async_hooks' AsyncLocalStorage: the
 * active context follows callbacks, promises and timers from where it was set.
 * bind() on an EventEmitter runs every event it emits from then on in the
 * given context; the middlewares use that for the request stream, whose
 * 'data' and 'end' events otherwise run in the context of the connection
 * (which is why a body parser would lose the request's span).
 */

const { AsyncLocalStorage } = require('node:async_hooks');
const { EventEmitter } = require('node:events');
const { ROOT_CONTEXT } = require('@opentelemetry/api');

const BOUND = Symbol('tracekit.boundEmit');

class AsyncLocalStorageContextManager {
  constructor() {
    this._als = new AsyncLocalStorage();
  }

  active() {
    return this._als.getStore() || ROOT_CONTEXT;
  }

  with(context, fn, thisArg, ...args) {
    const cb = thisArg === undefined ? fn : fn.bind(thisArg);
    return this._als.run(context || ROOT_CONTEXT, cb, ...args);
  }

  bind(context, target) {
    if (typeof target === 'function') {
      const manager = this;
      const bound = function (...args) {
        return manager.with(context, Reflect.apply, undefined, target, this, args);
      };
      Object.defineProperty(bound, 'length', { value: target.length, configurable: true });
      return bound;
    }
    if (target instanceof EventEmitter) {
      bindEmitter(this, context, target);
    }
    return target;
  }

  enable() {
    return this;
  }

  disable() {
    this._als.disable();
    return this;
  }
}

/**
 * Runs every event emitter emits in context (once per emitter: a second
 * binding replaces the context of the first). manager is anything with
 * with(context, fn, thisArg, ...args).
 */
function bindEmitter(manager, context, emitter) {
  const existing = emitter[BOUND];
  if (existing) {
    existing.context = context;
    return;
  }
  const state = { context };
  const emit = emitter.emit;
  emitter[BOUND] = state;
  emitter.emit = function boundEmit(...args) {
    // Reflect.apply as the callback spares a closure per event.
    return manager.with(state.context, Reflect.apply, undefined, emit, this, args);
  };
}

module.exports = { AsyncLocalStorageContextManager, bindEmitter };
