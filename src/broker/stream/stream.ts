// A stream: a named, partitioned, retained log in a vhost. Kafka clients see it as a topic with
// N partitions; AMQP clients as a stream queue (x-queue-type: stream) when it has one partition,
// or as a super stream's partitions (docs/streams.md). Each partition is a Partition in
// `<data>/streams/<stream id>/<partition>/`.

import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { FsyncPolicy, Logger } from '../../store/index.js';
import { StreamError } from './errors.js';
import { Partition } from './partition.js';
import { partitionConfigOf, validateTopicConfig, validateTopicConfigs } from './topic-config.js';
import { NO_POLICIES, type AppliedPolicies } from '../policy/effective.js';

export interface StreamDef {
  readonly name: string;
  /** Directory name under streams/: never reused, so a re-created stream starts empty. */
  readonly id: number;
  /** Kafka's topic id (a UUID, shown in Metadata v10+). */
  readonly topicId: string;
  readonly partitions: number;
  /** Explicitly set topic configs (Kafka names). */
  readonly configs: Readonly<Record<string, string>>;
  readonly createdAt: number;
  /** Declared as an AMQP stream queue with these arguments (kept for redeclare checks). */
  readonly amqpArgs?: Readonly<Record<string, unknown>>;
}

export interface StreamEnv {
  readonly dir: string;
  readonly fsync: FsyncPolicy;
  readonly logger: Logger;
}

/** Kafka's rules: 1-249 characters of [a-zA-Z0-9._-], not '.' or '..'. */
export const TOPIC_NAME_CHARS_MAX = 249;
const LEGAL_TOPIC = /^[a-zA-Z0-9._-]+$/;

/** Why a name cannot be a Kafka topic, or undefined if it can. */
export function topicNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'Topic name is illegal, it can\'t be empty';
  if (name === '.' || name === '..') return 'Topic name cannot be "." or ".."';
  if (name.length > TOPIC_NAME_CHARS_MAX) {
    return `Topic name is illegal, it can't be longer than ${TOPIC_NAME_CHARS_MAX} characters, topic name: ${name}`;
  }
  if (!LEGAL_TOPIC.test(name)) {
    return `Topic name "${name}" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'`;
  }
  return undefined;
}

/** Kafka refuses topics whose names differ only by '.' versus '_' (their metric names collide). */
export function collisionKey(name: string): string {
  return name.replace(/\./g, '_');
}

/**
 * Most partitions one topic may have. A single request for billions would otherwise make the
 * broker create directories until the disk fills; KRaft's controller likewise refuses any
 * operation that makes more than 10,000 records (QuorumController.MAX_RECORDS_PER_USER_OP).
 */
export const PARTITIONS_MAX = 10_000;

export class Stream {
  /** Topic configs its policies set over the declared ones (a stream queue's max-age and the like; policy/apply.ts). */
  private policyConfigs: Readonly<Record<string, string>> = {};
  /** The policies applied to it (stream queues), for the management API. */
  policies: AppliedPolicies = NO_POLICIES;

  private constructor(
    private def: StreamDef,
    readonly partitions: Partition[],
    private readonly env: StreamEnv,
  ) {}

  static async open(def: StreamDef, env: StreamEnv): Promise<Stream> {
    const config = partitionConfigOf(def.configs);
    const partitions: Partition[] = [];
    try {
      for (let i = 0; i < def.partitions; i++) {
        partitions.push(await Partition.open({ dir: partitionDir(env.dir, def.id, i), fsync: env.fsync, logger: env.logger, config }));
      }
    } catch (err) {
      for (const p of partitions) await p.close().catch(() => {});
      throw err;
    }
    return new Stream(def, partitions, env);
  }

  /** A new definition with validated configs; throws StreamError for bad ones. */
  static define(name: string, id: number, partitions: number, configs: Record<string, string>, amqpArgs?: Record<string, unknown>): StreamDef {
    if (!Number.isInteger(partitions) || partitions < 1) {
      throw new StreamError('invalid-partitions', `Number of partitions must be larger than 0.`);
    }
    if (partitions > PARTITIONS_MAX) throw new StreamError('invalid-partitions', `Number of partitions may be at most ${PARTITIONS_MAX}.`);
    const clean: Record<string, string> = {};
    for (const [k, v] of Object.entries(configs)) clean[k] = validateTopicConfig(k, v);
    validateTopicConfigs(clean);
    return { name, id, topicId: randomUUID(), partitions, configs: clean, createdAt: Date.now(), ...(amqpArgs ? { amqpArgs } : {}) };
  }

