'use strict';
// pgboot's node:test example: each test gets a fresh clone of the template.
// Run: node ../run.js --app myapp --template-sql schema.sql -- node --test
// (a real suite uses its driver, e.g. pg; this one uses psql to need nothing).
const test = require('node:test');
const assert = require('node:assert');
const { execFileSync } = require('node:child_process');
const { withDatabase } = require('..');

const psql = (url, sql) =>
  execFileSync(process.env.PSQL || 'psql', ['-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1', url, '-c', sql], { encoding: 'utf8' }).trim();

test('insert', withDatabase(async (url) => {
  psql(url, "insert into items (name) values ('mine')");
  assert.strictEqual(psql(url, 'select count(*) from items'), '2');
}));

test('isolated', withDatabase(async (url) => {
  assert.strictEqual(psql(url, 'select name from items'), 'from the template');
}));

test('url', withDatabase(async (url) => {
  assert.match(url, /^postgresql:\/\//);
}));

test('demo failure', { skip: !process.env.PGBOOT_DEMO_FAILURE && 'set PGBOOT_DEMO_FAILURE=1 to see a failed test\'s database kept' },
  withDatabase(async (url) => {
    psql(url, "insert into items (name) values ('evidence')");
    assert.fail('fails on purpose: its database is kept, see the error');
  }));
