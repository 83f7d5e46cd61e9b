// Quick one-publisher/one-consumer throughput against any AMQP URL, through amqplib.
// Prints numbers; asserts nothing. `wharf perf` (issue: performance) supersedes it.
//   node dist/bench/quick.js [url] [--messages N] [--size BYTES] [--persistent] [--window N] [--prefetch N]
//     [--args JSON] (queue.declare arguments) [--message-ids] (a distinct message-id per message)
//
// Modes: transient + auto-ack, or persistent + confirms (window) + manual acks (prefetch).

import amqp from 'amqplib';
import { parseArgs } from 'node:util';
import { publishConfirmed } from './lib/publish-confirmed.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    messages: { type: 'string', default: '200000' },
    size: { type: 'string', default: '16' },
    persistent: { type: 'boolean', default: false },
    window: { type: 'string', default: '1000' },
    prefetch: { type: 'string', default: '1000' },
    args: { type: 'string', default: '{}' },
    'message-ids': { type: 'boolean', default: false },
  },
});

const url = positionals[0] ?? 'amqp://guest:guest@127.0.0.1:5672';
const total = Number(values.messages);
const body = Buffer.alloc(Number(values.size), 'x');
const persistent = values.persistent ?? false;
const window = Number(values.window);
const queueArgs = JSON.parse(values.args ?? '{}') as Record<string, unknown>;
const messageIds = values['message-ids'] ?? false;
const publishOptions = (i: number): amqp.Options.Publish =>
  messageIds ? { persistent, messageId: `m-${i}` } : { persistent };

async function main(): Promise<void> {
  const pubConn = await amqp.connect(url);
  const subConn = await amqp.connect(url);
  const queue = `bench-${process.pid}-${Date.now()}`;
  const setup = await pubConn.createChannel();
  await setup.assertQueue(queue, { durable: persistent, autoDelete: false, arguments: queueArgs });
  await setup.close();

  const sub = await subConn.createChannel();
  let received = 0;
  const started = process.hrtime.bigint();
  const done = new Promise<bigint>((resolve) => {
    if (persistent) void sub.prefetch(Number(values.prefetch));
    void sub.consume(
      queue,
      (msg) => {
        if (!msg) return;
        received++;
        if (persistent) sub.ack(msg);
        if (received === total) resolve(process.hrtime.bigint());
      },
      { noAck: !persistent },
    );
  });

  if (persistent) {
    const pub = await pubConn.createConfirmChannel();
    await publishConfirmed(pub, total, window, (i, onConfirm) => pub.publish('', queue, body, publishOptions(i + 1), onConfirm));
  } else {
    const pub = await pubConn.createChannel();
    for (let i = 0; i < total; i++) {
      if (!pub.publish('', queue, body, publishOptions(i))) await new Promise((r) => pub.once('drain', r));
    }
  }
  const published = process.hrtime.bigint();
  const finished = await done;
  const pubSecs = Number(published - started) / 1e9;
  const secs = Number(finished - started) / 1e9;
  const cleanup = await subConn.createChannel();
  await cleanup.deleteQueue(queue);
  console.log(
    JSON.stringify({
      mode: persistent ? 'persistent+confirms+manual-ack' : 'transient+auto-ack',
      size: body.length,
      args: queueArgs,
      messages: total,
      publishedPerSec: Math.round(total / pubSecs),
      consumedPerSec: Math.round(total / secs),
    }),
  );
  await pubConn.close();
  await subConn.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
