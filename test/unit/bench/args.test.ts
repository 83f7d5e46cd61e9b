import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCompareArgs } from '../../../bench/lib/args.js';
import { parseDriverOutput } from '../../../bench/lib/driver.js';
import type { ResourceSummary } from '../../../bench/lib/proc.js';
import { WORKLOADS, WORKLOAD_IDS, parseWorkloads, type WorkloadOptions } from '../../../bench/lib/workloads.js';

describe('bench compare: arguments', () => {
  it('defaults to every workload, three rounds of 10 s, a million deep messages, 1000 idle connections, all three endpoints', () => {
    const o = parseCompareArgs([]);
    assert.deepEqual(o.workloads, ['a', 'b', 'c', 'd', 'e', 'e2', 'f', 'g', 'h']);
    assert.equal(o.rounds, 3);
    assert.equal(o.durationSecs, 10);
    assert.equal(o.warmupSecs, 2);
    assert.equal(o.deepMessages, 1_000_000);
    assert.equal(o.idleConnections, 1000);
    assert.deepEqual(o.brokers, ['wharf', 'rabbitmq', 'ceiling']);
    assert.equal(o.driver, 'auto');
    assert.equal(o.fsyncSecs, 3);
    assert.equal(o.realtime, false);
  });

  it('takes the smoke-run flags', () => {
    const o = parseCompareArgs(['--workloads', 'a, B', '--rounds', '5', '--duration', '5', '--deep-messages', '20000', '--brokers', 'rabbitmq,wharf', '--driver', 'amqplib', '--fsync-seconds', '0']);
    assert.deepEqual(o.workloads, ['a', 'b']);
    assert.equal(o.rounds, 5);
    assert.equal(o.durationSecs, 5);
    assert.equal(o.deepMessages, 20000);
    assert.deepEqual(o.brokers, ['wharf', 'rabbitmq'], 'Wharf runs first in each round whatever the order given');
    assert.equal(o.driver, 'amqplib');
    assert.equal(o.fsyncSecs, 0);
  });

  it('refuses unknown workloads, brokers, drivers, flags and non-positive counts with one line naming the problem', () => {
    assert.throws(() => parseCompareArgs(['--workloads', 'a,i']), /^Error: unknown workload 'i' \(known: a,b,c,d,e,e2,f,g,h\)$/);
    assert.throws(() => parseCompareArgs(['--brokers', 'wharf,kafka']), /unknown broker 'kafka'/);
    assert.throws(() => parseCompareArgs(['--driver', 'go']), /--driver must be perf, amqplib or auto, got 'go'/);
    assert.throws(() => parseCompareArgs(['--rounds', '0']), /--rounds must be an integer >= 1, got '0'/);
    assert.throws(() => parseCompareArgs(['--duration', '2.5']), /--duration must be an integer >= 1/);
    assert.throws(() => parseCompareArgs(['--bogus']), /Unknown option '--bogus'/);
  });

  it('--realtime applies to the paced workloads only', () => {
    assert.equal(parseCompareArgs(['--realtime']).realtime, true);
    assert.deepEqual(WORKLOAD_IDS.filter((id) => WORKLOADS[id].realtimeOk), ['e', 'e2']);
  });

  it('parses workload lists', () => {
    assert.deepEqual(parseWorkloads('all'), ['a', 'b', 'c', 'd', 'e', 'e2', 'f', 'g', 'h']);
    assert.deepEqual(parseWorkloads('g,a,g,E2'), ['g', 'a', 'e2']);
    assert.throws(() => parseWorkloads(' , '), /no workloads selected/);
  });
});

