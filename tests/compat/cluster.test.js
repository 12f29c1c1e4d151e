'use strict';
// The local three-node cluster of `make cluster` (scripts/dev-cluster.sh: nodes on 127.0.0.1,
// 127.0.0.2 and 127.0.0.3, the same ports on each, one generated secret) used by unmodified clients
// that list all three addresses: the npm `nacos` v1 client and the Nacos 2.x gRPC client
// (nacos-sdk-rust-binding-node). Whichever member a client picks, it registers, lists, is pushed
// and sees what clients on other members registered; both generations see each other; Ctrl-C
// (SIGINT) stops all three nodes cleanly.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const { waitFor } = require('./node');
const { openClient } = require('./client');
const { rustClient, killAll } = require('./rust');

const HOSTS = ['127.0.0.1', '127.0.0.2', '127.0.0.3'];
const SANITIZER_RE = /ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:|SUMMARY: \w+Sanitizer/;
const FORM_MS = 60000; // formation under the sanitizers on a loaded machine
const STOP_MS = 60000;

let cluster; // {port, dir, child, servers, exited}

// A port P free on every member address with the given offsets from it, since dev-cluster.sh
// gives the three nodes the same ports. Below 32768, where the kernel picks no ephemeral ports.
async function freePorts(lo, hi, offsets) {
  const free = (host, port) => new Promise(resolve => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
  for (let i = 0; i < 200; i++) {
    const p = lo + Math.floor(Math.random() * (hi - lo));
    let ok = true;
    for (const host of HOSTS)
      for (const d of offsets) ok = ok && await free(host, p + d);
    if (ok) return p;
  }
  throw new Error('no free ports on 127.0.0.1-3');
}

async function serversOf(host) {
  const res = await fetch(`http://${host}:${cluster.port}/nacos/v1/ns/operator/servers`);
  if (!res.ok) return null;
  return (await res.json()).servers;
}

function logs() {
  return HOSTS.map((_, i) => {
    const file = path.join(cluster.dir, `node${i + 1}.log`);
    const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '(no log)';
    return `--- node${i + 1}.log (last lines)\n${text.split('\n').slice(-30).join('\n')}`;
  }).join('\n');
}

before(async () => {
  const t0 = Date.now();
  // HTTP P, gRPC P + 1000, peers P + 1001, raft P - 1000; the role admin ports A .. A + 4, A + 10
  const port = await freePorts(21000, 31000, [0, 1000, 1001, -1000]);
  const admin = await freePorts(11000, 19900, [0, 1, 2, 3, 4, 10]);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-compat-cluster-'));
  const buildDir = path.dirname(process.env.CAIRN_BIN_DIR); // <build dir>/bin
  const script = path.join(__dirname, '..', '..', 'scripts', 'dev-cluster.sh');
  // its own process group: a stop that times out kills the nodes with the script
  const child = spawn('bash', [script, buildDir, String(port), dir, String(admin)],
    { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  child.stdout.on('data', d => { out += d; });
  child.stderr.on('data', d => { out += d; });
  const exited = new Promise(resolve => child.once('exit', (code, signal) => resolve({ code, signal })));
  cluster = { port, dir, child, exited, output: () => out };
  // Formed: every member lists all three UP, and they agree on a raft leader (a node that
  // exits ends the script, and the wait at once).
  let gone = false;
  exited.then(() => { gone = true; });
  try {
    const formed = await waitFor(async () => {
      if (gone) return 'exited';
      const leaders = new Set();
      for (const host of HOSTS) {
        const servers = await serversOf(host);
        if (!servers || servers.length !== 3 || servers.some(s => s.state !== 'UP')) return false;
        const leader = servers[0].extendInfo.raftLeader;
        if (!leader || leader === 'none') return false;
        leaders.add(leader);
      }
      return leaders.size === 1;
    }, FORM_MS, { intervalMs: 200, what: 'three UP members agreeing on a raft leader' });
    if (formed === 'exited') throw new Error('dev-cluster.sh exited before the cluster formed');
    console.log(`formed in ${Date.now() - t0} ms`);
  } catch (err) {
    err.message += `\ndev-cluster.sh output:\n${out}\n${logs()}`;
    throw err;
  }
});

after(async () => {
  const t1 = Date.now();
  killAll();
  if (!cluster) return;
  cluster.child.kill('SIGINT'); // what Ctrl-C sends
  let timer;
  const r = await Promise.race([cluster.exited,
    new Promise(resolve => { timer = setTimeout(() => resolve(null), STOP_MS); })]);
  clearTimeout(timer);
  const text = logs();
  if (r === null) process.kill(-cluster.child.pid, 'SIGKILL'); // the script and every node
  else fs.rmSync(cluster.dir, { recursive: true, force: true });
  assert.notEqual(r, null, `dev-cluster.sh did not stop within ${STOP_MS} ms of SIGINT\n${text}`);
  console.log(`stopped in ${Date.now() - t1} ms`);
  assert.match(cluster.output(), /dev-cluster: stopped/);
  assert.doesNotMatch(text, SANITIZER_RE, 'a sanitizer report in a node log');
});

const everyAddress = () => HOSTS.map(h => `${h}:${cluster.port}`).join(',');
const ips = hosts => hosts.map(h => `${h.ip}:${h.port}`).sort();

test('v1 clients with all three addresses register, list and are pushed across members', async () => {
  const a = await openClient(everyAddress());
  const b = await openClient(everyAddress());
  try {
    // Ephemeral: whichever member each client picked, the write reaches the service's owner
    // and Distro shows it on every member.
    await a.registerInstance('cluster.v1', { ip: '127.0.50.1', port: 8080 });
    await waitFor(async () => ips(await b.getAllInstances('cluster.v1', 'DEFAULT_GROUP', '', false))
      .includes('127.0.50.1:8080'), 10000, { what: 'the instance listed through client b' });
    // b subscribes (its cache is filled by pushes from then on); a registers more.
    assert.deepEqual(ips(await b.getAllInstances('cluster.v1')), ['127.0.50.1:8080']);
    await a.registerInstance('cluster.v1', { ip: '127.0.50.2', port: 8080 });
    // Persistent: through raft, whichever member took it.
    await a.registerInstance('cluster.v1', { ip: '127.0.50.3', port: 8080, ephemeral: false });
    await waitFor(async () => ips(await b.getAllInstances('cluster.v1')).length === 3, 10000,
      { what: "b's subscribed list to hold all three" });
    // Every member lists all three itself.
    for (const host of HOSTS) {
      await waitFor(async () => {
        const res = await fetch(`http://${host}:${cluster.port}/nacos/v1/ns/instance/list?serviceName=cluster.v1`);
        return res.ok && (await res.json()).hosts.length === 3;
      }, 10000, { what: `${host} to list the three instances` });
    }
    await a.deregisterInstance('cluster.v1', { ip: '127.0.50.2', port: 8080 });
    await waitFor(async () => !ips(await b.getAllInstances('cluster.v1')).includes('127.0.50.2:8080'),
      10000, { what: "the deregistration in b's subscribed list" });
  } finally {
    await a.close();
    await b.close();
  }
});

test('gRPC and v1 clients with all three addresses see each other', async () => {
  const rust = await rustClient(everyAddress());
  const v1 = await openClient(everyAddress());
  try {
    await rust.call('register', { service: 'cluster.both', group: 'DEFAULT_GROUP',
      instance: { ip: '127.0.51.1', port: 8080 } });
    await v1.registerInstance('cluster.both', { ip: '127.0.51.2', port: 8080 });
    await waitFor(async () => ips(await rust.call('all',
      { service: 'cluster.both', group: 'DEFAULT_GROUP' })).length === 2, 10000,
    { what: 'the gRPC client to list both' });
    await waitFor(async () => ips(await v1.getAllInstances('cluster.both', 'DEFAULT_GROUP', '', false))
      .length === 2, 10000, { what: 'the v1 client to list both' });
    // The gRPC instance belongs to its connection: it goes on every member when the process dies.
    await rust.kill();
    for (const host of HOSTS) {
      await waitFor(async () => {
        const res = await fetch(`http://${host}:${cluster.port}/nacos/v1/ns/instance/list?serviceName=cluster.both`);
        return res.ok && ips((await res.json()).hosts).join() === '127.0.51.2:8080';
      }, 15000, { what: `${host} to drop the killed gRPC client's instance` });
    }
  } finally {
    await v1.close();
  }
});
