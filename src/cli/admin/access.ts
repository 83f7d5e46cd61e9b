// `wharf users ...` and `wharf vhosts ...`, over RabbitMQ's /api/users,
// /api/permissions and /api/vhosts.

import { commonHelp, seg, type AdminIo, type ParsedVerb } from './options.js';
import type { Verb } from './run.js';
import { withActions } from './subcommands.js';
import { formatTable } from './table.js';

const tagsText = (u: Record<string, unknown>): string => (Array.isArray(u.tags) ? u.tags.join(',') : String(u.tags ?? ''));

const usersHelp = `Usage: wharf users [list] [options]
       wharf users add NAME PASSWORD [--tags TAG,...] [options]
       wharf users delete NAME [options]
       wharf users set-tags NAME [TAG,...] [options]
       wharf users set-permissions NAME [--configure RE] [--write RE] [--read RE] [options]
       wharf users clear-permissions NAME [options]

Tags (management, policymaker, monitoring, administrator) decide what a user may
do in the management API; permissions are per vhost (--vhost, /): regular
expressions over the names a user may configure, write to and read from.
set-tags keeps the password (it sends the user's password hash back with the new
tags); no TAG clears the tags.

Options:
  --tags TAG,...     users add: the new user's tags (none)
  --configure RE     set-permissions: resources the user may declare and delete (.*)
  --write RE         set-permissions: resources the user may publish to (.*)
  --read RE          set-permissions: resources the user may consume from (.*)

Examples:
  wharf users add ops s3cret --tags monitoring
  wharf users set-permissions ops --vhost staging --configure '^$' --write '^$' --read '.*'

${commonHelp}`;

async function listUsers(p: ParsedVerb, _args: readonly string[], io: AdminIo): Promise<void> {
  const users = await p.client().get<Record<string, unknown>[]>('/api/users');
  if (p.json) {
    io.stdout(JSON.stringify(users, null, 2) + '\n');
    return;
  }
  io.stdout(formatTable([{ header: 'name', value: 'name' }, { header: 'tags', value: tagsText }], users));
}

function tagList(text: string | undefined): string {
  return (text ?? '').split(',').map((t) => t.trim()).filter((t) => t !== '').join(',');
}

async function addUser(p: ParsedVerb, [name, password]: readonly string[], io: AdminIo): Promise<void> {
  await p.client().put(`/api/users/${seg(name)}`, { password, tags: tagList(p.flags.string('tags')) });
  if (!p.json) io.stdout(`added user '${name}'\n`);
}

async function deleteUser(p: ParsedVerb, [name]: readonly string[], io: AdminIo): Promise<void> {
  await p.client().delete(`/api/users/${seg(name)}`);
  if (!p.json) io.stdout(`deleted user '${name}'\n`);
}

/**
 * RabbitMQ's PUT /api/users/{name} without a password clears it (checked against
 * 3.10), so the user's password_hash goes back with the new tags.
 */
async function setTags(p: ParsedVerb, [name, tags]: readonly string[], io: AdminIo): Promise<void> {
  const client = p.client();
  const user = await client.get<{ password_hash?: string; hashing_algorithm?: string }>(`/api/users/${seg(name)}`);
  const body: Record<string, unknown> = { tags: tagList(tags) };
  if (user.password_hash !== undefined) body.password_hash = user.password_hash;
  if (user.hashing_algorithm !== undefined) body.hashing_algorithm = user.hashing_algorithm;
  await client.put(`/api/users/${seg(name)}`, body);
  if (!p.json) io.stdout(`set tags of user '${name}' to '${tagList(tags)}'\n`);
}

async function setPermissions(p: ParsedVerb, [name]: readonly string[], io: AdminIo): Promise<void> {
  const perms = {
    configure: p.flags.string('configure') ?? '.*',
    write: p.flags.string('write') ?? '.*',
    read: p.flags.string('read') ?? '.*',
  };
  await p.client().put(`/api/permissions/${seg(p.vhost)}/${seg(name)}`, perms);
  if (!p.json) io.stdout(`set permissions of user '${name}' in vhost '${p.vhost}': configure '${perms.configure}' write '${perms.write}' read '${perms.read}'\n`);
}

async function clearPermissions(p: ParsedVerb, [name]: readonly string[], io: AdminIo): Promise<void> {
  await p.client().delete(`/api/permissions/${seg(p.vhost)}/${seg(name)}`);
  if (!p.json) io.stdout(`cleared permissions of user '${name}' in vhost '${p.vhost}'\n`);
}

const vhostsHelp = `Usage: wharf vhosts [list] [options]
       wharf vhosts add NAME [--description TEXT] [options]
       wharf vhosts delete NAME [options]

Virtual hosts: separate sets of queues, exchanges and permissions. Deleting one
deletes everything in it.

Example:
  wharf vhosts add staging --description 'pre-production'

${commonHelp}`;

async function listVhosts(p: ParsedVerb, _args: readonly string[], io: AdminIo): Promise<void> {
  const vhosts = await p.client().get<Record<string, unknown>[]>('/api/vhosts');
  if (p.json) {
    io.stdout(JSON.stringify(vhosts, null, 2) + '\n');
    return;
  }
  io.stdout(formatTable([
    { header: 'name', value: 'name' },
    { header: 'messages', value: 'messages' },
    { header: 'description', value: 'description' },
  ], vhosts));
}

async function addVhost(p: ParsedVerb, [name]: readonly string[], io: AdminIo): Promise<void> {
  const description = p.flags.string('description');
  await p.client().put(`/api/vhosts/${seg(name)}`, description === undefined ? {} : { description });
  if (!p.json) io.stdout(`added vhost '${name}'\n`);
}

async function deleteVhost(p: ParsedVerb, [name]: readonly string[], io: AdminIo): Promise<void> {
  await p.client().delete(`/api/vhosts/${seg(name)}`);
  if (!p.json) io.stdout(`deleted vhost '${name}'\n`);
}

export const accessVerbs: Readonly<Record<string, Verb>> = {
  users: withActions('users', usersHelp, {
    tags: { type: 'string' },
    configure: { type: 'string' },
    write: { type: 'string' },
    read: { type: 'string' },
  }, {
    list: { args: [], run: listUsers },
    add: { args: ['NAME', 'PASSWORD'], run: addUser },
    delete: { args: ['NAME'], run: deleteUser },
    'set-tags': { args: ['NAME', '[TAG,...]'], run: setTags },
    'set-permissions': { args: ['NAME'], run: setPermissions },
    'clear-permissions': { args: ['NAME'], run: clearPermissions },
  }),
  vhosts: withActions('vhosts', vhostsHelp, { description: { type: 'string' } }, {
    list: { args: [], run: listVhosts },
    add: { args: ['NAME'], run: addVhost },
    delete: { args: ['NAME'], run: deleteVhost },
  }),
};
