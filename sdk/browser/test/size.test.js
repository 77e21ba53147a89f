'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');

test('the IIFE is within the 30 KB min+gzip budget, as build.js measured it', () => {
  const dist = path.join(__dirname, '..', 'dist');
  const size = JSON.parse(fs.readFileSync(path.join(dist, 'size.json'), 'utf8'));
  assert.equal(size.budget, 30720);
  assert.ok(Number.isInteger(size.bytes) && size.bytes > 0);
  assert.ok(size.bytes <= 30720, `${size.bytes} bytes`);
  // The figure is of the file that is there now.
  assert.equal(zlib.gzipSync(fs.readFileSync(path.join(dist, 'tracekit.min.js')), { level: 9 }).length, size.bytes);
});
