'use strict';

// Source maps: filled in below.
function generatedLocation() { return null; }
function originalLocation() { return null; }
module.exports = { generatedLocation, originalLocation };
