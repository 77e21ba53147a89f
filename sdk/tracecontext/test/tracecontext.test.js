'use strict';
// The cases of the W3C Trace Context specification and of its test suite
// (version, IDs, flags, duplicated and multiple headers, tracestate keys,
// values, member counts, duplicated keys, order on update).
const test = require('node:test');
const assert = require('node:assert/strict');
const tc = require('..');

const TID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SID = '00f067aa0ba902b7';
const VALID = `00-${TID}-${SID}-01`;

test('traceparent: valid version 00', () => {
  assert.deepEqual(tc.parseTraceparent(VALID), { version: '00', traceId: TID, spanId: SID, traceFlags: 1 });
  assert.deepEqual(tc.parseTraceparent(`00-${TID}-${SID}-00`).traceFlags, 0);
  // Flags other than sampled are kept (random, Level 2, and future bits).
  assert.equal(tc.parseTraceparent(`00-${TID}-${SID}-03`).traceFlags, 3);
  assert.equal(tc.parseTraceparent(`00-${TID}-${SID}-ff`).traceFlags, 255);
  // Optional whitespace around a header value is not part of it.
  assert.ok(tc.parseTraceparent(` \t${VALID} `));
  // A header seen once, as an array of one.
  assert.ok(tc.parseTraceparent([VALID]));
});

test('traceparent: invalid values start a new trace', () => {
  const bad = {
    empty: '',
    'too short': VALID.slice(0, 54),
    'version 00 with more data': `${VALID}-00`,
    'version ff': `ff-${TID}-${SID}-01`,
    'version not hex': `0g-${TID}-${SID}-01`,
    'uppercase version': `0A-${TID}-${SID}-01`,
    'uppercase trace ID': `00-${TID.toUpperCase()}-${SID}-01`,
    'uppercase span ID': `00-${TID}-${SID.toUpperCase()}-01`,
    'all-zero trace ID': `00-${'0'.repeat(32)}-${SID}-01`,
    'all-zero span ID': `00-${TID}-${'0'.repeat(16)}-01`,
    'short trace ID': `00-${TID.slice(1)}-${SID}-01`,
    'long span ID': `00-${TID}-${SID}0-01`,
    'flags not hex': `00-${TID}-${SID}-0x`,
    'one-digit flags': `00-${TID}-${SID}-1`,
    'wrong separators': `00_${TID}_${SID}_01`,
    'trace ID not hex': `00-${'z'.repeat(32)}-${SID}-01`,
    'inner whitespace': `00- ${TID.slice(1)}-${SID}-01`,
  };
  for (const [name, value] of Object.entries(bad)) {
    assert.equal(tc.parseTraceparent(value), null, name);
  }
  assert.equal(tc.parseTraceparent(undefined), null);
  assert.equal(tc.parseTraceparent(null), null);
  assert.equal(tc.parseTraceparent(42), null);
});

test('traceparent: a duplicated header is refused', () => {
  assert.equal(tc.parseTraceparent([VALID, VALID]), null);
  assert.equal(tc.parseTraceparent([VALID, `00-${TID}-${'1'.repeat(16)}-01`]), null);
  assert.equal(tc.parseTraceparent([]), null);
});

test('traceparent: a higher version is read by the version-00 layout', () => {
  assert.deepEqual(tc.parseTraceparent(`01-${TID}-${SID}-01`), { version: '01', traceId: TID, spanId: SID, traceFlags: 1 });
  assert.ok(tc.parseTraceparent(`cc-${TID}-${SID}-01-what-the-future-holds`));
  // After the flags: the end or a dash, nothing else.
  assert.equal(tc.parseTraceparent(`cc-${TID}-${SID}-01.what`), null);
  assert.equal(tc.parseTraceparent(`cc-${TID}-${SID}-0`), null);
});

test('traceparent: formatting writes version 00 and never an invalid context', () => {
  assert.equal(tc.formatTraceparent({ traceId: TID, spanId: SID, traceFlags: 1 }), VALID);
  assert.equal(tc.formatTraceparent({ traceId: TID, spanId: SID, traceFlags: 0 }), `00-${TID}-${SID}-00`);
  assert.equal(tc.formatTraceparent({ traceId: '0'.repeat(32), spanId: SID, traceFlags: 1 }), '');
  assert.equal(tc.formatTraceparent({ traceId: TID, spanId: 'nope', traceFlags: 1 }), '');
  assert.equal(tc.formatTraceparent(null), '');
  // A parsed higher version is sent on as 00.
  const p = tc.parseTraceparent(`01-${TID}-${SID}-01-extra`);
  assert.equal(tc.formatTraceparent(p), VALID);
});

test('tracestate: simple and multi-tenant keys and their lengths', () => {
  const ok = [
    'a=1',
    'foo_bar-baz*qux/1=v',
    `${'a'.repeat(256)}=v`,
    'tenant@system=v',
    '0tenant@sys=v',
    `${'t'.repeat(241)}@${'s'.repeat(14)}=v`,
  ];
  for (const s of ok) assert.equal(tc.TraceState.parse(s).serialize(), s, s);
  const bad = [
    `${'a'.repeat(257)}=v`, // simple key too long
    '1abc=v', // simple key starting with a digit
    'Abc=v', // upper case
    'a b=v',
    `${'t'.repeat(242)}@sys=v`, // tenant too long
    `tenant@${'s'.repeat(15)}=v`, // system too long
    'tenant@1sys=v', // system starting with a digit
    'a@b@c=v',
    '@sys=v',
    'tenant@=v',
    '=v',
  ];
  for (const s of bad) assert.equal(tc.TraceState.parse(s).size, 0, s);
});

