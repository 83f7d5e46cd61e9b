// The dashboard's shell: login, the navigation, a hash router (#/queues,
// #/queue/<vhost>/<name>, ...), keyboard shortcuts, and a 5 s refresh of the
// page on screen while the tab is visible.

import { api, basicToken, credentials, describe, forget, saveCredentials, setUnauthorizedHandler } from './api.js';
import { clear, field, h } from './dom.js';
import * as admin from './pages/admin.js';
import * as conns from './pages/connections.js';
import * as exchanges from './pages/exchanges.js';
import * as overview from './pages/overview.js';
import * as queue from './pages/queue.js';
import * as queues from './pages/queues.js';
import * as streams from './pages/streams.js';

const REFRESH_MS = 5000;

/** [hash name, nav label, shortcut after g, render] */
const NAV = [
  ['overview', 'Overview', 'o', overview.render],
  ['queues', 'Queues', 'q', queues.render],
  ['exchanges', 'Exchanges', 'e', exchanges.renderList],
  ['connections', 'Connections', 'c', conns.renderConnections],
  ['channels', 'Channels', 'h', conns.renderChannels],
  ['consumers', 'Consumers', 'u', conns.renderConsumers],
  ['streams', 'Streams & topics', 's', streams.render],
  ['vhosts', 'Virtual hosts', 'v', admin.renderVhosts],
  ['users', 'Users', 'w', admin.renderUsers],
  ['permissions', 'Permissions', 'p', admin.renderPermissions],
  ['policies', 'Policies', 'l', admin.renderPolicies],
];

/** Pages without a nav entry: objects' own pages. */
const DETAIL = {
  queue: queue.render,
  exchange: exchanges.renderOne,
};

const root = document.getElementById('root');
let current = null;
let refreshTimer = null;
let pendingG = false;

setUnauthorizedHandler(() => {
  forget();
  showLogin('Your session has ended: sign in again.');
});

function start() {
  if (credentials()) showApp();
  else showLogin();
}

function showLogin(message) {
  stopRefresh();
  current = null;
  const user = h('input', { name: 'username', autocomplete: 'username', required: true });
  const pass = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const err = h('p', { class: 'error', role: 'alert' }, message ?? '');
  const button = h('button', { class: 'btn btn-primary', type: 'submit' }, 'Sign in');
  const form = h('form', { class: 'login card', 'aria-labelledby': 'login-title', onsubmit: async (e) => {
    e.preventDefault();
    button.disabled = true;
    err.textContent = '';
    const token = basicToken(user.value, pass.value);
    try {
      const me = await api('GET', '/api/whoami', undefined, token);
      saveCredentials(me.name, token);
      showApp();
    } catch (ex) {
      err.textContent = ex.status === 401 ? 'Login failed: check the user name and password.' : describe(ex);
      button.disabled = false;
      pass.select();
    }
  } },
  h('div', { class: 'brand brand-lg' }, logo(), 'Wharf'),
  h('h1', { id: 'login-title' }, 'Sign in'),
  h('p', { class: 'muted' }, 'Use a broker user. Credentials stay in this tab only.'),
  field('Username', user), field('Password', pass), err, button);
  clear(root).append(h('main', { id: 'main', class: 'login-wrap' }, form));
  user.focus();
}

function logo() {
  return h('img', { src: '/dashboard/icon.svg', alt: '', width: 24, height: 24 });
}

