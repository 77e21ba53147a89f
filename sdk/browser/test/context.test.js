'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { makePage, settle } = require('./fakebrowser.js');

const ids = (h) => {
  const [, traceId, spanId] = h.traceparent.split('-');
  return { traceId, spanId };
};

test('a click on a button is the parent of the fetch its handler starts, and ends after it', async () => {
  const env = makePage({ appReply: () => undefined });
  const tk = env.init({ tracePropagationTargets: ['localhost:3001'] });
  const b = env.button('  Load\n   Users ');
  b.addEventListener('click', () => env.window.fetch('http://localhost:3001/api/users'));
  env.clock.t = 100;
  b.click();
  assert.equal(env.requests.length, 1);
  const sent = ids(env.requests[0].headers);
  env.clock.t = 350; // the response arrives later
  env.requests[0].respond(200);
  await settle();
  await tk.flush();
  const spans = env.spans();
  const click = spans.find((s) => s.name === 'click Load Users');
  const get = spans.find((s) => s.name === 'GET /api/users');
  assert.ok(click && get, spans.map((s) => s.name).join());
  assert.equal(click.parentSpanId, undefined, 'the click is the root of the trace');
  assert.equal(get.traceId, click.traceId);
  assert.equal(get.parentSpanId, click.spanId);
  assert.deepEqual(sent, { traceId: get.traceId, spanId: get.spanId }, 'the backend continues the fetch span');
  assert.equal(click.startTimeUnixNano, '1700000000100000000');
  assert.equal(click.endTimeUnixNano, '1700000000350000000', 'the click ends when its request does');
  assert.deepEqual(env.attr(click, 'event.type'), { stringValue: 'click' });
  assert.deepEqual(env.attr(click, 'target.element'), { stringValue: 'button' });
});

test('a click whose handlers start several requests ends after the last one; XHR counts too', async () => {
  const env = makePage({ appReply: () => undefined });
  const tk = env.init();
  const b = env.button('Save');
  let xhr;
  b.addEventListener('click', () => {
    env.window.fetch('/a');
    xhr = new env.window.XMLHttpRequest();
    xhr.open('POST', '/b');
    xhr.send('{}');
  });
  b.click();
  env.clock.t = 50;
  env.requests[0].respond(200);
  await settle();
  await tk.flush();
  assert.deepEqual(env.spans().map((s) => s.name), ['GET /a'], 'the click is still open');
  env.clock.t = 80;
  xhr.respond(201);
  await settle();
  await tk.flush();
  const spans = env.spans();
  const click = spans.find((s) => s.name === 'click Save');
  assert.equal(click.endTimeUnixNano, '1700000000080000000');
  for (const n of ['GET /a', 'POST /b']) assert.equal(spans.find((s) => s.name === n).parentSpanId, click.spanId);
});

test('a click that starts nothing ends at once; requests after the click are not its children', async () => {
  const env = makePage();
  const tk = env.init();
  const a = env.button('Docs', { href: '/docs' }, 'a');
  env.clock.t = 10;
  a.click();
  await tk.flush();
  let spans = env.spans();
  assert.equal(spans.length, 1);
  assert.equal(spans[0].name, 'click Docs');
  assert.equal(spans[0].startTimeUnixNano, spans[0].endTimeUnixNano);
  await env.window.fetch('/later');
  await tk.flush();
  spans = env.spans();
  assert.equal(spans[1].name, 'GET /later');
  assert.equal(spans[1].parentSpanId, undefined);
  assert.notEqual(spans[1].traceId, spans[0].traceId);
});

test('click names: data-tracekit-name, nested targets, truncation, non-clickable elements', async () => {
  const env = makePage();
  const tk = env.init();
  const named = env.button('x', { 'data-tracekit-name': 'checkout-submit' }, 'div');
  const btn = env.button('');
  const icon = btn.append(env.el('span', {}, 'Delete this item'));
  const long = env.button('A very long button label that goes on and on and on');
  const input = env.button('', { type: 'submit', value: 'Send' }, 'input');
  const aria = env.button('', { 'aria-label': 'Close' });
  const plain = env.button('just text', {}, 'p');
  named.click();
  icon.click();
  long.click();
  input.click();
  aria.click();
  plain.click();
  await tk.flush();
  const names = env.spans().map((s) => s.name);
  assert.deepEqual(names, [
    'click checkout-submit',
    'click Delete this item',
    'click A very long button label that goes on a\u2026',
    'click Send',
    'click Close',
  ]);
  assert.ok([...names[2]].length <= 'click '.length + 40);
});

test('a handler that stops propagation still has its requests parented; the click closes before the next task', async () => {
  const env = makePage();
  const tk = env.init();
  const b = env.button('Go');
  b.addEventListener('click', (e) => {
    e.stopPropagation();
    env.window.fetch('/go');
  });
  b.click();
  await settle();
  await env.clock.advance(0);
  await env.window.fetch('/after');
  await tk.flush();
  const spans = env.spans();
  const click = spans.find((s) => s.name === 'click Go');
  assert.equal(spans.find((s) => s.name === 'GET /go').parentSpanId, click.spanId);
  assert.equal(spans.find((s) => s.name === 'GET /after').parentSpanId, undefined);
});

