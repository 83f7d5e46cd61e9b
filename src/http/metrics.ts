// Prometheus metrics at /metrics in the text exposition format, written
// directly from the broker's state at scrape time. RabbitMQ's rabbitmq_* names
// where they exist (so its Grafana dashboards and alerts work), kafka_exporter's
// names for consumer-group lag, and wharf_* for Wharf's own numbers.
//
// Why not prom-client: its metric objects keep one child per label set and are
// meant to be updated as things happen. Everything here is already counted on
// the broker's own objects (a few integer fields), so a collector would copy
// 10,000 queues' numbers into 10,000 children per scrape and then render them;
// writing the lines directly does the same job with one pass and no per-series
// objects, and keeps the hot path free of metrics calls entirely.

import { hostname } from 'node:os';
import type { Broker } from '../broker/broker.js';
import { flowControl } from '../broker/queue/flow.js';
import { FSYNC_BUCKETS_SECONDS, fsyncLatency } from '../store/fsync-latency.js';
import type { ManagementContext } from './context.js';
import { totals } from './stats-json.js';
import { RABBITMQ_COMPAT_VERSION } from './routes/node.js';
import { groupsOf } from './routes/wharf.js';
import { WHARF_VERSION } from './version.js';

/** Per-queue series up to this many queues; above it only the aggregate (RabbitMQ's aggregated mode). */
export const QUEUE_SERIES_MAX_DEFAULT = 1000;

type Labels = Record<string, string | number>;

class Exposition {
  private readonly lines: string[] = [];

  family(name: string, type: 'gauge' | 'counter' | 'histogram' | 'untyped', help: string): this {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    return this;
  }

  sample(name: string, value: number, labels?: Labels): this {
    this.lines.push(`${name}${labelText(labels)} ${formatValue(value)}`);
    return this;
  }

  /** A sample with its label set already written (`{a="b"}`), for series repeated across families. */
  sampleWith(name: string, labelSet: string, value: number): this {
    this.lines.push(`${name}${labelSet} ${formatValue(value)}`);
    return this;
  }

  one(name: string, type: 'gauge' | 'counter', help: string, value: number, labels?: Labels): this {
    return this.family(name, type, help).sample(name, value, labels);
  }

  text(): string {
    return this.lines.join('\n') + '\n';
  }
}

