// Virtual hosts, users, permissions and policies: server-paged lists, with
// create and delete forms. On a broker without the write routes the action answers
// 405 and the toast says so, and a list route that is missing (404) shows a "not
// available" state.

import { api, describe } from '../api.js';
import { badge, bytes, confirmDialog, enc, field, h, jsonText, num, rate, get, toast } from '../dom.js';
import { pagedTable } from '../table.js';

function deleteButton(label, what, path, done) {
  return h('button', { class: 'btn btn-small btn-danger', 'aria-label': `Delete ${what}`, onclick: async () => {
    if (!(await confirmDialog(label, `Delete ${what}?`, 'Delete'))) return;
    try {
      await api('DELETE', path);
      toast(`Deleted ${what}.`);
      done();
    } catch (e) {
      toast(describe(e), 'error');
    }
  } }, 'Delete');
}

/** A collapsible create form: fields, and submit(values) that does the request. */
function createForm(title, fields, submit) {
  const form = h('form', { class: 'inline-form', onsubmit: async (e) => {
    e.preventDefault();
    try {
      await submit();
      toast(`${title}: done.`);
      form.reset();
    } catch (ex) {
      toast(describe(ex), 'error');
    }
  } }, fields, h('button', { class: 'btn btn-primary', type: 'submit' }, title));
  return h('details', { class: 'card' }, h('summary', {}, title), form);
}

function page(title, table, form) {
  return { el: h('div', { class: 'page' }, h('h1', {}, title), table.el, form), refresh: table.refresh };
}

export function renderVhosts({ params }) {
  const table = pagedTable({
    path: '/api/vhosts', params, what: 'virtual hosts', title: 'Virtual hosts', defaultSort: 'name',
    columns: [
      { key: 'name', label: 'Name', sort: 'name', render: (v) => h('span', { class: 'name' }, v.name) },
      { key: 'messages', label: 'Messages', sort: 'messages', num: true, render: (v) => num(v.messages) },
      { key: 'in', label: 'Publish', num: true, render: (v) => rate(get(v, 'message_stats.publish_details.rate')) },
      { key: 'recv', label: 'Bytes in', num: true, render: (v) => bytes(v.recv_oct) },
      { key: 'tracing', label: 'Tracing', render: (v) => (v.tracing ? 'on' : 'off') },
      { key: 'del', label: '', render: (v) => deleteButton('Delete virtual host', `vhost ${v.name}`, `/api/vhosts/${enc(v.name)}`, () => table.refresh()) },
    ],
  });
  const name = h('input', { required: true });
  const description = h('input');
  const form = createForm('Add a virtual host', [field('Name', name), field('Description', description)], async () => {
    await api('PUT', `/api/vhosts/${enc(name.value)}`, { description: description.value });
    table.refresh();
  });
  return page('Virtual hosts', table, form);
}

export function renderUsers({ params }) {
  const table = pagedTable({
    path: '/api/users', params, what: 'users', title: 'Users', defaultSort: 'name',
    columns: [
      { key: 'name', label: 'Name', sort: 'name', render: (u) => h('span', { class: 'name' }, u.name) },
      { key: 'tags', label: 'Tags', render: (u) => (Array.isArray(u.tags) ? u.tags : String(u.tags ?? '').split(',').filter(Boolean)).map((t) => badge(t, 'info')) },
      { key: 'hash', label: 'Password', render: (u) => (u.password_hash ? 'set' : h('span', { class: 'muted' }, 'none')) },
      { key: 'del', label: '', render: (u) => deleteButton('Delete user', `user ${u.name}`, `/api/users/${enc(u.name)}`, () => table.refresh()) },
    ],
  });
  const name = h('input', { required: true, autocomplete: 'off' });
  const password = h('input', { type: 'password', autocomplete: 'new-password' });
  const tags = h('input', { placeholder: 'administrator, monitoring' });
  const form = createForm('Add a user', [field('Name', name), field('Password', password), field('Tags', tags)], async () => {
    await api('PUT', `/api/users/${enc(name.value)}`, { password: password.value, tags: tags.value });
    table.refresh();
  });
  return page('Users', table, form);
}

