// The checker of the Jepsen-style stream runs (docs/cluster.md, "Proving it"): it reads every
// replica's partition logs from disk once the nodes have stopped, and holds them against what the
// producers were told. An acknowledged record (acks=all) must be on every replica at the offset
// its produce response named; no offset may hold two different records on two replicas; the
// replicas must hold the same prefix up to the last acknowledged offset.

import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { Partition } from '../../../src/broker/stream/partition.js';
import { decodeRecords } from '../../../src/protocol/kafka/record-batch.js';
import { silentLogger } from '../../../src/store/index.js';

/** One acknowledged record: the produce response named its partition and offset. */
export interface Acked {
  readonly partition: number;
  readonly offset: number;
  readonly value: string;
}

export interface CheckResult {
  /** Acknowledged records missing from a replica at their offset, or holding another value there. */
  readonly lost: number;
  /** Offsets where two replicas hold different values. */
  readonly divergent: number;
  /** Offsets below a partition's last acknowledged one that some replica lacks. */
  readonly prefixGaps: number;
  /** Records on disk (the first replica's logs) whose value also sits at another offset: retries of a send. */
  readonly duplicates: number;
  /** Duplicates of values sent by idempotent producers (Kafka's idempotence forbids them). */
  readonly idempotentDuplicates: number;
  /** Records on disk whose send was never acknowledged (allowed: an answer lost in a failover). */
  readonly unackedPresent: number;
  /** Each partition's log end on each replica. */
  readonly logEnds: Record<string, number[]>;
  /** The first few problems, for a failure message. */
  readonly problems: string[];
}

/** Where a node's data dir keeps a topic's partition. */
export async function partitionDirIn(dataDir: string, topic: string, partition: number): Promise<string> {
  const id = streamIdIn(JSON.parse(await readFile(path.join(dataDir, 'meta.json'), 'utf8')), topic);
  if (id === undefined) throw new Error(`no stream ${topic} in ${dataDir}/meta.json`);
  return path.join(dataDir, 'streams', String(id), String(partition));
}

/** Every record of one partition's log on disk: its value by offset. `eachBatch` sees every stored batch with its base offset. */
export async function recordsOnDisk(
  dataDir: string,
  topic: string,
  partition: number,
  eachBatch?: (base: number, batch: Buffer) => void,
): Promise<Map<number, string>> {
  const p = await Partition.open({
    dir: await partitionDirIn(dataDir, topic, partition),
    fsync: 'batch',
    logger: silentLogger,
    config: { segmentBytesMax: 1 << 30, retentionBytes: -1, retentionMs: -1, maxMessageBytes: 1 << 20 },
  });
  try {
    const out = new Map<number, string>();
    let at = p.logStartOffset;
    while (at < p.logEndOffset) {
      const r = await p.read(at, 1 << 20);
      if (r.batches.length === 0) break;
      for (const b of r.batches) {
        const base = Number(b.readBigInt64BE(0));
        eachBatch?.(base, b);
        for (const rec of decodeRecords(b)) out.set(base + rec.offsetDelta, rec.value?.toString() ?? '');
        at = base + b.readInt32BE(23) + 1;
      }
    }
    return out;
  } finally {
    await p.close();
  }
}

/** The stream id meta.json gives a topic (the directory its partitions live in). */
export function streamIdIn(v: unknown, topic: string): number | undefined {
  if (Array.isArray(v)) {
    for (const x of v) {
      const id = streamIdIn(x, topic);
      if (id !== undefined) return id;
    }
  } else if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>;
    if (o.name === topic && typeof o.id === 'number' && 'partitions' in o) return o.id;
    for (const x of Object.values(o)) {
      const id = streamIdIn(x, topic);
      if (id !== undefined) return id;
    }
  }
  return undefined;
}

/**
 * Checks one run. `replicas[partition]` holds each replica's log (offset -> value), `acked` every
 * acknowledged record, `attempted` every value sent without an answer, `idempotent` tells a value
 * of an idempotent producer.
 */
export function check(
  replicas: readonly (readonly Map<number, string>[])[],
  acked: readonly Acked[],
  unacked: ReadonlySet<string>,
  idempotent: (value: string) => boolean,
): CheckResult {
  const problems: string[] = [];
  const note = (s: string): void => void (problems.length < 10 && problems.push(s));
  let lost = 0;
  let divergent = 0;
  let prefixGaps = 0;
  let duplicates = 0;
  let idempotentDuplicates = 0;
  let unackedPresent = 0;
  const logEnds: Record<string, number[]> = {};
  const ackedValues = new Set(acked.map((a) => a.value));
  for (const a of acked) {
    const logs = replicas[a.partition] ?? [];
    const missing = logs.map((log, i) => [i, log.get(a.offset)] as const).filter(([, v]) => v !== a.value);
    if (missing.length > 0 || logs.length === 0) {
      lost++;
      note(`acknowledged ${a.value} at ${a.partition}/${a.offset}: replicas ${missing.map(([i, v]) => `#${i} has ${v ?? 'nothing'}`).join(', ')}`);
    }
  }
  replicas.forEach((logs, partition) => {
    logEnds[partition] = logs.map((log) => (log.size === 0 ? 0 : Math.max(...log.keys()) + 1));
    const lastAcked = Math.max(-1, ...acked.filter((a) => a.partition === partition).map((a) => a.offset));
    const offsets = new Set<number>();
    for (const log of logs) for (const o of log.keys()) offsets.add(o);
    for (const o of offsets) {
      const values = new Set(logs.map((log) => log.get(o)).filter((v) => v !== undefined));
      if (values.size > 1) {
        divergent++;
        note(`partition ${partition} offset ${o} holds ${[...values].join(' / ')} on different replicas`);
      }
    }
    for (let o = 0; o <= lastAcked; o++) {
      if (logs.some((log) => !log.has(o))) {
        prefixGaps++;
        note(`partition ${partition} offset ${o} (below the last acknowledged ${lastAcked}) is missing on a replica`);
      }
    }
    const seen = new Set<string>();
    for (const v of logs[0]?.values() ?? []) {
      if (seen.has(v)) {
        duplicates++;
        if (idempotent(v)) idempotentDuplicates++;
      }
      seen.add(v);
      if (!ackedValues.has(v) && unacked.has(v)) unackedPresent++;
    }
  });
  return { lost, divergent, prefixGaps, duplicates, idempotentDuplicates, unackedPresent, logEnds, problems };
}
