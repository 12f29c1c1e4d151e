'use strict';
// The npm Nacos client configured with a user and password against a node with auth.enabled: the
// client sends `username` and `password` on every call (nacos-naming/lib/naming/proxy.js) and
// must work unmodified; the same client without them, or with a wrong password, is refused.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');

const { startNode, waitFor, authSettings } = require('./node');
const { withClients } = require('./client');

const G = 'DEFAULT_GROUP';

let node;
let auth;
before(async () => {
  auth = authSettings([['app', 'app-pw', 'write:public'], ['viewer', 'viewer-pw', 'read:public']]);
  node = await startNode({ extraSets: auth.sets });
});
after(async () => {
  if (node) await node.stop();
  if (auth) auth.remove();
});

const keys = hosts => hosts.map(h => `${h.ip}:${h.port}`).sort();

test('a client with username/password registers, lists, subscribes and deregisters', () =>
  withClients(node, async open => {
    const client = await open({ username: 'app', password: 'app-pw' });
    assert.equal(await client.getServerStatus(), 'UP');
    const svc = 'compat.auth.app';
    await client.registerInstance(svc, { ip: '127.0.20.1', port: 8080 });
    await client.registerInstance(svc, { ip: '127.0.20.2', port: 8080 });
    const hosts = await waitFor(async () => {
      const h = await client.getAllInstances(svc, G, '', false);
      return h.length === 2 ? h : null;
    }, 10000, { what: 'both instances listed' });
    assert.deepEqual(keys(hosts), ['127.0.20.1:8080', '127.0.20.2:8080']);

    const seen = [];
    client.subscribe({ serviceName: svc, groupName: G }, h => seen.push(keys(h)));
    await waitFor(() => seen.some(k => k.length === 2), 10000, { what: 'subscription answer' });

    await client.deregisterInstance(svc, { ip: '127.0.20.2', port: 8080 });
    await waitFor(async () => (await client.getAllInstances(svc, G, '', false)).length === 1,
      10000, { what: 'deregistration seen' });
    client.unSubscribe({ serviceName: svc, groupName: G }, () => {});
  }));

test('a read-only user lists but cannot register', () => withClients(node, async open => {
  const writer = await open({ username: 'app', password: 'app-pw' });
  const svc = 'compat.auth.viewer';
  await writer.registerInstance(svc, { ip: '127.0.21.1', port: 8080 });
  const viewer = await open({ username: 'viewer', password: 'viewer-pw' });
  const hosts = await viewer.getAllInstances(svc, G, '', false);
  assert.deepEqual(keys(hosts), ['127.0.21.1:8080']);
  await assert.rejects(viewer.registerInstance(svc, { ip: '127.0.21.2', port: 8080 }));
  const last = viewer.httpLog.filter(e => e.method === 'POST').pop();
  assert.equal(last.status, 403);
  assert.equal(last.body, 'authorization failed!');
}));

test('a client without credentials, or with a wrong password, is refused', () =>
  withClients(node, async open => {
    const anonymous = await open();
    await assert.rejects(anonymous.registerInstance('compat.auth.none', { ip: '127.0.22.1', port: 1 }));
    assert.equal(anonymous.httpLog.filter(e => e.method === 'POST').pop().body, 'user not found!');
    const wrong = await open({ username: 'app', password: 'not-it' });
    await assert.rejects(wrong.registerInstance('compat.auth.none', { ip: '127.0.22.1', port: 1 }));
    assert.equal(wrong.httpLog.filter(e => e.method === 'POST').pop().body, 'unknown user!');
    const reader = await open({ username: 'app', password: 'app-pw' });
    assert.deepEqual(await reader.getAllInstances('compat.auth.none', G, '', false), []);
  }));
