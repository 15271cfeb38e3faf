'use strict';
// pgboot for Node test runners (node:test, vitest, jest): a fresh PostgreSQL
// database per test from one `pgboot testdb serve` broker. No dependencies.
// The protocol (JSON lines over a Unix socket) is in pgboot's README.

const { spawn } = require('node:child_process');
const net = require('node:net');
const readline = require('node:readline');

const SOCKET_ENV = 'PGBOOT_BROKER_SOCKET';

class BrokerError extends Error {
  constructor(error, hint) {
    super(hint ? `${error}\nhint: ${hint}` : error);
    this.name = 'BrokerError';
    this.error = error;
    this.hint = hint;
  }
}

// One connection to a broker's socket; requests may overlap (matched by id).
class BrokerClient {
  constructor(socketPath) {
    this.socketPath = socketPath;
    this.nextId = 0;
    this.pending = new Map();
    this.sock = null;
  }

  connect() {
    return new Promise((resolve, reject) => {
      const sock = net.createConnection(this.socketPath);
      sock.once('error', reject);
      sock.once('connect', () => {
        sock.removeListener('error', reject);
        sock.on('error', (e) => this._failAll(e));
        sock.on('close', () => this._failAll(new BrokerError('the pgboot broker closed the connection (did it stop?)')));
        readline.createInterface({ input: sock }).on('line', (line) => this._onLine(line));
        sock.unref(); // an idle connection does not keep the process alive
        this.sock = sock;
        resolve(this);
      });
    });
  }

  _onLine(line) {
    let rep;
    try { rep = JSON.parse(line); } catch { return; }
    const p = this.pending.get(rep.id);
    if (!p) return;
    this.pending.delete(rep.id);
    if (this.pending.size === 0) this.sock.unref();
    if ('error' in rep) p.reject(new BrokerError(rep.error, rep.hint));
    else p.resolve(rep);
  }

  _failAll(err) {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  request(op, fields = {}) {
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.sock.ref(); // waiting for an answer keeps the process alive
      this.sock.write(JSON.stringify({ ...fields, op, id }) + '\n');
    });
  }

  async clone() { return (await this.request('clone')).url; }
  async drop(url) { await this.request('drop', { url }); }
  async keep(url, label) { return (await this.request('keep', { url, label })).url; }
  close() { if (this.sock) this.sock.destroy(); }
}

// The arguments of `pgboot testdb serve` for options
// { app, url, templateSql: [], templateCmd, templateKey: [] }.
function serveArgs(o) {
  if (!o.app === !o.url) throw new BrokerError('pgboot: give one of app and url (or PGBOOT_TESTDB_APP / PGBOOT_TESTDB_URL)');
  const args = ['testdb', 'serve', ...(o.app ? ['--app', o.app] : ['--url', o.url])];
  for (const f of o.templateSql || []) args.push('--template-sql', f);
  if (o.templateCmd) args.push('--template-cmd', o.templateCmd);
  for (const k of o.templateKey || []) args.push('--template-key', k);
  return args;
}

// Options from the environment: PGBOOT_TESTDB_APP or PGBOOT_TESTDB_URL,
// PGBOOT_TESTDB_TEMPLATE_SQL (files separated by ':'), PGBOOT_TESTDB_TEMPLATE_CMD,
// PGBOOT_TESTDB_TEMPLATE_KEY (':'), PGBOOT_BIN.
function envOptions(env = process.env) {
  const list = (v) => (v ? v.split(':').filter(Boolean) : []);
  return {
    app: env.PGBOOT_TESTDB_APP,
    url: env.PGBOOT_TESTDB_URL,
    templateSql: list(env.PGBOOT_TESTDB_TEMPLATE_SQL),
    templateCmd: env.PGBOOT_TESTDB_TEMPLATE_CMD,
    templateKey: list(env.PGBOOT_TESTDB_TEMPLATE_KEY),
    pgboot: env.PGBOOT_BIN,
  };
}

