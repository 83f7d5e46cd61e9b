// `wharf perf` argument parsing and output formatting (pure functions).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCommandLine, UsageError } from '../../../src/cli/config.js';
import { parsePerfArgs, perfDefaults, perfHelpText, reportedConfig, type PerfOptions } from '../../../src/cli/perf/options.js';
import { buildResult, jsonLine, progressLine, Stats, summaryLines } from '../../../src/cli/perf/report.js';
import { queueNames, share } from '../../../src/cli/perf/run.js';

const URL_ARG = ['--url', 'amqp://guest:secret@127.0.0.1:5999/'];

function perf(args: string[]): PerfOptions {
  const cmd = parsePerfArgs([...URL_ARG, ...args]);
  assert.equal(cmd.command, 'perf');
  return (cmd as Extract<typeof cmd, { command: 'perf' }>).options;
}

function refused(args: string[], pattern: RegExp): void {
  assert.throws(() => parsePerfArgs(args), (err: unknown) => {
    assert.ok(err instanceof UsageError, String(err));
    assert.match(err.message, pattern);
    return true;
  });
}

describe('wharf perf options', () => {
  it('defaults: one publisher, one consumer, one queue, 16 B transient, 10 s', () => {
    assert.deepEqual(perf([]), { ...perfDefaults, url: URL_ARG[1] });
    assert.equal(perf([]).durationSec, 10);
  });

  it('is reached through the wharf command line', () => {
    const cmd = parseCommandLine(['perf', ...URL_ARG, '--publishers', '3'], {}, () => '');
    assert.equal(cmd.command, 'perf');
    assert.equal((cmd as Extract<typeof cmd, { command: 'perf' }>).options.publishers, 3);
    assert.deepEqual(parseCommandLine(['perf', '--help'], {}, () => ''), { command: 'help', text: perfHelpText });
  });

  it('every flag of the contract', () => {
    const o = perf([
      '--publishers', '2', '--consumers', '10', '--queues', '10', '--exchange-type', 'fanout', '--size', '1024',
      '--persistent', '--confirm', '1000', '--prefetch', '500', '--rate', '5000', '--duration', '7', '--warmup', '3',
      '--queue-prefix', 'bench', '--no-declare', '--no-cleanup', '--json', '--idle-connections', '1000',
    ]);
    assert.deepEqual(o, {
      url: URL_ARG[1], publishers: 2, consumers: 10, queues: 10, exchangeType: 'fanout', sizeBytes: 1024,
      persistent: true, confirmWindow: 1000, prefetch: 500, autoAck: false, ratePerSec: 5000, durationSec: 7,
      warmupSec: 3, pmessages: 0, cmessages: 0, drain: false, queuePrefix: 'bench', declare: false, cleanup: false, json: true,
      idleConnections: 1000,
    });
    assert.equal(perf(['--auto-ack']).autoAck, true);
  });

  it('a message count or --drain replaces the default duration; an explicit one stays a limit', () => {
    assert.equal(perf(['--pmessages', '1000']).durationSec, undefined);
    assert.equal(perf(['--cmessages', '1000']).durationSec, undefined);
    assert.equal(perf(['--publishers', '0', '--drain']).durationSec, undefined);
    assert.equal(perf(['--pmessages', '1000', '--duration', '30']).durationSec, 30);
  });

  it('refuses bad values with one clear line', () => {
    refused([], /--url is required/);
    refused(['--url', 'http://x/'], /--url: unsupported URL scheme 'http:'/);
    refused([...URL_ARG, '--publishers', '-1'], /invalid --publishers|argument/);
    refused([...URL_ARG, '--publishers', 'two'], /invalid --publishers: "two" \(expected a whole number 0 or more\)/);
    refused([...URL_ARG, '--size', '4'], /invalid --size: "4" \(expected a whole number from 12 to/);
    refused([...URL_ARG, '--queues', '0'], /invalid --queues/);
    refused([...URL_ARG, '--duration', '0'], /invalid --duration/);
    refused([...URL_ARG, '--prefetch', '70000'], /invalid --prefetch/);
    refused([...URL_ARG, '--exchange-type', 'topic'], /expected direct or fanout/);
    refused([...URL_ARG, '--bogus'], /^perf: Unknown option '--bogus'/);
    refused([...URL_ARG, '--queue-prefix', ''], /--queue-prefix/);
  });

  it('refuses combinations that cannot run', () => {
    refused([...URL_ARG, '--publishers', '0', '--consumers', '0'], /nothing to do/);
    refused([...URL_ARG, '--publishers', '0', '--pmessages', '5'], /--pmessages needs at least one publisher/);
    refused([...URL_ARG, '--consumers', '0', '--cmessages', '5'], /--cmessages needs at least one consumer/);
    refused([...URL_ARG, '--consumers', '0', '--drain'], /--drain needs at least one consumer/);
    refused([...URL_ARG, '--drain'], /publishers would never stop/);
    refused([...URL_ARG, '--auto-ack', '--prefetch', '10'], /--prefetch has no effect with --auto-ack/);
    refused([...URL_ARG, '--pmessages', '10', '--warmup', '2'], /--warmup needs a timed run/);
    refused([...URL_ARG, '--publishers', '0', '--drain', '--warmup', '2'], /--warmup needs a timed run/);
  });

  it('the reported config hides the password', () => {
    const c = reportedConfig(perf([]));
    assert.equal(c.url, 'amqp://guest:***@127.0.0.1:5999/');
    assert.equal(c.publishers, 1);
  });

  it('queues are PREFIX-1..PREFIX-Q; roles share them round-robin, every queue covered', () => {
    assert.deepEqual(queueNames(perf(['--queues', '3', '--queue-prefix', 'p'])), ['p-1', 'p-2', 'p-3']);
    const qs = ['a', 'b', 'c', 'd', 'e'];
    assert.deepEqual([0, 1].map((i) => share(qs, i, 2)), [['a', 'c', 'e'], ['b', 'd']]);
    assert.deepEqual([0, 1, 2, 3].map((i) => share(['a', 'b'], i, 4)), [['a'], ['b'], ['a'], ['b']]);
    assert.deepEqual(share(['a'], 0, 1), ['a']);
  });
});

describe('wharf perf output', () => {
  it('progress line: time, rates, p50/p99 in ms', () => {
    assert.equal(
      progressLine({ elapsedSec: 3, publishedPerSec: 51234.4, consumedPerSec: 51100, p50Ms: 0.4125, p99Ms: 1.83 }),
      'time 3.0 s, published 51,234 msg/s, consumed 51,100 msg/s, latency p50 0.412 ms, p99 1.830 ms',
    );
    assert.match(progressLine({ elapsedSec: 1, publishedPerSec: 0, consumedPerSec: 0, p50Ms: undefined, p99Ms: undefined }), /p50 - ms, p99 - ms$/);
  });

  it('the JSON line has every field of the contract, in order, and the summary agrees with it', () => {
    const stats = new Stats();
    stats.begin();
    for (let i = 1; i <= 1000; i++) stats.recordLatency(i / 100); // 0.01 .. 10 ms
    stats.published = stats.consumed = stats.confirmed = 1000;
    stats.lastPublishMs = stats.lastConsumeMs = stats.lastConfirmMs = stats.startMs + 500;
    const r = buildResult(stats, stats.startMs + 1000, { user: 200_000, system: 50_000 }, perf(['--confirm', '10']));
    const parsed = JSON.parse(jsonLine(r)) as Record<string, unknown>;
    assert.deepEqual(Object.keys(parsed).slice(0, 9), [
      'published', 'consumed', 'publishRate', 'consumeRate', 'confirmRate', 'durationMs', 'latencyMs', 'cpu', 'config',
    ]);
    assert.equal(r.publishRate, 2000);
    assert.equal(r.consumeRate, 2000);
    assert.equal(r.confirmRate, 2000);
    assert.equal(r.durationMs, 1000);
    assert.deepEqual(Object.keys(r.latencyMs), ['p50', 'p95', 'p99', 'p999', 'max']);
    // HDR histogram with 3 significant digits: within 0.1 %.
    assert.ok(Math.abs(r.latencyMs.p50 - 5) < 0.01, String(r.latencyMs.p50));
    assert.ok(Math.abs(r.latencyMs.p99 - 9.9) < 0.01, String(r.latencyMs.p99));
    assert.ok(Math.abs(r.latencyMs.max - 10) < 0.01, String(r.latencyMs.max));
    assert.deepEqual(r.cpu, { userMs: 200, systemMs: 50, percentOfOneCore: 25 });
    const { p50, p95, p99, p999, max } = r.latencyMs;
    assert.ok(p50 <= p95 && p95 <= p99 && p99 <= p999 && p999 <= max, JSON.stringify(r.latencyMs));
    assert.equal((parsed.config as { confirmWindow: number }).confirmWindow, 10);
    const text = summaryLines(r).join('\n');
    assert.match(text, /published 1,000 \(2,000 msg\/s\), confirmed 1,000 \(2,000 msg\/s\)/);
    assert.match(text, /25\.0% of one core/);
  });

  it('no messages: rates and latencies are 0, not NaN', () => {
    const stats = new Stats();
    const r = buildResult(stats, stats.startMs, { user: 0, system: 0 }, perf([]));
    assert.deepEqual(r.latencyMs, { p50: 0, p95: 0, p99: 0, p999: 0, max: 0 });
    assert.equal(r.publishRate, 0);
    assert.equal(r.cpu.percentOfOneCore, 0);
    assert.doesNotMatch(jsonLine(r), /NaN|null/);
  });
});
