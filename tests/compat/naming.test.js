'use strict';
// The npm Nacos client (NacosNamingClient from `nacos`, nacos-naming 2.6.x) against one real Cairn
// node. Every test uses its own service names, so the tests share the node without interfering.
// The client's API (node_modules/nacos-naming/lib/naming/client.js):
//   registerInstance(serviceName, instance, groupName = 'DEFAULT_GROUP')
//   deregisterInstance(serviceName, instance, groupName = 'DEFAULT_GROUP')
//   getAllInstances(serviceName, groupName, clusters = '', subscribe = true)
//   selectInstances(serviceName, groupName, clusters = '', healthy = true, subscribe = true)
// With subscribe = true the answer comes from the client's cache after the first call for a
// (service, clusters) key; with subscribe = false every call asks the server.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');

const { startNode, waitFor } = require('./node');
const { withClients, rawList, lastExchange } = require('./client');

const G = 'DEFAULT_GROUP';
const INSTANCE_API = '/nacos/v1/ns/instance';

let node;
before(async () => { node = await startNode(); });
after(async () => { if (node) await node.stop(); });

const key = h => `${h.ip}:${h.port}`;
const keys = hosts => hosts.map(key).sort();
const sorted = hosts => [...hosts].sort((a, b) => key(a).localeCompare(key(b)));

// The host object a Nacos server returns for an instance registered by this client (§2.5, host
// fields): the grouped serviceName for a Java >= 1.0.0 user agent, which the Node client sends.
function expectedHost(serviceName, inst, { group = G, healthy } = {}) {
  const cluster = inst.clusterName || 'DEFAULT';
  return {
    instanceId: `${inst.ip}#${inst.port}#${cluster}#${group}@@${serviceName}`,
    ip: inst.ip,
    port: inst.port,
    clusterName: cluster,
    serviceName: `${group}@@${serviceName}`,
    metadata: inst.metadata || {},
    weight: inst.weight || 1,
    healthy: healthy !== undefined ? healthy : inst.healthy !== false,
    enabled: true,
    ephemeral: inst.ephemeral !== false,
  };
}
const fields = h => ({
  instanceId: h.instanceId, ip: h.ip, port: h.port, clusterName: h.clusterName,
  serviceName: h.serviceName, metadata: h.metadata, weight: h.weight, healthy: h.healthy,
  enabled: h.enabled, ephemeral: h.ephemeral,
});

test('getServerStatus() is UP', () => withClients(node, async open => {
  const client = await open();
  assert.equal(await client.getServerStatus(), 'UP');
}));

test('two clusters: list all, filter by cluster, metadata round-trips', () => withClients(node, async open => {
  const client = await open();
  const svc = 'compat.clusters';
  const a = { ip: '127.0.10.1', port: 8080, clusterName: 'c1', metadata: { version: '1', zone: 'a' } };
  const b = { ip: '127.0.10.2', port: 8080, clusterName: 'c2' };
  // Writes answer the literal text "ok" (§1.5); the client itself only checks the status.
  await client.registerInstance(svc, a);
  assert.equal(lastExchange(client, 'POST', INSTANCE_API).body, 'ok');
  await client.registerInstance(svc, b);

  // Each (service, clusters) key below is asked for the first time, so the client goes to the
  // server (as a subscriber: udpPort = its push receiver) and answers from what came back.
  const all = sorted(await client.getAllInstances(svc));
  assert.deepEqual(all.map(fields), [expectedHost(svc, a), expectedHost(svc, b)]);
  assert.deepEqual(all[0].metadata, { version: '1', zone: 'a' });
  assert.deepEqual(all[1].metadata, {});

  assert.deepEqual((await client.getAllInstances(svc, G, 'c1')).map(fields), [expectedHost(svc, a)]);
  assert.deepEqual((await client.getAllInstances(svc, G, 'c2')).map(fields), [expectedHost(svc, b)]);
  assert.deepEqual(keys(await client.getAllInstances(svc, G, 'c1,c2')), keys([a, b]));
  // An unknown cluster is ignored by the server: nothing matches.
  assert.deepEqual(await client.getAllInstances(svc, G, 'nosuch', false), []);

  // The client keys its cache by the grouped name and the clusters string the server echoes back
  // (§16.2): both must come back verbatim or a subscriber's data would land under another key.
  const raw = await rawList(client, svc, G, 'c2,c1');
  assert.equal(raw.name, `${G}@@${svc}`);
  assert.equal(raw.clusters, 'c2,c1');
}));

