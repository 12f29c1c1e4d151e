'use strict';
// Nacos 2.x gRPC clients against cairn-grpc: nacos-sdk-rust-binding-node 0.8.0 (stock
// nacos-sdk-rust on tonic), each client in its own process (the binding has no close(); its
// constructor blocks until connected, so every process runs under `timeout -s KILL`, with its own
// HOME for its logs and cache and a clean environment). Registers in two clusters from two
// processes, lists, selects healthy, subscribes and is pushed, a killed process's instance goes,
// batch register and deregister, and v1 (npm `nacos`) and gRPC clients see each other.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');

const { startNode, waitFor } = require('./node');
const { withClients } = require('./client');
const { rustClient: startRustClient, killAll } = require('./rust');

const G = 'DEFAULT_GROUP';
let node;

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

const rustClient = () => startRustClient(node.address);

const ips = hosts => hosts.map(h => `${h.ip}:${h.port}`).sort();

async function grpcMetric(name) {
  const address = fs.readFileSync(path.join(node.dataDir, 'run', 'grpc.admin'), 'utf8').trim();
  const text = await (await fetch(`http://${address}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^cairn_grpc_([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m && m[1] === name) sum += Number(m[3]);
  }
  return sum;
}

before(async () => {
  const port = await freePortPair();
  node = await startNode({
    extraSets: [`gateway.listen=127.0.0.1:${port}`, `grpc.listen=127.0.0.1:${port + 1000}`,
      'grpc.push_merge_window_ms=20', 'push.merge_window_ms=20'],
  });
});

after(async () => {
  killAll();
  if (node) await node.stop();
});

test('two processes register in two clusters; list, filter and select healthy', async () => {
  const a = await rustClient();
  const b = await rustClient();
  await a.call('register', { service: 'two', group: G,
    instance: { ip: '127.0.0.11', port: 8001, clusterName: 'c1', metadata: { who: 'a' } } });
  await b.call('register', { service: 'two', group: G,
    instance: { ip: '127.0.0.12', port: 8002, clusterName: 'c2', healthy: false } });
  const all = await a.call('all', { service: 'two', group: G });
  assert.deepEqual(ips(all), ['127.0.0.11:8001', '127.0.0.12:8002']);
  const c1 = all.find(h => h.ip === '127.0.0.11');
  assert.equal(c1.clusterName, 'c1');
  assert.equal(c1.metadata.who, 'a');
  assert.deepEqual(ips(await b.call('all', { service: 'two', group: G, clusters: ['c2'] })),
    ['127.0.0.12:8002']);
  assert.deepEqual(ips(await b.call('select', { service: 'two', group: G, healthy: true })),
    ['127.0.0.11:8001'], 'only the healthy one');
  const one = await b.call('one', { service: 'two', group: G });
  assert.equal(one.ip, '127.0.0.11');
  await a.kill();
  await b.kill();
});

test('subscribe: pushed a new instance, and a killed process\'s instance goes', async () => {
  const watcher = await rustClient();
  const worker = await rustClient();
  await watcher.call('subscribe', { service: 'watched', group: G });
  await worker.call('register', { service: 'watched', group: G,
    instance: { ip: '127.0.0.21', port: 9001 } });
  await waitFor(() => watcher.pushes.some(p => ips(p.hosts).includes('127.0.0.21:9001')), 15000,
    { what: 'a push with the new instance' });
  assert.ok(await grpcMetric('pushes_acked_total') >= 1, 'the client acked a push');

  await worker.kill();
  await waitFor(() => {
    const last = watcher.pushes[watcher.pushes.length - 1];
    return last && last.hosts.length === 0;
  }, 15000, { what: 'a push without the killed process\'s instance' });
  await watcher.kill();
});

test('batch register, then deregister', async () => {
  const c = await rustClient();
  await c.call('batch', { service: 'batch', group: G, instances: [
    { ip: '127.0.0.31', port: 1 }, { ip: '127.0.0.32', port: 2 }, { ip: '127.0.0.33', port: 3 }] });
  assert.deepEqual(ips(await c.call('all', { service: 'batch', group: G })),
    ['127.0.0.31:1', '127.0.0.32:2', '127.0.0.33:3']);
  await c.call('deregister', { service: 'batch', group: G, instance: { ip: '127.0.0.31', port: 1 } });
  assert.deepEqual(await c.call('all', { service: 'batch', group: G }), []);
  await c.kill();
});

test('v1 and gRPC clients see each other', async () => {
  const rust = await rustClient();
  await withClients(node, async open => {
    const v1 = await open();
    await v1.registerInstance('both', { ip: '127.0.0.41', port: 4100, ephemeral: true });
    await rust.call('register', { service: 'both', group: G,
      instance: { ip: '127.0.0.42', port: 4200 } });
    await waitFor(async () => ips(await rust.call('all', { service: 'both', group: G })).length === 2,
      10000, { what: 'the gRPC client to list both' });
    const seen = await v1.getAllInstances('both');
    assert.deepEqual(seen.map(h => `${h.ip}:${h.port}`).sort(), ['127.0.0.41:4100', '127.0.0.42:4200']);
    await v1.deregisterInstance('both', { ip: '127.0.0.41', port: 4100 });
  });
  await rust.kill();
});
