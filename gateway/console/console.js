'use strict';
// Cairn console: reads the Nacos console APIs the gateway serves (catalog/services,
// catalog/instances, console/namespaces) and Cairn's console/cairn/roles, and changes instances
// through the v1 instance API the clients use. Plain DOM, no dependencies; every value from the
// server goes into the page as text, never as markup.

const REFRESH_MS = 5000;
const SERVICES_PAGE_SIZE = 20;
const INSTANCES_PAGE_SIZE = 50;
const NS_API = '/nacos/v1/ns';

const state = {
  namespace: sessionStorage.getItem('cairn.namespace') || '',
  services: { page: 1, name: '', group: '' },
  service: null, // { name, group, cluster, page }
  actionError: null, // the last failed action's error, shown until the next action
  busy: false,
  // The access token of the login endpoint (auth.enabled); null before a login.
  token: sessionStorage.getItem('cairn.token'),
  needLogin: false, // the last call was refused for want of a (valid) user
};

// The gateway's refusals that a login cures (Nacos' texts); "authorization failed!" does not.
const LOGIN_REFUSALS = ['user not found!', 'unknown user!', 'token expired!', 'token invalid!'];

// ---- helpers ---------------------------------------------------------------------------------

const $ = id => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') node.className = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (k.startsWith('data-')) node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function badge(text, kind) {
  return el('span', { class: `badge ${kind || ''}` }, text);
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

async function call(method, path, params) {
  const headers = state.token ? { Authorization: `Bearer ${state.token}` } : {};
  const res = await fetch(path + query(params), { method, headers, cache: 'no-store' });
  const text = await res.text();
  if (res.status === 403 && LOGIN_REFUSALS.includes(text)) state.needLogin = true;
  if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${text}`);
  return text;
}

// ---- login (only when the node has auth.enabled) ----------------------------------------------

function setToken(token) {
  state.token = token;
  if (token === null) sessionStorage.removeItem('cairn.token');
  else sessionStorage.setItem('cairn.token', token);
  $('logout').hidden = !token;
}

async function login(e) {
  e.preventDefault();
  const body = new URLSearchParams({ username: $('login-user').value, password: $('login-password').value });
  const box = $('login-error');
  try {
    const res = await fetch('/nacos/v1/auth/login', { method: 'POST', body, cache: 'no-store' });
    const text = await res.text();
    if (!res.ok) throw new Error(res.status === 403 ? 'Wrong user or password' : `Login answered ${res.status}: ${text}`);
    setToken(JSON.parse(text).accessToken);
    state.needLogin = false;
    box.hidden = true;
    $('login-password').value = '';
    loadNamespaces().catch(showError);
    refresh();
  } catch (err) {
    box.textContent = String(err.message || err);
    box.hidden = false;
  }
}

function logout() {
  setToken(null);
  state.needLogin = true;
  refresh();
}

async function getJson(path, params) {
  return JSON.parse(await call('GET', path, params));
}

function showError(err) {
  if (state.needLogin) err = null; // the login form says what is wrong
  const box = $('error');
  box.textContent = err ? String(err.message || err) : '';
  box.hidden = !err;
}

function number(v) {
  return Number.isInteger(v) ? String(v) : String(Number(v.toFixed(4)));
}

function fillBody(tbody, rows, columns, emptyText) {
  tbody.replaceChildren(...(rows.length ? rows
    : [el('tr', {}, el('td', { class: 'empty', colSpan: columns }, emptyText))]));
}

function pager(box, page, pageSize, count, go) {
  const pages = Math.max(1, Math.ceil(count / pageSize));
  box.replaceChildren(
    el('span', {}, `${count} in all · page ${page} of ${pages}`),
    el('button', { class: 'secondary small', disabled: page <= 1, onclick: () => go(page - 1) }, 'Previous'),
    el('button', { class: 'secondary small', disabled: page >= pages, onclick: () => go(page + 1) }, 'Next'));
}

// ---- namespaces ------------------------------------------------------------------------------

async function loadNamespaces() {
  const res = await getJson('/nacos/v1/console/namespaces');
  const select = $('namespace');
  const options = res.data.map(ns => el('option', { value: ns.namespace }, ns.namespaceShowName));
  const known = res.data.some(ns => ns.namespace === state.namespace);
  if (!known && state.namespace) {
    options.push(el('option', { value: state.namespace }, state.namespace));
  }
  select.replaceChildren(...options);
  select.value = state.namespace;
  return res.data;
}

async function renderNamespaces() {
  const spaces = await loadNamespaces();
  const counts = await Promise.all(spaces.map(ns =>
    getJson(`${NS_API}/catalog/services`, { namespaceId: ns.namespace, pageNo: 1, pageSize: 1 })
      .then(r => r.count)));
  const rows = spaces.map((ns, i) => el('tr', {},
    el('td', {}, el('a', { href: '#/services', onclick: () => setNamespace(ns.namespace) },
      ns.namespaceShowName)),
    el('td', { class: 'mono' }, ns.namespace || 'public'),
    el('td', { class: 'num' }, counts[i])));
  fillBody($('namespaces-body'), rows, 3, 'No namespaces');
}

function setNamespace(ns) {
  state.namespace = ns;
  sessionStorage.setItem('cairn.namespace', ns);
  state.services.page = 1;
  $('namespace').value = ns;
}

// ---- services --------------------------------------------------------------------------------

function healthyCell(healthy, total) {
  let cls = 'count-ok';
  if (total > 0 && healthy === 0) cls = 'count-bad';
  else if (healthy < total) cls = 'count-warn';
  return el('td', { class: `num ${cls}` }, healthy);
}

function serviceRow(s) {
  const href = `#/service${query({ group: s.groupName, name: s.name })}`;
  return el('tr', { 'data-service': `${s.groupName}@@${s.name}` },
    el('td', {}, el('a', { href }, s.name)),
    el('td', {}, s.groupName),
    el('td', { class: 'num' }, s.clusterCount),
    el('td', { class: 'num' }, s.ipCount),
    healthyCell(s.healthyInstanceCount, s.ipCount),
    el('td', {}, s.triggerFlag === 'true' ? badge('threshold reached', 'warn')
      : el('span', { class: 'muted' }, '—')));
}