export function renderPermissions({ params }) {
  const table = pagedTable({
    path: '/api/permissions', params, what: 'permissions', title: 'Permissions', filter: false,
    columns: [
      { key: 'user', label: 'User', sort: 'user', render: (p) => p.user },
      { key: 'vhost', label: 'Vhost', sort: 'vhost', render: (p) => p.vhost },
      { key: 'configure', label: 'Configure', render: (p) => h('code', {}, p.configure) },
      { key: 'write', label: 'Write', render: (p) => h('code', {}, p.write) },
      { key: 'read', label: 'Read', render: (p) => h('code', {}, p.read) },
      { key: 'del', label: '', render: (p) => deleteButton('Delete permission', `${p.user}'s permissions on ${p.vhost}`, `/api/permissions/${enc(p.vhost)}/${enc(p.user)}`, () => table.refresh()) },
    ],
  });
  const user = h('input', { required: true });
  const vhost = h('input', { required: true, value: '/' });
  const configure = h('input', { value: '.*' });
  const write = h('input', { value: '.*' });
  const read = h('input', { value: '.*' });
  const form = createForm('Set permissions', [field('User', user), field('Vhost', vhost), field('Configure', configure), field('Write', write), field('Read', read)], async () => {
    await api('PUT', `/api/permissions/${enc(vhost.value)}/${enc(user.value)}`, { configure: configure.value, write: write.value, read: read.value });
    table.refresh();
  });
  return page('Permissions', table, form);
}

export function renderPolicies({ params }) {
  const table = pagedTable({
    path: '/api/policies', params, what: 'policies', title: 'Policies', defaultSort: 'name',
    columns: [
      { key: 'name', label: 'Name', sort: 'name', render: (p) => h('span', { class: 'name' }, p.name) },
      { key: 'vhost', label: 'Vhost', sort: 'vhost', render: (p) => p.vhost },
      { key: 'pattern', label: 'Pattern', render: (p) => h('code', {}, p.pattern) },
      { key: 'apply', label: 'Applies to', render: (p) => p['apply-to'] ?? 'all' },
      { key: 'definition', label: 'Definition', render: (p) => h('code', {}, jsonText(p.definition ?? {})) },
      { key: 'priority', label: 'Priority', sort: 'priority', num: true, render: (p) => num(p.priority) },
      { key: 'del', label: '', render: (p) => deleteButton('Delete policy', `policy ${p.name}`, `/api/policies/${enc(p.vhost)}/${enc(p.name)}`, () => table.refresh()) },
    ],
  });
  const vhost = h('input', { required: true, value: '/' });
  const name = h('input', { required: true });
  const pattern = h('input', { required: true, placeholder: '^orders\\.' });
  const applyTo = h('select', {}, ['all', 'queues', 'exchanges'].map((v) => h('option', { value: v }, v)));
  const definition = h('textarea', { rows: 2, required: true, placeholder: '{"max-length": 1000}', spellcheck: 'false' });
  const priority = h('input', { type: 'number', value: 0 });
  const form = createForm('Add a policy', [field('Vhost', vhost), field('Name', name), field('Pattern', pattern), field('Apply to', applyTo), field('Definition (JSON)', definition), field('Priority', priority)], async () => {
    let def;
    try {
      def = JSON.parse(definition.value);
    } catch {
      throw new Error('The definition must be a JSON object.');
    }
    await api('PUT', `/api/policies/${enc(vhost.value)}/${enc(name.value)}`, { pattern: pattern.value, definition: def, 'apply-to': applyTo.value, priority: Number(priority.value) });
    table.refresh();
  });
  return page('Policies', table, form);
}
