// A stream's settings, by Kafka's topic config names (what CreateTopics, DescribeConfigs and
// IncrementalAlterConfigs speak), with RabbitMQ's stream queue arguments mapped onto them.
// Only explicitly set values are stored; the rest take the defaults below.

import { StreamError } from './errors.js';
import type { CleanupConfig, PartitionConfig } from './partition.js';

export interface TopicConfigEntry {
  readonly name: string;
  readonly default: string;
  /** Validates and normalises a value; throws a message for INVALID_CONFIG. */
  readonly parse: (value: string) => string;
  readonly sensitive?: boolean;
  /** Wharf accepts and reports it but does not act on it (docs/kafka.md). */
  readonly informational?: boolean;
}

const long = (min: number) => (v: string): string => {
  if (!/^-?\d+$/.test(v.trim())) throw new Error(`'${v}' is not a whole number`);
  const n = Number(v.trim());
  if (!Number.isSafeInteger(n) || n < min) throw new Error(`${v} is below the minimum ${min}`);
  return String(n);
};
const oneOf = (...allowed: string[]) => (v: string): string => {
  const parts = v.split(',').map((s) => s.trim().toLowerCase()).filter((s) => s.length > 0);
  if (parts.length === 0 || parts.some((p) => !allowed.includes(p))) throw new Error(`'${v}' is not one of ${allowed.join(', ')}`);
  return parts.join(',');
};
const bool = (v: string): string => {
  const t = v.trim().toLowerCase();
  if (t !== 'true' && t !== 'false') throw new Error(`'${v}' is not true or false`);
  return t;
};
const any = (v: string): string => v;
/** Kafka's LONG: up to 2^63 - 1 (max.compaction.lag.ms defaults to that); used as a number, capped at 2^53. */
const bigLong = (min: number) => (v: string): string => {
  if (!/^-?\d+$/.test(v.trim())) throw new Error(`'${v}' is not a whole number`);
  const n = BigInt(v.trim());
  if (n < BigInt(min) || n > 0x7fff_ffff_ffff_ffffn) throw new Error(`${v} is outside [${min}, 9223372036854775807]`);
  return n.toString();
};
const ratio = (v: string): string => {
  const t = v.trim();
  const n = Number(t);
  if (t === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new Error(`'${v}' is not a number between 0 and 1`);
  return String(n);
};

/** Wharf's default segment size: segments are the unit of retention and of recovery scans. */
export const SEGMENT_BYTES_DEFAULT = 64 * 1024 * 1024;
/** Kafka's message.max.bytes default (1 MiB + 12 bytes of log overhead). */
export const MAX_MESSAGE_BYTES_DEFAULT = 1048588;

const ENTRIES: readonly TopicConfigEntry[] = [
  { name: 'cleanup.policy', default: 'delete', parse: oneOf('delete', 'compact') },
  { name: 'retention.ms', default: '604800000', parse: long(-1) },
  { name: 'retention.bytes', default: '-1', parse: long(-1) },
  { name: 'segment.bytes', default: String(SEGMENT_BYTES_DEFAULT), parse: long(14) },
  { name: 'max.message.bytes', default: String(MAX_MESSAGE_BYTES_DEFAULT), parse: long(0) },
  { name: 'index.interval.bytes', default: '4096', parse: long(0) },
  { name: 'message.timestamp.type', default: 'CreateTime', parse: (v) => {
    if (v !== 'CreateTime' && v !== 'LogAppendTime') throw new Error(`'${v}' is not CreateTime or LogAppendTime`);
    return v;
  } },
  { name: 'min.insync.replicas', default: '1', parse: long(1), informational: true },
  { name: 'segment.ms', default: '604800000', parse: long(1), informational: true },
  { name: 'segment.index.bytes', default: '10485760', parse: long(4), informational: true },
  { name: 'segment.jitter.ms', default: '0', parse: long(0), informational: true },
  { name: 'delete.retention.ms', default: '86400000', parse: long(0) },
  { name: 'min.compaction.lag.ms', default: '0', parse: long(0) },
  { name: 'max.compaction.lag.ms', default: '9223372036854775807', parse: bigLong(1) },
  { name: 'min.cleanable.dirty.ratio', default: '0.5', parse: ratio },
  { name: 'file.delete.delay.ms', default: '60000', parse: long(0), informational: true },
  { name: 'flush.messages', default: '9223372036854775807', parse: any, informational: true },
  { name: 'flush.ms', default: '9223372036854775807', parse: any, informational: true },
  { name: 'compression.type', default: 'producer', parse: oneOf('producer', 'uncompressed', 'gzip', 'snappy', 'lz4', 'zstd'), informational: true },
  { name: 'message.timestamp.difference.max.ms', default: '9223372036854775807', parse: any, informational: true },
  { name: 'message.timestamp.before.max.ms', default: '9223372036854775807', parse: any, informational: true },
  { name: 'message.timestamp.after.max.ms', default: '9223372036854775807', parse: any, informational: true },
  { name: 'message.downconversion.enable', default: 'true', parse: bool, informational: true },
  { name: 'preallocate', default: 'false', parse: bool, informational: true },
  { name: 'unclean.leader.election.enable', default: 'false', parse: bool, informational: true },
  { name: 'follower.replication.throttled.replicas', default: '', parse: any, informational: true },
  { name: 'leader.replication.throttled.replicas', default: '', parse: any, informational: true },
  { name: 'local.retention.bytes', default: '-2', parse: long(-2), informational: true },
  { name: 'local.retention.ms', default: '-2', parse: long(-2), informational: true },
  { name: 'remote.storage.enable', default: 'false', parse: bool, informational: true },
];

export const TOPIC_CONFIGS: ReadonlyMap<string, TopicConfigEntry> = new Map(ENTRIES.map((e) => [e.name, e]));

/** Checks and normalises one explicit setting; throws StreamError('invalid-config'). */
export function validateTopicConfig(name: string, value: string | null): string {
  const entry = TOPIC_CONFIGS.get(name);
  if (!entry) throw new StreamError('invalid-config', `Unknown topic config name: ${name}`);
  if (value === null) throw new StreamError('invalid-config', `Null value not supported for topic configs: ${name}`);
  try {
    return entry.parse(value);
  } catch (err) {
    throw new StreamError('invalid-config', `Invalid value ${value} for configuration ${name}: ${(err as Error).message}`);
  }
}

/** Checks settings against each other (Kafka's LogConfig.validateValues); throws StreamError('invalid-config'). */
export function validateTopicConfigs(configs: Readonly<Record<string, string>>): void {
  const minLag = BigInt(topicConfigValue(configs, 'min.compaction.lag.ms'));
  const maxLag = BigInt(topicConfigValue(configs, 'max.compaction.lag.ms'));
  if (minLag > maxLag) {
    throw new StreamError('invalid-config', `conflict topic config setting min.compaction.lag.ms (${minLag}) > max.compaction.lag.ms (${maxLag})`);
  }
}

/** The value in effect: the explicit one or the default. */
export function topicConfigValue(configs: Readonly<Record<string, string>>, name: string): string {
  return configs[name] ?? (TOPIC_CONFIGS.get(name) as TopicConfigEntry).default;
}

export function partitionConfigOf(configs: Readonly<Record<string, string>>): PartitionConfig {
  const num = (name: string): number => Number(topicConfigValue(configs, name));
  return {
    segmentBytesMax: num('segment.bytes'),
    retentionBytes: num('retention.bytes'),
    retentionMs: num('retention.ms'),
    maxMessageBytes: num('max.message.bytes'),
    indexIntervalBytes: Math.max(1, num('index.interval.bytes')),
    cleanup: cleanupConfigOf(configs),
  };
}

/** cleanup.policy and the compaction settings (docs/streams.md, "Compaction"). */
export function cleanupConfigOf(configs: Readonly<Record<string, string>>): CleanupConfig {
  const policy = topicConfigValue(configs, 'cleanup.policy').split(',');
  const num = (name: string): number => Math.min(Number(topicConfigValue(configs, name)), Number.MAX_SAFE_INTEGER);
  return {
    compact: policy.includes('compact'),
    delete: policy.includes('delete'),
    deleteRetentionMs: num('delete.retention.ms'),
    minCompactionLagMs: num('min.compaction.lag.ms'),
    maxCompactionLagMs: num('max.compaction.lag.ms'),
    minCleanableDirtyRatio: num('min.cleanable.dirty.ratio'),
  };
}
