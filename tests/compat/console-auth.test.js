'use strict';
// The console of a node with auth.enabled: the page asks for a user, a wrong password is refused,
// and after a login the services view shows what the node holds (every call carrying the token).

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');

const { startNode, waitFor, authSettings } = require('./node');
const { launch, open, evaluate } = require('./browser');

let node;
let browser;
let auth;
before(async () => {
  auth = authSettings([['ops', 'ops-pw', 'admin']]);
  node = await startNode({ extraSets: auth.sets });
  browser = await launch({ width: 1280, height: 520 });
});
after(async () => {
  try {
    if (browser) await browser.close();
  } finally {
    if (node) await node.stop();
    if (auth) auth.remove();
  }
});

function register(serviceName, ip, port) {
  const qs = new URLSearchParams({ serviceName, ip, port, username: 'ops', password: 'ops-pw' });
  return new Promise((resolve, reject) => {
    const req = http.request(`http://${node.address}/nacos/v1/ns/instance?${qs}`, { method: 'POST' }, res => {
      let body = '';
      res.on('data', d => { body += d; });
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end();
  });
}

const visible = id => evaluate(browser, `!document.getElementById('${id}').hidden`);

async function submitLogin(user, password) {
  await evaluate(browser, `(() => {
    document.getElementById('login-user').value = ${JSON.stringify(user)};
    document.getElementById('login-password').value = ${JSON.stringify(password)};
    document.querySelector('#login-form button').click();
  })()`);
}

test('the console asks for a user and shows the services after a login', async () => {
  assert.equal(await register('console.secured', '127.0.0.1', 8081), 'ok');
  await open(browser, `http://${node.address}/nacos/`);
  await waitFor(() => visible('view-login'), 10000, { what: 'the login form' });

  await submitLogin('ops', 'wrong');
  const refusal = await waitFor(async () => (await visible('login-error')) &&
    evaluate(browser, `document.getElementById('login-error').textContent`), 10000,
  { what: 'the refusal' });
  assert.equal(refusal, 'Wrong user or password');

  await submitLogin('ops', 'ops-pw');
  await waitFor(() => evaluate(browser,
    `!!document.querySelector('tr[data-service="DEFAULT_GROUP@@console.secured"]')`), 15000,
  { what: 'the services view after the login' });
  assert.equal(await visible('view-login'), false);
  assert.equal(await visible('logout'), true);
  // The page's own failed loads before the login (403s) are expected; nothing else.
  const others = browser.errors.filter(e => !/status of 403/.test(e));
  assert.deepEqual(others, [], `the page reported errors:\n${others.join('\n')}`);
});
