'use strict';
// pgboot's jest / vitest example: each test gets a fresh clone of the
// template, from one broker that the global setup starts for all workers.
//   PGBOOT_TESTDB_APP=myapp PGBOOT_TESTDB_TEMPLATE_SQL=schema.sql npx jest
//   PGBOOT_TESTDB_APP=myapp PGBOOT_TESTDB_TEMPLATE_SQL=schema.sql npx vitest run
// (a real suite uses its driver, e.g. pg; this one uses psql to need nothing;
// vitest runs it with globals: true, see vitest.config.mjs).
const assert = require('node:assert');
const { execFileSync } = require('node:child_process');
const { withDatabase } = require('..');

const psql = (url, sql) =>
  execFileSync(process.env.PSQL || 'psql', ['-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1', url, '-c', sql], { encoding: 'utf8' }).trim();

// jest passes no test context: a label names a kept database.
test('insert', withDatabase(async (url) => {
  psql(url, "insert into items (name) values ('mine')");
  assert.strictEqual(psql(url, 'select count(*) from items'), '2');
}, 'insert'));

test('isolated', withDatabase(async (url) => {
  assert.strictEqual(psql(url, 'select name from items'), 'from the template');
}, 'isolated'));

// PGBOOT_DEMO_FAILURE=1: a failing test, whose database is kept. Under
// vitest it is named after the test; jest passes no context, so a label.
if (process.env.PGBOOT_DEMO_FAILURE) {
  const label = typeof jest === 'undefined' ? undefined : 'demo failure';
  test('demo failure', withDatabase(async (url) => {
    psql(url, "insert into items (name) values ('evidence')");
    assert.fail('fails on purpose: its database is kept');
  }, label));
}
