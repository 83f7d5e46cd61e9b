// Confirmed persistent publishes into a quorum queue of three replicas (docs/cluster.md,
// "Quorum queues"): a private etcd and three `wharf serve --cluster` processes on loopback
// (the cluster tests' TestCluster), one amqplib publisher on the queue's leader with a confirm
// window, then one consumer draining with acks. Prints numbers, asserts nothing.
//
//   npm run build && node dist/bench/quorum-cluster.js [--messages 20000] [--size 100] [--window 1000]

import { connect } from 'amqplib';
import { parseArgs } from 'node:util';
import { TestCluster } from '../test/helpers/cluster.js';
import { publishConfirmed } from './lib/publish-confirmed.js';

const { values } = parseArgs({
  options: { messages: { type: 'string', default: '20000' }, size: { type: 'string', default: '100' }, window: { type: 'string', default: '1000' } },
});
const messages = Number(values.messages);
const body = Buffer.alloc(Number(values.size), 'x');
const window = Number(values.window);
const AUTH = { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` };

async function leaderOf(cluster: TestCluster, q: string): Promise<string> {
  for (;;) {
    const res = await fetch(`http://127.0.0.1:${cluster.node('n1').httpPort}/api/queues/%2F/${q}`, { headers: AUTH });
    const v = (await res.json()) as { leader?: string | null; online?: string[] };
    if (v.leader && v.online?.length === 3) return v.leader;
    await new Promise((r) => setTimeout(r, 100));
  }
}

const cluster = new TestCluster();
await cluster.start();
try {
  const q = 'bench-qq';
  const setup = await connect(cluster.node('n1').url);
  await (await setup.createChannel()).assertQueue(q, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  await setup.close();
  const leader = await leaderOf(cluster, q);
  const conn = await connect(cluster.node(leader).url);
  const ch = await conn.createConfirmChannel();
  const started = performance.now();
  await publishConfirmed(ch, messages, window, (_i, done) => ch.sendToQueue(q, body, { persistent: true }, done));
  const publishMs = performance.now() - started;
  const cons = await conn.createChannel();
  await cons.prefetch(1000);
  const drainStarted = performance.now();
  await new Promise<void>((resolve) => {
    let n = 0;
    void cons.consume(q, (m) => {
      if (m === null) return;
      cons.ack(m);
      if (++n === messages) resolve();
    });
  });
  const drainMs = performance.now() - drainStarted;
  console.log(
    `quorum queue, 3 replicas (leader ${leader}), ${messages} x ${body.length} B persistent, confirm window ${window}: ` +
      `${Math.round((messages / publishMs) * 1000)} confirmed msg/s; consumed with acks ${Math.round((messages / drainMs) * 1000)} msg/s`,
  );
  await conn.close();
} finally {
  await cluster.stop();
  await cluster.removeData();
}
