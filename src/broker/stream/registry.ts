// The streams of one vhost: create, look up, delete, and their part of the vhost's persisted
// topology. Stream names share the vhost's queue namespace (an AMQP stream queue `q` is the
// stream `q`), so the vhost tells the registry which names queues hold.

import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { StreamError } from './errors.js';
import { Stream, type StreamDef, type StreamEnv, collisionKey, topicNameProblem } from './stream.js';

export interface StreamRegistryContext {
  readonly env: StreamEnv;
  readonly vhost: string;
  nextStreamId(): number;
  /** A classic queue holds this name. */
  queueExists(name: string): boolean;
  /** The set of streams changed: persist the topology; resolves once it is on disk. */
  topologyChanged(): Promise<void>;
  /**
   * A stream left the registry (deleted by any protocol): its AMQP consumers and bindings go.
   * Called at once, before its files are removed.
   */
  streamRemoved(stream: Stream): void;
  /** A stream was deleted: what hangs off it (committed group offsets) goes too. */
  streamDeleted(name: string): Promise<void>;
}

export interface CreateStreamOptions {
  readonly partitions: number;
  readonly configs?: Record<string, string>;
  /** Kafka's rules for the name (CreateTopics); AMQP stream queues take any queue name. */
  readonly kafkaName?: boolean;
  readonly amqpArgs?: Record<string, unknown>;
  /** The topic id to keep (a replicated stream has one id on every node); a new random one otherwise. */
  readonly topicId?: string;
  /** CreateTopics' validate_only: check, create nothing. */
  readonly validateOnly?: boolean;
}

/**
 * Quorum queues' command logs in a cluster (docs/cluster.md, "Quorum queues") are streams named
 * with this prefix: neither AMQP ("amq." is reserved for queue names) nor Kafka ('/' is not a
 * legal topic character) can create or name one, and no listing shows them.
 */
export const INTERNAL_STREAM_PREFIX = 'amq.qlog/';

export function isInternalStream(name: string): boolean {
  return name.startsWith(INTERNAL_STREAM_PREFIX);
}

export class StreamRegistry {
  private readonly streams = new Map<string, Stream>();
  /** Creations in progress, so two racing creates of one name do not both succeed. */
  private readonly creating = new Map<string, Promise<unknown>>();

  constructor(private readonly ctx: StreamRegistryContext) {}

  /** A stream clients may see: a Kafka topic or a stream queue (not a quorum queue's log). */
  get(name: string): Stream | undefined {
    return isInternalStream(name) ? undefined : this.streams.get(name);
  }

  /** Any stream, the internal ones (quorum queues' logs) included: for replication only. */
  getAny(name: string): Stream | undefined {
    return this.streams.get(name);
  }

  /** The internal streams (quorum queues' logs). */
  *internal(): IterableIterator<Stream> {
    for (const s of this.streams.values()) if (isInternalStream(s.name)) yield s;
  }

  has(name: string): boolean {
    return this.streams.has(name) || this.creating.has(name);
  }

  /** Resolves when a creation of `name` in progress has finished (either way); undefined if none is. */
  creation(name: string): Promise<void> | undefined {
    const p = this.creating.get(name);
    return p?.then(() => undefined, () => undefined);
  }

  get size(): number {
    return this.streams.size;
  }

  /** The streams clients may see (not the quorum queues' logs). */
  *list(): IterableIterator<Stream> {
    for (const s of this.streams.values()) if (!isInternalStream(s.name)) yield s;
  }

  /** Creates a stream and persists it; resolves once it exists on disk. */
  async create(name: string, o: CreateStreamOptions): Promise<Stream | undefined> {
    if (o.kafkaName) {
      const problem = topicNameProblem(name);
      if (problem) throw new StreamError('invalid-name', problem);
    }
    if (this.has(name) || this.ctx.queueExists(name)) throw new StreamError('exists', `Topic '${name}' already exists.`);
    if (o.kafkaName) {
      const key = collisionKey(name);
      for (const other of this.streams.keys()) {
        if (collisionKey(other) === key) throw new StreamError('invalid-name', `Topic '${name}' collides with existing topic: ${other}`);
      }
    }
    const defined = Stream.define(name, 0, o.partitions, o.configs ?? {}, o.amqpArgs);
    const def = o.topicId !== undefined ? { ...defined, topicId: o.topicId } : defined;
    if (o.validateOnly) return undefined;
    const opening = this.open(name, def);
    this.creating.set(name, opening);
    try {
      return await opening;
    } finally {
      this.creating.delete(name);
    }
  }

  private async open(name: string, def: StreamDef): Promise<Stream> {
    const stream = await Stream.open({ ...def, id: this.ctx.nextStreamId() }, this.ctx.env);
    this.streams.set(name, stream);
    await this.ctx.topologyChanged();
    return stream;
  }

  /** Persists a change to a stream's definition (configs, partitions); resolves once on disk. */
  persist(): Promise<void> {
    return this.ctx.topologyChanged();
  }

  /** Deletes a stream: forgotten durably first, then its files go. False if there was none. */
  async delete(name: string): Promise<boolean> {
    const s = this.streams.get(name);
    if (!s) return false;
    this.streams.delete(name);
    this.ctx.streamRemoved(s);
    await this.ctx.topologyChanged();
    await s.destroy();
    await this.ctx.streamDeleted(name);
    return true;
  }

  snapshot(): StreamDef[] {
    return [...this.streams.values()].map((s) => s.definition);
  }

  /** Opens the streams of a persisted topology (at startup). */
  async restore(defs: readonly StreamDef[]): Promise<void> {
    for (const def of defs) this.streams.set(def.name, await Stream.open(def, this.ctx.env));
  }

  async enforceRetention(nowMs = Date.now()): Promise<void> {
    for (const s of this.streams.values()) await s.enforceRetention(nowMs);
  }

  async close(): Promise<void> {
    for (const s of this.streams.values()) await s.close();
  }
}

/** Removes stream directories no definition names (left by a crash during create or delete). */
export async function removeOrphanStreams(dir: string, liveIds: ReadonlySet<number>): Promise<number> {
  let removed = 0;
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    if (!/^\d+$/.test(name) || liveIds.has(Number(name))) continue;
    await fs.rm(path.join(dir, name), { recursive: true, force: true });
    removed++;
  }
  return removed;
}