async function renderServices() {
  const f = state.services;
  const res = await getJson(`${NS_API}/catalog/services`, {
    namespaceId: state.namespace, pageNo: f.page, pageSize: SERVICES_PAGE_SIZE,
    serviceNameParam: f.name, groupNameParam: f.group,
  });
  const filtered = f.name || f.group;
  fillBody($('services-body'), res.serviceList.map(serviceRow), 6,
    filtered ? 'No service matches the search' : 'No services registered in this namespace');
  pager($('services-pager'), f.page, SERVICES_PAGE_SIZE, res.count, p => {
    f.page = p;
    refresh();
  });
}

// ---- one service's instances -----------------------------------------------------------------

function instanceParams(inst) {
  const s = state.service;
  return {
    namespaceId: state.namespace, serviceName: s.name, groupName: s.group,
    ip: inst.ip, port: inst.port, clusterName: inst.clusterName, ephemeral: inst.ephemeral,
  };
}

// PUT /instance from a browser has register semantics (only Java clients get a strict update),
// so every field is sent: what is not sent would be reset to its default.
async function updateInstance(inst, changes) {
  await call('PUT', `${NS_API}/instance`, {
    ...instanceParams(inst),
    weight: inst.weight, enabled: inst.enabled, app: inst.app,
    metadata: JSON.stringify(inst.metadata || {}),
    ...changes,
  });
}

async function act(fn) {
  try {
    state.actionError = null;
    await fn();
  } catch (err) {
    state.actionError = err;
  }
  await refresh();
}

function toggleEnabled(inst) {
  const verb = inst.enabled ? 'Disable' : 'Enable';
  if (!confirm(`${verb} ${inst.ip}:${inst.port} of ${state.service.name}?`)) return;
  act(() => updateInstance(inst, { enabled: !inst.enabled }));
}

function changeWeight(inst) {
  const text = prompt(`New weight of ${inst.ip}:${inst.port} (0 to 10000)`, number(inst.weight));
  if (text === null) return;
  const weight = Number(text);
  if (!text.trim() || !Number.isFinite(weight) || weight < 0 || weight > 10000) {
    state.actionError = new Error(`Weight must be a number from 0 to 10000, not "${text}"`);
    showError(state.actionError);
    return;
  }
  if (!confirm(`Set the weight of ${inst.ip}:${inst.port} to ${weight}?`)) return;
  act(() => updateInstance(inst, { weight }));
}

function deregister(inst) {
  if (!confirm(`Deregister ${inst.ip}:${inst.port} from ${state.service.name}?`)) return;
  act(() => call('DELETE', `${NS_API}/instance`, instanceParams(inst)));
}

function metadataCell(md) {
  const keys = Object.keys(md || {}).sort();
  if (!keys.length) return el('td', { class: 'muted' }, '—');
  return el('td', {}, ...keys.map(k => el('span', { class: 'meta mono' }, `${k}=${md[k]}`)));
}

function instanceRow(inst) {
  return el('tr', { 'data-instance': `${inst.ip}:${inst.port}` },
    el('td', { class: 'mono' }, `${inst.ip}:${inst.port}`),
    el('td', {}, inst.clusterName),
    el('td', { class: 'num' }, number(inst.weight)),
    el('td', {}, inst.healthy ? badge('healthy', 'ok') : badge('unhealthy', 'bad')),
    el('td', {}, inst.enabled ? badge('enabled', 'ok') : badge('disabled', 'warn')),
    el('td', {}, inst.ephemeral ? 'ephemeral' : 'persistent'),
    metadataCell(inst.metadata),
    el('td', { class: 'actions' },
      el('button', { class: 'secondary small', 'data-action': inst.enabled ? 'disable' : 'enable',
        onclick: () => toggleEnabled(inst) }, inst.enabled ? 'Disable' : 'Enable'),
      el('button', { class: 'secondary small', 'data-action': 'weight',
        onclick: () => changeWeight(inst) }, 'Weight'),
      el('button', { class: 'danger small', 'data-action': 'deregister',
        onclick: () => deregister(inst) }, 'Deregister')));
}

