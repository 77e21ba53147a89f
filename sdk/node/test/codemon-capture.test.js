'use strict';

// The capture walk: limits, JavaScript's value types, and no application
// code run (getters, Proxies, toJSON, toString).

const test = require('node:test');
const assert = require('node:assert/strict');
const { capture } = require('../lib/codemon/capture');
const { Scrubber } = require('../lib/codemon/pii');

const lim = (l = {}) => ({ maxDepth: 3, maxString: 256, maxCollection: 100, maxPayload: 64 << 10, timeoutMs: -1, ...l });

test('depth: a variable is level 1; deeper objects become [truncated]', () => {
  const { vars, truncated } = capture({ a: { b: { c: { d: 1 } } } }, lim({ maxDepth: 3 }), null);
  assert.deepEqual(vars, { a: { b: { c: { d: 1 } } } });
  assert.equal(truncated, false);
  const deep = capture({ a: { b: { c: { d: { e: 1 } } } } }, lim({ maxDepth: 3 }), null);
  assert.deepEqual(deep.vars, { a: { b: { c: { d: '[truncated]' } } } });
  assert.equal(deep.truncated, true);
  assert.deepEqual(capture({ a: { b: { c: 1 } } }, lim({ maxDepth: 1 }), null).vars, { a: { b: '[truncated]' } });
  assert.equal(capture({ a: { b: 1 } }, lim(), null).truncated, false);
});

test('strings are cut at maxStringLength with the count of bytes cut', () => {
  const { vars, truncated } = capture({ s: 'x'.repeat(300), short: 'ok' }, lim({ maxString: 10 }), null);
  assert.equal(vars.s, `${'x'.repeat(10)}…[truncated 290 bytes]`);
  assert.equal(vars.short, 'ok');
  assert.equal(truncated, true);
});

test('cycles, shared references, collections', () => {
  const o = { name: 'o' };
  o.self = o;
  const shared = { v: 1 };
  const { vars } = capture({ o, pair: [shared, shared], many: Array.from({ length: 150 }, (_, i) => i) }, lim(), null);
  assert.equal(vars.o.self, '[cycle]');
  assert.deepEqual(vars.pair, [{ v: 1 }, { v: 1 }]);
  assert.equal(vars.many.length, 101);
  assert.deepEqual(vars.many[100], { _truncated: 50 });
});

test('getters, Proxies, toJSON and toString are never run', () => {
  let ran = 0;
  const obj = {
    plain: 1,
    get secretGetter() { ran++; throw new Error('getter ran'); },
    toJSON() { ran++; return 'x'; },
    toString() { ran++; return 'x'; },
  };
  const proxy = new Proxy({}, {
    ownKeys() { ran++; throw new Error('trap'); },
    get() { ran++; throw new Error('trap'); },
    getOwnPropertyDescriptor() { ran++; throw new Error('trap'); },
    getPrototypeOf() { ran++; throw new Error('trap'); },
  });
  class Lazy { get value() { ran++; return 1; } }
  const { vars } = capture({ obj, proxy, lazy: new Lazy(), fnProxy: new Proxy(() => {}, {}) }, lim(), null);
  assert.equal(ran, 0);
  assert.equal(vars.obj.plain, 1);
  assert.equal(vars.obj.secretGetter, '[getter]');
  assert.equal(vars.obj.toJSON, '[function toJSON]');
  assert.equal(vars.proxy, '[Proxy]');
  assert.equal(vars.fnProxy, '[Proxy]');
  assert.deepEqual(vars.lazy, {});
  // A top-level getter is not run either.
  const data = { get x() { ran++; return 1; } };
  assert.deepEqual(capture(data, lim(), null).vars, { x: '[getter]' });
  assert.equal(ran, 0);
});

test('JavaScript types are rendered safely', () => {
  const err = new TypeError('bad input');
  err.code = 'E_BAD';
  const { vars } = capture({
    map: new Map([['k', 1], [2, 'two']]),
    set: new Set([1, 'a']),
    buf: Buffer.from('hello'),
    bin: Buffer.from([0, 1, 2, 255]),
    date: new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6)),
    bad: new Date(NaN),
    err,
    ta: new Float64Array([1.5, 2]),
    big: 12345678901234567890n,
    sym: Symbol('s'),
    fn: function named() {},
    nan: NaN,
    inf: -Infinity,
    undef: undefined,
    nul: null,
    re: /a+b/g,
    ab: new ArrayBuffer(8),
  }, lim(), null);
  assert.deepEqual(vars.map, { k: 1, 2: 'two' });
  assert.deepEqual(vars.set, [1, 'a']);
  assert.equal(vars.buf, 'hello');
  assert.equal(vars.bin, 'hex:000102ff (4 bytes)');
  assert.equal(vars.date, '2026-01-02T03:04:05.006Z');
  assert.equal(vars.bad, 'Invalid Date');
  assert.equal(vars.err, 'TypeError [E_BAD]: bad input');
  assert.deepEqual(vars.ta, [1.5, 2]);
  assert.equal(vars.big, '12345678901234567890n');
  assert.equal(vars.sym, 'Symbol(s)');
  assert.equal(vars.fn, '[function named]');
  assert.equal(vars.nan, 'NaN');
  assert.equal(vars.inf, '-Inf');
  assert.equal(vars.undef, null);
  assert.equal(vars.nul, null);
  assert.equal(vars.re, '/a+b/');
  assert.equal(vars.ab, '[ArrayBuffer 8 bytes]');
  JSON.stringify(vars); // encodable
});

test('the payload bound cuts the rest of the variables', () => {
  const data = {};
  for (let i = 0; i < 50; i++) data[`v${String(i).padStart(2, '0')}`] = 'y'.repeat(200);
  const { vars, truncated, stats } = capture(data, lim({ maxPayload: 2000 }), null);
  assert.equal(truncated, true);
  assert.equal(stats.payloadExceeded, true);
  assert.equal(vars._truncated, true);
  assert.deepEqual(vars.v49, { _truncated: true });
  assert.ok(JSON.stringify(vars).length < 4000);
});

test('scrubbing applies to strings, keys and sensitive names at every level', () => {
  const s = new Scrubber();
  const { vars } = capture({
    user: { email: 'jane@example.com', password: 'hunter2', nested: { apiKey: 'abc' } },
    'jane@example.com': 1,
    note: 'card 4111 1111 1111 1111',
    token: '',
  }, lim(), s);
  assert.equal(vars.user.email, '[REDACTED:email]');
  assert.equal(vars.user.password, '[REDACTED:password]');
  assert.equal(vars.user.nested.apiKey, '[REDACTED:sensitive_name]');
  assert.equal(vars['[REDACTED:email]'], 1);
  assert.equal(vars.note, 'card [REDACTED:credit_card]');
  assert.equal(vars.token, '');
});

test('capture never modifies its input and survives hostile values', () => {
  const data = Object.freeze({ a: Object.freeze([1, 2]) });
  assert.deepEqual(capture(data, lim(), null).vars, { a: [1, 2] });
  assert.deepEqual(capture(null, lim(), null).vars, {});
  assert.deepEqual(capture('x', lim(), null).vars, { value: 'x' });
  const arr = [1];
  Object.defineProperty(arr, 0, { get() { throw new Error('x'); } });
  assert.deepEqual(capture({ arr }, lim(), null).vars, { arr: ['[getter]'] });
});
