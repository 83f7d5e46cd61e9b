// `wharf users`, `wharf vhosts` and `wharf policies` changing things, through the
// real binary. They call PUT/DELETE /api/users/{u}, /api/permissions/{v}/{u},
// /api/vhosts/{v} and /api/policies/{v}/{name} with RabbitMQ's shapes: run in
// reference mode against RabbitMQ's management plugin, and against Wharf once its
// access and policies routes are in (they arrive on their own branches).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { uniqueName } from '../../helpers/async.js';
import { runWharf, type CliResult } from '../../helpers/cli.js';
import { enc, skipWithoutReferenceManagement, useManagement } from '../../helpers/management.js';

const OPTS = { timeout: 90_000 } as const;

describe('wharf CLI: users, vhosts, policies', { skip: skipWithoutReferenceManagement }, () => {
  const ctx = useManagement();

  function wharf(args: readonly string[], user = 'guest', password = 'guest'): Promise<CliResult> {
    return runWharf(args, { env: { WHARF_URL: ctx.api.baseUrl, WHARF_USER: user, WHARF_PASSWORD: password } });
  }

  async function ok(args: readonly string[], user?: string, password?: string): Promise<string> {
    const r = await wharf(args, user, password);
    assert.equal(r.code, 0, `wharf ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  }

  it('users: add, set-tags keeps the password, set-permissions, clear-permissions, delete', OPTS, async () => {
    const name = uniqueName('cli-user');
    try {
      assert.equal(await ok(['users', 'add', name, 'pw-1', '--tags', 'management']), `added user '${name}'\n`);
      const users = JSON.parse(await ok(['users', '--json'])) as { name: string; tags: string[] | string }[];
      assert.deepEqual([users.find((u) => u.name === name)?.tags].flat(), ['management']);
      assert.match(await ok(['users']), new RegExp(`^${name} +management$`, 'm'));

      assert.equal(await ok(['users', 'set-tags', name, 'monitoring,policymaker']), `set tags of user '${name}' to 'monitoring,policymaker'\n`);
      const user = (await ctx.api.getJson<{ tags: string[] | string }>(`/api/users/${enc(name)}`)).tags;
      assert.deepEqual([user].flat().join(',').split(',').sort(), ['monitoring', 'policymaker']);
      // The password survived set-tags: the user can still log in with it.
      const whoami = JSON.parse(await ok(['status', '--json'], name, 'pw-1')) as { overview: unknown };
      assert.ok(whoami.overview);

      await ok(['users', 'set-permissions', name, '--configure', '^$', '--write', '^cli-', '--read', '.*']);
      const perms = await ctx.api.getJson<{ configure: string; write: string; read: string }>(`/api/permissions/%2F/${enc(name)}`);
      assert.deepEqual({ configure: perms.configure, write: perms.write, read: perms.read }, { configure: '^$', write: '^cli-', read: '.*' });
      await ok(['users', 'clear-permissions', name]);
      assert.equal((await ctx.api.get(`/api/permissions/%2F/${enc(name)}`)).status, 404);

      assert.equal(await ok(['users', 'delete', name]), `deleted user '${name}'\n`);
      const gone = await wharf(['users', 'delete', name]);
      assert.equal(gone.code, 1);
      assert.match(gone.stderr, /HTTP 404/);
    } finally {
      await ctx.api.delete(`/api/users/${enc(name)}`);
    }
  });

  it('vhosts: add with a description, list, delete', OPTS, async () => {
    const name = uniqueName('cli-vhost');
    try {
      assert.equal(await ok(['vhosts', 'add', name, '--description', 'made by the CLI suite']), `added vhost '${name}'\n`);
      const vhosts = JSON.parse(await ok(['vhosts', '--json'])) as { name: string; description?: string }[];
      assert.equal(vhosts.find((v) => v.name === name)?.description, 'made by the CLI suite');
      assert.match(await ok(['vhosts', 'list']), new RegExp(`^${name} +\\d* +made by the CLI suite$`, 'm'));
      assert.equal(await ok(['vhosts', 'delete', name]), `deleted vhost '${name}'\n`);
      assert.ok(!(JSON.parse(await ok(['vhosts', '--json'])) as { name: string }[]).some((v) => v.name === name));
    } finally {
      await ctx.api.delete(`/api/vhosts/${enc(name)}`);
    }
  });

  it('policies: set from --definition and --set, list, clear', OPTS, async () => {
    const name = uniqueName('cli-policy');
    try {
      const out = await ok(['policies', 'set', name, '--pattern', '^cli-policy-target$', '--definition', '{"max-length":10}',
        '--set', 'overflow=reject-publish', '--priority', '3', '--apply-to', 'queues']);
      assert.equal(out, `set policy '${name}' in vhost '/'\n`);
      const policies = JSON.parse(await ok(['policies', '--json', '--vhost', '/'])) as Record<string, unknown>[];
      const mine = policies.find((p) => p.name === name);
      assert.deepEqual(
        { pattern: mine?.pattern, definition: mine?.definition, priority: mine?.priority, applyTo: mine?.['apply-to'] },
        { pattern: '^cli-policy-target$', definition: { 'max-length': 10, overflow: 'reject-publish' }, priority: 3, applyTo: 'queues' },
      );
      assert.match(await ok(['policies']), new RegExp(`^/ +${name} +\\^cli-policy-target\\$ +queues +3 +\\{`, 'm'));
      const bad = await wharf(['policies', 'set', `${name}-bad`, '--pattern', '.*', '--set', 'no-such-key=1']);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /HTTP 400 bad_request: /);
      assert.equal(await ok(['policies', 'clear', name]), `cleared policy '${name}' in vhost '/'\n`);
      assert.ok(!(JSON.parse(await ok(['policies', '--json'])) as { name: string }[]).some((p) => p.name === name));
    } finally {
      await ctx.api.delete(`/api/policies/%2F/${enc(name)}`);
    }
  });
});
