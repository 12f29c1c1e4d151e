'use strict';
// Test helpers: start one real Cairn node (`cairn run`) on loopback with free ports and a throw-away
// data directory, and poll for conditions with a deadline (never a fixed sleep).

const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');

const READY_RE = /^cairn: node ready, gateway http:\/\/(\S+):(\d+), data (.+)$/;
const OUTPUT_LINES_KEPT = 200;
// Sanitizer reports from any role (`cairn run` passes its roles' stderr through): a finding fails
// the run even when the supervisor itself exits 0.
const SANITIZER_RE = /ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:|SUMMARY: \w+Sanitizer/;

// Nodes still running when this process exits (a failed assertion, a crash): ask them to stop so no
// orphan keeps ports and directories. Only SIGTERM is possible here (exit handlers are synchronous);
// `cairn run` forwards it to its roles.
const live = new Set();
process.on('exit', () => {
  for (const child of live) {
    try { child.kill('SIGTERM'); } catch (_) { /* already gone */ }
  }
});

function binDir() {
  const dir = process.env.CAIRN_BIN_DIR;
  if (!dir) throw new Error('CAIRN_BIN_DIR is not set (tests/compat/run.sh <bin dir> sets it)');
  return dir;
}

// Resolves once the child has exited and its output pipes are closed, so every line it printed
// has been read (or once it could not be spawned at all): {code, signal}.
function exited(child) {
  return new Promise(resolve => {
    child.once('close', (code, signal) => resolve({ code, signal }));
    child.on('error', () => { if (child.pid === undefined) resolve({ code: null, signal: null }); });
  });
}

// Waits for `promise` at most `ms`; resolves to `onTimeout` when the deadline passes first.
function withDeadline(promise, ms, onTimeout) {
  let timer;
  const deadline = new Promise(resolve => { timer = setTimeout(() => resolve(onTimeout), ms); });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/**
 * Starts `cairn run` with a fresh data directory under os.tmpdir(), every listener on 127.0.0.1
 * port 0, plus `extraSets` (["key=value", ...]). Resolves when the node prints its ready line:
 *   { address: '127.0.0.1:PORT', dataDir, output(), stop() }
 * stop() sends SIGTERM, waits for the exit, removes the data directory and rejects when the node
 * did not exit cleanly (exit code 0) or printed a sanitizer report — either is a failure.
 */
async function startNode({ extraSets = [], readyTimeoutMs = 45000, stopTimeoutMs = 20000 } = {}) {
  const cairn = path.join(binDir(), 'cairn');
  fs.accessSync(cairn, fs.constants.X_OK);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-compat-'));
  const sets = ['gateway.listen=127.0.0.1:0', 'gateway.admin_listen=127.0.0.1:0',
    'registry.admin_listen=127.0.0.1:0', 'healthcheck.admin_listen=127.0.0.1:0',
    'pusher.admin_listen=127.0.0.1:0', 'grpc.listen=127.0.0.1:0', 'grpc.admin_listen=127.0.0.1:0',
    // Active health probes stay on loopback whatever address a test registers.
    'health.probe_networks=127.0.0.0/8', ...extraSets];
  const args = ['run', '--data-dir', dataDir];
  for (const s of sets) args.push('--set', s);

  const child = spawn(cairn, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  const lines = [];
  const sanitizerLines = [];
  const keep = (stream, prefix) => {
    readline.createInterface({ input: stream }).on('line', line => {
      lines.push(prefix + line);
      if (SANITIZER_RE.test(line)) sanitizerLines.push(prefix + line);
      if (lines.length > OUTPUT_LINES_KEPT) lines.shift();
      const m = prefix === '' ? READY_RE.exec(line) : null;
      if (m) child.emit('cairn-ready', m);
    });
  };
  keep(child.stdout, '');
  keep(child.stderr, '[stderr] ');
  const output = () => lines.join('\n');
  const exit = exited(child).then(r => { live.delete(child); return r; });

  let stopping = null;
  const stop = () => {
    if (!stopping) {
      stopping = (async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        let r = await withDeadline(exit, stopTimeoutMs, null);
        if (r === null) {
          const running = child.exitCode === null && child.signalCode === null;
          if (running) child.kill('SIGKILL');
          // After `cairn run` itself is gone, only a role that outlived it can hold the pipes.
          if (await withDeadline(exit, 5000, null) === null) {
            child.stdout.destroy();
            child.stderr.destroy();
            live.delete(child);
          }
          r = { code: null, signal: running
            ? `SIGKILL (still running ${stopTimeoutMs} ms after SIGTERM)`
            : `none (exited ${child.exitCode}, but its output stayed open: a role outlived cairn run)` };
        }
        fs.rmSync(dataDir, { recursive: true, force: true });
        if (sanitizerLines.length) {
          throw new Error(`sanitizer report in the node's output:\n${sanitizerLines.join('\n')}\n` +
            `last output:\n${output()}`);
        }
        if (r.code !== 0) {
          throw new Error(`cairn run did not exit cleanly (code ${r.code}, signal ${r.signal}); ` +
            `last output:\n${output()}`);
        }
      })();
    }
    return stopping;
  };

  const ready = new Promise(resolve => child.once('cairn-ready', resolve));
  const spawnError = new Promise(resolve => child.once('error', err => resolve({ err })));
  const outcome = await withDeadline(
    Promise.race([ready, exit.then(r => ({ exited: r })), spawnError]), readyTimeoutMs, 'timeout');

  if (Array.isArray(outcome)) {
    const port = Number(outcome[2]);
    return { address: `127.0.0.1:${port}`, port, dataDir, output, stop };
  }
  let why;
  if (outcome === 'timeout') why = `no ready line within ${readyTimeoutMs} ms`;
  else if (outcome.err) why = `could not start ${cairn}: ${outcome.err.message}`;
  else why = `cairn run exited before ready (code ${outcome.exited.code}, signal ${outcome.exited.signal})`;
  await stop().catch(() => {});
  throw new Error(`${why}; command: ${cairn} ${args.join(' ')}\nlast output:\n${output()}`);
}

/**
 * Polls `fn` (sync or async) until it returns a truthy value, which is returned. A falsy value or a
 * thrown error means "not yet"; at the deadline the last error (or value) is reported.
 */
async function waitFor(fn, timeoutMs = 10000, { intervalMs = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = `last value: ${JSON.stringify(v)}`;
    } catch (err) {
      last = `last error: ${err && err.stack ? err.stack : err}`;
    }
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; ${last}`);
    }
    await new Promise(resolve => setTimeout(resolve, intervalMs));
  }
}

/**
 * Settings for a node with auth.enabled: a token secret and a users file holding `users`
 * ([[name, password, role], ...], added with `cairn user add`), in a fresh directory.
 *   { sets: [...] for startNode's extraSets, remove() }
 */
function authSettings(users) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-compat-auth-'));
  const secret = path.join(dir, 'secret');
  const file = path.join(dir, 'users');
  fs.writeFileSync(secret, 'compat-test-secret-0123456789abcdef0123456789\n', { mode: 0o600 });
  for (const [name, password, role] of users) {
    execFileSync(path.join(binDir(), 'cairn'),
      ['user', 'add', name, '--role', role, '--set', `auth.users_file=${file}`],
      { input: `${password}\n`, stdio: ['pipe', 'ignore', 'pipe'] });
  }
  return {
    sets: ['auth.enabled=true', `auth.token_secret_file=${secret}`, `auth.users_file=${file}`],
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

module.exports = { startNode, waitFor, authSettings };
