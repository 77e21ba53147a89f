'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { makePage, settle } = require('./fakebrowser.js');

const TP = /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/;

async function requestWith(targets, url, href) {
  const env = makePage(href ? { href } : {});
  env.init(targets === undefined ? {} : { tracePropagationTargets: targets });
  await env.window.fetch(url);
  await settle();
  assert.equal(env.requests.length, 1);
  return env.requests[0].headers;
}

test('string targets match as substrings of the absolute URL', async () => {
  assert.match((await requestWith(['api.example.com'], 'https://api.example.com/users')).traceparent, TP);
  assert.match((await requestWith(['localhost:3001'], 'http://localhost:3001/api/users')).traceparent, TP);
  // A relative URL is resolved against the page before matching.
  assert.match((await requestWith(['app.example.com/api'], '/api/users')).traceparent, TP);
  assert.equal((await requestWith(['api.example.com'], 'https://cdn.example.net/lib.js')).traceparent, undefined);
});

test('RegExp targets are tested against the absolute URL', async () => {
  assert.match((await requestWith([/^https:\/\/api\./], 'https://api.example.com/x')).traceparent, TP);
  assert.equal((await requestWith([/^https:\/\/api\./], 'http://api.example.com/x')).traceparent, undefined);
  // A global regexp is not made stateful by lastIndex.
  const env = makePage();
  env.init({ tracePropagationTargets: [/api/g] });
  for (let i = 0; i < 3; i++) await env.window.fetch('https://api.example.com/x');
  assert.deepEqual(env.requests.map((r) => TP.test(r.headers.traceparent)), [true, true, true]);
});

test('without targets only same-origin requests carry trace headers', async () => {
  assert.match((await requestWith(undefined, '/api/users')).traceparent, TP);
  assert.match((await requestWith(undefined, 'https://app.example.com/api')).traceparent, TP);
  assert.equal((await requestWith(undefined, 'https://api.example.com/api')).traceparent, undefined);
  assert.equal((await requestWith(undefined, 'http://app.example.com/api')).traceparent, undefined, 'another scheme is another origin');
  // An empty list: nothing gets headers, not even the page's origin.
  assert.equal((await requestWith([], '/api/users')).traceparent, undefined);
});

test('a non-matching request is still traced, without headers', async () => {
  const env = makePage();
  const tk = env.init({ tracePropagationTargets: ['api.example.com'] });
  await env.window.fetch('https://third-party.example.org/pixel?id=1', { headers: { 'X-Mine': '1' } });
  assert.deepEqual(env.requests[0].headers, { 'x-mine': '1' });
  await tk.flush();
  const [s] = env.spans();
  assert.equal(s.name, 'GET /pixel');
  assert.equal(s.kind, 3);
});

test('the SDK never puts trace headers on its own exports', async () => {
  const env = makePage({ href: 'https://tk.example.com/app' });
  // The page is served by the TraceKit host itself and every URL matches.
  const tk = env.init({ tracePropagationTargets: [/./] });
  await env.window.fetch('/api/x');
  await tk.flush();
  assert.equal(env.exports.length, 1);
  assert.equal(env.exports[0].headers.traceparent, undefined);
  assert.equal(env.exports[0].headers.tracestate, undefined);
  // And an app's own call to the intake URL is neither traced nor injected.
  await env.window.fetch('https://tk.example.com/v1/traces', { method: 'POST', body: '{}' });
  assert.equal(env.exports[1].headers.traceparent, undefined);
  await tk.flush();
  assert.equal(env.spans().length, 1);
});

test('headers are injected into every form of fetch headers, keeping the caller\'s', async () => {
  const env = makePage();
  const tk = env.init({ tracePropagationTargets: ['api.example.com'] });
  const url = 'https://api.example.com/h';
  const f = env.window.fetch;
  const plain = { 'X-A': '1' };
  const pairs = [['X-A', '1']];
  const hdrs = new Headers({ 'X-A': '1' });
  await f(url, { headers: plain });
  await f(url, { headers: pairs });
  await f(url, { headers: hdrs });
  await f(new Request(url, { headers: { 'X-A': '1' } }));
  await f(new Request(url, { headers: { 'X-B': '2' } }), { headers: { 'X-A': '1' } }); // init's headers replace the Request's
  await f(url, { method: 'POST', body: 'x' }); // no headers at all
  await f(new URL(url)); // a URL object
  assert.equal(env.requests.length, 7);
  for (const r of env.requests) assert.match(r.headers.traceparent, TP, JSON.stringify(r.headers));
  assert.deepEqual(env.requests.slice(0, 5).map((r) => r.headers['x-a']), ['1', '1', '1', '1', '1']);
  assert.equal(env.requests[4].headers['x-b'], undefined);
  // The caller's objects are left as they were.
  assert.deepEqual(plain, { 'X-A': '1' });
  assert.deepEqual(pairs, [['X-A', '1']]);
  assert.equal(hdrs.get('traceparent'), null);
  // Each request has its own span: the traceparent names it.
  await tk.flush();
  const ids = env.spans().map((s) => s.spanId);
  assert.deepEqual(env.requests.map((r) => r.headers.traceparent.split('-')[2]), ids);
});

test('a traceparent the caller set is replaced, never duplicated', async () => {
  const env = makePage();
  env.init();
  const stale = '00-11111111111111111111111111111111-2222222222222222-01';
  await env.window.fetch('/a', { headers: { TraceParent: stale, tracestate: 'x=1' } });
  await env.window.fetch('/b', { headers: [['traceparent', stale]] });
  for (const r of env.requests) {
    assert.match(r.headers.traceparent, TP);
    assert.notEqual(r.headers.traceparent, stale);
    assert.equal(r.headers.tracestate, undefined);
  }
});

test('XMLHttpRequest: headers only for matching targets, and not over the page\'s own', async () => {
  const env = makePage();
  const tk = env.init({ tracePropagationTargets: ['api.example.com'] });
  const X = env.window.XMLHttpRequest;
  const a = new X();
  a.open('get', 'https://api.example.com/users?page=2');
  a.setRequestHeader('Accept', 'application/json');
  a.send();
  const b = new X();
  b.open('GET', 'https://other.example.org/x');
  b.send();
  const c = new X();
  c.open('GET', 'https://api.example.com/own');
  c.setRequestHeader('traceparent', '00-11111111111111111111111111111111-2222222222222222-01');
  c.send();
  assert.deepEqual(a.sent[0], ['Accept', 'application/json']);
  assert.equal(a.sent[1][0], 'traceparent');
  assert.match(a.sent[1][1], TP);
  assert.deepEqual(b.sent, []);
  assert.equal(c.sent.length, 1, 'the page set its own traceparent: not sent twice');
  a.respond(200);
  b.respond(404);
  c.fail();
  await tk.flush();
  const spans = env.spans();
  assert.deepEqual(spans.map((s) => s.name), ['GET /users', 'GET /x', 'GET /own']);
  assert.equal(a.sent[1][1].split('-')[2], spans[0].spanId);
});
