// Fair reading between connections (docs/architecture.md, "Fair reading"): a
// connection that sends a large burst at once is handled a slice per turn of
// the event loop, so another connection's publish is routed and delivered
// without waiting for all the burst has piled up; and slicing a read, wherever
// the cut falls in a frame, loses and reorders nothing. These check order and
// content, never time. They pass against RabbitMQ too (each connection has its
// own reader process there).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { connect, encodeProperties, type Connection } from '../../src/client/amqp/index.js';
import { TEST_OPTS, uniqueName, withTimeout, WAIT_MS } from '../helpers/async.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';

const mainJs = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const FLOOD_MESSAGES = 100_000;
/** The polite message is sent when the consumer has this many of the flood. */
const POLITE_AFTER = 2000;
/** Flood messages that may still go ahead of it: a few slices of 16 KiB (~230 messages each) and the delivery pipeline. */
const BETWEEN_MAX = 3000;

/** Runs the wharf CLI as a child process. */
function run(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [mainJs, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

describe('fair reading between connections', () => {
  let broker: TestBroker;
  const open: Connection[] = [];

  before(async () => {
    broker = await startTestBroker();
  });
  after(async () => {
    for (const c of open) if (c.isOpen) await c.close();
    await broker.close();
  });

  async function conn(): Promise<Connection> {
    const c = await connect(broker.url);
    open.push(c);
    return c;
  }

  it('a publish on a quiet connection waits for a slice of a flood on another, not for what the flood has piled up', TEST_OPTS, async () => {
    const prefix = uniqueName('flood');
    const floodQ = `${prefix}-1`;
    const politeQ = uniqueName('polite');
    // A consumer connection each, so the polite delivery does not queue behind flood deliveries on one socket.
    const cch = await (await conn()).channel();
    const pch = await (await conn()).channel();
    await cch.queueDeclare(floodQ, { autoDelete: true });
    await pch.queueDeclare(politeQ, { autoDelete: true });
    const polite = await (await conn()).channel();
    let floodDelivered = 0;
    let floodBeforePolite = -1;
    const floodDone = new Promise<void>((resolve) => {
      void cch.consume(floodQ, () => {
        // The flood is flowing, its sender keeps the broker's socket buffer full: now the polite one.
        if (++floodDelivered === POLITE_AFTER) polite.publish('', politeQ, Buffer.from('polite'));
        if (floodDelivered === FLOOD_MESSAGES) resolve();
      }, { noAck: true });
    });
    const politeDone = new Promise<void>((resolve) => {
      void pch.consume(politeQ, () => {
        floodBeforePolite = floodDelivered;
        resolve();
      }, { noAck: true });
    });

    // The flood comes from another process (wharf perf, flat out), so it does not wait for this event loop.
    const flood = run(['perf', '--url', broker.url, '--queue-prefix', prefix, '--no-declare', '--consumers', '0',
      '--pmessages', String(FLOOD_MESSAGES), '--size', '16', '--json']);
    await withTimeout(Promise.all([floodDone, politeDone]), WAIT_MS * 6, 'both flows delivered');
    assert.equal((await flood).code, 0);
    assert.equal(floodDelivered, FLOOD_MESSAGES);
    // Handled read after read, the broker takes up to 32 reads of 64 KiB from the flood (some
    // 29,000 messages) before it looks at another socket; with fair reading, a slice or a few.
    const between = floodBeforePolite - POLITE_AFTER;
    assert.ok(between < BETWEEN_MAX, `${between} flood messages went ahead of the polite one after it was sent`);
  });

  it('large reads cut into slices anywhere in a frame: every body arrives whole and in order', TEST_OPTS, async () => {
    const q = uniqueName('slices');
    const c = await conn();
    const ch = await c.channel();
    await ch.queueDeclare(q, { autoDelete: true });
    await ch.confirmSelect();
    // Sizes around and across the slice size, in frames cut at frame_max: 0 B to 300 KiB.
    const sizes = [0, 1, 16_383, 16_384, 16_385, 40_000, 131_064, 131_065, 300_000, 7, 65_536, 99_999];
    const bodies = sizes.map((n, i) => Buffer.alloc(n, i + 1));
    const persistent = encodeProperties({ deliveryMode: 2, messageId: 'x'.repeat(200) });
    for (let round = 0; round < 3; round++) for (const b of bodies) ch.publish('', q, b, persistent);
    await ch.waitForConfirms();

    const got: string[] = [];
    const all = new Promise<void>((resolve) => {
      void ch.consume(q, (_d, body) => {
        got.push(createHash('sha256').update(body).digest('hex'));
        if (got.length === bodies.length * 3) resolve();
      }, { noAck: true });
    });
    await withTimeout(all, WAIT_MS, 'every message');
    const want = bodies.map((b) => createHash('sha256').update(b).digest('hex'));
    assert.deepEqual(got, [...want, ...want, ...want]);
  });
});
