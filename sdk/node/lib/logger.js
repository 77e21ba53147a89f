'use strict';
/**
 * The SDK's own warnings. They go to the logger given to init (default:
 * console.warn with a [tracekit] prefix; false silences them) and never
 * throw: a logger that fails is ignored. warnLimited() reports a recurring
 * problem (an export failing while the server is down) at most once per
 * interval per key, with the number of occurrences it held back.
 */

const PREFIX = '[tracekit]';
const DEFAULT_INTERVAL_MS = 60_000;

const consoleLogger = {
  warn: (msg) => console.warn(`${PREFIX} ${msg}`),
};

class Logger {
  constructor(target, { intervalMs = DEFAULT_INTERVAL_MS, now = Date.now } = {}) {
    if (target === false || target === null) this.target = null;
    else if (target === undefined) this.target = consoleLogger;
    else this.target = target;
    this.intervalMs = intervalMs;
    this.now = now;
    this.limits = new Map(); // key -> { last, suppressed }
  }

  warn(msg) {
    if (!this.target) return;
    try {
      this.target.warn(this.target === consoleLogger ? msg : `${PREFIX} ${msg}`);
    } catch {
      // A logger that throws must not take the application down.
    }
  }

  /** Informational lines (logpoints): target.info, else target.log, else warn. */
  info(msg) {
    this._emit('info', msg);
  }

  /** Errors: target.error, else warn. */
  error(msg) {
    this._emit('error', msg);
  }

  /** Debugging detail: only to a target that has debug(). */
  debug(msg) {
    const t = this.target;
    if (!t || t === consoleLogger || typeof t.debug !== 'function') return;
    try {
      t.debug(`${PREFIX} ${msg}`);
    } catch {
      // ignored, as in warn
    }
  }

  _emit(level, msg) {
    const t = this.target;
    if (!t) return;
    if (t === consoleLogger) {
      try {
        (level === 'info' ? console.log : console.error)(`${PREFIX} ${msg}`);
      } catch {
        // ignored, as in warn
      }
      return;
    }
    const fn = typeof t[level] === 'function' ? t[level] : level === 'info' && typeof t.log === 'function' ? t.log : t.warn;
    try {
      fn.call(t, `${PREFIX} ${msg}`);
    } catch {
      // ignored, as in warn
    }
  }

  /** Warns about key at most once per interval; returns whether it did. */
  warnLimited(key, msg) {
    const now = this.now();
    let state = this.limits.get(key);
    if (!state) {
      state = { last: -Infinity, suppressed: 0 };
      this.limits.set(key, state);
    }
    if (now - state.last < this.intervalMs) {
      state.suppressed++;
      return false;
    }
    const extra = state.suppressed > 0 ? ` (${state.suppressed} more since the last report)` : '';
    state.last = now;
    state.suppressed = 0;
    this.warn(msg + extra);
    return true;
  }

  /** Forgets the limit of key, so that its next problem is reported at once. */
  reset(key) {
    this.limits.delete(key);
  }
}

module.exports = { Logger, PREFIX };
