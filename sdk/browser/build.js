#!/usr/bin/env node
// Builds dist/tracekit.min.js (IIFE, window.TraceKit), dist/tracekit.esm.js
// and dist/tracekit.cjs; measures the IIFE minified and gzipped and fails
// when it is over budget.
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const esbuild = require('esbuild');

const BUDGET = 30720;
const dir = __dirname;
const dist = path.join(dir, 'dist');

const common = {
  entryPoints: [path.join(dir, 'src/index.js')],
  bundle: true,
  target: 'es2018',
  platform: 'browser',
  legalComments: 'none',
  logLevel: 'warning',
};

fs.mkdirSync(dist, { recursive: true });
esbuild.buildSync({ ...common, format: 'iife', globalName: 'TraceKit', minify: true, outfile: path.join(dist, 'tracekit.min.js') });
esbuild.buildSync({ ...common, format: 'esm', outfile: path.join(dist, 'tracekit.esm.js') });
esbuild.buildSync({ ...common, format: 'cjs', outfile: path.join(dist, 'tracekit.cjs') });

const min = fs.readFileSync(path.join(dist, 'tracekit.min.js'));
const bytes = zlib.gzipSync(min, { level: 9 }).length;
fs.writeFileSync(path.join(dist, 'size.json'), JSON.stringify({ bytes, minified: min.length, budget: BUDGET }) + '\n');
console.log(`@tracekit/browser: ${bytes} bytes min+gzip (budget ${BUDGET})`);
if (bytes > BUDGET) {
  console.error(`@tracekit/browser: over budget by ${bytes - BUDGET} bytes`);
  process.exit(1);
}
