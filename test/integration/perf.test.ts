// `wharf perf` end to end against a broker: the in-process function in every
// mode (counts must add up where the mode defines them), the CLI as a child
// process (the JSON line, exit codes), and failures reported with the broker's
// words. Short runs; nothing here asserts on speed.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { connect } from '../../src/client/amqp/index.js';
import { parsePerfArgs, type PerfOptions } from '../../src/cli/perf/options.js';
import type { PerfResult } from '../../src/cli/perf/report.js';
import { runPerf } from '../../src/cli/perf/run.js';
import { TEST_OPTS, uniqueName } from '../helpers/async.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';

const mainJs = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

describe('wharf perf', () => {
  let broker: TestBroker;

  before(async () => {
    broker = await startTestBroker();
  });
  after(async () => {
    await broker.close();
  });

  /** Options as the CLI would parse them, with a fresh queue prefix and --json. */
  function options(args: string[]): PerfOptions {
    const cmd = parsePerfArgs(['--url', broker.url, '--queue-prefix', uniqueName('perf'), '--json', ...args]);
    assert.equal(cmd.command, 'perf');
    return (cmd as Extract<typeof cmd, { command: 'perf' }>).options;
  }

  function perf(args: string[]): Promise<PerfResult> {
    return runPerf(options(args));
  }

  async function queueDepth(queue: string): Promise<number | undefined> {
    const c = await connect(broker.url);
    try {
      const ch = await c.channel();
      return (await ch.queueDeclare(queue, { passive: true })).messageCount;
    } catch {
      return undefined;
    } finally {
      await c.close();
    }
  }

  it('persistent, confirms and manual acks with prefetch: every message published, confirmed and consumed', TEST_OPTS, async () => {
    const r = await perf(['--persistent', '--confirm', '100', '--prefetch', '50', '--pmessages', '3000', '--size', '64']);
    assert.equal(r.published, 3000);
    assert.equal(r.confirmed, 3000);
    assert.equal(r.nacked, 0);
    assert.equal(r.consumed, 3000);
    assert.ok(r.publishRate > 0 && r.consumeRate > 0 && r.confirmRate > 0);
    assert.ok(r.latencyMs.p50 > 0 && r.latencyMs.p50 <= r.latencyMs.p95 && r.latencyMs.p95 <= r.latencyMs.p99);
    assert.ok(r.latencyMs.p99 <= r.latencyMs.p999 && r.latencyMs.p999 <= r.latencyMs.max);
    const c = r.confirmLatencyMs;
    assert.ok(c.p50 > 0 && c.p50 <= c.p95 && c.p95 <= c.p99 && c.p99 <= c.p999 && c.p999 <= c.max, JSON.stringify(c));
    assert.equal(r.config.persistent, true);
    assert.equal(await queueDepth(`${String(r.config.queuePrefix)}-1`), undefined, 'cleaned up');
  });

  it('transient auto-ack for a duration: progress every second, consumed never more than published', TEST_OPTS, async () => {
    const lines: string[] = [];
    const r = await runPerf(options(['--auto-ack', '--duration', '2']), { progress: (l) => lines.push(l) });
    assert.ok(r.published > 0);
    assert.ok(r.consumed > 0 && r.consumed <= r.published, `${r.consumed} of ${r.published}`);
    assert.equal(r.confirmed, 0);
    assert.equal(r.confirmRate, 0);
    assert.deepEqual(r.confirmLatencyMs, { p50: 0, p95: 0, p99: 0, p999: 0, max: 0 });
    assert.ok(r.durationMs >= 2000);
    assert.ok(lines.length >= 1);
    for (const l of lines) assert.match(l, /^time \d+\.\d s, published [\d,]+ msg\/s, consumed [\d,]+ msg\/s, latency p50 (\d+\.\d{3}|-) ms, p99 (\d+\.\d{3}|-) ms$/);
  });

  it('fanout: each message reaches every queue, consumers spread over them', TEST_OPTS, async () => {
    const r = await perf(['--exchange-type', 'fanout', '--queues', '3', '--consumers', '3', '--pmessages', '500', '--confirm', '50']);
    assert.equal(r.published, 500);
    assert.equal(r.consumed, 1500);
  });

  it('fanout with fewer consumers than queues: each consumer takes several queues', TEST_OPTS, async () => {
    const r = await perf(['--exchange-type', 'fanout', '--queues', '4', '--consumers', '2', '--pmessages', '200', '--auto-ack']);
    assert.equal(r.consumed, 800);
  });

  it('direct with several publishers and queues: each publisher sends its count', TEST_OPTS, async () => {
    const r = await perf(['--publishers', '3', '--queues', '2', '--consumers', '2', '--pmessages', '700', '--confirm', '64']);
    assert.equal(r.published, 2100);
    assert.equal(r.confirmed, 2100);
    assert.equal(r.consumed, 2100);
  });

  it('fixed rate: never ahead of the schedule, and everything sent is consumed', TEST_OPTS, async () => {
    const r = await perf(['--rate', '500', '--duration', '2', '--publishers', '2', '--consumers', '1']);
    assert.ok(r.published > 0);
    // The schedule allows rate x elapsed per publisher; the run's duration bounds the elapsed time.
    assert.ok(r.published <= 2 * Math.ceil((500 * r.durationMs) / 1000), `${r.published} in ${r.durationMs} ms`);
    assert.equal(r.consumed, r.published);
  });

  it('--warmup: the load runs first, and only what follows is counted', TEST_OPTS, async () => {
    const lines: string[] = [];
    const r = await runPerf(options(['--rate', '400', '--duration', '1', '--warmup', '2']), { progress: (l) => lines.push(l) });
    // About 1,200 messages are sent in all; the measured window holds only its own second's worth
    // (room is left for a paced schedule catching up on a loaded machine; the warm-up would add ~800).
    assert.ok(r.published > 0 && r.published <= Math.ceil((400 * r.durationMs * 1.5) / 1000) + 20, `${r.published} in ${r.durationMs} ms`);
    assert.ok(r.consumed > 0);
    assert.ok(r.latencyMs.max > 0);
    assert.match(lines[0] ?? '', /^warm-up: time /);
    assert.ok(lines.some((l) => l.startsWith('time ')), lines.join('\n'));
  });

  it('--cmessages: each consumer stops at its count', TEST_OPTS, async () => {
    const r = await perf(['--consumers', '2', '--cmessages', '400', '--prefetch', '10']);
    assert.equal(r.consumed, 800);
    assert.ok(r.published >= 800);
  });

  it('fill without consumers and --no-cleanup, then --drain with --no-declare empties the queue', TEST_OPTS, async () => {
    const prefix = uniqueName('perf');
    const fill = await runPerf(options(['--queue-prefix', prefix, '--consumers', '0', '--pmessages', '2500', '--persistent', '--confirm', '500', '--no-cleanup']));
    assert.equal(fill.published, 2500);
    assert.equal(fill.confirmed, 2500);
    assert.equal(fill.consumed, 0);
    assert.equal(await queueDepth(`${prefix}-1`), 2500);

    const drain = await runPerf(options(['--queue-prefix', prefix, '--publishers', '0', '--drain', '--no-declare', '--prefetch', '100']));
    assert.equal(drain.published, 0);
    assert.equal(drain.consumed, 2500);
    assert.ok(drain.consumeRate > 0);
    assert.equal(await queueDepth(`${prefix}-1`), 0, '--no-declare deletes nothing');
    const c = await connect(broker.url);
    await (await c.channel()).queueDelete(`${prefix}-1`);
    await c.close();
  });

  it('idle connections are opened, held for the duration and closed', TEST_OPTS, async () => {
    const r = await perf(['--publishers', '0', '--consumers', '0', '--idle-connections', '30', '--duration', '1']);
    assert.equal(r.published, 0);
    assert.equal(r.config.idleConnections, 30);
    assert.ok(r.durationMs >= 1000);
  });

  it('--no-declare with a missing queue fails with the broker\'s 404', TEST_OPTS, async () => {
    await assert.rejects(perf(['--no-declare', '--pmessages', '10']), /channel 1 closed by the broker: 404 NOT_FOUND - no queue 'perf-[^']+-1'/);
  });

  it('an exchange deleted mid-run ends the run with the channel error', TEST_OPTS, async () => {
    const o = options(['--exchange-type', 'fanout', '--duration', '20', '--rate', '200']);
    const c = await connect(broker.url);
    const ch = await c.channel();
    let deleted = false;
    const run = runPerf(o, {
      progress: () => {
        if (deleted) return;
        deleted = true;
        void ch.exchangeDelete(`${o.queuePrefix}-fanout`);
      },
    });
    await assert.rejects(run, /closed by the broker: 404 NOT_FOUND - no exchange/);
    for (let i = 1; i <= o.queues; i++) await ch.queueDelete(`${o.queuePrefix}-${i}`);
    await c.close();
  });

  describe('the CLI', () => {
    function wharf(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
      return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [mainJs, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
        child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
        child.on('error', reject);
        child.on('exit', (code) => resolve({ code, stdout, stderr }));
      });
    }

    it('--json prints exactly one line, the result with every field', TEST_OPTS, async () => {
      const r = await wharf(['perf', '--url', broker.url, '--queue-prefix', uniqueName('perf'), '--pmessages', '2000', '--confirm', '100', '--json']);
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.trimEnd().split('\n');
      assert.equal(lines.length, 1);
      const result = JSON.parse(lines[0]) as PerfResult;
      assert.equal(result.published, 2000);
      assert.equal(result.consumed, 2000);
      for (const key of ['publishRate', 'consumeRate', 'confirmRate', 'durationMs'] as const) assert.equal(typeof result[key], 'number', key);
      for (const key of ['p50', 'p95', 'p99', 'p999', 'max'] as const) assert.equal(typeof result.latencyMs[key], 'number', key);
      for (const key of ['userMs', 'systemMs', 'percentOfOneCore'] as const) assert.equal(typeof result.cpu[key], 'number', key);
      assert.equal(result.config.pmessages, 2000);
      assert.doesNotMatch(lines[0], /guest:guest/);
    });

    it('without --json: progress lines, a summary, and the JSON line last', TEST_OPTS, async () => {
      const r = await wharf(['perf', '--url', broker.url, '--queue-prefix', uniqueName('perf'), '--duration', '1', '--rate', '1000', '--confirm', '100']);
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.trimEnd().split('\n');
      assert.match(lines[0], /^time 1\.0 s, published .*, confirm p99 (\d+\.\d{3}|-) ms$/);
      assert.ok(lines.some((l) => l.startsWith('summary: ')));
      assert.ok(lines.some((l) => /^ {2}latency ms: p50 [\d.]+, p95 [\d.]+, p99 [\d.]+, p99\.9 [\d.]+, max [\d.]+$/.test(l)));
      assert.ok(lines.some((l) => /^ {2}confirm latency ms: p50 [\d.]+, p95 [\d.]+, p99 [\d.]+, p99\.9 [\d.]+, max [\d.]+ \(publish to confirm\)$/.test(l)));
      const last = JSON.parse(lines[lines.length - 1]) as PerfResult;
      assert.equal(last.consumed, last.published);
    });

    it('a refused connection: exit 1 and one line on stderr', TEST_OPTS, async () => {
      const r = await wharf(['perf', '--url', 'amqp://guest:guest@127.0.0.1:1/', '--duration', '1', '--json']);
      assert.equal(r.code, 1);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /^wharf perf: cannot connect to 127\.0\.0\.1:1 .*ECONNREFUSED.*\n$/);
    });

    it('a channel error from the broker: exit 1 with its code and text', TEST_OPTS, async () => {
      const r = await wharf(['perf', '--url', broker.url, '--queue-prefix', uniqueName('perf'), '--no-declare', '--json']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^wharf perf: channel 1 closed by the broker: 404 NOT_FOUND - no queue '[^']+'/);
    });

    it('bad options: exit 2', TEST_OPTS, async () => {
      const r = await wharf(['perf', '--url', broker.url, '--exchange-type', 'topic']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /^wharf: perf: invalid --exchange-type/);
    });
  });
});
