import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  buildTable,
  formatNumber,
  formatSummary,
  ratio,
  renderMarkdownTable,
  renderText,
  summarize,
  timestampName,
  writeResults,
  type ResultsFile,
  type RunRecord,
} from '../../../bench/lib/report.js';
import { WORKLOADS } from '../../../bench/lib/workloads.js';

const run = (workload: RunRecord['workload'], broker: RunRecord['broker'], round: number, metrics?: Record<string, number>, error?: string): RunRecord =>
  ({ workload, broker, round, ...(metrics && { metrics }), ...(error !== undefined && { error }) });

describe('bench report: summaries', () => {
  it('takes the median of an odd count, the mean of the middle two of an even count, with min and max', () => {
    assert.deepEqual(summarize([3, 1, 2]), { median: 2, min: 1, max: 3, n: 3 });
    assert.deepEqual(summarize([4, 1, 3, 2]), { median: 2.5, min: 1, max: 4, n: 4 });
  });

  it('ignores missing values and has no summary without any', () => {
    assert.deepEqual(summarize([NaN, 5, Infinity]), { median: 5, min: 5, max: 5, n: 1 });
    assert.equal(summarize([]), undefined);
  });

  it('gives the ratio of medians, and none when a side is missing or zero', () => {
    assert.equal(ratio(summarize([10]), summarize([4])), 2.5);
    assert.equal(ratio(summarize([10]), undefined), undefined);
    assert.equal(ratio(summarize([10]), summarize([0])), undefined);
  });

  it('formats rates, latencies and sizes compactly', () => {
    assert.equal(formatNumber(44123), '44.1k');
    assert.equal(formatNumber(1_250_000), '1.25M');
    assert.equal(formatNumber(4272), '4272');
    assert.equal(formatNumber(232.4), '232');
    assert.equal(formatNumber(17.26), '17.3');
    assert.equal(formatNumber(2.5), '2.50');
    assert.equal(formatSummary(summarize([1000, 2000, 30000])), '2000 (1000-30.0k)');
    assert.equal(formatSummary(summarize([7])), '7.00');
    assert.equal(formatSummary(undefined), '-');
  });
});

describe('bench report: table', () => {
  const runs: RunRecord[] = [
    run('a', 'wharf', 1, { consumeRate: 90000, publishRate: 91000 }),
    run('a', 'rabbitmq', 1, { consumeRate: 40000, publishRate: 41000 }),
    run('a', 'ceiling', 1, { consumeRate: 180000, publishRate: 180000 }),
    run('a', 'wharf', 2, { consumeRate: 100000, publishRate: 101000 }),
    run('a', 'rabbitmq', 2, undefined, 'start failed'),
    run('a', 'ceiling', 2, { consumeRate: 200000, publishRate: 200000 }),
    run('a', 'wharf', 3, { consumeRate: 80000, publishRate: 81000 }),
    run('a', 'rabbitmq', 3, { consumeRate: 50000, publishRate: 51000 }),
  ];

  it('has a row per metric with medians, the Wharf/RabbitMQ ratio and Wharf as a share of the ceiling', () => {
    const rows = buildTable([WORKLOADS.a], runs);
    assert.deepEqual(rows.map((r) => r.metric.key), WORKLOADS.a.metrics.map((m) => m.key));
    const consumed = rows[0];
    assert.deepEqual(consumed.wharf, { median: 90000, min: 80000, max: 100000, n: 3 });
    assert.deepEqual(consumed.rabbitmq, { median: 45000, min: 40000, max: 50000, n: 2 }, 'the failed run is left out');
    assert.equal(consumed.ratio, 2);
    assert.equal(consumed.ofCeilingPercent, 90000 / 190000 * 100);
  });

  it('compares with the ceiling only for rates', () => {
    const rss = buildTable([WORKLOADS.a], [...runs, run('a', 'ceiling', 3, { consumeRate: 1, peakRssMB: 50 })]).find((r) => r.metric.key === 'peakRssMB');
    assert.equal(rss?.ceiling, undefined);
    assert.equal(rss?.ofCeilingPercent, undefined);
  });

  it('renders aligned text and a Markdown table with the same cells', () => {
    const rows = buildTable([WORKLOADS.a], runs).slice(0, 1);
    const text = renderText(rows).split('\n');
    assert.match(text[0], /^wl\s+metric\s+Wharf\s+RabbitMQ\s+W\/R\s+ceiling\s+W % ceil$/);
    assert.match(text[1], /^a\s+consumed \(msg\/s, higher is better\)\s+90\.0k \(80\.0k-100\.0k\)\s+45\.0k \(40\.0k-50\.0k\)\s+2\.00x\s+190\.0k \(180\.0k-200\.0k\)\s+47%$/);
    assert.equal(text[0].indexOf('Wharf'), text[1].indexOf('90.0k'), 'columns line up');
    const md = renderMarkdownTable(rows).trimEnd().split('\n');
    assert.equal(md.length, 3);
    assert.equal(md[1], '| --- | --- | --- | --- | --- | --- | --- |');
    assert.ok(md[2].startsWith('| a | consumed (msg/s, higher is better) | 90.0k (80.0k-100.0k) |'));
  });
});

describe('bench report: results files', () => {
  it('stamps file names so that they sort and carry no colons', () => {
    assert.equal(timestampName(new Date('2026-12-04T15:47:33.123Z')), '2026-12-04T15-47-33Z');
  });

  it('writes <stamp>.json with every run and <stamp>.md with the table, the disk numbers and the failures', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wharf-bench-report-'));
    try {
      const runs = [run('a', 'wharf', 1, { consumeRate: 10 }), run('a', 'rabbitmq', 1, undefined, 'driver failed (exit 1)')];
      const results: ResultsFile = {
        startedAt: '2026-12-04T15:47:33.000Z',
        finishedAt: '2026-12-04T15:50:00.000Z',
        machine: { cores: 2 },
        options: { rounds: 1 },
        driver: 'wharf perf',
        workloads: [{ id: 'a', title: WORKLOADS.a.title }],
        runs,
        table: buildTable([WORKLOADS.a], runs),
      };
      const files = writeResults(join(dir, 'results'), results, '4 KiB writes: 2000 syncs/s\n');
      assert.deepEqual(readdirSync(join(dir, 'results')).sort(), ['2026-12-04T15-47-33Z.json', '2026-12-04T15-47-33Z.md']);
      const json = JSON.parse(readFileSync(files.json, 'utf8')) as ResultsFile;
      assert.deepEqual(json.runs, runs);
      assert.equal(json.table[0].wharf?.median, 10);
      const md = readFileSync(files.md, 'utf8');
      assert.match(md, /^# bench\/compare 2026-12-04T15:47:33.000Z/);
      assert.match(md, /Driver: wharf perf\./);
      assert.match(md, /\| a \| consumed \(msg\/s, higher is better\) \| 10\.0 \| - \| - \| - \| - \|/);
      assert.match(md, /4 KiB writes: 2000 syncs\/s/);
      assert.match(md, /- a rabbitmq round 1: driver failed \(exit 1\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