function showApp() {
  const me = credentials();
  const nav = h('nav', { class: 'nav', 'aria-label': 'Main' }, h('ul', {}, NAV.map(([name, label, key]) =>
    h('li', {}, h('a', { href: `#/${name}`, 'data-nav': name }, h('span', {}, label), h('kbd', { 'aria-hidden': 'true' }, `g ${key}`))))));
  const main = h('main', { id: 'main', tabindex: '-1' });
  const header = h('header', { class: 'top' },
    h('a', { class: 'brand', href: '#/overview' }, logo(), 'Wharf'),
    h('span', { class: 'node muted', id: 'node-name' }),
    h('span', { class: 'spacer' }),
    h('button', { class: 'link', onclick: showHelp, 'aria-keyshortcuts': '?' }, 'Shortcuts'),
    h('span', { class: 'who' }, 'Signed in as ', h('strong', { id: 'whoami' }, me.user)),
    h('button', { class: 'btn', id: 'logout', onclick: logout }, 'Log out'));
  clear(root).append(header, h('div', { class: 'layout' }, nav, main));
  api('GET', '/api/overview').then((o) => {
    document.getElementById('node-name').textContent = `${o.node ?? ''} · ${o.product_name ?? 'Wharf'} ${o.product_version ?? ''}`;
  }).catch(() => {});
  route();
  startRefresh();
}

function logout() {
  forget();
  showLogin();
}

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, query] = raw.split('?');
  const parts = path ? path.split('/').map((p) => { try { return decodeURIComponent(p); } catch { return p; } }) : [];
  return { parts, params: new URLSearchParams(query ?? '') };
}

function route() {
  const main = document.getElementById('main');
  if (!main) return;
  const { parts, params } = parseHash();
  const name = parts[0] || 'overview';
  const entry = NAV.find(([n]) => n === name);
  const render = entry ? entry[3] : DETAIL[name];
  current?.dispose?.();
  clear(main);
  for (const a of document.querySelectorAll('[data-nav]')) {
    const on = a.dataset.nav === name || (name === 'queue' && a.dataset.nav === 'queues') || (name === 'exchange' && a.dataset.nav === 'exchanges');
    if (on) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (!render) {
    current = null;
    main.append(h('h1', {}, 'Not found'), h('p', {}, h('a', { href: '#/overview' }, 'Back to the overview')));
    return;
  }
  current = render({ args: parts.slice(1), params, navigate: (hash) => { location.hash = hash; } });
  main.append(current.el);
  document.title = `${entry ? entry[1] : parts[parts.length - 1] ?? ''} · Wharf`;
}

function startRefresh() {
  stopRefresh();
  refreshTimer = setInterval(() => {
    if (!document.hidden) current?.refresh?.({ auto: true });
  }, REFRESH_MS);
}

function stopRefresh() {
  if (refreshTimer) clearInterval(refreshTimer);
  refreshTimer = null;
}

function showHelp() {
  const rows = [['/', 'Filter the list'], ['r', 'Refresh now'], ['?', 'This help'], ['Esc', 'Close a dialog'],
    ...NAV.map(([, label, key]) => [`g ${key}`, label])];
  const dlg = h('dialog', { class: 'dialog', 'aria-labelledby': 'help-title' },
    h('h2', { id: 'help-title' }, 'Keyboard shortcuts'),
    h('table', { class: 'kv' }, h('tbody', {}, rows.map(([k, what]) => h('tr', {}, h('th', {}, h('kbd', {}, k)), h('td', {}, what))))),
    h('div', { class: 'actions' }, h('button', { class: 'btn', onclick: () => dlg.close() }, 'Close')));
  dlg.addEventListener('close', () => dlg.remove());
  document.body.append(dlg);
  dlg.showModal();
}

function typing(target) {
  return target instanceof HTMLElement && (target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName));
}

document.addEventListener('keydown', (e) => {
  if (!credentials() || e.ctrlKey || e.metaKey || e.altKey || typing(e.target) || document.querySelector('dialog[open]')) return;
  if (pendingG) {
    pendingG = false;
    const entry = NAV.find(([, , key]) => key === e.key);
    if (entry) {
      e.preventDefault();
      location.hash = `#/${entry[0]}`;
    }
    return;
  }
  if (e.key === 'g') {
    pendingG = true;
    setTimeout(() => { pendingG = false; }, 1500);
  } else if (e.key === '/') {
    const filter = document.querySelector('#main [data-filter]');
    if (filter) {
      e.preventDefault();
      filter.focus();
      filter.select();
    }
  } else if (e.key === 'r') {
    current?.refresh?.();
  } else if (e.key === '?') {
    showHelp();
  }
});

window.addEventListener('hashchange', route);
start();
