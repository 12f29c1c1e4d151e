'use strict';
// A headless Debian Chromium driven over the DevTools protocol (npm chrome-remote-interface), for
// the console test. Chromium listens on a free port it picks itself (--remote-debugging-port=0;
// the port is read from DevToolsActivePort in its throw-away profile), talks only to loopback,
// and is always killed and its profile removed by close().

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const CDP = require('chrome-remote-interface');

const { waitFor } = require('./node');

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];
const STOP_TIMEOUT_MS = 5000;

// Browsers still running when this process exits (a failed assertion, a crash): kill their whole
// process group, so no renderer outlives the test.
const live = new Set();
process.on('exit', () => {
  for (const pid of live) {
    try { process.kill(-pid, 'SIGKILL'); } catch (_) { /* already gone */ }
  }
});

function chromiumPath() {
  if (process.env.CHROMIUM) return process.env.CHROMIUM;
  const found = CANDIDATES.find(p => fs.existsSync(p));
  if (!found) {
    throw new Error(`chromium not found (${CANDIDATES.join(', ')}); ` +
      'scripts/install-deps.sh test installs Debian\'s chromium package');
  }
  return found;
}

// Flags that keep Chromium from reaching anything but the pages it is sent to: no updates, sync,
// metrics, safe-browsing, DNS-over-HTTPS or other background traffic; host names other than
// loopback do not resolve.
const QUIET_FLAGS = [
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-default-apps', '--disable-extensions', '--disable-client-side-phishing-detection',
  '--no-first-run', '--no-default-browser-check', '--metrics-recording-only', '--mute-audio',
  // DnsOverHttps: with a public resolver in resolv.conf Chromium upgrades to that provider's DoH
  // server by address (2001:4860:4860::8888), which the resolver rules below do not catch.
  '--disable-features=Translate,MediaRouter,OptimizationHints,InterestFeedContentSuggestions,' +
    'DnsOverHttps,DnsOverHttpsUpgrade,AsyncDns',
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1',
  // Anything not on loopback goes to a proxy that is not there, so it fails on this machine.
  '--proxy-server=127.0.0.1:9', '--proxy-bypass-list=127.0.0.1;localhost',
  '--disable-gpu', '--hide-scrollbars',
];

/**
 * Starts Chromium and connects to its page. Resolves to
 *   { client, errors, dialogs, answerPrompts(texts), close() }
 * errors collects uncaught exceptions, console errors and the browser's own error log entries
 * (failed loads, CSP violations); dialogs every alert/confirm/prompt, each accepted (a prompt with
 * the next text given to answerPrompts).
 */
async function launch({ width = 1280, height = 720 } = {}) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-chromium-'));
  const args = ['--headless=new', '--no-sandbox', '--remote-debugging-port=0',
    `--user-data-dir=${profile}`, `--window-size=${width},${height}`, ...QUIET_FLAGS, 'about:blank'];
  // Its own process group: close() stops the browser and every helper process it started.
  const child = spawn(chromiumPath(), args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  live.add(child.pid);
  let stderr = '';
  child.stderr.on('data', d => { stderr = (stderr + d).slice(-4000); });
  const exited = new Promise(resolve => child.once('close', resolve));
  const signal = sig => {
    try { process.kill(-child.pid, sig); } catch (_) { /* already gone */ }
  };

  let client = null;
  const close = async () => {
    if (client) await client.close().catch(() => {});
    signal('SIGTERM');
    let timer;
    const late = new Promise(resolve => { timer = setTimeout(() => resolve('late'), STOP_TIMEOUT_MS); });
    if (await Promise.race([exited, late]) === 'late') signal('SIGKILL');
    clearTimeout(timer);
    await exited;
    signal('SIGKILL'); // helpers that outlived the browser
    live.delete(child.pid);
    fs.rmSync(profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  };
  try {
    const portFile = path.join(profile, 'DevToolsActivePort');
    const port = await waitFor(() => {
      if (child.exitCode !== null) throw new Error(`chromium exited (${child.exitCode}): ${stderr}`);
      const text = fs.existsSync(portFile) ? fs.readFileSync(portFile, 'utf8') : '';
      return Number(text.split('\n')[0]) || null;
    }, 30000, { what: 'DevToolsActivePort' });
    client = await CDP({ host: '127.0.0.1', port });
  } catch (err) {
    await close();
    throw err;
  }

  const errors = [];
  const dialogs = [];
  const prompts = [];
  const { Runtime, Page, Log, Emulation } = client;
  Runtime.exceptionThrown(({ exceptionDetails: d }) =>
    errors.push(`exception: ${d.exception ? d.exception.description : d.text}`));
  Runtime.consoleAPICalled(({ type, args: a }) => {
    if (type === 'error') errors.push(`console.error: ${a.map(x => x.value ?? x.description).join(' ')}`);
  });
  Log.entryAdded(({ entry }) => {
    if (entry.level === 'error') errors.push(`${entry.source}: ${entry.text} ${entry.url || ''}`);
  });
  Page.javascriptDialogOpening(({ type, message }) => {
    dialogs.push({ type, message });
    const promptText = type === 'prompt' ? String(prompts.shift() ?? '') : undefined;
    Page.handleJavaScriptDialog({ accept: true, promptText }).catch(() => {});
  });
  await Promise.all([Runtime.enable(), Page.enable(), Log.enable()]);
  await Emulation.setDeviceMetricsOverride({ width, height, deviceScaleFactor: 1, mobile: false });

  return { client, errors, dialogs, answerPrompts: texts => prompts.push(...texts), close };
}

/** Loads url in the page and waits for its load event (none comes for a change of the hash). */
async function open(browser, url) {
  const { Page } = browser.client;
  let loaded = false;
  const unsubscribe = Page.loadEventFired(() => { loaded = true; });
  try {
    const { loaderId, errorText } = await Page.navigate({ url });
    if (errorText) throw new Error(`${url}: ${errorText}`);
    if (loaderId) await waitFor(() => loaded, 30000, { what: `the load of ${url}` });
  } finally {
    unsubscribe();
  }
}

/** The value of a JavaScript expression in the page (awaited when it is a promise). */
async function evaluate(browser, expression) {
  const { result, exceptionDetails } = await browser.client.Runtime.evaluate({
    expression, awaitPromise: true, returnByValue: true,
  });
  if (exceptionDetails) throw new Error(`${expression}: ${exceptionDetails.text}`);
  return result.value;
}

module.exports = { launch, open, evaluate };
