'use strict';
// A small fake browser for the SDK's tests: window, document (elements with
// event propagation, <meta> lookup), location, performance with a manual
// clock, timers on that clock, fetch and XMLHttpRequest that record what
// they are asked and answer when told. The built IIFE (dist/tracekit.min.js)
// is loaded into a fresh vm context per page, as a <script> would load it.
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');

const BUNDLE = path.join(__dirname, '..', 'dist', 'tracekit.min.js');
const T0 = 1700000000000; // performance.timeOrigin, epoch ms
const ENDPOINT = 'https://tk.example.com/v1/traces';

/** Lets promise callbacks (of both realms) run. */
async function settle(rounds = 5) {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

class Clock {
  constructor() {
    this.t = 0;
    this.timers = [];
    this.seq = 0;
  }
  setTimeout(fn, ms) {
    const id = ++this.seq;
    this.timers.push({ id, at: this.t + Math.max(0, Number(ms) || 0), fn, ms: Number(ms) || 0 });
    return id;
  }
  clearTimeout(id) {
    this.timers = this.timers.filter((t) => t.id !== id);
  }
  /** Moves time forward by ms, running due timers in order and letting promises settle after each. */
  async advance(ms) {
    const end = this.t + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.t = Math.max(this.t, due.at);
      due.fn();
      await settle();
    }
    this.t = end;
    await settle();
  }
}

class Target {
  constructor() {
    this.listeners = [];
  }
  addEventListener(type, fn, opt) {
    const capture = opt === true || !!(opt && opt.capture);
    if (!this.listeners.some((l) => l.type === type && l.fn === fn && l.capture === capture)) this.listeners.push({ type, fn, capture });
  }
  removeEventListener(type, fn, opt) {
    const capture = opt === true || !!(opt && opt.capture);
    this.listeners = this.listeners.filter((l) => !(l.type === type && l.fn === fn && l.capture === capture));
  }
}

class Element extends Target {
  constructor(doc, tag, attrs, text) {
    super();
    this.ownerDocument = doc;
    this.tagName = tag.toUpperCase();
    this.attrs = attrs || {};
    this.text = text || '';
    this.children = [];
    this.parentNode = null;
    this.value = this.attrs.value;
  }
  getAttribute(n) {
    return Object.prototype.hasOwnProperty.call(this.attrs, n) ? this.attrs[n] : null;
  }
  get textContent() {
    return this.text + this.children.map((c) => c.textContent).join('');
  }
  get parentElement() {
    return this.parentNode instanceof Element ? this.parentNode : null;
  }
  append(child) {
    child.parentNode = this;
    this.children.push(child);
    return child;
  }
  click() {
    return this.ownerDocument.env.dispatch(this, { type: 'click', bubbles: true });
  }
}

/**
 * Makes a page. opts: href, metas ({name: content}), readyState, nav
 * (PerformanceNavigationTiming fields), exportReply(rec) -> {status, headers}
 * | 'fail', appReply(rec) -> same or undefined (the test answers it).
 */
