// Turns the runs of a comparison into a table of medians (with min-max per
// broker), Wharf/RabbitMQ ratios and Wharf as a percentage of the ceiling,
// rendered as aligned text for the terminal and as Markdown, and writes the
// results to bench/results/<timestamp>.json and .md. Pure except writeResults.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrokerKind } from './brokers.js';
import type { DriverResult } from './driver.js';
import type { MetricSpec, WorkloadId } from './workloads.js';

export interface RunRecord {
  workload: WorkloadId;
  broker: BrokerKind;
  round: number;
  metrics?: Record<string, number>;
  /** The driver's JSON lines, one per step, for a closer look. */
  driver?: DriverResult[];
  /** Broker and driver ran at real-time priority (--realtime). */
  realtime?: boolean;
  error?: string;
}

export interface Summary {
  median: number;
  min: number;
  max: number;
  n: number;
}

export interface TableRow {
  workload: WorkloadId;
  metric: MetricSpec;
  wharf?: Summary;
  rabbitmq?: Summary;
  ceiling?: Summary;
  /** Wharf median / RabbitMQ median. */
  ratio?: number;
  /** Wharf median as a percentage of the ceiling's. */
  ofCeilingPercent?: number;
}

export interface TableWorkload {
  id: WorkloadId;
  metrics: readonly MetricSpec[];
}

/** Median (mean of the middle two for an even count), min and max; undefined for no values. */
export function summarize(values: readonly number[]): Summary | undefined {
  const v = values.filter((x) => Number.isFinite(x)).sort((x, y) => x - y);
  if (v.length === 0) return undefined;
  const mid = v.length >> 1;
  const median = v.length % 2 === 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
  return { median, min: v[0], max: v[v.length - 1], n: v.length };
}

export function ratio(a: Summary | undefined, b: Summary | undefined): number | undefined {
  if (a === undefined || b === undefined || b.median === 0) return undefined;
  return a.median / b.median;
}

/** One row per workload metric, from every successful run. */
export function buildTable(workloads: readonly TableWorkload[], runs: readonly RunRecord[]): TableRow[] {
  const rows: TableRow[] = [];
  for (const w of workloads) {
    for (const metric of w.metrics) {
      const of = (broker: BrokerKind): Summary | undefined =>
        summarize(runs.filter((r) => r.workload === w.id && r.broker === broker && r.metrics !== undefined).map((r) => (r.metrics as Record<string, number>)[metric.key]));
      const wharf = of('wharf');
      const rabbitmq = of('rabbitmq');
      const ceiling = metric.unit === 'msg/s' ? of('ceiling') : undefined;
      const pct = ratio(wharf, ceiling);
      rows.push({
        workload: w.id,
        metric,
        wharf,
        rabbitmq,
        ceiling,
        ratio: ratio(wharf, rabbitmq),
        ofCeilingPercent: pct === undefined ? undefined : pct * 100,
      });
    }
  }
  return rows;
}

/** 44123 -> "44.1k", 2.5 -> "2.50", 232.4 -> "232". */
export function formatNumber(x: number): string {
  const abs = Math.abs(x);
  if (abs >= 1e6) return `${(x / 1e6).toFixed(2)}M`;
  if (abs >= 1e4) return `${(x / 1e3).toFixed(1)}k`;
  if (abs >= 100) return x.toFixed(0);
  if (abs >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

export function formatSummary(s: Summary | undefined): string {
  if (s === undefined) return '-';
  if (s.n === 1) return formatNumber(s.median);
  return `${formatNumber(s.median)} (${formatNumber(s.min)}-${formatNumber(s.max)})`;
}

const HEADER = ['wl', 'metric', 'Wharf', 'RabbitMQ', 'W/R', 'ceiling', 'W % ceil'];

function cells(row: TableRow): string[] {
  return [
    row.workload,
    `${row.metric.label} (${row.metric.unit}, ${row.metric.better} is better)`,
    formatSummary(row.wharf),
    formatSummary(row.rabbitmq),
    row.ratio === undefined ? '-' : `${row.ratio.toFixed(2)}x`,
    formatSummary(row.ceiling),
    row.ofCeilingPercent === undefined ? '-' : `${row.ofCeilingPercent.toFixed(0)}%`,
  ];
}

/** Aligned columns for the terminal. */
export function renderText(rows: readonly TableRow[]): string {
  const table = [HEADER, ...rows.map(cells)];
  const widths = HEADER.map((_, i) => Math.max(...table.map((r) => r[i].length)));
  return table.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n') + '\n';
}

export function renderMarkdownTable(rows: readonly TableRow[]): string {
  const line = (r: string[]): string => `| ${r.join(' | ')} |`;
  return [line(HEADER), line(HEADER.map(() => '---')), ...rows.map((r) => line(cells(r)))].join('\n') + '\n';
}

export interface ResultsFile {
  startedAt: string;
  finishedAt: string;
  machine: Record<string, unknown>;
  options: Record<string, unknown>;
  driver: string;
  fsync?: unknown;
  workloads: { id: WorkloadId; title: string }[];
  runs: RunRecord[];
  table: TableRow[];
}

/** A file name stamp that sorts: 2026-12-04T15-47-33Z. */
export function timestampName(d: Date): string {
  return d.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
}

export function renderMarkdown(r: ResultsFile, fsyncText: string): string {
  const errors = r.runs.filter((x) => x.error !== undefined);
  return [
    `# bench/compare ${r.startedAt}`,
    '',
    `Machine: ${JSON.stringify(r.machine)}`,
    `Driver: ${r.driver}. Options: ${JSON.stringify(r.options)}`,
    '',
    'Medians of the rounds (min-max); W/R = Wharf median / RabbitMQ median; ceiling = the byte-forwarding endpoint (bench/ceiling.ts).',
    ...(r.options.realtime === true ? ['Workloads e and e2 ran with --realtime: brokers and driver at real-time priority (SCHED_FIFO), out of reach of the machine\'s other load.'] : []),
    '',
    ...r.workloads.map((w) => `- **${w.id}**: ${w.title}`),
    '',
    renderMarkdownTable(r.table),
    '## Disk',
    '',
    '```',
    fsyncText.trimEnd(),
    '```',
    ...(errors.length === 0 ? [] : ['', '## Failed runs', '', ...errors.map((e) => `- ${e.workload} ${e.broker} round ${e.round}: ${e.error}`)]),
    '',
  ].join('\n');
}

/** Writes <dir>/<stamp>.json and .md; returns their paths. */
export function writeResults(dir: string, r: ResultsFile, fsyncText: string): { json: string; md: string } {
  mkdirSync(dir, { recursive: true });
  const stamp = timestampName(new Date(r.startedAt));
  const json = join(dir, `${stamp}.json`);
  const md = join(dir, `${stamp}.md`);
  writeFileSync(json, JSON.stringify(r, null, 2) + '\n');
  writeFileSync(md, renderMarkdown(r, fsyncText));
  return { json, md };
}
