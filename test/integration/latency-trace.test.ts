// The broker's latency breakdown (--latency-trace, docs/perf.md): with it on,
// a persistent publish with confirms and a consumer reports every stage of the
// message's path when the broker closes; with it off, nothing is recorded. The
// numbers themselves are not checked (no timing assertions), only that each
// stage was measured as often as the traffic says it must have been.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import amqplib from 'amqplib';
import { latencyTrace } from '../../src/util/latency-trace.js';
import { createLogger } from '../../src/util/logger.js';
import { TEST_OPTS, uniqueName, withTimeout, WAIT_MS } from '../helpers/async.js';
import { isReference, startTestBroker, type TestBrokerOptions } from '../helpers/broker.js';

const skip = isReference ? 'the latency trace is Wharf\'s own' : false;
const MESSAGES = 200;

/** Publishes MESSAGES persistent messages with confirms to a durable queue and consumes them all. */
async function traffic(url: string): Promise<void> {
  const conn = await amqplib.connect(url);
  try {
    const pub = await conn.createConfirmChannel();
    const sub = await conn.createChannel();
    const q = uniqueName('trace');
    await pub.assertQueue(q, { durable: true });
    let got = 0;
    const all = new Promise<void>((resolve) => {
      void sub.consume(q, (m) => {
        if (!m) return;
        sub.ack(m);
        if (++got === MESSAGES) resolve();
      });
    });
    for (let i = 0; i < MESSAGES; i++) pub.sendToQueue(q, Buffer.from(`m${i}`), { persistent: true });
    await pub.waitForConfirms();
    await withTimeout(all, WAIT_MS, 'every delivery');
    await pub.deleteQueue(q);
  } finally {
    await conn.close();
  }
}

async function runWith(opts: TestBrokerOptions): Promise<string[]> {
  const lines: string[] = [];
  const broker = await startTestBroker({ ...opts, logger: createLogger('info', (l) => lines.push(l)) });
  try {
    await traffic(broker.url);
  } finally {
    await broker.close();
  }
  return lines.filter((l) => l.includes(' latency trace '));
}

/** stage -> count, from the report lines (the main thread's CPU line has rates instead). */
function counts(lines: string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const l of lines) {
    assert.match(l, / final=true /, 'one report, when the broker closed');
    if (l.includes(' stage=cpu.main-thread ')) {
      assert.match(l, / runMsPerSec=[\d.]+ waitMsPerSec=[\d.]+$/);
      out.set('cpu.main-thread', 1);
      continue;
    }
    const stage = / stage=(\S+)/.exec(l)?.[1];
    const count = / count=(\d+)/.exec(l)?.[1];
    assert.ok(stage && count, l);
    assert.match(l, / p50=[\d.]+ p90=[\d.]+ p99=[\d.]+ p999=[\d.]+ max=[\d.]+/);
    out.set(stage, (out.get(stage) ?? 0) + Number(count));
  }
  return out;
}

describe('latency trace', { skip }, () => {
  it('reports each stage of a confirmed, consumed message when the broker closes', TEST_OPTS, async () => {
    const c = counts(await runWith({ latencyTraceSec: 3600 }));
    assert.equal(c.get('publish.route'), MESSAGES);
    assert.equal(c.get('deliver.write'), MESSAGES);
    assert.equal(c.get('confirm'), MESSAGES);
    for (const stage of ['read.handle', 'socket.write', 'store.sync', 'store.write', 'store.fsync', 'loop.delay', 'cpu.main-thread']) {
      assert.ok((c.get(stage) ?? 0) > 0, `${stage} measured`);
    }
    assert.equal(latencyTrace, undefined, 'off again once its broker closed');
  });

  it('is off (and logs nothing) unless asked for', TEST_OPTS, async () => {
    assert.deepEqual(await runWith({}), []);
    assert.equal(latencyTrace, undefined);
  });
});