test('while a transaction is open, fetch and XHR spans are its children', async () => {
  const env = makePage();
  const tk = env.init({ tracePropagationTargets: ['api.example.com'] });
  env.clock.t = 5;
  const tx = tk.startTransaction({ name: 'checkout' });
  tx.setTag('cart.items', 3);
  await env.window.fetch('https://api.example.com/cart');
  const x = new env.window.XMLHttpRequest();
  x.open('GET', 'https://api.example.com/price');
  x.send();
  x.respond(200);
  env.clock.t = 40;
  tx.finish();
  tx.finish(); // twice is harmless
  await env.window.fetch('https://api.example.com/after');
  await tk.flush();
  const spans = env.spans();
  const t = spans.find((s) => s.name === 'checkout');
  assert.equal(t.kind, 1);
  assert.deepEqual(env.attr(t, 'cart.items'), { intValue: '3' });
  assert.equal(t.startTimeUnixNano, '1700000000005000000');
  assert.equal(t.endTimeUnixNano, '1700000000040000000');
  for (const n of ['GET /cart', 'GET /price']) {
    const s = spans.find((x) => x.name === n);
    assert.equal(s.parentSpanId, t.spanId, n);
    assert.equal(s.traceId, t.traceId);
  }
  assert.equal(env.requests[0].headers.traceparent.split('-')[1], t.traceId);
  assert.equal(spans.find((s) => s.name === 'GET /after').parentSpanId, undefined);
  assert.equal(spans.filter((s) => s.name === 'checkout').length, 1);
});

test('a click inside an open transaction joins it, and the click wins as parent of its requests', async () => {
  const env = makePage();
  const tk = env.init();
  const tx = tk.startTransaction({ name: 'wizard' });
  const b = env.button('Next');
  b.addEventListener('click', () => env.window.fetch('/step'));
  b.click();
  await settle();
  tx.finish();
  await tk.flush();
  const spans = env.spans();
  const w = spans.find((s) => s.name === 'wizard');
  const c = spans.find((s) => s.name === 'click Next');
  const f = spans.find((s) => s.name === 'GET /step');
  assert.equal(c.parentSpanId, w.spanId);
  assert.equal(f.parentSpanId, c.spanId);
});

test('fetch spans: name, attributes, status for 5xx and network failures; the page sees the same results', async () => {
  const replies = { '/ok': { status: 200 }, '/missing': { status: 404 }, '/down': { status: 503 }, '/net': 'fail' };
  const env = makePage({ appReply: (r) => replies[new URL(r.url).pathname] });
  const tk = env.init();
  const f = env.window.fetch;
  assert.equal((await f('/ok?q=secret#frag')).status, 200);
  assert.equal((await f('/missing', { method: 'delete' })).status, 404);
  assert.equal((await f('/down')).status, 503);
  await assert.rejects(f('/net'), { name: 'TypeError', message: 'Failed to fetch' });
  // Browsers refuse URLs with credentials; the span never shows them.
  await assert.rejects(f('https://user:pw@app.example.com/ok'), TypeError);
  await tk.flush();
  const [ok, missing, down, net, cred] = env.spans();
  assert.equal(ok.name, 'GET /ok');
  assert.equal(ok.kind, 3);
  assert.deepEqual(env.attr(ok, 'http.request.method'), { stringValue: 'GET' });
  assert.deepEqual(env.attr(ok, 'url.full'), { stringValue: 'https://app.example.com/ok?q=secret#frag' });
  assert.deepEqual(env.attr(ok, 'http.response.status_code'), { intValue: '200' });
  assert.deepEqual(ok.status, { code: 0 });
  assert.equal(missing.name, 'DELETE /missing');
  assert.deepEqual(missing.status, { code: 0 }, '4xx is not an error of the client span');
  assert.deepEqual(down.status, { code: 2, message: 'HTTP 503' });
  assert.deepEqual(env.attr(down, 'error.type'), { stringValue: '503' });
  assert.deepEqual(net.status, { code: 2, message: 'TypeError' });
  assert.equal(env.attr(net, 'http.response.status_code'), undefined);
  assert.deepEqual(env.attr(cred, 'url.full'), { stringValue: 'https://REDACTED:REDACTED@app.example.com/ok' });
  assert.equal(cred.status.code, 2);
});

test('XHR spans: status, network error, abort; a reused XHR gets a span per send', async () => {
  const env = makePage();
  const tk = env.init();
  const X = env.window.XMLHttpRequest;
  const x = new X();
  x.open('GET', '/one');
  x.send();
  x.respond(500);
  x.open('GET', '/two');
  x.send();
  x.fail();
  const y = new X();
  y.open('PUT', '/three');
  y.send();
  y.fire('abort');
  y.fire('loadend');
  await tk.flush();
  const [one, two, three] = env.spans();
  assert.deepEqual([one.name, two.name, three.name], ['GET /one', 'GET /two', 'PUT /three']);
  assert.deepEqual(one.status, { code: 2, message: 'HTTP 500' });
  assert.deepEqual(env.attr(one, 'http.response.status_code'), { intValue: '500' });
  assert.deepEqual(two.status, { code: 2, message: 'NetworkError' });
  assert.deepEqual(three.status, { code: 2, message: 'AbortError' });
  // A send the browser refuses throws as before, and its span ends.
  const z = new X();
  assert.throws(() => z.send(), /InvalidStateError/);
  z.open('GET', '/four');
  z.readyState = 4;
  assert.throws(() => z.send(), /InvalidStateError/);
  await tk.flush();
  const four = env.spans()[3];
  assert.equal(four.name, 'GET /four');
  assert.deepEqual(four.status, { code: 2, message: 'Error' });
});

test('sampleRate 0: new traces are not exported, and their requests say so (flags 00)', async () => {
  const env = makePage();
  const tk = env.init({ sampleRate: 0 });
  const b = env.button('Go');
  b.addEventListener('click', () => env.window.fetch('/x'));
  b.click();
  await settle();
  await tk.flush();
  assert.equal(env.spans().length, 0);
  assert.match(env.requests[0].headers.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
});
