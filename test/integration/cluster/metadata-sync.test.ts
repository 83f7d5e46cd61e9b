// MetadataSync (src/cluster/meta/sync.ts) in this process against a private etcd, two
// "nodes" (an access model and a policy store each) on one cluster prefix: the second takes
// the first's records at join, and two changes to the same user started at once on both
// collide in etcd's compare-and-swap; the loser runs its change again on the winner's
// version, so both survive on both nodes and in etcd.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Etcd3 } from 'etcd3';
import { Access, type UserRecord } from '../../../src/broker/access/index.js';
import { PolicyStore } from '../../../src/broker/policy/policy-store.js';
import { validatePolicy } from '../../../src/broker/policy/definition.js';
import { ClusterKeys } from '../../../src/cluster/keys.js';
import { MetadataSync } from '../../../src/cluster/meta/sync.js';
import { waitUntil } from '../../helpers/async.js';
import { etcdClient, quietLogger, startTestEtcd, type EtcdProcess } from '../../helpers/etcd.js';

interface Node {
  readonly access: Access;
  readonly policies: PolicyStore;
  readonly sync: MetadataSync;
  applied: number;
}

describe('metadata sync on etcd (in process)', () => {
  let etcd: EtcdProcess;
  let admin: Etcd3;
  const dirs: string[] = [];
  const syncs: MetadataSync[] = [];

  before(async () => {
    etcd = await startTestEtcd();
    admin = etcdClient(etcd);
  });
  after(async () => {
    for (const s of syncs) await s.close();
    admin.close();
    await etcd.stop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  async function node(cluster: string, name: string): Promise<Node> {
    const dir = await mkdtemp(join(tmpdir(), 'wharf-meta-sync-'));
    dirs.push(dir);
    const { access } = await Access.open(join(dir, 'access.json'), []);
    const policies = await PolicyStore.open(join(dir, 'policies.json'));
    const n = { access, policies, applied: 0 } as Node;
    const sync = await MetadataSync.start({
      plane: { keys: new ClusterKeys(cluster), nodeName: name },
      endpoints: [etcd.endpoint],
      broker: { access, policies, metadataChanged: () => Promise.resolve(void n.applied++) },
      bootUsers: [],
      logger: quietLogger,
    });
    syncs.push(sync);
    return Object.assign(n, { sync });
  }

  it('the second node takes the first\'s records; changes to one user made at once on both both survive', async () => {
    const a = await node('m1', 'a');
    const b = await node('m1', 'b');
    assert.equal(b.access.user('guest')?.password_hash, a.access.user('guest')?.password_hash, 'b took a\'s guest');
    await a.access.putUser('bob', { password: 'pw', tags: [] });
    await waitUntil(() => b.access.user('bob') !== undefined, 'b has bob');
    const hash = a.access.user('bob')?.password_hash ?? '';
    for (let round = 1; round <= 3; round++) {
      const before = a.sync.conflicts + b.sync.conflicts;
      await Promise.all([
        a.access.putUser('bob', { passwordHash: hash, tags: [`t${round}`] }),
        b.access.setUserLimit('bob', 'max-connections', round),
      ]);
      assert.equal(a.sync.conflicts + b.sync.conflicts, before + 1, 'the two changes collided once, and one was run again');
      const stored = JSON.parse((await admin.get('/wharf/m1/meta/access/users/bob').string()) ?? '{}') as UserRecord;
      assert.deepEqual(stored.tags, [`t${round}`]);
      assert.equal(stored.limits['max-connections'], round);
      for (const n of [a, b]) {
        await waitUntil(() => n.access.user('bob')?.tags[0] === `t${round}` && n.access.user('bob')?.limits['max-connections'] === round, 'both on each node');
      }
    }
    assert.ok(b.applied > 0, 'b applied a\'s changes and told its broker');
    // Keys a newer version might write, and a damaged value: ignored, never deleted by a later change.
    await admin.put('/wharf/m1/meta/access/exchanges/x').value('{}');
    await admin.put('/wharf/m1/meta/access/users/broken').value('not json');
    await a.access.putUser('carol', { password: 'pw', tags: [] });
    await waitUntil(() => b.access.user('carol') !== undefined, 'b has carol');
    await b.access.deleteUsers(['carol']);
    assert.equal(await admin.get('/wharf/m1/meta/access/exchanges/x').string(), '{}');
    assert.equal(await admin.get('/wharf/m1/meta/access/users/broken').string(), 'not json');
    assert.equal(await admin.get('/wharf/m1/meta/access/users/carol').string(), null);
  });

  it('policies set at once on two nodes both survive; a delete on one applies on the other', async () => {
    const a = await node('m2', 'a');
    const b = await node('m2', 'b');
    const p = (name: string): ReturnType<typeof validatePolicy> =>
      validatePolicy('policy', { vhost: '/', name, pattern: `^${name}`, applyTo: 'queues', definition: { 'max-length': 1 }, priority: 0 });
    await Promise.all([a.policies.put('policy', p('pa')), b.policies.put('policy', p('pb'))]);
    for (const n of [a, b]) await waitUntil(() => n.policies.list('policy').length === 2, 'both policies on each node');
    await b.policies.delete('policy', '/', 'pa');
    await waitUntil(() => a.policies.get('policy', '/', 'pa') === undefined, 'a lost pa');
    assert.deepEqual(a.policies.list('policy').map((x) => x.name), ['pb']);
  });
});
