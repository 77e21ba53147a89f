module.exports = require('@tracekit/node');
