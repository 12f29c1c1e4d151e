'use strict';
// Nacos 2.x gRPC client processes for the compat tests: nacos-sdk-rust-binding-node 0.8.0 (stock
// nacos-sdk-rust on tonic) in rust_client.js, one process per client (the binding has no close();
// its constructor blocks until connected, so every process runs under `timeout -s KILL`, with its
// own HOME for its logs and cache and a clean environment).

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');

const CLIENT_LIFETIME_S = 240; // the hard bound of one client process

const procs = new Set();

// Starts one client process; resolves once it is connected: {call(op, args), pushes, kill()}.
async function rustClient(address, { username, password } = {}) {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-rust-client-'));
  const env = { PATH: process.env.PATH, HOME: home, NACOS_CLIENT_NAMING_PUSH_EMPTY_PROTECTION: 'false' };
  const child = spawn('timeout', ['-s', 'KILL', String(CLIENT_LIFETIME_S), process.execPath,
    path.join(__dirname, 'rust_client.js'), address, ...(username ? [username, password] : [])],
  // its own process group: a kill reaches `timeout` and the client under it
  { env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  procs.add(child);
  const waiting = new Map();
  const pushes = [];
  let ready;
  const readyP = new Promise((resolve, reject) => { ready = { resolve, reject }; });
  let nextId = 1;
  readline.createInterface({ input: child.stdout }).on('line', line => {
    let m;
    try { m = JSON.parse(line); } catch (_) { return; }
    if (m.ready !== undefined) return m.ready ? ready.resolve() : ready.reject(new Error(m.error));
    if (m.event === 'push') return pushes.push(m);
    const w = waiting.get(m.id);
    if (!w) return;
    waiting.delete(m.id);
    if (m.ok) w.resolve(m.result); else w.reject(new Error(`${w.op}: ${m.error}`));
  });
  child.once('exit', () => {
    ready.reject(new Error('the client process exited before it connected'));
    for (const w of waiting.values()) w.reject(new Error(`${w.op}: the client process exited`));
    fs.rmSync(home, { recursive: true, force: true });
  });
  child.stderr.resume();
  await readyP;
  return {
    pushes,
    call(op, args) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve, reject, op });
        child.stdin.write(JSON.stringify({ id, op, ...args }) + '\n');
      });
    },
    kill() {
      killGroup(child); // the process ends, its connection with it
      procs.delete(child);
      return new Promise(resolve => (child.exitCode !== null || child.signalCode !== null)
        ? resolve() : child.once('exit', resolve));
    },
  };
}

// SIGKILL to the client's process group (`timeout` and the client it runs).
function killGroup(child) {
  try { process.kill(-child.pid, 'SIGKILL'); } catch (_) { /* already gone */ }
}

// Client processes still running when this process exits (a failed assertion): their groups go.
process.on('exit', () => { for (const p of procs) killGroup(p); });

// Every client still running.
function killAll() {
  for (const p of procs) killGroup(p);
}

module.exports = { rustClient, killAll };