test('tracestate: values', () => {
  assert.equal(tc.TraceState.parse('a=hello world').get('a'), 'hello world');
  assert.equal(tc.TraceState.parse(`a=${'x'.repeat(256)}`).get('a'), 'x'.repeat(256));
  for (const s of [`a=${'x'.repeat(257)}`, 'a=', 'a=x=y', 'a=tab\tin', 'a=é', 'a=trailing ']) {
    // A trailing space is optional whitespace of the list, not of the value.
    if (s === 'a=trailing ') {
      assert.equal(tc.TraceState.parse(s).get('a'), 'trailing');
      continue;
    }
    assert.equal(tc.TraceState.parse(s).size, 0, JSON.stringify(s));
  }
});

test('tracestate: lists, whitespace, empty members and several headers', () => {
  const ts = tc.TraceState.parse(' a=1 ,\tb=2,, ,c=3 ');
  assert.equal(ts.serialize(), 'a=1,b=2,c=3');
  // Several headers are one list, in order.
  assert.equal(tc.TraceState.parse(['a=1,b=2', 'c=3']).serialize(), 'a=1,b=2,c=3');
  assert.equal(tc.TraceState.parse(['', 'a=1']).serialize(), 'a=1');
  assert.equal(tc.TraceState.parse('').size, 0);
  assert.equal(tc.TraceState.parse(',').size, 0);
  assert.equal(tc.TraceState.parse(undefined).size, 0);
  // One bad member discards the whole list.
  assert.equal(tc.TraceState.parse('a=1,b,c=3').size, 0);
  assert.equal(tc.TraceState.parse(['a=1', 'B=2']).size, 0);
});

test('tracestate: duplicated keys discard the list', () => {
  assert.equal(tc.TraceState.parse('a=1,a=1').size, 0);
  assert.equal(tc.TraceState.parse('a=1,b=2,a=3').size, 0);
  assert.equal(tc.TraceState.parse(['a=1', 'a=2']).size, 0);
});

test('tracestate: at most 32 members', () => {
  const members = (n) => Array.from({ length: n }, (_, i) => `k${i}=${i}`).join(',');
  assert.equal(tc.TraceState.parse(members(32)).size, 32);
  assert.equal(tc.TraceState.parse(members(33)).size, 0);
  // Setting a 33rd entry drops the oldest.
  const ts = tc.TraceState.parse(members(32)).set('mine', 'x');
  assert.equal(ts.size, 32);
  assert.equal(ts.get('mine'), 'x');
  assert.equal(ts.get('k31'), undefined);
  assert.equal(ts.get('k0'), '0');
});

test('tracestate: an update moves the key to the front and keeps the rest in order', () => {
  const ts = tc.TraceState.parse('a=1,b=2,c=3');
  assert.equal(ts.set('b', '9').serialize(), 'b=9,a=1,c=3');
  assert.equal(ts.set('d', '4').serialize(), 'd=4,a=1,b=2,c=3');
  assert.equal(ts.unset('b').serialize(), 'a=1,c=3');
  assert.equal(ts.serialize(), 'a=1,b=2,c=3', 'immutable');
  // Invalid keys and values change nothing.
  assert.equal(ts.set('B', '1'), ts);
  assert.equal(ts.set('x', 'a,b'), ts);
});

test('tracestate: sent within 512 characters, long members dropped first', () => {
  const long = `long=${'x'.repeat(200)}`;
  const parts = [];
  for (let i = 0; i < 20; i++) parts.push(`k${i}=${'v'.repeat(20)}`);
  const ts = tc.TraceState.parse([parts.slice(0, 10).join(','), long, parts.slice(10).join(',')].join(','));
  const out = ts.serialize();
  assert.ok(out.length <= 512, `${out.length}`);
  assert.ok(!out.includes('long='));
  assert.ok(out.startsWith('k0='));
});

test('extract and inject', () => {
  const headers = { traceparent: VALID, tracestate: 'vendor=abc,other=1' };
  const ctx = tc.extract((n) => headers[n]);
  assert.equal(ctx.traceId, TID);
  assert.equal(ctx.spanId, SID);
  assert.equal(ctx.traceFlags, 1);
  assert.equal(ctx.isRemote, true);
  assert.equal(ctx.traceState.get('vendor'), 'abc');

  // No valid traceparent: nothing, and tracestate is not read.
  let asked = [];
  assert.equal(tc.extract((n) => { asked.push(n); return n === 'tracestate' ? 'a=1' : 'garbage'; }), null);
  assert.deepEqual(asked, ['traceparent']);
  assert.equal(tc.extract(() => [VALID, VALID]), null);
  assert.equal(tc.extract(() => { throw new Error('carrier'); }), null);
  // A bad tracestate keeps the trace.
  assert.equal(tc.extract((n) => (n === 'traceparent' ? VALID : 'a=1,a=2')).traceState.size, 0);

  const out = {};
  tc.inject(ctx, (k, v) => { out[k] = v; });
  assert.deepEqual(out, { traceparent: VALID, tracestate: 'vendor=abc,other=1' });
  const none = {};
  tc.inject({ traceId: TID, spanId: SID, traceFlags: 1, traceState: tc.TraceState.parse('') }, (k, v) => { none[k] = v; });
  assert.deepEqual(Object.keys(none), ['traceparent']);
  tc.inject({ traceId: 'x', spanId: SID, traceFlags: 1 }, () => assert.fail('invalid context injected'));
});

test('random IDs are valid and differ', () => {
  const seen = new Set();
  for (let i = 0; i < 1000; i++) {
    const t = tc.randomTraceId();
    const s = tc.randomSpanId();
    assert.ok(tc.isValidTraceId(t) && tc.isValidSpanId(s));
    seen.add(t);
  }
  assert.equal(seen.size, 1000);
});
