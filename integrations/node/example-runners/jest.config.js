// jest: one pgboot broker for all workers (../jest/setup.js starts it from
// the PGBOOT_TESTDB_* variables, ../jest/teardown.js stops it).
module.exports = {
  testEnvironment: 'node',
  testMatch: ['<rootDir>/runner.test.js'],
  globalSetup: '../jest/setup.js',
  globalTeardown: '../jest/teardown.js',
};