// Start `pgboot testdb serve`; resolves to { socket, template, process, stop() }.
// It lives while its stdin is open: stop() closes it (it then drops what
// nobody dropped or kept and removes its socket); so does this process's end.
function startBroker(options = envOptions()) {
  const args = serveArgs(options);
  const child = spawn(options.pgboot || 'pgboot', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    child.once('error', (e) => reject(new BrokerError(`cannot run ${options.pgboot || 'pgboot'}: ${e.message}`)));
    const lines = readline.createInterface({ input: child.stdout });
    lines.once('line', (line) => {
      let ready = {};
      try { ready = JSON.parse(line); } catch { /* below */ }
      if (ready.event !== 'ready') {
        child.stdin.end();
        reject(new BrokerError(ready.error || stderr.trim() || `unexpected first line: ${line}`, ready.hint));
        return;
      }
      // The broker must not keep this process alive.
      child.unref();
      child.stdin.unref();
      child.stdout.unref();
      child.stderr.unref();
      resolve({
        socket: ready.socket,
        template: ready.template,
        process: child,
        stop() {
          return new Promise((res) => {
            if (child.exitCode !== null || child.signalCode !== null) return res();
            child.ref(); // wait for it: it was unref'd above
            child.once('exit', () => res());
            child.stdin.end();
          });
        },
      });
    });
    child.once('exit', (code) => {
      setImmediate(() => reject(new BrokerError(stderr.trim() || `pgboot testdb serve exited (${code}) before it was ready`)));
    });
  });
}

let shared = null; // this process's client (and broker, if it started one)

// The client of PGBOOT_BROKER_SOCKET's broker, or of one this process starts
// (options, else envOptions()) and shares among its tests.
function broker(options) {
  if (!shared) {
    shared = (async () => {
      let socket = process.env[SOCKET_ENV];
      if (!socket) {
        const b = await startBroker(options || envOptions());
        socket = b.socket;
      }
      return new BrokerClient(socket).connect();
    })();
    shared.catch(() => { shared = null; });
  }
  return shared;
}

function urlWithoutPassword(url) {
  return url.replace(/^([a-z]+:\/\/[^:@/]*):[^@/]*@/, '$1@');
}

// withDatabase(fn[, label]): a test function that gets a fresh database's
// URL (fn(url, ...args the runner passes)); the database is dropped after a
// passing test and kept after a failing one, its URL (without the
// password) added to the error. Without a label: the test's name under
// node:test and vitest, 'failed test' under jest (which passes no context).
function withDatabase(fn, label) {
  return async function pgbootTest(...args) {
    const client = await broker();
    const url = await client.clone();
    try {
      const r = await fn(url, ...args);
      await client.drop(url);
      return r;
    } catch (err) {
      // node:test passes its test context (its name), vitest its own
      // context (the test in .task), jest nothing.
      const ctx = args[0];
      const name = label || (ctx && ctx.task && ctx.task.name) ||
        (ctx && typeof ctx.name === 'string' && ctx.name) || 'failed test';
      let note;
      try {
        note = `pgboot: kept database: ${urlWithoutPassword(await client.keep(url, name))}`;
      } catch (e) {
        note = `pgboot: could not keep the database: ${e.message}`;
      }
      if (err instanceof Error) err.message += `\n${note}`;
      console.error(note);
      throw err;
    }
  };
}

// For vitest's or jest's globalSetup: one broker for every worker, from
// envOptions() (the runners pass their own configuration as arguments, which
// is no broker's). vitest takes the teardown it returns; jest runs
// globalTeardown (below) in the same process. globalSetupWith(options) makes
// one with explicit options.
const BROKER_KEY = Symbol.for('pgboot.globalBroker');

function globalSetupWith(options) {
  return async function pgbootGlobalSetup() {
    if (process.env[SOCKET_ENV]) return async () => {};
    const b = await startBroker(options || envOptions());
    process.env[SOCKET_ENV] = b.socket;
    globalThis[BROKER_KEY] = b;
    return globalTeardown;
  };
}

const globalSetup = globalSetupWith(null);

async function globalTeardown() {
  const b = globalThis[BROKER_KEY];
  if (!b) return;
  delete globalThis[BROKER_KEY];
  if (process.env[SOCKET_ENV] === b.socket) delete process.env[SOCKET_ENV];
  await b.stop();
}

module.exports = {
  BrokerClient, BrokerError, startBroker, broker, withDatabase, globalSetup, globalSetupWith,
  globalTeardown, envOptions,
  serveArgs, urlWithoutPassword, SOCKET_ENV,
};
