'use strict';
// jest's globalSetup: one pgboot broker for every worker (see ../README.md).
module.exports = require('..').globalSetup;