  get name(): string {
    return this.def.name;
  }

  get id(): number {
    return this.def.id;
  }

  get topicId(): string {
    return this.def.topicId;
  }

  get configs(): Readonly<Record<string, string>> {
    return this.def.configs;
  }

  get definition(): StreamDef {
    return this.def;
  }

  partition(i: number): Partition | undefined {
    return Number.isInteger(i) && i >= 0 ? this.partitions[i] : undefined;
  }

  /** Replaces the explicit configs (validated) and applies them to every partition. */
  setConfigs(configs: Record<string, string>): void {
    const clean: Record<string, string> = {};
    for (const [k, v] of Object.entries(configs)) clean[k] = validateTopicConfig(k, v);
    validateTopicConfigs(clean);
    this.def = { ...this.def, configs: clean };
    const config = partitionConfigOf({ ...clean, ...this.policyConfigs });
    for (const p of this.partitions) p.setConfig(config);
  }

  /**
   * Its policies changed: `configs` (validated topic configs) take precedence over the declared
   * ones, as a policy's max-age, max-length-bytes and segment size do over a RabbitMQ stream's
   * arguments. Not persisted with the stream: the policies are, and recovery applies them again.
   */
  applyPolicies(policies: AppliedPolicies, configs: Readonly<Record<string, string>>): void {
    this.policies = policies;
    const same = Object.keys(configs).length === Object.keys(this.policyConfigs).length && Object.entries(configs).every(([k, v]) => this.policyConfigs[k] === v);
    if (same) return;
    this.policyConfigs = configs;
    const config = partitionConfigOf({ ...this.def.configs, ...configs });
    for (const p of this.partitions) p.setConfig(config);
  }

  /** Grows to `total` partitions (Kafka's CreatePartitions: never fewer). */
  async addPartitions(total: number): Promise<void> {
    if (!Number.isInteger(total) || total <= this.partitions.length) {
      throw new StreamError(
        'invalid-partitions',
        `Topic currently has ${this.partitions.length} partitions, which is higher than the requested ${total}.`,
      );
    }
    if (total > PARTITIONS_MAX) throw new StreamError('invalid-partitions', `Number of partitions may be at most ${PARTITIONS_MAX}.`);
    const config = partitionConfigOf(this.def.configs);
    for (let i = this.partitions.length; i < total; i++) {
      this.partitions.push(await Partition.open({ dir: partitionDir(this.env.dir, this.def.id, i), fsync: this.env.fsync, logger: this.env.logger, config }));
    }
    this.def = { ...this.def, partitions: total };
  }

  async enforceRetention(nowMs = Date.now()): Promise<void> {
    for (const p of this.partitions) await p.enforceRetention(nowMs);
  }

  async close(): Promise<void> {
    for (const p of this.partitions) await p.close();
  }

  /**
   * Empties partition i: its files go and it reopens with no records, from offset 0. For a
   * follower whose log diverged from its new leader's (docs/cluster.md): it fetches it all again.
   */
  async resetPartition(i: number): Promise<Partition> {
    const old = this.partitions[i];
    await old.destroy();
    const config = partitionConfigOf({ ...this.def.configs, ...this.policyConfigs });
    const fresh = await Partition.open({ dir: partitionDir(this.env.dir, this.def.id, i), fsync: this.env.fsync, logger: this.env.logger, config });
    this.partitions[i] = fresh;
    return fresh;
  }

  /** Closes and removes every partition's files. */
  async destroy(): Promise<void> {
    for (const p of this.partitions) await p.destroy();
    await fs.rm(path.join(this.env.dir, String(this.def.id)), { recursive: true, force: true });
  }
}

function partitionDir(root: string, id: number, partition: number): string {
  return path.join(root, String(id), String(partition));
}
