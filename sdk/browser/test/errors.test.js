'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { makePage } = require('./fakebrowser.js');

const attrs = (list) => Object.fromEntries(list.map((a) => [a.key, Object.values(a.value)[0]]));

test('captureException with no active span: a short error span with an exception event', async () => {
  const env = makePage();
  const tk = env.init();
  const err = new TypeError('cannot read x of undefined');
  tk.captureException(err);
  await tk.flush();
  const [s] = env.spans();
  assert.equal(s.name, 'exception');
  assert.equal(s.kind, 1);
  assert.deepEqual(s.status, { code: 2, message: 'cannot read x of undefined' });
  assert.equal(s.events.length, 1);
  const ev = s.events[0];
  assert.equal(ev.name, 'exception');
  assert.match(ev.timeUnixNano, /^\d{19}$/);
  const a = attrs(ev.attributes);
  assert.equal(a['exception.type'], 'TypeError');
  assert.equal(a['exception.message'], 'cannot read x of undefined');
  assert.equal(a['exception.stacktrace'], err.stack);
  assert.equal(attrs(s.attributes)['exception.type'], 'TypeError');
});

test('captureException inside an open transaction: an event on it, which is marked as an error', async () => {
  const env = makePage();
  const tk = env.init();
  const tx = tk.startTransaction({ name: 'checkout' });
  tk.captureException(new RangeError('bad amount'));
  tx.finish();
  await tk.flush();
  const spans = env.spans();
  assert.equal(spans.length, 1);
  assert.equal(spans[0].name, 'checkout');
  assert.deepEqual(spans[0].status, { code: 2, message: 'bad amount' });
  assert.equal(attrs(spans[0].events[0].attributes)['exception.type'], 'RangeError');
});

test('non-Error values are recorded too', async () => {
  const env = makePage();
  const tk = env.init();
  tk.captureException('just a string');
  tk.captureException({ message: 'plain object' });
  tk.captureException(undefined);
  const cyclic = {};
  cyclic.self = cyclic;
  tk.captureException(cyclic);
  tk.captureException({ get message() { throw new Error('getter'); } });
  await tk.flush();
  const evs = env.spans().map((s) => attrs(s.events[0].attributes));
  assert.deepEqual(evs[0], { 'exception.type': 'string', 'exception.message': 'just a string', 'exception.stacktrace': '' });
  assert.equal(evs[1]['exception.message'], 'plain object');
  assert.equal(evs[1]['exception.type'], 'Object');
  assert.equal(evs[2]['exception.type'], 'undefined');
  assert.equal(evs[3]['exception.message'], '[object Object]');
  assert.equal(evs.length, 4, 'a value that throws when read is skipped, silently');
});

test('window error and unhandledrejection are captured; an error in a click handler lands on the click', async () => {
  const env = makePage();
  const tk = env.init();
  env.fire('error', { error: new Error('uncaught'), message: 'Uncaught Error: uncaught' });
  env.fire('error', { error: null, message: 'Script error.', filename: 'https://cdn.example/x.js', lineno: 3, colno: 9 });
  env.fire('unhandledrejection', { reason: new Error('rejected') });
  const b = env.button('Pay');
  b.addEventListener('click', () => {
    throw new SyntaxError('in handler');
  });
  b.click();
  await tk.flush();
  const spans = env.spans();
  const msgs = spans.map((s) => s.status.message);
  assert.deepEqual(msgs, ['uncaught', 'Script error.', 'rejected', 'in handler']);
  assert.equal(attrs(spans[1].events[0].attributes)['exception.stacktrace'], 'at https://cdn.example/x.js:3:9');
  assert.equal(spans[3].name, 'click Pay');
  assert.equal(attrs(spans[3].events[0].attributes)['exception.type'], 'SyntaxError');
});

test('captureErrors: false leaves window errors alone', async () => {
  const env = makePage();
  const tk = env.init({ captureErrors: false });
  env.fire('error', { error: new Error('uncaught') });
  await tk.flush();
  assert.equal(env.spans().length, 0);
});
