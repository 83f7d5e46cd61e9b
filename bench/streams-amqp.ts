// Stream queues over AMQP against any broker: publish N messages with confirms into a fresh
// stream queue (x-queue-type: stream), then consume them all from x-stream-offset "first" with
// manual acks, and print both rates. The same client and flags for every broker: Wharf's own
// client (the engine of `wharf perf`, so the client's CPU weighs little) or amqplib.
//
//   node dist/bench/streams-amqp.js URL [--messages 200000] [--size 100] [--window 1000]
//     [--prefetch 1000] [--rounds 1] [--client wharf|amqplib]

import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import amqp, { type ConsumeMessage } from 'amqplib';
import { connect, encodeProperties } from '../src/client/amqp/index.js';
import { publishConfirmed } from './lib/publish-confirmed.js';

interface Options {
  readonly url: string;
  readonly messages: number;
  readonly size: number;
  readonly window: number;
  readonly prefetch: number;
  readonly rounds: number;
  readonly client: 'wharf' | 'amqplib';
}

interface Rates {
  readonly publish: number;
  readonly consume: number;
}

const STREAM = { 'x-queue-type': 'stream' } as const;
const FIRST = { 'x-stream-offset': 'first' } as const;

function options(): Options {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      messages: { type: 'string', default: '200000' },
      size: { type: 'string', default: '100' },
      window: { type: 'string', default: '1000' },
      prefetch: { type: 'string', default: '1000' },
      rounds: { type: 'string', default: '1' },
      client: { type: 'string', default: 'wharf' },
    },
  });
  const url = positionals[0];
  const client = values.client;
  if (!url || (client !== 'wharf' && client !== 'amqplib')) {
    throw new Error('usage: streams-amqp URL [--messages N] [--size BYTES] [--window N] [--prefetch N] [--rounds N] [--client wharf|amqplib]');
  }
  return {
    url,
    messages: Number(values.messages),
    size: Number(values.size),
    window: Number(values.window),
    prefetch: Number(values.prefetch),
    rounds: Number(values.rounds),
    client,
  };
}

const rate = (n: number, ms: number): number => (n * 1000) / ms;
/** Acks in runs of half the prefetch (multiple=true), as a throughput consumer would. */
const ackEvery = (prefetch: number): number => Math.max(1, Math.floor(prefetch / 2));

async function roundWharfClient(o: Options, queue: string): Promise<Rates> {
  const conn = await connect(o.url);
  try {
    const pub = await conn.channel();
    await pub.queueDeclare(queue, { durable: true, arguments: STREAM });
    await pub.confirmSelect();
    const body = Buffer.alloc(o.size, 0x61);
    const properties = encodeProperties({});
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      let sent = 0;
      let waitingForDrain = false;
      const pump = (): void => {
        if (waitingForDrain) return;
        while (sent < o.messages && pub.unconfirmed < o.window) {
          if (!conn.writable()) {
            // Polled rather than waiting for 'drain': the client's writable() also counts its own
            // unflushed frames, for which the socket emits no 'drain'.
            waitingForDrain = true;
            setTimeout(() => {
              waitingForDrain = false;
              pump();
            }, 1);
            return;
          }
          pub.publish('', queue, body, properties);
          sent++;
        }
      };
      pub.onConfirm = (): void => {
        if (sent === o.messages && pub.unconfirmed === 0) resolve();
        else if (pub.unconfirmed < o.window / 2) pump();
      };
      pump();
    });
    const publishMs = performance.now() - t0;
    const sub = await conn.channel();
    await sub.qos(o.prefetch);
    const every = ackEvery(o.prefetch);
    const t1 = performance.now();
    await new Promise<void>((resolve, reject) => {
      let n = 0;
      sub.consume(queue, (d) => {
        n++;
        if (n % every === 0 || n === o.messages) sub.ack(d.deliveryTag, true);
        if (n === o.messages) resolve();
      }, { arguments: FIRST }).catch(reject);
    });
    const consumeMs = performance.now() - t1;
    await sub.close();
    await pub.queueDelete(queue);
    return { publish: rate(o.messages, publishMs), consume: rate(o.messages, consumeMs) };
  } finally {
    await conn.close();
  }
}

async function roundAmqplib(o: Options, queue: string): Promise<Rates> {
  const conn = await amqp.connect(o.url);
  try {
    const pub = await conn.createConfirmChannel();
    await pub.assertQueue(queue, { durable: true, arguments: STREAM });
    const body = Buffer.alloc(o.size, 0x61);
    const t0 = performance.now();
    await publishConfirmed(pub, o.messages, o.window, (_i, onConfirm) => pub.sendToQueue(queue, body, {}, onConfirm));
    const publishMs = performance.now() - t0;
    const sub = await conn.createChannel();
    await sub.prefetch(o.prefetch);
    const every = ackEvery(o.prefetch);
    const t1 = performance.now();
    await new Promise<void>((resolve) => {
      let n = 0;
      void sub.consume(queue, (m: ConsumeMessage | null) => {
        if (!m) return;
        n++;
        if (n % every === 0 || n === o.messages) sub.ack(m, true);
        if (n === o.messages) resolve();
      }, { arguments: FIRST });
    });
    const consumeMs = performance.now() - t1;
    await sub.close();
    await pub.deleteQueue(queue);
    return { publish: rate(o.messages, publishMs), consume: rate(o.messages, consumeMs) };
  } finally {
    await conn.close();
  }
}

async function main(): Promise<void> {
  const o = options();
  console.log(
    `stream queue over AMQP at ${o.url.replace(/\/\/[^@]*@/, '//')} (${o.client} client): ${o.messages} messages of ${o.size} B, ` +
      `confirm window ${o.window}, prefetch ${o.prefetch}`,
  );
  for (let r = 1; r <= o.rounds; r++) {
    const queue = `bench-stream-${randomBytes(4).toString('hex')}`;
    const { publish, consume } = o.client === 'wharf' ? await roundWharfClient(o, queue) : await roundAmqplib(o, queue);
    console.log(`round ${r}: publish (confirmed) ${Math.round(publish)} msg/s, consume from first ${Math.round(consume)} msg/s`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