async function loadClusters() {
  const s = state.service;
  const detail = await getJson(`${NS_API}/service`, {
    namespaceId: state.namespace, serviceName: s.name, groupName: s.group,
  });
  const names = detail.clusters.map(c => c.name).sort();
  const select = $('cluster-filter');
  const current = [...select.options].map(o => o.value).join(',');
  if (current !== ['', ...names].join(',')) {
    select.replaceChildren(el('option', { value: '' }, 'All clusters'),
      ...names.map(n => el('option', { value: n }, n)));
  }
  select.value = names.includes(s.cluster) ? s.cluster : '';
}

async function renderService() {
  const s = state.service;
  $('service-title').textContent = `${s.group} / ${s.name}`;
  await loadClusters();
  const res = await getJson(`${NS_API}/catalog/instances`, {
    namespaceId: state.namespace, serviceName: s.name, groupName: s.group,
    clusterName: s.cluster, pageNo: s.page, pageSize: INSTANCES_PAGE_SIZE,
  });
  fillBody($('instances-body'), res.list.map(instanceRow), 8, 'No instances');
  pager($('instances-pager'), s.page, INSTANCES_PAGE_SIZE, res.count, p => {
    s.page = p;
    refresh();
  });
}

// ---- node ------------------------------------------------------------------------------------

function metricsText(metrics) {
  return Object.entries(metrics).map(([k, v]) => `${k} ${number(v)}`).join(' · ');
}

function roleRow(r) {
  const kind = r.healthy ? 'ok' : (r.state === 'down' ? 'bad' : 'warn');
  return el('tr', { 'data-role': r.name },
    el('td', {}, r.name),
    el('td', {}, badge(r.state, kind)),
    el('td', { class: 'mono' }, r.address || '—'),
    el('td', {}, r.detail),
    el('td', { class: 'muted' }, metricsText(r.metrics)));
}

async function renderNode() {
  const res = await getJson('/nacos/v1/console/cairn/roles');
  $('cluster-mode').textContent = res.cluster.mode;
  $('cluster-members').textContent = res.cluster.members.length
    ? res.cluster.members.join(', ')
    : 'No cluster members: this node runs standalone. Members will be listed here once the cluster role is in place.';
  fillBody($('roles-body'), res.roles.map(roleRow), 5, 'No roles');
}

// ---- views and refresh -----------------------------------------------------------------------

const views = {
  services: renderServices,
  service: renderService,
  namespaces: renderNamespaces,
  node: renderNode,
};

function route() {
  const hash = location.hash.replace(/^#\/?/, '');
  const [path, qs] = hash.split('?');
  const params = new URLSearchParams(qs || '');
  if (path === 'service' && params.get('name')) {
    const prev = state.service;
    const same = prev && prev.name === params.get('name') && prev.group === params.get('group');
    state.service = same ? prev : {
      name: params.get('name'), group: params.get('group') || 'DEFAULT_GROUP', cluster: '', page: 1,
    };
    return 'service';
  }
  return views[path] ? path : 'services';
}

function show(view) {
  if (document.body.dataset.view !== view) state.actionError = null;
  document.body.dataset.view = view;
  for (const section of document.querySelectorAll('.view')) {
    section.hidden = section.id !== `view-${view}`;
  }
  const tab = view === 'service' ? 'services' : view;
  for (const a of document.querySelectorAll('.tabs a')) {
    a.classList.toggle('active', a.dataset.view === tab);
  }
}

async function refresh() {
  if (state.busy) return;
  if (state.needLogin) {
    showError(null);
    show('login');
    return;
  }
  state.busy = true;
  const view = route();
  show(view);
  try {
    await views[view]();
    showError(state.actionError);
    $('updated').textContent =
      `Updated ${new Date().toLocaleTimeString()} · refreshes every ${REFRESH_MS / 1000} s`;
  } catch (err) {
    showError(err);
  } finally {
    state.busy = false;
  }
  if (state.needLogin) refresh();
}

function start() {
  $('namespace').addEventListener('change', e => {
    setNamespace(e.target.value);
    if (route() === 'service') location.hash = '#/services';
    else refresh();
  });
  $('service-search').addEventListener('submit', e => {
    e.preventDefault();
    state.services = { page: 1, name: $('filter-name').value.trim(), group: $('filter-group').value.trim() };
    if (route() !== 'services') location.hash = '#/services';
    else refresh();
  });
  $('cluster-filter').addEventListener('change', e => {
    state.service.cluster = e.target.value;
    state.service.page = 1;
    refresh();
  });
  $('login-form').addEventListener('submit', login);
  $('logout').addEventListener('click', logout);
  $('logout').hidden = !state.token;
  window.addEventListener('hashchange', refresh);
  loadNamespaces().catch(showError);
  refresh();
  setInterval(refresh, REFRESH_MS);
}

start();