function makePage(opts = {}) {
  const clock = new Clock();
  const href = opts.href || 'https://app.example.com/users?tab=1';
  const env = { clock, requests: [], exports: [], xhrs: [], consoleCalls: [], beacons: [] };
  env.exportReply = opts.exportReply || (() => ({ status: 200 }));
  env.appReply = opts.appReply || (() => ({ status: 200 }));

  const win = new Target();
  const doc = new Target();
  doc.env = env;
  doc.readyState = opts.readyState || 'complete';
  doc.visibilityState = 'visible';
  doc.metas = opts.metas || {};
  doc.querySelector = (sel) => {
    const m = /^meta\[name="([^"]+)"\]$/.exec(sel);
    if (!m || !(m[1] in doc.metas)) return null;
    return new Element(doc, 'meta', { name: m[1], content: doc.metas[m[1]] });
  };
  doc.createElement = (tag, attrs, text) => new Element(doc, tag, attrs, text);
  const body = new Element(doc, 'body');
  body.parentNode = doc;
  doc.body = body;

  const nav = Object.assign(
    {
      type: 'navigate',
      startTime: 0,
      fetchStart: 5,
      domainLookupStart: 6,
      domainLookupEnd: 10,
      connectStart: 10,
      secureConnectionStart: 12,
      connectEnd: 20,
      requestStart: 21,
      responseStart: 60,
      responseEnd: 80,
      domInteractive: 150,
      domContentLoadedEventStart: 151,
      domContentLoadedEventEnd: 155,
      domComplete: 300,
      loadEventStart: 301,
      loadEventEnd: 305,
      responseStatus: 200,
    },
    opts.nav,
  );

  function listenersOf(node, type, phase) {
    return node.listeners.filter((l) => l.type === type && (phase === 'target' || l.capture === (phase === 'capture')));
  }
  function report(err) {
    env.dispatch(win, { type: 'error', error: err, message: err && err.message });
  }
  /** Dispatches ev at target through its ancestors, document and window (capture, target, bubble). */
  env.dispatch = (target, ev) => {
    let stopped = false;
    ev.target = target;
    ev.stopPropagation = () => {
      stopped = true;
    };
    const path = [];
    for (let n = target; n; n = n.parentNode) path.push(n);
    if (path[path.length - 1] === doc) path.push(win);
    const run = (node, phase) => {
      ev.currentTarget = node;
      for (const l of listenersOf(node, ev.type, phase)) {
        try {
          l.fn.call(node, ev);
        } catch (e) {
          if (ev.type !== 'error') report(e);
        }
      }
      return stopped;
    };
    for (let i = path.length - 1; i > 0; i--) if (run(path[i], 'capture')) return;
    if (run(target, 'target') || !ev.bubbles) return;
    for (let i = 1; i < path.length; i++) if (run(path[i], 'bubble')) return;
  };

  function headerMap(h) {
    const out = {};
    for (const [k, v] of h) out[k] = v;
    return out;
  }
  function reply(rec, r, resolve, reject) {
    if (r === 'fail') return reject(new TypeError('Failed to fetch'));
    resolve(new Response(null, { status: r.status, headers: r.headers }));
  }
  function fetch(input, init) {
    // What a browser would send: the Request built from input and init.
    let req;
    try {
      req = new Request(typeof input === 'string' ? new URL(input, href) : input, init);
    } catch (e) {
      return Promise.reject(e); // as browsers do: a rejected promise, not a throw
    }
    const rec = { input, init, url: req.url, method: req.method, headers: headerMap(req.headers), keepalive: !!(init && init.keepalive) };
    rec.body = init && typeof init.body === 'string' ? init.body : undefined;
    const own = req.url === ENDPOINT;
    (own ? env.exports : env.requests).push(rec);
    return new Promise((resolve, reject) => {
      rec.respond = (status, headers) => reply(rec, { status, headers }, resolve, reject);
      rec.fail = () => reply(rec, 'fail', resolve, reject);
      const r = (own ? env.exportReply : env.appReply)(rec);
      if (r) reply(rec, r, resolve, reject);
    });
  }

  class XMLHttpRequest extends Target {
    open(method, url) {
      this.method = method;
      this.url = url;
      this.sent = [];
      this.status = 0;
      this.readyState = 1;
    }
    setRequestHeader(k, v) {
      this.sent.push([k, v]);
    }
    send() {
      if (this.readyState !== 1) throw new Error('InvalidStateError');
      env.xhrs.push(this);
    }
    fire(type) {
      for (const l of this.listeners.filter((x) => x.type === type)) l.fn.call(this, { type, target: this });
    }
    respond(status) {
      this.status = status;
      this.readyState = 4;
      this.fire('load');
      this.fire('loadend');
    }
    fail() {
      this.readyState = 4;
      this.fire('error');
      this.fire('loadend');
    }
  }

  const sandbox = {
    document: doc,
    location: new URL(href),
    navigator: { userAgent: 'FakeBrowser/1.0', sendBeacon: (...a) => (env.beacons.push(a), true) },
    performance: {
      timeOrigin: T0,
      now: () => clock.t,
      getEntriesByType: (t) => (t === 'navigation' && nav ? [nav] : []),
    },
    setTimeout: (fn, ms) => clock.setTimeout(fn, ms),
    clearTimeout: (id) => clock.clearTimeout(id),
    fetch,
    XMLHttpRequest,
    Headers,
    Request,
    Response,
    URL,
    AbortController,
    TextEncoder,
    crypto: globalThis.crypto,
    console: { log: (...a) => env.consoleCalls.push(a), warn: (...a) => env.consoleCalls.push(a), error: (...a) => env.consoleCalls.push(a) },
    addEventListener: win.addEventListener.bind(win),
    removeEventListener: win.removeEventListener.bind(win),
  };
  if (opts.noNav) sandbox.performance.getEntriesByType = () => [];
  sandbox.window = sandbox;
  sandbox.self = sandbox;
  win.listeners = win.listeners; // the sandbox's listeners live on win
  env.window = sandbox;
  env.document = doc;
  env.win = win;
  env.nav = nav;
  vm.createContext(sandbox);
  env.load = () => {
    vm.runInContext(fs.readFileSync(BUNDLE, 'utf8'), sandbox, { filename: 'tracekit.min.js' });
    env.TraceKit = sandbox.TraceKit;
    return env.TraceKit;
  };
  /** Runs code in the page. */
  env.run = (code) => vm.runInContext(code, sandbox);
  env.fire = (type, extra) => env.dispatch(win, Object.assign({ type }, extra));
  env.button = (text, attrs, tag = 'button') => body.append(new Element(doc, tag, attrs, text));
  env.el = (tag, attrs, text) => new Element(doc, tag, attrs, text);
  /** Every exported request body, parsed. */
  env.bodies = () => env.exports.map((r) => JSON.parse(r.body)).filter((b) => b.resourceSpans);
  /** Every exported span, in order. */
  env.spans = () => env.bodies().flatMap((b) => b.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans)));
  env.attr = (span, key) => {
    const a = span.attributes.find((x) => x.key === key);
    return a && a.value;
  };
  /** Loads the SDK and calls init with opts (endpoint defaults to ENDPOINT). */
  env.init = (o) => {
    const tk = env.load();
    tk.init(Object.assign({ apiKey: 'ik_test', serviceName: 'web', endpoint: ENDPOINT, tracePageLoad: false }, o));
    return tk;
  };
  return env;
}

module.exports = { makePage, settle, T0, ENDPOINT };