test('selectInstances filters on health and on clusters', () => withClients(node, async open => {
  const client = await open();
  const svc = 'compat.select';
  const a = { ip: '127.0.20.1', port: 8080, clusterName: 'c1' };
  const b = { ip: '127.0.20.2', port: 8080, clusterName: 'c2' };
  // Persistent and registered unhealthy: nothing heartbeats it, and port 1 on a loopback address
  // has no listener, so an active probe would keep it unhealthy too.
  const c = { ip: '127.0.20.3', port: 1, clusterName: 'c2', ephemeral: false, healthy: false };
  for (const inst of [a, b, c]) await client.registerInstance(svc, inst);

  // Protection (§2.5 step 8) never applies here: every candidate set below has a healthy instance
  // (all: 2 of 3, c2: 1 of 2, c1: 1 of 1), so healthy/total > protectThreshold (0) and the server
  // reports each instance's own health.
  // The subscribing path first: the first call for key "c1" fills the client's cache from the
  // server (any later call for that key, subscribing or not, would also update it).
  assert.deepEqual(keys(await client.selectInstances(svc, G, 'c1')), keys([a]));
  assert.deepEqual(keys(await client.selectInstances(svc, G, 'c1', false)), []);
  assert.deepEqual(keys(await client.selectInstances(svc, G, '', true, false)), keys([a, b]));
  assert.deepEqual(keys(await client.selectInstances(svc, G, '', false, false)), keys([c]));
  assert.deepEqual(keys(await client.selectInstances(svc, G, 'c2', true, false)), keys([b]));
  assert.deepEqual(keys(await client.selectInstances(svc, G, 'c2', false, false)), keys([c]));
  assert.deepEqual(keys(await client.selectInstances(svc, G, 'c1', false, false)), []);
}));

test('persistent instances registered unhealthy stay unhealthy', () => withClients(node, async open => {
  const client = await open();
  const svc = 'compat.persistent';
  const warm = { ip: '127.0.30.1', port: 8080, clusterName: 'warm' };
  const cold1 = { ip: '127.0.30.2', port: 1, clusterName: 'cold', ephemeral: false, healthy: false };
  const cold2 = { ip: '127.0.30.3', port: 1, clusterName: 'cold', ephemeral: false, healthy: false,
    metadata: { role: 'standby' } };
  for (const inst of [warm, cold1, cold2]) await client.registerInstance(svc, inst);

  // The service keeps one healthy instance (warm), so over all clusters 1 of 3 candidates is
  // healthy: 1/3 > protectThreshold 0, protection does not apply and the stored health shows.
  // (With no healthy candidate and threshold 0 the server would return every instance flagged
  // healthy instead, §2.5 step 8; that case is asserted on its own below.)
  const all = sorted(await client.getAllInstances(svc, G, '', false));
  assert.deepEqual(all.map(fields),
    [expectedHost(svc, warm), expectedHost(svc, cold1), expectedHost(svc, cold2)]);
  assert.deepEqual(keys(await client.selectInstances(svc, G, '', false, false)), keys([cold1, cold2]));
  assert.deepEqual(keys(await client.selectInstances(svc, G, '', true, false)), keys([warm]));

  // A later change to the service (a new instance) leaves the existing instances' health alone
  // (§2.1 step 6): the persistent ones are still unhealthy.
  const warm2 = { ip: '127.0.30.4', port: 8080, clusterName: 'warm' };
  await client.registerInstance(svc, warm2);
  assert.deepEqual(keys(await client.selectInstances(svc, G, '', false, false)), keys([cold1, cold2]));
  assert.deepEqual(keys(await client.selectInstances(svc, G, '', true, false)), keys([warm, warm2]));

  // Only the "cold" cluster: no candidate is healthy, 0/2 <= protectThreshold 0, so the server's
  // protection returns every candidate flagged healthy (§2.5 step 8) — a client keeps addresses to
  // try when everything looks down. This changes the answer only, not the stored health.
  const cold = sorted(await client.getAllInstances(svc, G, 'cold', false));
  assert.deepEqual(cold.map(fields),
    [expectedHost(svc, cold1, { healthy: true }), expectedHost(svc, cold2, { healthy: true })]);
  assert.deepEqual(keys(await client.selectInstances(svc, G, 'cold', false, false)), []);
  assert.deepEqual(keys(await client.selectInstances(svc, G, '', false, false)), keys([cold1, cold2]));
}));

test('deregistering every instance empties the service', () => withClients(node, async open => {
  const client = await open();
  const svc = 'compat.deregister';
  const a = { ip: '127.0.40.1', port: 8080, clusterName: 'c1' };
  const b = { ip: '127.0.40.2', port: 8080, clusterName: 'c2' };
  const p = { ip: '127.0.40.3', port: 8080, clusterName: 'c2', ephemeral: false };
  for (const inst of [a, b, p]) await client.registerInstance(svc, inst);
  assert.deepEqual(keys(await client.getAllInstances(svc)), keys([a, b, p]));

  await client.deregisterInstance(svc, a);
  assert.equal(lastExchange(client, 'DELETE', INSTANCE_API).body, 'ok');
  assert.deepEqual(keys(await client.getAllInstances(svc, G, '', false)), keys([b, p]));
  // The client sends ephemeral=false for p, as a persistent deregistration must.
  await client.deregisterInstance(svc, p);
  assert.deepEqual(keys(await client.getAllInstances(svc, G, '', false)), keys([b]));
  await client.deregisterInstance(svc, b);

  // The server now answers an empty host list. nacos-naming treats an empty list as invalid and
  // keeps its last non-empty one (service_info.js isValid; processServiceJSON returns the old
  // entry), even for subscribe = false, so this client would go on reporting [b] (§16.2 "Empty
  // host lists"). What a user asking the server sees: the raw answer to the client's own list
  // call, and a client with nothing cached.
  const raw = await rawList(client, svc);
  assert.deepEqual(raw.hosts, []);
  assert.equal(raw.name, `${G}@@${svc}`);
  const fresh = await open();
  assert.deepEqual(await fresh.getAllInstances(svc, G, '', false), []);
  assert.deepEqual(await fresh.selectInstances(svc, G, '', true, false), []);
}));

