'use strict';
// The stock Nacos 2.x Rust client (nacos-sdk-rust-binding-node 0.8.0) configured with a user and
// password against a node with auth.enabled: it logs in over HTTP and sends the token in the
// metadata headers of every gRPC request, so it registers, lists and is pushed unmodified; a
// read-only user is refused the register, a client without a user everything, and the refusals
// are counted.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');

const { startNode, waitFor, authSettings } = require('./node');
const { rustClient, killAll } = require('./rust');

const G = 'DEFAULT_GROUP';
let node;
let auth;

// A port P with P and P + 1000 free: the client derives the gRPC port from the HTTP one.
async function freePortPair() {
  const free = port => new Promise(resolve => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
  for (let i = 0; i < 200; i++) {
    const p = 20000 + Math.floor(Math.random() * 11000); // below the ephemeral range (32768)
    if (await free(p) && await free(p + 1000)) return p;
  }
  throw new Error('no free port pair');
}

async function deniedCount() {
  const address = fs.readFileSync(path.join(node.dataDir, 'run', 'grpc.admin'), 'utf8').trim();
  const text = await (await fetch(`http://${address}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^cairn_grpc_auth_denied_total(\{[^}]*\})? (\S+)$/.exec(line);
    if (m) sum += Number(m[2]);
  }
  return sum;
}

before(async () => {
  auth = authSettings([['app', 'app-pw', 'write:public'], ['viewer', 'viewer-pw', 'read:public']]);
  const port = await freePortPair();
  node = await startNode({
    extraSets: [`gateway.listen=127.0.0.1:${port}`, `grpc.listen=127.0.0.1:${port + 1000}`,
      'grpc.push_merge_window_ms=20', ...auth.sets],
  });
});

after(async () => {
  killAll();
  if (node) await node.stop();
  if (auth) auth.remove();
});

const instance = port => ({ ip: '127.0.21.1', port, weight: 1, healthy: true, enabled: true,
  ephemeral: true, clusterName: 'DEFAULT' });

test('a client with a user registers, lists and is pushed over gRPC', async () => {
  const app = await rustClient(node.address, { username: 'app', password: 'app-pw' });
  const svc = 'compat.grpc.auth';
  await app.call('subscribe', { service: svc, group: G });
  await app.call('register', { service: svc, group: G, instance: instance(8080) });
  const hosts = await waitFor(async () => {
    const h = await app.call('all', { service: svc, group: G });
    return h.length === 1 ? h : null;
  }, 15000, { what: 'the instance listed' });
  assert.equal(hosts[0].port, 8080);
  await waitFor(() => app.pushes.some(p => p.service === svc && (p.hosts || []).length === 1),
    15000, { what: 'a push of the instance' });
  await app.kill();
});

test('a read-only user lists but its register is refused', async () => {
  const before = await deniedCount();
  const viewer = await rustClient(node.address, { username: 'viewer', password: 'viewer-pw' });
  const svc = 'compat.grpc.auth.ro';
  await assert.rejects(viewer.call('register', { service: svc, group: G, instance: instance(1) }),
    /authorization failed|403/);
  assert.deepEqual(await viewer.call('all', { service: svc, group: G }), []);
  assert.ok(await deniedCount() > before, 'the refusal is counted');
  await viewer.kill();
});

test('a client without a user is refused', async () => {
  const anon = await rustClient(node.address);
  await assert.rejects(anon.call('register', { service: 'compat.grpc.auth.anon', group: G,
    instance: instance(2) }), /user not found|403/);
  await anon.kill();
});
