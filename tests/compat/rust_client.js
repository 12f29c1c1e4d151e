'use strict';
// One Nacos 2.x gRPC client process for grpc.test.js: nacos-sdk-rust-binding-node (a napi-rs
// binding of nacos-sdk-rust 0.8.0, a stock tonic gRPC client). The binding has no close(), so each
// client is its own process and dies with it (the test kills it to end the connection).
// Protocol: one JSON command per stdin line, {id, op, ...}; one JSON answer per stdout line,
// {id, ok, result | error}; pushes to a subscribe() listener come as {event: 'push', service,
// hosts}. The first line printed is {ready: true} once the constructor (which blocks until the
// client is connected) returned.
//   node rust_client.js <host:httpPort> [username password]
// (the client adds 1000 for the gRPC port; with a user it logs in over HTTP and sends the token
// with every request)

const readline = require('node:readline');
const { NacosNamingClient } = require('nacos-sdk-rust-binding-node');

const say = obj => process.stdout.write(JSON.stringify(obj) + '\n');

let client;
try {
  client = new NacosNamingClient({
    serverAddr: process.argv[2],
    namespace: '',
    appName: 'cairn-compat',
    namingPushEmptyProtection: false, // see the last instance go
    ...(process.argv[3] ? { username: process.argv[3], password: process.argv[4] } : {}),
  });
} catch (err) {
  say({ ready: false, error: String(err && err.message || err) });
  process.exit(1);
}
say({ ready: true });

const ops = {
  register: c => client.registerInstance(c.service, c.group, c.instance),
  deregister: c => client.deregisterInstance(c.service, c.group, c.instance),
  batch: c => client.batchRegisterInstance(c.service, c.group, c.instances),
  all: c => client.getAllInstances(c.service, c.group, c.clusters || [], false),
  select: c => client.selectInstances(c.service, c.group, c.clusters || [], false, c.healthy),
  one: c => client.selectOneHealthyInstance(c.service, c.group, c.clusters || [], false),
  subscribe: c => client.subscribe(c.service, c.group, c.clusters || [], (err, hosts) => {
    say({ event: 'push', service: c.service, error: err ? String(err) : undefined, hosts });
  }),
};

readline.createInterface({ input: process.stdin }).on('line', async line => {
  let c;
  try {
    c = JSON.parse(line);
    const result = await ops[c.op](c);
    say({ id: c.id, ok: true, result: result === undefined ? null : result });
  } catch (err) {
    say({ id: c && c.id, ok: false, error: String(err && err.message || err) });
  }
});
