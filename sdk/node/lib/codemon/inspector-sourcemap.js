'use strict';

// Source-map hooks of line breakpoints. Not implemented yet: breakpoints
// apply to the JavaScript Node runs (see docs/line-breakpoints.md, Limits).
// generatedLocation(file, line) would map a source file:line (a .ts file)
// to the generated script's {file, line} through module.findSourceMap;
// originalLocation(file, line) the other way for the hit. Both return null:
// no mapping.

function generatedLocation() {
  return null;
}

function originalLocation() {
  return null;
}

module.exports = { generatedLocation, originalLocation };
