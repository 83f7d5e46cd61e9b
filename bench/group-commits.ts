// OffsetCommit round trips at a group's coordinator: one node without --cluster (the commit is
// answered after its fsync) against three `wharf serve --cluster` nodes on a private etcd (the
// commit is answered once every in-sync replica of the group's __consumer_offsets partition has
// it on disk, docs/cluster.md "Consumer groups and producer ids"). One client, one commit of one
// partition at a time, then `--groups` groups committing at once. Prints numbers; asserts nothing.
//   node dist/bench/group-commits.js [--commits 1000] [--groups 16]

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startEtcd } from '../src/cluster/etcd-process.js';
import { KafkaClient, type KafkaConnection } from '../src/client/kafka/index.js';
import { startWharf, stopWharf, type WharfChild } from './lib/wharf-child.js';

const { values } = parseArgs({ options: { commits: { type: 'string', default: '1000' }, groups: { type: 'string', default: '16' } } });
const COMMITS = Number(values.commits);
const GROUPS = Number(values.groups);
const TOPIC = 'bench-commits';

interface Figures {
  readonly p50: number;
  readonly p99: number;
  readonly perSecond: number;
}

function figures(latenciesMs: number[], wallMs: number): Figures {
  const sorted = [...latenciesMs].sort((a, b) => a - b);
  const at = (q: number): number => Math.round((sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0) * 100) / 100;
  return { p50: at(0.5), p99: at(0.99), perSecond: Math.round((latenciesMs.length / wallMs) * 1000) };
}

/** The coordinator's connection for `groupId`, once FindCoordinator names one. */
async function coordinatorOf(client: KafkaClient, groupId: string): Promise<KafkaConnection> {
  for (;;) {
    const r = await client.any.request(10, 3, { key: groupId, keyType: 0, coordinatorKeys: [] });
    if (r.errorCode === 0) {
      await client.metadata([]); // the brokers' addresses
      return client.connectionTo(r.nodeId);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function commitLoop(client: KafkaClient, groupId: string, n: number, latencies: number[]): Promise<void> {
  let conn = await coordinatorOf(client, groupId);
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const r = await conn.request(8, 2, {
      groupId, generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null, retentionTimeMs: -1n,
      topics: [{ name: TOPIC, partitions: [{ partitionIndex: 0, committedOffset: BigInt(i), committedLeaderEpoch: -1, committedMetadata: '' }] }],
    });
    const code = r.topics[0]?.partitions[0]?.errorCode ?? -1;
    if (code !== 0) {
      // Not loaded yet (or moved): find it again and repeat this commit.
      conn = await coordinatorOf(client, groupId);
      i--;
      continue;
    }
    latencies.push(performance.now() - t0);
  }
}

async function measure(label: string, bootstrap: string): Promise<void> {
  const client = await KafkaClient.connect(bootstrap);
  try {
    await client.createTopic(TOPIC, 1).catch(() => false);
    // Warm up: the offsets topic is created and its partitions loaded.
    for (let g = 0; g < GROUPS; g++) await commitLoop(client, `warm-${g}`, 1, []);
    const one: number[] = [];
    let t0 = performance.now();
    await commitLoop(client, 'one', COMMITS, one);
    const single = figures(one, performance.now() - t0);
    const many: number[] = [];
    t0 = performance.now();
    await Promise.all(Array.from({ length: GROUPS }, (_, g) => commitLoop(client, `warm-${g}`, Math.ceil(COMMITS / GROUPS), many)));
    const parallel = figures(many, performance.now() - t0);
    console.log(`${label}: one group: p50 ${single.p50} ms, p99 ${single.p99} ms, ${single.perSecond} commits/s; ${GROUPS} groups at once: p50 ${parallel.p50} ms, p99 ${parallel.p99} ms, ${parallel.perSecond} commits/s`);
  } finally {
    await client.close();
  }
}

const dirs: string[] = [];
const children: WharfChild[] = [];
const dataDir = async (): Promise<string> => {
  const d = await mkdtemp(join(tmpdir(), 'wharf-bench-commits-'));
  dirs.push(d);
  return d;
};
const etcd = await startEtcd();
try {
  const single = await startWharf(await dataDir());
  children.push(single);
  await measure('single node', single.kafkaBootstrap);
  await stopWharf(single, 'SIGTERM');
  children.length = 0;
  for (const name of ['n1', 'n2', 'n3']) {
    children.push(await startWharf(await dataDir(), [], ['--cluster', etcd.endpoint, '--node-name', name, '--advertise-host', '127.0.0.1']));
  }
  await measure('three-node cluster', children[0].kafkaBootstrap);
} finally {
  for (const c of children) await stopWharf(c, 'SIGKILL').catch(() => undefined);
  await etcd.stop();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
}
