// The access model and the policy store as one record per object (what a cluster keeps in
// etcd, docs/cluster.md "Metadata"): every object round-trips through records() and
// applyRecord() into another model, names with '/' and '%' do not alias other keys,
// deletes apply, and a committer (a cluster's) sees every change and decides when it is saved.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Access } from '../../../../src/broker/access/index.js';
import { PolicyStore } from '../../../../src/broker/policy/policy-store.js';
import { validatePolicy } from '../../../../src/broker/policy/definition.js';

async function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-records-unit-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('access records', () => {
  it('every object round-trips into another model, and deletes apply', () =>
    withDir(async (dir) => {
      const { access: a } = await Access.open(join(dir, 'a.json'), []);
      await a.putVhost('sales/eu%', { description: 'd', tags: ['x'] });
      await a.putUser('al/ice', { password: 'pw', tags: ['monitoring'] });
      await a.setPermission({ user: 'al/ice', vhost: 'sales/eu%', configure: '', write: '.*', read: '.*' });
      await a.setTopicPermission({ user: 'al/ice', vhost: 'sales/eu%', exchange: 'amq.topic', write: '^a', read: '.*' });
      await a.setUserLimit('al/ice', 'max-channels', 3);
      await a.setVhostLimit('sales/eu%', 'max-queues', 9);
      const { access: b } = await Access.open(join(dir, 'b.json'), []);
      for (const k of b.records().keys()) b.applyRecord(k, undefined);
      for (const [k, v] of a.records()) assert.equal(b.applyRecord(k, v), true, k);
      assert.deepEqual(b.records(), a.records());
      assert.equal(b.authenticate('al/ice', 'pw', false)?.limits['max-channels'], 3);
      assert.ok(b.user('al/ice')?.scram?.['SHA-256'], 'SCRAM credentials travel with the user');
      assert.equal(b.vhost('sales/eu%')?.limits['max-queues'], 9);
      assert.equal(b.topicPermissions('al/ice', 'sales/eu%')?.get('amq.topic')?.write, '^a');
      const permKey = [...a.records().keys()].find((k) => k.startsWith('permissions/al'));
      assert.equal(permKey, 'permissions/al%2Fice/sales%2Feu%25');
      b.applyRecord(permKey, undefined);
      assert.equal(b.permission('al/ice', 'sales/eu%'), undefined);
      assert.equal(b.applyRecord('exchanges/x', '{}'), false, 'a kind this version does not know');
    }));

  it('a committer runs each change and decides when it is saved', () =>
    withDir(async (dir) => {
      const { access } = await Access.open(join(dir, 'a.json'), []);
      const seen: string[][] = [];
      access.committer = async (change) => {
        const before = new Set(access.records().keys());
        change();
        seen.push([...access.records().keys()].filter((k) => !before.has(k)));
        await access.save();
      };
      await access.putUser('bob', { password: 'pw', tags: [] });
      await access.setPermission({ user: 'bob', vhost: '/', configure: '.*', write: '.*', read: '.*' });
      assert.deepEqual(seen, [['users/bob'], ['permissions/bob/%2F']]);
    }));
});

describe('policy records', () => {
  it('policies and operator policies round-trip into another store', () =>
    withDir(async (dir) => {
      const a = await PolicyStore.open(join(dir, 'a.json'));
      const def = validatePolicy('policy', { vhost: 'v/1', name: 'p%1', pattern: '^q', applyTo: 'queues', definition: { 'max-length': 2 }, priority: 1 });
      const op = validatePolicy('operator', { vhost: 'v/1', name: 'op', pattern: '.*', applyTo: 'queues', definition: { 'max-length': 10 }, priority: 0 });
      await a.put('policy', def);
      await a.put('operator', op);
      const b = await PolicyStore.open(join(dir, 'b.json'));
      for (const [k, v] of a.records()) assert.equal(b.applyRecord(k, v), true);
      assert.deepEqual(b.list('policy'), a.list('policy'));
      assert.deepEqual(b.list('operator'), a.list('operator'));
      assert.deepEqual([...a.records().keys()].sort(), ['operator/v%2F1/op', 'policy/v%2F1/p%251']);
      b.applyRecord('policy/v%2F1/p%251', undefined);
      assert.equal(b.get('policy', 'v/1', 'p%1'), undefined);
      assert.equal(b.applyRecord('bogus/a/b', '{}'), false);
    }));
});
