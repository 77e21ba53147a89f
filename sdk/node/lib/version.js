'use strict';
/** The package's name and version, as reported in telemetry.distro.* and to code monitoring. */
const pkg = require('../package.json');

module.exports = { NAME: pkg.name, VERSION: pkg.version };