function labelText(labels: Labels | undefined): string {
  if (!labels) return '';
  const parts: string[] = [];
  for (const [k, v] of Object.entries(labels)) parts.push(`${k}="${escapeLabel(String(v))}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

const NEEDS_ESCAPE = /[\\"\n]/;

function escapeLabel(v: string): string {
  if (!NEEDS_ESCAPE.test(v)) return v;
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

export interface MetricsOptions {
  /** Per-object series even above the limit (RabbitMQ's /metrics/per-object). */
  readonly perObject?: boolean;
  readonly queueSeriesMax?: number;
}

export async function renderMetrics(ctx: ManagementContext, opts: MetricsOptions = {}): Promise<string> {
  const b = ctx.broker;
  const out = new Exposition();
  writeIdentity(out, ctx);
  writeObjects(out, b);
  writeGlobal(out, b);
  writeQueues(out, b, opts.perObject === true ? Infinity : (opts.queueSeriesMax ?? QUEUE_SERIES_MAX_DEFAULT));
  writeResources(out, ctx);
  writeStreams(out, b);
  await writeGroups(out, b);
  writeWharf(out, b);
  return out.text();
}

function writeIdentity(out: Exposition, ctx: ManagementContext): void {
  out.family('rabbitmq_build_info', 'untyped', 'RabbitMQ & Erlang/OTP version info (Wharf: the RabbitMQ version its API follows, and its own)')
    .sample('rabbitmq_build_info', 1, { rabbitmq_version: RABBITMQ_COMPAT_VERSION, product: 'Wharf', wharf_version: WHARF_VERSION, node_version: process.version });
  out.family('rabbitmq_identity_info', 'untyped', 'RabbitMQ node & cluster identity info')
    .sample('rabbitmq_identity_info', 1, { rabbitmq_node: ctx.nodeName, rabbitmq_cluster: ctx.nodeName, host: hostname() });
}

function writeObjects(out: Exposition, b: Broker): void {
  let channels = 0;
  let consumers = 0;
  for (const c of b.connections.values()) {
    for (const ch of c.info().channels) {
      channels++;
      consumers += ch.consumers.length;
    }
  }
  let queues = 0;
  for (const v of b.vhostList()) queues += v.queues.size + v.streams.size;
  out.one('rabbitmq_connections', 'gauge', 'Connections currently open', b.connections.size);
  out.one('rabbitmq_channels', 'gauge', 'Channels currently open', channels);
  out.one('rabbitmq_consumers', 'gauge', 'Consumers currently connected', consumers);
  out.one('rabbitmq_queues', 'gauge', 'Queues available', queues);
  out.one('rabbitmq_connections_opened_total', 'counter', 'Total number of connections opened', b.connections.churn.connectionCreated);
  out.one('rabbitmq_connections_closed_total', 'counter', 'Total number of connections closed or terminated', b.connections.churn.connectionClosed);
  out.one('rabbitmq_global_consumers', 'gauge', 'Current number of consumers', consumers);
}

function writeGlobal(out: Exposition, b: Broker): void {
  const c = totals(b).counters;
  const proto = { protocol: 'amqp091' };
  const g = (name: string, help: string, value: number): void => void out.one(`rabbitmq_global_messages_${name}_total`, 'counter', help, value, proto);
  g('received', 'Total number of messages received from publishers', c.publish);
  g('confirmed', 'Total number of messages confirmed to publishers', c.confirm);
  g('delivered', 'Total number of messages delivered to consumers', c.deliver + c.deliverNoAck + c.get + c.getNoAck);
  g('delivered_consume_auto_ack', 'Total number of messages delivered to consumers using basic.consume with automatic acknowledgment', c.deliverNoAck);
  g('delivered_consume_manual_ack', 'Total number of messages delivered to consumers using basic.consume with manual acknowledgment', c.deliver);
  g('delivered_get_auto_ack', 'Total number of messages delivered to consumers using basic.get with automatic acknowledgment', c.getNoAck);
  g('delivered_get_manual_ack', 'Total number of messages delivered to consumers using basic.get with manual acknowledgment', c.get);
  g('get_empty', 'Total number of times basic.get operations fetched no message', c.getEmpty);
  g('redelivered', 'Total number of messages redelivered to consumers', c.redeliver);
  g('acknowledged', 'Total number of messages acknowledged by consumers', c.ack);
  g('unroutable_dropped', 'Total number of messages published as non-mandatory into an exchange and dropped as unroutable', c.dropUnroutable);
  g('unroutable_returned', 'Total number of messages published as mandatory into an exchange and returned to the publisher as unroutable', c.returnUnroutable);
}

interface QueueRow {
  /** `{vhost="...",queue="..."}`, written once per scrape and reused by every family. */
  readonly labels: string;
  readonly ready: number;
  readonly unacked: number;
  readonly consumers: number;
  readonly readyBytes: number;
  readonly published: number;
}

function writeQueues(out: Exposition, b: Broker, seriesMax: number): void {
  const rows: QueueRow[] = [];
  for (const v of b.vhostList()) {
    for (const q of v.queues.values()) {
      rows.push({ labels: labelText({ vhost: v.name, queue: q.name }), ready: q.messageCount, unacked: q.unacked, consumers: q.consumerCount, readyBytes: q.readyBodyBytes, published: q.stats.publish });
    }
  }
  const families: [string, 'gauge' | 'counter', string, (r: QueueRow) => number][] = [
    ['rabbitmq_queue_messages_ready', 'gauge', 'Messages ready to be delivered to consumers', (r) => r.ready],
    ['rabbitmq_queue_messages_unacked', 'gauge', 'Messages delivered to consumers but not yet acknowledged', (r) => r.unacked],
    ['rabbitmq_queue_messages', 'gauge', 'Sum of ready and unacknowledged messages - total queue depth', (r) => r.ready + r.unacked],
    ['rabbitmq_queue_messages_ready_bytes', 'gauge', 'Size in bytes of ready messages', (r) => r.readyBytes],
    ['rabbitmq_queue_consumers', 'gauge', 'Consumers on a queue', (r) => r.consumers],
    ['rabbitmq_queue_messages_published_total', 'counter', 'Total number of messages published to queues', (r) => r.published],
  ];
  const perQueue = rows.length <= seriesMax;
  for (const [name, type, help, value] of families) {
    out.family(name, type, help);
    if (perQueue) {
      for (const r of rows) out.sampleWith(name, r.labels, value(r));
    } else {
      let sum = 0;
      for (const r of rows) sum += value(r);
      out.sample(name, sum);
    }
  }
}

function writeResources(out: Exposition, ctx: ManagementContext): void {
  const s = ctx.resources?.status();
  const alarms = s?.alarms ?? [];
  out.one('rabbitmq_alarms_memory_used_watermark', 'gauge', 'is 1 if VM memory watermark alarm is in effect', alarms.includes('memory') ? 1 : 0);
  out.one('rabbitmq_alarms_free_disk_space_watermark', 'gauge', 'is 1 if free disk space watermark alarm is in effect', alarms.includes('disk') ? 1 : 0);
  out.one('rabbitmq_alarms_file_descriptor_limit', 'gauge', 'is 1 if file descriptor limit alarm is in effect', 0);
  out.one('rabbitmq_process_resident_memory_bytes', 'gauge', 'Memory used in bytes', process.memoryUsage.rss());
  if (s) {
    out.one('rabbitmq_resident_memory_limit_bytes', 'gauge', 'Memory high watermark in bytes', s.memory.limitBytes);
    if (s.disk.freeBytes !== null) out.one('rabbitmq_disk_space_available_bytes', 'gauge', 'Disk space available in bytes', s.disk.freeBytes);
    out.one('rabbitmq_disk_space_available_limit_bytes', 'gauge', 'Free disk space low watermark in bytes', s.disk.limitBytes);
  }
  out.one('wharf_connections_blocked', 'gauge', 'Connections blocked by a resource alarm', ctx.blockedConnections());
}

function writeStreams(out: Exposition, b: Broker): void {
  const fam = [
    ['kafka_topic_partition_current_offset', 'Log end offset of a stream partition (kafka_exporter name)'],
    ['kafka_topic_partition_oldest_offset', 'Log start offset of a stream partition (kafka_exporter name)'],
    ['wharf_stream_partition_high_watermark', 'Offset below which records are durable and readable'],
    ['wharf_stream_partition_log_bytes', 'Bytes of the partition log on disk'],
    ['wharf_stream_partition_segments', 'Segment files of the partition log'],
  ] as const;
  const rows: { labels: Labels; values: number[] }[] = [];
  for (const v of b.vhostList()) {
    for (const s of v.streams.list()) {
      s.partitions.forEach((p, i) => {
        rows.push({ labels: { vhost: v.name, topic: s.name, partition: i }, values: [p.logEndOffset, p.logStartOffset, p.highWatermark, p.sizeBytes, p.segmentCount] });
      });
    }
  }
  fam.forEach(([name, help], i) => {
    out.family(name, 'gauge', help);
    for (const r of rows) out.sample(name, r.values[i], r.labels);
  });
}

async function writeGroups(out: Exposition, b: Broker): Promise<void> {
  const lag: { labels: Labels; lag: number; offset: number }[] = [];
  for (const v of b.vhostList()) {
    for (const g of await groupsOf(v)) {
      for (const o of g.offsets) lag.push({ labels: { vhost: v.name, consumergroup: g.group_id, topic: o.topic, partition: o.partition }, lag: o.lag, offset: o.committed_offset });
    }
  }
  out.family('kafka_consumergroup_lag', 'gauge', 'High watermark minus the group\'s committed offset, per partition (kafka_exporter name)');
  for (const l of lag) out.sample('kafka_consumergroup_lag', l.lag, l.labels);
  out.family('kafka_consumergroup_current_offset', 'gauge', 'The group\'s committed offset, per partition (kafka_exporter name)');
  for (const l of lag) out.sample('kafka_consumergroup_current_offset', l.offset, l.labels);
}

function writeWharf(out: Exposition, b: Broker): void {
  const stats = b.stats() as { logBytes?: number };
  out.one('wharf_message_log_bytes', 'gauge', 'Bytes of the shared message log on disk', stats.logBytes ?? 0);
  out.one('wharf_recovery_seconds', 'gauge', 'Time the last start spent replaying the logs', b.recoveryMs / 1000);
  out.one('wharf_flow_control_pauses_total', 'counter', 'Times a queue held its publishers back (publisher flow control)', flowControl.pauses);
  out.family('wharf_fsync_duration_seconds', 'histogram', 'fdatasync latency of log segment files');
  let cumulative = 0;
  FSYNC_BUCKETS_SECONDS.forEach((le, i) => {
    cumulative += fsyncLatency.counts[i];
    out.sample('wharf_fsync_duration_seconds_bucket', cumulative, { le });
  });
  out.sample('wharf_fsync_duration_seconds_bucket', fsyncLatency.count, { le: '+Inf' });
  out.sample('wharf_fsync_duration_seconds_sum', fsyncLatency.sumSeconds);
  out.sample('wharf_fsync_duration_seconds_count', fsyncLatency.count);
}
