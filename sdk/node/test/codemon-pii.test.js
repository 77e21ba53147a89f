'use strict';

// PII scrubbing, held to the Go SDK's vectors (sdk/go/pii/testdata): both
// SDKs redact the same values with the same typed markers.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { Scrubber, BUILTIN_NAMES } = require('../lib/codemon/pii');

const VECTORS = path.join(__dirname, '..', '..', 'go', 'pii', 'testdata');

// corpus reads a testdata file as the Go test does: tab-separated fields,
// blank lines and # comments skipped, \n and \t escapes.
function corpus(name, fields) {
  const rows = [];
  fs.readFileSync(path.join(VECTORS, name), 'utf8').split('\n').forEach((text, i) => {
    if (text.trim() === '' || text.startsWith('#')) return;
    const row = text.split('\t').map((f) => f.replace(/\\n/g, '\n').replace(/\\t/g, '\t'));
    assert.equal(row.length, fields, `${name}:${i + 1}: ${row.length} fields, want ${fields}`);
    rows.push(row);
  });
  return rows;
}

const scrubber = () => new Scrubber({ custom: [{ pattern: /CUSTOM-\d+/, marker: '[REDACTED:custom_id]' }] });

test('positives of the Go corpus: every built-in type, typed markers', () => {
  const s = scrubber();
  const seen = {};
  for (const [kind, input, want] of corpus('positives.txt', 3)) {
    seen[kind] = (seen[kind] || 0) + 1;
    assert.equal(s.string(input), want, `${kind}: ${JSON.stringify(input)}`);
    assert.ok(want.includes(`[REDACTED:${kind}]`));
  }
  for (const name of BUILTIN_NAMES) {
    if (name !== 'sensitive_name') assert.ok(seen[name] >= 4, `corpus has ${seen[name]} positives for ${name}`);
  }
});

test('negatives of the Go corpus are untouched', () => {
  const s = scrubber();
  for (const [input] of corpus('negatives.txt', 1)) {
    assert.equal(s.string(input), input);
    assert.equal(s.field('message', input), input);
  }
});

test('field rules of the Go corpus (sensitive_name, password, aws_secret by name)', () => {
  const s = scrubber();
  for (const [name, value, want] of corpus('fields.txt', 3)) {
    assert.equal(s.field(name, value), want, `field(${name}, ${value})`);
  }
});

test('the 13 built-in types, in the guide\'s order', () => {
  assert.deepEqual(BUILTIN_NAMES, [
    'email', 'ssn', 'credit_card', 'phone', 'aws_key', 'aws_secret', 'oauth_token',
    'stripe_key', 'sensitive_name', 'jwt', 'private_key', 'api_key', 'password',
  ]);
});

test('custom patterns: run first, value groups, validation', () => {
  const mk = (p) => new Scrubber({ custom: [p] });
  assert.equal(mk({ pattern: /CUSTOM-\d+/, marker: '[REDACTED:custom_id]' }).string('a CUSTOM-1 b CUSTOM-22'),
    'a [REDACTED:custom_id] b [REDACTED:custom_id]');
  assert.equal(mk({ pattern: /badge#(?<value>\d{4,})/, marker: '[REDACTED:badge]' }).string('badge#12345 ok'),
    'badge#[REDACTED:badge] ok');
  assert.equal(mk({ pattern: /CUSTOM-\d+/i, marker: '[X]' }).string('custom-7 jane@example.com'), '[X] [REDACTED:email]');
  assert.throws(() => mk({ pattern: 'CUSTOM', marker: '[X]' }), /must be a RegExp/);
  assert.throws(() => mk({ pattern: /x/, marker: '' }), /marker/);
  assert.throws(() => mk({ pattern: /\d*/, marker: '[X]' }), /empty string/);
});

test('disabled scrubbing leaves values as they are', () => {
  const s = new Scrubber({ disabled: true });
  assert.equal(s.string('jane@example.com'), 'jane@example.com');
  assert.equal(s.field('password', 'hunter2'), 'hunter2');
  assert.equal(s.nameMarker('password'), '');
});

test('markers are recognised', () => {
  const s = new Scrubber();
  assert.ok(s.hasMarker('by [REDACTED:email]'));
  assert.ok(!s.hasMarker('[REDACTED:EMAIL]'));
});
