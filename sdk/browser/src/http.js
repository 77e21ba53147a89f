// fetch and XMLHttpRequest: a CLIENT span per request, and traceparent /
// tracestate on the requests tracePropagationTargets allow.
import { inject } from '@tracekit/tracecontext';
import { G, KIND_CLIENT, state, startSpan, safe } from './core.js';

const TRACE_HEADERS = ['traceparent', 'tracestate'];

/** The absolute URL of a request target, resolved against the page's address. */
export function absolute(url) {
  const g = G();
  try {
    return new g.URL(String(url), g.location && g.location.href);
  } catch (e) {
    return null;
  }
}

/**
 * Whether a request to u (a URL) gets trace headers: strings match as
 * substrings of the absolute URL, regular expressions are tested against it;
 * without targets, only the page's own origin.
 */
export function propagates(u, targets) {
  if (!u) return false;
  const href = u.href;
  if (!targets) {
    const loc = G().location;
    return !!loc && u.origin === loc.origin;
  }
  for (const t of targets) {
    if (typeof t === 'string') {
      if (t && href.indexOf(t) !== -1) return true;
    } else if (t && typeof t.test === 'function') {
      t.lastIndex = 0;
      if (t.test(href)) return true;
    }
  }
  return false;
}

/** The trace headers for span, as [name, value] pairs. */
function traceHeaders(span) {
  const out = [];
  inject(span, (k, v) => out.push([k, v]));
  return out;
}

const isTraceHeader = (k) => TRACE_HEADERS.indexOf(String(k).toLowerCase()) !== -1;

/**
 * headers with the pairs added (replacing any trace headers already there),
 * in the form it came in: a Headers (copied), an array of pairs, or a plain
 * object. The caller's object is never modified.
 */
export function withHeaders(h, add) {
  const g = G();
  if (h && typeof h.set === 'function' && typeof h.get === 'function') {
    const c = g.Headers ? new g.Headers(h) : h;
    for (const [k, v] of add) c.set(k, v);
    return c;
  }
  if (Array.isArray(h)) return h.filter((p) => !(p && isTraceHeader(p[0]))).concat(add);
  const o = {};
  if (h && typeof h === 'object') for (const k in h) if (!isTraceHeader(k)) o[k] = h[k];
  for (const [k, v] of add) o[k] = v;
  return o;
}

function describe(method, u, raw) {
  method = String(method || 'GET').toUpperCase();
  let full = String(raw);
  if (u) {
    if (u.username || u.password) {
      u = new (G().URL)(u.href);
      u.username = u.password = 'REDACTED';
    }
    full = u.href;
  }
  const attrs = { 'http.request.method': method, 'url.full': full };
  if (u && u.hostname) attrs['server.address'] = u.hostname;
  return { name: method + ' ' + (u ? u.pathname : full.split('?')[0]), attrs };
}

function finish(span, status, err) {
  if (status) {
    span.setAttribute('http.response.status_code', status);
    if (status >= 500) {
      span.setAttribute('error.type', String(status));
      span.setError('HTTP ' + status);
    }
  }
  if (err) {
    span.setAttribute('error.type', err);
    span.setError(err);
  }
  span.end();
}

function isOwn(u) {
  const e = state.opts && state.opts.endpoint;
  return !!(u && e && u.href.indexOf(e) === 0);
}

/** Wraps window.fetch; returns a function that restores it. */
export function patchFetch(targets) {
  const g = G();
  const orig = g.fetch;
  if (typeof orig !== 'function') return () => {};

  function before(input, init) {
    const isReq = input && typeof input === 'object' && typeof input.url === 'string' && input.headers;
    const raw = isReq ? input.url : input;
    const u = absolute(raw);
    if (isOwn(u)) return null;
    const d = describe((init && init.method) || (isReq && input.method), u, raw);
    const span = startSpan(d.name, KIND_CLIENT, d.attrs);
    let args = null;
    if (propagates(u, targets)) {
      const add = traceHeaders(span);
      if (add.length) {
        const base = init && init.headers != null ? init.headers : isReq ? input.headers : null;
        args = [input, Object.assign({}, init, { headers: withHeaders(base, add) })];
      }
    }
    return { span, args };
  }

  function tracedFetch(input, init) {
    const b = safe(before, input, init);
    let p;
    try {
      p = orig.apply(this, (b && b.args) || arguments);
    } catch (e) {
      if (b) safe(finish, b.span, 0, (e && e.name) || 'Error');
      throw e;
    }
    if (b)
      safe(() =>
        p.then(
          (r) => safe(finish, b.span, r && r.status),
          (e) => safe(finish, b.span, 0, (e && e.name) || 'Error'),
        ),
      );
    return p;
  }
  g.fetch = tracedFetch;
  return () => {
    if (g.fetch === tracedFetch) g.fetch = orig;
  };
}

/** Wraps XMLHttpRequest.prototype open/setRequestHeader/send; returns a function that restores them. */
export function patchXHR(targets) {
  const X = G().XMLHttpRequest;
  const P = X && X.prototype;
  if (!P || typeof P.send !== 'function') return () => {};
  const { open, send, setRequestHeader } = P;
  const info = new WeakMap();

  function onEnd(e) {
    const i = info.get(this);
    if (!i || !i.span) return;
    if (e.type === 'loadend') {
      const st = this.status;
      safe(finish, i.span, st, st ? null : i.err || 'NetworkError');
      i.span = null;
    } else i.err = e.type === 'abort' ? 'AbortError' : e.type === 'timeout' ? 'TimeoutError' : 'NetworkError';
  }

  const patched = {
    open(method, url) {
      safe(() => {
        let i = info.get(this);
        if (!i) {
          info.set(this, (i = {}));
          for (const t of ['error', 'abort', 'timeout', 'loadend']) this.addEventListener(t, onEnd);
        }
        i.method = method;
        i.url = url;
        i.userSet = false;
        i.err = null;
      });
      return open.apply(this, arguments);
    },
    setRequestHeader(name) {
      safe(() => {
        const i = info.get(this);
        if (i && isTraceHeader(name)) i.userSet = true;
      });
      return setRequestHeader.apply(this, arguments);
    },
    send() {
      safe(() => {
        const i = info.get(this);
        if (!i) return;
        const u = absolute(i.url);
        if (isOwn(u)) return;
        const d = describe(i.method, u, i.url);
        i.span = startSpan(d.name, KIND_CLIENT, d.attrs);
        if (!i.userSet && propagates(u, targets))
          for (const [k, v] of traceHeaders(i.span)) setRequestHeader.call(this, k, v);
      });
      try {
        return send.apply(this, arguments);
      } catch (e) {
        const i = info.get(this);
        if (i && i.span) safe(finish, i.span, 0, (e && e.name) || 'Error');
        if (i) i.span = null;
        throw e;
      }
    },
  };
  Object.assign(P, patched);
  return () => {
    for (const k in patched) if (P[k] === patched[k]) P[k] = k === 'open' ? open : k === 'send' ? send : setRequestHeader;
  };
}