test('a group other than DEFAULT_GROUP round-trips and stays separate', () => withClients(node, async open => {
  const client = await open();
  const svc = 'compat.grouped';
  const group = 'COMPAT_GROUP';
  const g = { ip: '127.0.50.1', port: 9000, metadata: { owner: 'compat' } };
  const d = { ip: '127.0.50.2', port: 9000 };
  await client.registerInstance(svc, g, group);
  await client.registerInstance(svc, d); // same service name, DEFAULT_GROUP

  assert.deepEqual((await client.getAllInstances(svc, group)).map(fields), [expectedHost(svc, g, { group })]);
  assert.deepEqual((await client.getAllInstances(svc)).map(fields), [expectedHost(svc, d)]);
  assert.deepEqual(keys(await client.selectInstances(svc, group, '', true, false)), keys([g]));
  assert.deepEqual(keys(await client.getAllInstances(svc, group, 'DEFAULT', false)), keys([g]));

  // deregisterInstance sends the grouped name and no groupName parameter (proxy.js).
  await client.deregisterInstance(svc, g, group);
  assert.deepEqual((await rawList(client, svc, group)).hosts, []);
  assert.deepEqual(keys(await client.getAllInstances(svc, G, '', false)), keys([d]));
}));

test('namespaces are separate', () => withClients(node, async open => {
  const pub = await open();
  const other = await open({ namespace: 'compat-ns' });
  const svc = 'compat.namespaced';
  const inst = { ip: '127.0.60.1', port: 9000 };
  await other.registerInstance(svc, inst);
  assert.deepEqual((await other.getAllInstances(svc, G, '', false)).map(fields), [expectedHost(svc, inst)]);
  assert.deepEqual((await rawList(pub, svc)).hosts, []);
  assert.deepEqual(await pub.getAllInstances(svc, G, '', false), []);
  await other.deregisterInstance(svc, inst);
  assert.deepEqual((await rawList(other, svc)).hosts, []);
}));

test('subscribe() delivers the current list, then later changes', () => withClients(node, async open => {
  const client = await open();
  const svc = 'compat.subscribe';
  // subscribe() without clusters asks for cluster DEFAULT (host_reactor.js _getKey / subscribe).
  const first = { ip: '127.0.70.1', port: 7000 };
  const second = { ip: '127.0.70.2', port: 7000 };
  await client.registerInstance(svc, first);

  const seen = [];
  const listener = hosts => seen.push(keys(hosts));
  client.subscribe(svc, listener);
  const latestIs = want => () => seen.length > 0 &&
    JSON.stringify(seen[seen.length - 1]) === JSON.stringify(keys(want));
  await waitFor(latestIs([first]), 10000, { what: 'the listener to get the first instance' });

  await client.registerInstance(svc, second);
  // Delivered by a UDP push to 127.0.0.1:<udpPort>, or at the latest by the client's own poll
  // (every cacheMillis, at most 10 s).
  await waitFor(latestIs([first, second]), 30000,
    { what: 'the listener to get both instances (push or poll)' });
  client.unSubscribe(svc, listener);
}));

// The client beats every ephemeral instance it registered (PUT /instance/beat with a `beat` JSON
// body in the query string) and reads only clientBeatInterval from the answer (§16.2 call 3).
test('heartbeats are answered with clientBeatInterval', () => withClients(node, async open => {
  const client = await open();
  const inst = { ip: '127.0.80.1', port: 7000 };
  await client.registerInstance('compat.beat', inst);
  // The client's beat loop sleeps 10 s before its first beat (beat_reactor.js).
  const beat = await waitFor(() => client.httpLog.find(e => e.method === 'PUT' &&
    new URL(e.url).pathname === '/nacos/v1/ns/instance/beat' &&
    (e.status !== undefined || e.error !== undefined)), 25000, { what: 'the client to send a beat' });
  assert.equal(beat.status, 200, `beat answered ${beat.status} ${beat.body || beat.error}`);
  const body = JSON.parse(beat.body);
  assert.ok(Number(body.clientBeatInterval) > 0, `clientBeatInterval in ${beat.body}`);
  assert.equal(body.code, 10200, `code in ${beat.body}`);
  // The beat leaves the instance registered and healthy.
  assert.deepEqual(keys(await client.selectInstances('compat.beat', G, '', true, false)), keys([inst]));
}));
