'use strict';
// jest's globalTeardown: stops the broker globalSetup started.
module.exports = require('..').globalTeardown;
