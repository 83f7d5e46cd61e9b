// Publish throughput with de-duplication, through amqplib: persistent messages with
// confirms (a window of publishes in flight) into a durable queue without
// de-duplication, one with it (every key new), and the same again (every key a
// duplicate). Prints numbers; asserts nothing.
//   node dist/bench/dedup.js [url] [--messages N] [--window N]

import amqp from 'amqplib';
import { parseArgs } from 'node:util';
import { publishConfirmed } from './lib/publish-confirmed.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    messages: { type: 'string', default: '50000' },
    window: { type: 'string', default: '1000' },
  },
});

const url = positionals[0] ?? 'amqp://guest:guest@127.0.0.1:5672';
const total = Number(values.messages);
const window = Number(values.window);
const body = Buffer.alloc(16, 'x');

async function publishAll(ch: amqp.ConfirmChannel, queue: string, keyPrefix: string): Promise<number> {
  const started = process.hrtime.bigint();
  await publishConfirmed(ch, total, window, (i, onConfirm) =>
    ch.publish('', queue, body, { persistent: true, messageId: `${keyPrefix}-${i}` }, onConfirm),
  );
  return total / (Number(process.hrtime.bigint() - started) / 1e9);
}

async function main(): Promise<void> {
  const conn = await amqp.connect(url);
  const ch = await conn.createConfirmChannel();
  const plain = `bench-plain-${process.pid}`;
  const dedup = `bench-dedup-${process.pid}`;
  await ch.assertQueue(plain, { durable: true });
  await ch.assertQueue(dedup, { durable: true, arguments: { 'x-message-deduplication': true, 'x-cache-size': total } });
  const rows: [string, number][] = [
    ['durable queue, no de-duplication', await publishAll(ch, plain, 'k')],
    ['de-duplicating queue, new keys', await publishAll(ch, dedup, 'k')],
    ['de-duplicating queue, all duplicates', await publishAll(ch, dedup, 'k')],
  ];
  const { messageCount } = await ch.checkQueue(dedup);
  for (const [what, rate] of rows) console.log(`${what.padEnd(40)} ${Math.round(rate)} msg/s`);
  console.log(`de-duplicating queue holds ${messageCount} of ${2 * total} published`);
  await ch.deleteQueue(plain);
  await ch.deleteQueue(dedup);
  await conn.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
