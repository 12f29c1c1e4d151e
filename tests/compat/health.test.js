'use strict';
// Heartbeats of the npm Nacos client against the healthcheck role (§2.7, §13, §16.2 call 3): an
// instance stays healthy while its client beats, and is removed once the client stops beating.
//
// Timings. The client's beat loop starts when the client is created and sleeps 10 s before its
// first beat (beat_reactor.js); only the beat reply tells it the interval to use next. The instance
// asks for 1 s beats (metadata preserved.heart.beat.interval, echoed as clientBeatInterval), but
// nothing can shorten that first 10 s gap, so the beat timeout must cover it: 12 s, i.e. 2 s more
// than the gap; the removal comes 1 s later, at 13 s. The sweep runs every 200 ms. With a timeout
// below the first gap the instance would flip unhealthy before its client ever beat.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');

const { startNode, waitFor } = require('./node');
const { openClient } = require('./client');

const BEAT_TIMEOUT_MS = 12000;
const DELETE_TIMEOUT_MS = 13000;
const HEALTH_SETS = [
  'health.check_interval_ms=200',
  `health.beat_timeout_ms=${BEAT_TIMEOUT_MS}`,
  `health.delete_timeout_ms=${DELETE_TIMEOUT_MS}`,
  'healthcheck.admin_listen=127.0.0.1:0',
  'health.probe_networks=127.0.0.0/8',
];

let node;

function httpGet(url, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: timeoutMs }, res => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', chunk => { body += chunk; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
  });
}

before(async () => {
  node = await startNode({ extraSets: HEALTH_SETS });
  // `cairn run` writes each role's admin file before it reports ready.
  assert.ok(fs.existsSync(path.join(node.dataDir, 'run', 'healthcheck.admin')),
    'cairn run did not start cairn-healthcheck');
});

after(async () => {
  if (node) await node.stop();
});

const SVC = 'compat.health';
const GROUPED = `DEFAULT_GROUP@@${SVC}`;

// The stored health of one instance: GET /instance (§2.6) reports it as is, where /instance/list
// would report a lone unhealthy instance as healthy (protect threshold 0, §2.5 step 8).
async function instanceHealth(inst) {
  const q = new URLSearchParams({ serviceName: GROUPED, ip: inst.ip, port: String(inst.port) });
  const r = await httpGet(`http://${node.address}/nacos/v1/ns/instance?${q}`);
  if (r.status === 404) return 'absent';
  assert.equal(r.status, 200, `GET /instance answered ${r.status} ${r.body}`);
  return JSON.parse(r.body).healthy ? 'healthy' : 'unhealthy';
}

async function listedHosts() {
  const q = new URLSearchParams({ serviceName: GROUPED, healthyOnly: 'false' });
  const r = await httpGet(`http://${node.address}/nacos/v1/ns/instance/list?${q}`);
  assert.equal(r.status, 200, `GET /instance/list answered ${r.status} ${r.body}`);
  return JSON.parse(r.body).hosts.map(h => `${h.ip}:${h.port}`);
}

const beatsOf = client => client.httpLog.filter(e => e.method === 'PUT' &&
  new URL(e.url).pathname === '/nacos/v1/ns/instance/beat');

test('a beating instance stays healthy; it is removed once its client stops', { timeout: 120000 }, async () => {
  const inst = { ip: '127.0.90.1', port: 7000, metadata: { 'preserved.heart.beat.interval': '1000' } };
  const client = await openClient(node.address);
  let closed = false;
  try {
    await client.registerInstance(SVC, inst);
    const registeredAt = Date.now();

    // Healthy at every look until well past the beat timeout: only the client's beats can keep it
    // so (the first one ~10 s in, then one a second).
    const until = registeredAt + BEAT_TIMEOUT_MS + 3000;
    let looks = 0;
    while (Date.now() < until) {
      const h = await instanceHealth(inst);
      assert.equal(h, 'healthy', `the instance is ${h} ${Date.now() - registeredAt} ms after registering`);
      looks++;
      await new Promise(resolve => setTimeout(resolve, 250)); // the look interval
    }
    assert.ok(looks > 20);
    const beats = beatsOf(client);
    assert.ok(beats.length >= 3, `${beats.length} beats sent`);
    for (const b of beats) {
      assert.equal(b.status, 200, `beat answered ${b.status} ${b.body || b.error}`);
      const body = JSON.parse(b.body);
      assert.equal(body.code, 10200, `code in ${b.body}`);
      // The instance's interval reaches the client, which then beats every second.
      assert.equal(body.clientBeatInterval, 1000, `clientBeatInterval in ${b.body}`);
    }

    // The client goes away without deregistering: its beats stop and the server removes it.
    await client.close();
    closed = true;
    const stoppedAt = Date.now();
    await waitFor(async () => (await listedHosts()).length === 0, DELETE_TIMEOUT_MS + 15000,
      { what: 'the instance to be removed after its beats stopped' });
    assert.equal(await instanceHealth(inst), 'absent');
    // Not before its delete timeout since the last beat (at most a beat interval before the stop).
    assert.ok(Date.now() - stoppedAt >= DELETE_TIMEOUT_MS - 1000 - 200,
      `removed ${Date.now() - stoppedAt} ms after the client stopped`);
  } finally {
    if (!closed) await client.close();
  }
});
