'use strict';
// The npm Nacos client as an application would build it, with two test-only hooks that use the
// client's own seams and change nothing on the wire except the address it reports:
// - its "own IP" (the clientIP of every list call, where a server sends UDP pushes) is pinned to
//   127.0.0.1, so pushes stay on loopback whatever interfaces this machine has;
// - its HTTP client (the `httpclient` option, urllib by default) is wrapped to record every
//   request and answer, so a failed assertion shows exactly what was sent and what came back.

const path = require('node:path');
const querystring = require('node:querystring');
const util = require('node:util');

// Resolve helpers from nacos-naming's own folder so we patch the very module instances it uses.
const namingDir = path.dirname(require.resolve('nacos-naming/package.json'));
const fromNaming = name => require(require.resolve(name, { paths: [namingDir] }));

// nacos-naming/lib/naming/proxy.js reads `require('address').ip()` once, when it is loaded: pin it
// before loading the client.
const address = fromNaming('address');
address.ip = () => '127.0.0.1';
const urllib = fromNaming('urllib');
const { NacosNamingClient } = require('nacos');

const HTTP_LOG_KEPT = 40;
const LOG_KEPT = 40;

// A console-compatible logger that prints nothing; warnings and errors are kept for diagnostics.
function quietLogger() {
  const entries = [];
  const keep = level => (...args) => {
    entries.push(`${level}: ${util.format(...args)}`);
    if (entries.length > LOG_KEPT) entries.shift();
  };
  const noop = () => {};
  return { entries, log: noop, debug: noop, info: noop, warn: keep('warn'), error: keep('error') };
}

// urllib, recording each exchange as {method, url (with the query string the client sends),
// status, body} or {…, error}.
function recordingHttpClient(log) {
  const push = entry => {
    log.push(entry);
    if (log.length > HTTP_LOG_KEPT) log.shift();
  };
  return {
    async request(url, opts = {}) {
      const qs = opts.dataAsQueryString && opts.data ? '?' + querystring.stringify(opts.data) : '';
      const entry = { method: opts.method || 'GET', url: url + qs };
      try {
        const res = await urllib.request(url, opts);
        entry.status = res.status;
        entry.body = typeof res.data === 'string' ? res.data : util.inspect(res.data);
        push(entry);
        return res;
      } catch (err) {
        entry.error = err.message;
        push(entry);
        throw err;
      }
    },
  };
}

function formatExchange(e) {
  if (e.error !== undefined) return `${e.method} ${e.url}\n    -> error ${e.error}`;
  const body = e.body.length > 600 ? e.body.slice(0, 600) + '…' : e.body;
  return `${e.method} ${e.url}\n    -> ${e.status} ${body}`;
}

/**
 * A ready NacosNamingClient for the node at `address` ("127.0.0.1:PORT"), with `username` and
 * `password` when given (the client then sends both on every call). The returned client has
 * `httpLog` (recent exchanges) and `logEntries` (its warnings and errors) for failure messages.
 */
async function openClient(nodeAddress, { namespace = 'public', username, password } = {}) {
  const httpLog = [];
  const logger = quietLogger();
  const client = new NacosNamingClient({
    logger,
    serverList: nodeAddress,
    namespace,
    username,
    password,
    httpclient: recordingHttpClient(httpLog),
  });
  client.httpLog = httpLog;
  client.logEntries = logger.entries;
  await client.ready();
  return client;
}

/**
 * Runs `fn(open)` where `open(options)` opens clients against `node`; every client is closed at
 * the end, and a failure gets the clients' HTTP exchanges and warnings appended to its message.
 */
async function withClients(node, fn) {
  const clients = [];
  const open = async (opts) => {
    const c = await openClient(node.address, opts);
    clients.push(c);
    return c;
  };
  try {
    await fn(open);
  } catch (err) {
    const parts = clients.map((c, i) =>
      `client #${i} (namespace ${c.options.namespace}) HTTP exchanges, oldest first:\n  ` +
      (c.httpLog.map(formatExchange).join('\n  ') || '(none)') +
      (c.logEntries.length ? `\nclient #${i} warnings/errors:\n  ${c.logEntries.join('\n  ')}` : ''));
    if (parts.length && err && typeof err.message === 'string') {
      // The runner prints err.stack, which was captured with the original message.
      const extra = '\n\n' + parts.join('\n\n');
      err.message += extra;
      if (typeof err.stack === 'string') err.stack += extra;
    }
    throw err;
  } finally {
    await Promise.all(clients.map(c => c.close()));
  }
}

/** The most recent recorded exchange whose method is `method` and whose path is `apiPath`. */
function lastExchange(client, method, apiPath) {
  for (let i = client.httpLog.length - 1; i >= 0; i--) {
    const e = client.httpLog[i];
    if (e.method === method && new URL(e.url).pathname === apiPath) return e;
  }
  return undefined;
}

/** The raw body of the list call the client makes (GET /nacos/v1/ns/instance/list, udpPort=0). */
async function rawList(client, serviceName, groupName = 'DEFAULT_GROUP', clusters = '') {
  const text = await client._serverProxy.queryList(`${groupName}@@${serviceName}`, clusters, 0, false);
  return JSON.parse(text);
}

module.exports = { openClient, withClients, rawList, lastExchange };
