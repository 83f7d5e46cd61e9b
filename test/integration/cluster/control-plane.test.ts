// The control plane against a real etcd (a private one per suite): membership
// under leases, duplicate names, leadership with epochs, fencing of a deposed
// leader, etcd unreachable at start. No timing assertions: conditions are waited
// for with a deadline.

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import type { Etcd3 } from 'etcd3';
import { ClusterError, ControlPlane, fencedWrite, type ControlPlaneOptions, type Resource } from '../../../src/cluster/index.js';
import { freePort } from '../../../src/cluster/etcd-process.js';
import { TEST_OPTS, waitUntil } from '../../helpers/async.js';
import { etcdClient, quietLogger, startTestEtcd, TEST_LEASE_TTL_SEC, type EtcdProcess } from '../../helpers/etcd.js';

const execFileAsync = promisify(execFile);

describe('cluster control plane on etcd', () => {
  let etcd: EtcdProcess;
  let admin: Etcd3;
  const planes: ControlPlane[] = [];
  let clusterSeq = 0;

  before(async () => {
    etcd = await startTestEtcd();
    admin = etcdClient(etcd);
  });
  after(async () => {
    for (const p of planes) await p.close().catch(() => undefined);
    admin.close();
    await etcd.stop();
  });

  /** Each test its own cluster name (its own prefix), so tests do not see each other's nodes. */
  const freshCluster = (): string => `t${++clusterSeq}`;

  async function join(cluster: string, node: string, extra: Partial<ControlPlaneOptions> = {}): Promise<ControlPlane> {
    const plane = await ControlPlane.start({
      endpoints: [etcd.endpoint],
      cluster,
      node,
      addresses: { amqp: `127.0.0.1:${5600 + planes.length}` },
      version: 'test',
      leaseTtlSec: TEST_LEASE_TTL_SEC,
      logger: quietLogger,
      ...extra,
    });
    planes.push(plane);
    return plane;
  }

  it('nodes join under leases and every node sees all of them', TEST_OPTS, async () => {
    const cluster = freshCluster();
    const a = await join(cluster, 'a');
    const b = await join(cluster, 'b');
    const c = await join(cluster, 'c');
    for (const p of [a, b, c]) {
      await waitUntil(() => p.nodes().filter((n) => n.up).length === 3, `${p.nodeName} sees three nodes up`);
      assert.deepEqual(p.nodes().map((n) => n.name), ['a', 'b', 'c']);
      assert.deepEqual(p.nodes().filter((n) => n.self).map((n) => n.name), [p.nodeName]);
    }
    assert.equal(a.nodes().find((n) => n.name === 'c')?.addresses.amqp, '127.0.0.1:5602');
    // A node that leaves stays a member, shown down (as RabbitMQ lists a stopped node).
    await c.close();
    await waitUntil(() => a.nodes().find((n) => n.name === 'c')?.up === false, 'c shown down on a');
    assert.equal(a.nodes().length, 3);
  });

  it('a node whose lease lapses is gone from every view', TEST_OPTS, async () => {
    const cluster = freshCluster();
    const a = await join(cluster, 'a');
    await join(cluster, 'b');
    await waitUntil(() => a.nodes().filter((n) => n.up).length === 2, 'a sees b');
    // What etcd does when b stops sending keep-alives (a crash): the lease goes, and its keys with it.
    const bLease = (await admin.get(a.keys.node('b')).exec()).kvs[0].lease;
    await revokeLease(etcd, bLease);
    await waitUntil(() => a.nodes().find((n) => n.name === 'b')?.up === false, 'b down on a');
  });

  it('a second node with the same name is refused with a clear error', TEST_OPTS, async () => {
    const cluster = freshCluster();
    await join(cluster, 'dup');
    await assert.rejects(join(cluster, 'dup'), (err: unknown) => {
      assert.ok(err instanceof ClusterError);
      assert.equal(err.kind, 'duplicate-node');
      assert.match(err.message, /node name 'dup' is already in use in cluster 't\d+' by a running node \(amqp 127\.0\.0\.1:\d+\)/);
      return true;
    });
  });

  it('leadership of a resource moves to another node with a higher epoch, and the deposed leader is fenced', TEST_OPTS, async () => {
    const cluster = freshCluster();
    const a = await join(cluster, 'a');
    const b = await join(cluster, 'b');
    const q: Resource = { kind: 'queue', vhost: '/', name: 'orders' };
    const first = await a.campaign(q);
    assert.ok(first, 'a wins the first campaign');
    assert.equal(first.epoch, 1);
    await first.write('high-watermark', '10');
    assert.equal(await b.campaign(q), undefined, 'b cannot win while a leads');
    b.lead(q);
    await waitUntil(() => b.nodes().find((n) => n.name === 'a')?.leaders.some((l) => l.resource === 'queue/%2F/orders') === true,
      'b sees a lead the queue');

    // a's lease expires at etcd (a crashed, or was cut off): b takes over with epoch 2.
    const ended = new Promise<string>((resolve) => first.once('ended', resolve));
    await revokeLease(etcd, first.leaseId);
    await waitUntil(() => b.term(q) !== undefined, 'b leads the queue');
    const second = b.term(q);
    assert.ok(second);
    assert.equal(second.epoch, 2);
    await second.write('high-watermark', '11');
    assert.ok(typeof (await ended) === 'string', 'a stepped down');

    // Fencing: a write under the old epoch loses, on its own lease or on the new leader's.
    await assert.rejects(first.write('high-watermark', '99'), (err: unknown) => {
      assert.ok(err instanceof ClusterError);
      assert.ok(err.kind === 'fenced' || err.kind === 'no-lease', err.kind);
      return true;
    });
    const keys = b.keys;
    assert.equal(await fencedWrite(admin, keys, q, 1, first.leaseId, 'high-watermark', '98'), false);
    assert.equal(await fencedWrite(admin, keys, q, 1, second.leaseId, 'high-watermark', '97'), false);
    assert.equal(await admin.get(keys.state(q, 'high-watermark')).string(), '11');
    // And the new term writes on.
    assert.equal(await fencedWrite(admin, keys, q, 2, second.leaseId, 'high-watermark', '12'), true);

    // a rejoins under a new lease and is a member again, without leading.
    await waitUntil(() => b.nodes().find((n) => n.name === 'a')?.up === true, 'a rejoined');
    assert.equal(a.term(q), undefined);
    assert.deepEqual(b.nodes().find((n) => n.name === 'b')?.leaders, [{ resource: 'queue/%2F/orders', epoch: 2 }]);
  });

  it('a leader that stops resigns at once, and epochs keep growing', TEST_OPTS, async () => {
    const cluster = freshCluster();
    const a = await join(cluster, 'a');
    const b = await join(cluster, 'b');
    const s: Resource = { kind: 'stream', vhost: 'v', name: 'events', partition: 3 };
    a.lead(s);
    await waitUntil(() => a.term(s) !== undefined, 'a leads');
    b.lead(s);
    const epoch = a.term(s)?.epoch ?? 0;
    await a.close();
    await waitUntil(() => b.term(s) !== undefined, 'b leads after a leaves');
    assert.equal(b.term(s)?.epoch, epoch + 1);
  });

  it('a leader cut off from etcd steps down on its own, and rejoins as a follower once etcd is back', TEST_OPTS, async () => {
    const cluster = freshCluster();
    const a = await join(cluster, 'a');
    const b = await join(cluster, 'b');
    const q: Resource = { kind: 'queue', vhost: 'v', name: 'cut-off' };
    a.lead(q);
    await waitUntil(() => a.term(q) !== undefined, 'a leads');
    const term = a.term(q);
    assert.ok(term);
    b.lead(q);
    const ended = new Promise<string>((resolve) => term.once('ended', resolve));
    const rejoined = new Promise<void>((resolve) => a.once('rejoined', () => resolve()));
    // etcd stops answering (SIGSTOP): no keep-alive succeeds, so a must give up at its local deadline.
    process.kill(etcd.pid, 'SIGSTOP');
    let reason: string;
    try {
      reason = await ended;
      assert.equal(term.active, false);
      assert.equal(a.term(q), undefined, 'a no longer claims the lead while etcd is away');
    } finally {
      process.kill(etcd.pid, 'SIGCONT');
    }
    assert.match(reason, /lease lost: no keep-alive answered before the local deadline/);
    await rejoined;
    await waitUntil(() => b.term(q) !== undefined || a.term(q) !== undefined, 'someone leads again');
    const next = b.term(q) ?? a.term(q);
    assert.ok(next);
    assert.ok(next.epoch > term.epoch, 'under a higher epoch');
    await assert.rejects(term.write('x', 'y'), ClusterError);
  });

  it('a leader paused past its local deadline revokes its lease on resuming: its leader keys go at once, not when etcd would expire them', TEST_OPTS, async () => {
    const cluster = freshCluster();
    const a = await join(cluster, 'a');
    const q: Resource = { kind: 'queue', vhost: 'v', name: 'paused' };
    a.lead(q);
    await waitUntil(() => a.term(q) !== undefined, 'a leads');
    const term = a.term(q);
    assert.ok(term);
    const key = a.keys.leader(q);
    // Another process keeps a's lease alive at etcd, so only a revoke can remove its keys.
    const keeper = spawn('/usr/bin/etcdctl', ['--endpoints', etcd.endpoint, 'lease', 'keep-alive', BigInt(term.leaseId).toString(16)], {
      env: { ...process.env, ETCDCTL_API: '3' },
      stdio: 'ignore',
    });
    const keeperExited = new Promise<void>((resolve) => keeper.once('exit', () => resolve()));
    try {
      const ended = new Promise<string>((resolve) => term.once('ended', resolve));
      // The whole process stops for longer than the TTL, as under SIGSTOP or a long GC pause.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, TEST_LEASE_TTL_SEC * 1000 + 500);
      assert.match(await ended, /lease lost: no keep-alive answered before the local deadline/);
      await waitUntil(async () => (await admin.get(key).string()) === null, 'the paused leader\'s key is gone');
      await keeperExited; // etcdctl's keep-alive ends once the lease is revoked
    } finally {
      keeper.kill();
    }
    await waitUntil(() => a.term(q) !== undefined, 'a, rejoined under a new lease, leads again');
    assert.ok((a.term(q)?.epoch ?? 0) > term.epoch, 'under a higher epoch');
  });

  it('etcd unreachable at start: a clear error', TEST_OPTS, async () => {
    const port = await freePort();
    await assert.rejects(
      ControlPlane.start({
        endpoints: [`http://127.0.0.1:${port}`],
        node: 'x',
        addresses: {},
        version: 'test',
        logger: quietLogger,
        connectTimeoutMs: 1000,
      }),
      (err: unknown) => {
        assert.ok(err instanceof ClusterError);
        assert.equal(err.kind, 'unreachable');
        assert.match(err.message, new RegExp(`^cannot reach etcd at http://127\\.0\\.0\\.1:${port}: `));
        return true;
      },
    );
  });
});

/** etcdctl lease revoke: what etcd does to a lease nobody keeps alive, without waiting for its TTL. */
async function revokeLease(etcd: EtcdProcess, id: string): Promise<void> {
  await execFileAsync('/usr/bin/etcdctl', ['--endpoints', etcd.endpoint, 'lease', 'revoke', BigInt(id).toString(16)], {
    env: { ...process.env, ETCDCTL_API: '3' },
  });
}