describe('bench compare: workloads as wharf perf flags', () => {
  const o: WorkloadOptions = { durationSecs: 7, warmupSecs: 0, deepMessages: 5000, idleConnections: 300 };
  const resources: ResourceSummary = {
    peakRssBytes: 100 * 1024 * 1024, firstRssBytes: 0, lastRssBytes: 0, cpuPercent: 50, runqueueWaitMsPerSec: 12.5, loadAverage: 1.5, samples: 4,
  };
  const args = (id: keyof typeof WORKLOADS): string[][] => WORKLOADS[id].steps(o).map((s) => s.args);

  it('a is transient 16 B with auto-ack; b and c add persistence, a confirm window of 1000 and prefetch 1000', () => {
    assert.deepEqual(args('a'), [['--size', '16', '--auto-ack', '--duration', '7']]);
    assert.deepEqual(args('b'), [['--size', '16', '--persistent', '--confirm', '1000', '--prefetch', '1000', '--duration', '7']]);
    assert.deepEqual(args('c'), [['--size', '1024', '--persistent', '--confirm', '1000', '--prefetch', '1000', '--duration', '7']]);
  });

  it('d fans out to 10 queues with 10 consumers; e publishes at 5,000 msg/s and e2 at 20,000, both as b otherwise', () => {
    assert.deepEqual(args('d')[0].slice(0, 6), ['--exchange-type', 'fanout', '--queues', '10', '--consumers', '10']);
    assert.deepEqual(args('e'), [['--size', '16', '--persistent', '--confirm', '1000', '--prefetch', '1000', '--rate', '5000', '--duration', '7']]);
    assert.deepEqual(args('e2'), [['--size', '16', '--persistent', '--confirm', '1000', '--prefetch', '1000', '--rate', '20000', '--duration', '7']]);
  });

  it("h runs e's flow and a flat-out publisher without confirms at the same time, on queues of their own", () => {
    assert.equal(WORKLOADS.h.parallel, true);
    const [polite, noisy] = WORKLOADS.h.steps({ ...o, warmupSecs: 2 }).map((s) => s.args.join(' '));
    assert.equal(polite, '--size 16 --persistent --confirm 1000 --prefetch 1000 --rate 5000 --queue-prefix polite --duration 7 --warmup 2');
    assert.equal(noisy, '--size 16 --persistent --auto-ack --queue-prefix noisy --duration 9 --warmup 2');
    for (const id of ['a', 'b', 'e', 'f'] as const) assert.ok(!WORKLOADS[id].parallel, id);
  });

  it('measures h per flow: polite latency and rate, noisy rates', () => {
    const r = (publishRate: number, consumeRate: number, p99: number, confirmP99?: number) => ({
      published: 0, consumed: 0, publishRate, consumeRate, confirmRate: 0, durationMs: 0,
      latencyMs: { p50: 0.2, p95: 0, p99, p999: 2 * p99, max: 0 }, cpu: { userMs: 0, systemMs: 0, percentOfOneCore: 10 },
      ...(confirmP99 !== undefined && { confirmLatencyMs: { p50: 0, p95: 0, p99: confirmP99, p999: 0, max: 0 } }),
    });
    const m = WORKLOADS.h.measure([r(5000, 5000, 1.5, 3), r(90_000, 88_000, 40)], resources);
    assert.deepEqual(
      { p99: m.p99, p999: m.p999, confirmP99: m.confirmP99, consumeRate: m.consumeRate, noisyPublishRate: m.noisyPublishRate, noisyConsumeRate: m.noisyConsumeRate },
      { p99: 1.5, p999: 3, confirmP99: 3, consumeRate: 5000, noisyPublishRate: 90_000, noisyConsumeRate: 88_000 },
    );
    assert.equal(m.runqueueWaitMsPerSec, 12.5);
    assert.ok(Number.isNaN(WORKLOADS.e.measure([r(5000, 5000, 1)], resources).confirmP99), 'a driver without confirm latency: NaN, left out of the medians');
  });

  it('f fills a kept queue with N messages and no consumer, then drains that same queue', () => {
    const [fill, drain] = args('f');
    assert.ok(fill.join(' ').includes('--consumers 0 --size 1024 --persistent --confirm 1000 --pmessages 5000 --queue-prefix deep --no-cleanup'));
    assert.ok(drain.join(' ').includes('--publishers 0 --consumers 1 --persistent --prefetch 1000 --drain --queue-prefix deep --no-declare'));
  });

  it('a-e2 run a warm-up before the timed run when one is asked for; f and g never do', () => {
    const w = { ...o, warmupSecs: 3 };
    for (const id of ['a', 'b', 'c', 'd', 'e', 'e2'] as const) {
      assert.ok(WORKLOADS[id].steps(w)[0].args.join(' ').endsWith('--duration 7 --warmup 3'), id);
    }
    for (const id of ['f', 'g'] as const) assert.ok(WORKLOADS[id].steps(w).every((s) => !s.args.includes('--warmup')), id);
  });

  it('g holds the idle connections for the duration', () => {
    assert.ok(args('g')[0].join(' ').includes('--idle-connections 300 --duration 7'));
  });

  it('measures f from the fill publish rate and the drain consume rate', () => {
    const r = (publishRate: number, consumeRate: number) =>
      ({ published: 0, consumed: 0, publishRate, consumeRate, confirmRate: 0, durationMs: 0, latencyMs: { p50: 0, p95: 0, p99: 0, p999: 0, max: 0 }, cpu: { userMs: 0, systemMs: 0, percentOfOneCore: 12 } });
    const m = WORKLOADS.f.measure([r(8000, 0), r(0, 12000)], { ...resources, peakRssBytes: 200 * 1024 * 1024 });
    assert.equal(m.fillRate, 8000);
    assert.equal(m.drainRate, 12000);
    assert.equal(m.peakRssMB, 200);
    assert.equal(m.driverCpuPercent, 12);
  });
});

describe('bench compare: driver output', () => {
  it('reads the last JSON result line after progress lines', () => {
    const line = JSON.stringify({ published: 5, consumed: 5, publishRate: 1, consumeRate: 2 });
    const r = parseDriverOutput(`time 1s published 100/s\n{"not":"a result"}\n${line}\n`);
    assert.equal(r.consumeRate, 2);
  });

  it('says so when there is no result line', () => {
    assert.throws(() => parseDriverOutput('progress only\n{broken'), /the driver printed no result line/);
  });
});
