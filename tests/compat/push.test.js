'use strict';
// UDP push (§12, §16.3) to the npm Nacos client: its subscribe() listener sees changes through
// pushes from cairn-pusher, which the client acknowledges. That the change travelled by push is
// shown by the pusher's own metrics (pushes_acked_total grows: only the client's push receiver
// acks), not by the client's polling, which would deliver it too, only later.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const { startNode, waitFor } = require('./node');
const { withClients } = require('./client');

const G = 'DEFAULT_GROUP';

let node;

// `cairn run` starts its pushers (pusher.count, default 1) before it reports ready; pusher-0 writes
// its admin address here.
const adminFile = () => path.join(node.dataDir, 'run', 'pusher-0.admin');

async function metrics() {
  const address = fs.readFileSync(adminFile(), 'utf8').trim();
  const res = await fetch(`http://${address}/metrics`);
  assert.equal(res.status, 200);
  const values = {};
  for (const line of (await res.text()).split('\n')) {
    const m = /^cairn_pusher_([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m) values[m[1] + (m[2] || '')] = Number(m[3]);
  }
  return values;
}
const metric = async name => (await metrics())[name] || 0;

before(async () => {
  node = await startNode({ extraSets: ['pusher.admin_listen=127.0.0.1:0', 'push.merge_window_ms=20'] });
  assert.ok(fs.existsSync(adminFile()), `\`cairn run\` started no pusher-0 (no ${adminFile()})`);
  // Subscriptions and changes reach the pusher only once it is connected to both publishers.
  await waitFor(async () => {
    const m = await metrics();
    return m.ready === 1 && m['upstream_connected{source="gateway"}'] === 1 &&
      m['upstream_connected{source="registry"}'] === 1;
  }, 20000, { what: 'the pusher to be ready and connected' });
});

after(async () => {
  if (node) await node.stop();
});

const key = h => `${h.ip}:${h.port}`;
const keys = hosts => hosts.map(key).sort();

test('subscribe() sees a new instance, then its removal, through pushes', () => withClients(node, async open => {
  const client = await open();
  const svc = 'compat.push';
  // One instance stays throughout: the client ignores an empty host list (§16.2), pushed or not.
  const keep = { ip: '127.0.90.1', port: 7000 };
  const added = { ip: '127.0.90.2', port: 7000 };
  await client.registerInstance(svc, keep);

  const seen = [];
  client.subscribe(svc, hosts => seen.push(keys(hosts)));
  const latestIs = want => () => seen.length > 0 &&
    JSON.stringify(seen[seen.length - 1]) === JSON.stringify(keys(want));
  await waitFor(latestIs([keep]), 10000, { what: 'the listener to get the first instance' });
  // The subscribing list call carried the client's push port: the pusher now holds it.
  await waitFor(async () => await metric('subscribers') >= 1, 10000,
    { what: 'the pusher to hold the subscription' });

  for (const [change, want] of [
    [() => client.registerInstance(svc, added), [keep, added]],
    [() => client.deregisterInstance(svc, added), [keep]],
  ]) {
    const acked = await metric('pushes_acked_total');
    await change();
    await waitFor(latestIs(want), 10000, { what: `the listener to see ${JSON.stringify(keys(want))}` });
    // The client's push receiver acknowledged a push: the change arrived by UDP.
    await waitFor(async () => await metric('pushes_acked_total') > acked, 10000,
      { what: 'the pusher to count the client\'s ack' });
  }
  const m = await metrics();
  assert.equal(m.pushes_failed_total, 0);
  assert.equal(m.garbage_datagrams_total, 0, 'the client\'s acks parse');
  client.unSubscribe(svc);
}));

test('getAllInstances() with subscribe is answered cacheMillis 10000 (a push subscriber)', () =>
  withClients(node, async open => {
    const client = await open();
    const svc = 'compat.push.cache';
    await client.registerInstance(svc, { ip: '127.0.91.1', port: 7000 });
    await client.getAllInstances(svc);
    const list = client.httpLog.filter(e => e.method === 'GET' &&
      new URL(e.url).pathname === '/nacos/v1/ns/instance/list');
    const subscribing = list.find(e => Number(new URL(e.url).searchParams.get('udpPort')) > 0);
    assert.ok(subscribing, 'the client never listed with its push port');
    assert.equal(JSON.parse(subscribing.body).cacheMillis, 10000);
    // A lookup without subscription (udpPort 0) is a plain poll.
    await client.getAllInstances(svc, G, '', false);
    const plain = client.httpLog.filter(e => e.method === 'GET' &&
      new URL(e.url).pathname === '/nacos/v1/ns/instance/list' &&
      new URL(e.url).searchParams.get('udpPort') === '0').pop();
    assert.ok(plain, 'no udpPort=0 lookup recorded');
    assert.equal(JSON.parse(plain.body).cacheMillis, 3000);
  }));
