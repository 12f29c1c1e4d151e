'use strict';
// The operator console in a real browser: headless Debian Chromium loads /nacos/ from a node this
// test starts, shows the services the test registered with their counts, and an instance action
// taken in the page (confirm dialogs accepted) changes the registry, as the v1 API then shows.
// CAIRN_CONSOLE_SCREENSHOT=<file.png> saves a screenshot of the services view (docs/console.png).

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');

const { startNode, waitFor } = require('./node');
const { launch, open, evaluate } = require('./browser');

const NS_API = '/nacos/v1/ns';

let node;
let browser;
before(async () => {
  node = await startNode();
  browser = await launch({ width: 1280, height: 520 });
});
after(async () => {
  try {
    if (browser) await browser.close();
  } finally {
    if (node) await node.stop();
  }
});

// One request to the node; resolves to {status, body}.
function request(method, path, params) {
  const qs = new URLSearchParams(params).toString();
  return new Promise((resolve, reject) => {
    const req = http.request(`http://${node.address}${path}?${qs}`, { method, timeout: 10000 }, res => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', d => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out`)));
    req.on('error', reject);
    req.end();
  });
}

async function register(serviceName, ip, port, extra = {}) {
  const r = await request('POST', `${NS_API}/instance`, { serviceName, ip, port, ...extra });
  assert.equal(r.body, 'ok', `register ${serviceName} ${ip}:${port}: ${r.status} ${r.body}`);
}

async function catalogInstances(serviceName) {
  const r = await request('GET', `${NS_API}/catalog/instances`, { serviceName, pageSize: 100 });
  assert.equal(r.status, 200, r.body);
  return JSON.parse(r.body).list;
}

// The text of each cell of the row whose data attribute matches, or null while it is not shown.
function rowCells(attr, value) {
  return evaluate(browser, `(() => {
    const row = document.querySelector('tr[${attr}="${value}"]');
    return row ? [...row.cells].map(c => c.textContent.trim()) : null;
  })()`);
}

function noErrors() {
  assert.deepEqual(browser.errors, [], `the page reported errors:\n${browser.errors.join('\n')}`);
}

const SERVICE = 'console.orders';

test('the console lists the registered services with their counts', async () => {
  await register(SERVICE, '127.0.0.1', 8081, { metadata: JSON.stringify({ version: '2.1.0' }) });
  await register(SERVICE, '127.0.0.2', 8081, { weight: 2 });
  await register(SERVICE, '127.0.0.3', 8081, { healthy: 'false' });
  await register('console.payments', '127.0.0.1', 9090);
  await register('console.inventory', '127.0.0.1', 7070);
  await register('console.inventory', '127.0.0.2', 7070);
  await register('ledger', '127.0.0.1', 6060, { groupName: 'billing', ephemeral: 'false' });

  await open(browser, `http://${node.address}/nacos/`);
  const cells = await waitFor(() => rowCells('data-service', `DEFAULT_GROUP@@${SERVICE}`), 10000,
    { what: `the row of ${SERVICE}` });
  // Service, Group, Clusters, Instances, Healthy, Protection
  assert.deepEqual(cells.slice(0, 5), [SERVICE, 'DEFAULT_GROUP', '1', '3', '2']);
  assert.deepEqual((await rowCells('data-service', 'billing@@ledger')).slice(0, 5),
    ['ledger', 'billing', '1', '1', '1']);
  const title = await evaluate(browser, 'document.title');
  assert.equal(title, 'Cairn console');

  if (process.env.CAIRN_CONSOLE_SCREENSHOT) {
    const { data } = await browser.client.Page.captureScreenshot({ format: 'png' });
    fs.writeFileSync(process.env.CAIRN_CONSOLE_SCREENSHOT, Buffer.from(data, 'base64'));
  }
  noErrors();
});

test('the search is answered by the server', async () => {
  await evaluate(browser, `(() => {
    document.getElementById('filter-name').value = 'inv';
    document.querySelector('#service-search button').click();
  })()`);
  await waitFor(async () => {
    const rows = await evaluate(browser,
      `[...document.querySelectorAll('#services-body tr[data-service]')].map(r => r.dataset.service)`);
    return rows.length === 1 && rows[0] === 'DEFAULT_GROUP@@console.inventory';
  }, 10000, { what: 'the filtered list' });
  noErrors();
});

test('disabling an instance in the page disables it in the registry', async () => {
  await open(browser, `http://${node.address}/nacos/#/service?group=DEFAULT_GROUP&name=${SERVICE}`);
  await waitFor(() => rowCells('data-instance', '127.0.0.1:8081'), 10000, { what: 'the instance row' });
  const dialogsBefore = browser.dialogs.length;
  await evaluate(browser,
    `document.querySelector('tr[data-instance="127.0.0.1:8081"] [data-action="disable"]').click()`);

  const inst = await waitFor(async () => {
    const list = await catalogInstances(SERVICE);
    const found = list.find(i => i.ip === '127.0.0.1');
    return found && !found.enabled ? found : null;
  }, 10000, { what: 'the instance to be disabled' });
  assert.equal(browser.dialogs[dialogsBefore].type, 'confirm');
  assert.match(browser.dialogs[dialogsBefore].message, /^Disable 127\.0\.0\.1:8081/);
  // Everything else of the instance is kept (PUT from a browser is a full register).
  assert.deepEqual(inst.metadata, { version: '2.1.0' });
  assert.equal(inst.weight, 1);
  const list = JSON.parse((await request('GET', `${NS_API}/instance/list`, { serviceName: SERVICE })).body);
  assert.deepEqual(list.hosts.map(h => h.ip).sort(), ['127.0.0.2', '127.0.0.3'],
    'a disabled instance is not handed to clients');
  // The page shows it too, at its next refresh.
  await waitFor(async () => (await rowCells('data-instance', '127.0.0.1:8081'))[4] === 'disabled',
    10000, { what: 'the page to show the instance disabled' });
  noErrors();
});

test('changing a weight goes through a prompt and a confirmation', async () => {
  browser.answerPrompts(['5']);
  const dialogsBefore = browser.dialogs.length;
  await evaluate(browser,
    `document.querySelector('tr[data-instance="127.0.0.2:8081"] [data-action="weight"]').click()`);
  await waitFor(async () => {
    const found = (await catalogInstances(SERVICE)).find(i => i.ip === '127.0.0.2');
    return found && found.weight === 5;
  }, 10000, { what: 'the weight to become 5' });
  assert.deepEqual(browser.dialogs.slice(dialogsBefore).map(d => d.type), ['prompt', 'confirm']);
  noErrors();
});
