// `wharf serve --cluster` processes on a private etcd: /api/nodes on every node,
// `wharf cluster status`, a node killed with kill -9 shown down once its lease
// lapses and its leadership moved with a higher epoch, the node restarted and
// back, a duplicate name and an unreachable etcd refused at start. A single node
// without --cluster lists itself.

import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../../../src/cluster/etcd-process.js';
import { TEST_OPTS, waitUntil } from '../../helpers/async.js';
import { makeDataDir, spawnBroker, startTestBroker, type SpawnedBroker } from '../../helpers/broker.js';
import { runWharf } from '../../helpers/cli.js';
import { startTestEtcd, TEST_LEASE_TTL_SEC, type EtcdProcess } from '../../helpers/etcd.js';

interface NodeJson {
  name: string;
  running: boolean;
  addresses: Record<string, string>;
  leaders: { resource: string; epoch: number }[];
}

const LONG = { timeout: 60_000 } as const;

async function nodesOf(httpPort: number): Promise<NodeJson[]> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/api/nodes`, {
    headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` },
  });
  assert.equal(res.status, 200);
  return (await res.json()) as NodeJson[];
}

describe('wharf serve --cluster', () => {
  let etcd: EtcdProcess;
  const nodes = new Map<string, SpawnedBroker>();
  const dirs: string[] = [];
  const dirOf = new Map<string, string>();

  const clusterArgs = (name: string): string[] => [
    '--cluster', etcd.endpoint, '--node-name', name, '--advertise-host', '127.0.0.1', '--cluster-lease-ttl', String(TEST_LEASE_TTL_SEC),
  ];

  /** Starts the node on its data dir (a new one the first time). */
  async function startNode(name: string): Promise<SpawnedBroker> {
    let dir = dirOf.get(name);
    if (dir === undefined) {
      dir = await makeDataDir();
      dirs.push(dir);
      dirOf.set(name, dir);
    }
    const node = await spawnBroker(dir, clusterArgs(name));
    nodes.set(name, node);
    return node;
  }

  before(async () => {
    etcd = await startTestEtcd();
  });
  after(async () => {
    for (const n of nodes.values()) await n.kill('SIGKILL').catch(() => undefined);
    await etcd.stop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('three nodes: /api/nodes on every node lists all three with their addresses; one leads the controller', LONG, async () => {
    for (const name of ['n1', 'n2', 'n3']) await startNode(name);
    for (const [name, node] of nodes) {
      await waitUntil(async () => (await nodesOf(node.httpPort)).filter((n) => n.running).length === 3, `${name} sees three nodes`);
      const list = await nodesOf(node.httpPort);
      assert.deepEqual(list.map((n) => n.name), ['n1', 'n2', 'n3']);
      for (const n of list) {
        const peer = nodes.get(n.name);
        assert.ok(peer);
        assert.equal(n.addresses.amqp, `127.0.0.1:${peer.port}`);
        assert.equal(n.addresses.http, `127.0.0.1:${peer.httpPort}`);
        assert.equal(n.addresses.kafka, `127.0.0.1:${peer.kafkaPort}`);
      }
      const controllers = list.flatMap((n) => n.leaders.filter((l) => l.resource === 'controller').map((l) => ({ node: n.name, ...l })));
      assert.equal(controllers.length, 1, 'exactly one controller');
    }
    const first = nodes.get('n1');
    assert.ok(first);
    const status = await runWharf(['cluster', 'status', '--url', `http://127.0.0.1:${first.httpPort}`]);
    assert.equal(status.code, 0, status.stderr);
    const lines = status.stdout.trim().split('\n');
    assert.match(lines[0], /^name\s+state\s+amqp\s+kafka\s+http\s+leaders/);
    assert.deepEqual(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 2).join(' ')), ['n1 up', 'n2 up', 'n3 up']);
    assert.equal(lines.filter((l) => /controller@\d+/.test(l)).length, 1);
  });

  it('the controller killed with kill -9: shown down once its lease lapses, and another node leads with a higher epoch', LONG, async () => {
    const any = nodes.get('n2');
    assert.ok(any);
    const before = await nodesOf(any.httpPort);
    const leader = before.find((n) => n.leaders.some((l) => l.resource === 'controller'));
    assert.ok(leader, 'someone leads the controller');
    const epoch = leader.leaders.find((l) => l.resource === 'controller')?.epoch ?? 0;
    const victim = nodes.get(leader.name);
    assert.ok(victim);
    await victim.kill('SIGKILL');
    const survivors = [...nodes].filter(([name]) => name !== leader.name).map(([, n]) => n);
    for (const s of survivors) {
      await waitUntil(async () => {
        const list = await nodesOf(s.httpPort);
        const dead = list.find((n) => n.name === leader.name);
        const next = list.find((n) => n.running && n.leaders.some((l) => l.resource === 'controller'));
        return dead?.running === false && next !== undefined;
      }, `the dead node down and a new controller, seen from port ${s.httpPort}`, 30_000);
    }
    const after = await nodesOf(survivors[0].httpPort);
    const next = after.find((n) => n.leaders.some((l) => l.resource === 'controller'));
    assert.ok(next);
    assert.notEqual(next.name, leader.name);
    assert.ok((next.leaders.find((l) => l.resource === 'controller')?.epoch ?? 0) > epoch, 'a higher epoch');
    assert.equal(after.find((n) => n.name === leader.name)?.leaders.length, 0, 'a down node leads nothing');

    // The killed node restarted on its data dir: it rejoins under its name.
    await startNode(leader.name);
    await waitUntil(async () => (await nodesOf(survivors[0].httpPort)).filter((n) => n.running).length === 3, 'the restarted node is up');
  });

  it('a node restarted at once after kill -9 waits for its old record to lapse instead of calling its name taken', LONG, async () => {
    const victim = nodes.get('n2');
    assert.ok(victim);
    await victim.kill('SIGKILL');
    // Its record (and lease) are still in etcd now; the new process waits them out.
    const again = await startNode('n2');
    const list = await nodesOf(again.httpPort);
    assert.equal(list.find((n) => n.name === 'n2')?.running, true);
    assert.equal(list.find((n) => n.name === 'n2')?.addresses.amqp, `127.0.0.1:${again.port}`);
  });

  it('a second node with a name in use refuses to start, saying why', LONG, async () => {
    const dir = await makeDataDir();
    dirs.push(dir);
    await assert.rejects(spawnBroker(dir, clusterArgs('n3')), (err: unknown) => {
      assert.match(String(err), /wharf exited with 1 before listening/);
      assert.match(String(err), /node name 'n3' is already in use in cluster 'wharf' by a running node \(amqp 127\.0\.0\.1:\d+\); give this node another --node-name, or stop the other one/);
      return true;
    });
  });

  it('etcd unreachable at start: the node refuses to start with a clear error', LONG, async () => {
    const dir = await makeDataDir();
    dirs.push(dir);
    const port = await freePort();
    await assert.rejects(spawnBroker(dir, ['--cluster', `http://127.0.0.1:${port}`, '--node-name', 'lonely']), (err: unknown) => {
      assert.match(String(err), /wharf exited with 1 before listening/);
      assert.match(String(err), new RegExp(`cannot reach etcd at http://127\\.0\\.0\\.1:${port}`));
      return true;
    });
  });
});

describe('a single node (no --cluster)', () => {
  it('/api/nodes lists itself, with its addresses and no leaders', TEST_OPTS, async () => {
    const broker = await startTestBroker();
    try {
      const list = await nodesOf(broker.handle.httpPort);
      assert.equal(list.length, 1);
      assert.equal(list[0].running, true);
      assert.equal(list[0].addresses.amqp, `127.0.0.1:${broker.handle.amqpPort}`);
      assert.deepEqual(list[0].leaders, []);
      assert.equal(broker.handle.cluster, undefined);
    } finally {
      await broker.close();
    }
  });
});
