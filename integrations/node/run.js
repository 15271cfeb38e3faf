#!/usr/bin/env node
'use strict';
// pgboot-testdb-run [testdb serve options] -- COMMAND [ARGS...]
// Starts one broker, runs COMMAND with PGBOOT_BROKER_SOCKET set (so every
// test file and worker, e.g. node --test's per-file processes, shares it),
// stops the broker, exits with COMMAND's status.
const { spawn } = require('node:child_process');
const { startBroker, SOCKET_ENV } = require('./index.js');

async function main(argv) {
  const dash = argv.indexOf('--');
  if (dash < 0 || dash === argv.length - 1) {
    console.error('usage: pgboot-testdb-run (--app NAME | --url URL) [--template-sql FILE]... ' +
                  '[--template-cmd CMD] [--template-key PATH]... [--pgboot PATH] -- COMMAND [ARGS...]');
    return 2;
  }
  const o = { templateSql: [], templateKey: [] };
  const opts = argv.slice(0, dash);
  for (let i = 0; i < opts.length; i += 2) {
    const [k, v] = [opts[i], opts[i + 1]];
    if (v === undefined) { console.error(`pgboot-testdb-run: ${k} needs a value`); return 2; }
    if (k === '--app') o.app = v;
    else if (k === '--url') o.url = v;
    else if (k === '--template-sql') o.templateSql.push(v);
    else if (k === '--template-cmd') o.templateCmd = v;
    else if (k === '--template-key') o.templateKey.push(v);
    else if (k === '--pgboot') o.pgboot = v;
    else { console.error(`pgboot-testdb-run: unknown option ${k}`); return 2; }
  }
  let b;
  try {
    b = await startBroker(o);
  } catch (e) {
    console.error(`pgboot-testdb-run: ${e.message}`);
    return 1;
  }
  const cmd = argv.slice(dash + 1);
  const child = spawn(cmd[0], cmd.slice(1), { stdio: 'inherit', env: { ...process.env, [SOCKET_ENV]: b.socket } });
  const status = await new Promise((res) => {
    child.once('error', (e) => { console.error(`pgboot-testdb-run: ${cmd[0]}: ${e.message}`); res(127); });
    child.once('exit', (code, sig) => res(code === null ? 128 + (require('node:os').constants.signals[sig] || 0) : code));
  });
  process.exitCode = status;
  await b.stop();
  return status;
}

main(process.argv.slice(2)).then((rc) => { process.exitCode = rc; });
