// Workload k4 of bench/streams.ts: one stream retaining --k4-bytes. Fills it with perf-kafka
// (acks=all) while sampling the broker's RSS, kills the broker with SIGKILL, restarts it on the
// same data dir and times the recovery (spawn to the listening line, and to the first batch a
// Fetch from offset 0 returns), then reads the whole stream back while sampling RSS again.

import { mkdtempSync, readdirSync, rmSync, statSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { KafkaClient } from '../../src/client/kafka/index.js';
import { onCleanup } from './cleanup.js';
import { runKafkaPerf } from './kafka-driver.js';
import { ResourceSampler, rssBytes } from './proc.js';
import { recordsForBytes, type StreamOptions } from './stream-workloads.js';
import { startWharf, stopWharf, type WharfChild } from './wharf-child.js';

const MB = 1024 * 1024;
const GB = 1024 * MB;
/** The slowest fill rate allowed before the fill step is given up (bytes/s). */
const FILL_RATE_FLOOR = 5 * MB;
const FIRST_FETCH_TIMEOUT_MS = 120_000;

/** Bytes of the files under `dir`. */
function bytesUnder(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) n += bytesUnder(p);
    else if (e.isFile()) n += statSync(p).size;
  }
  return n;
}

/** Refuses to start when the data dir's disk cannot hold the stream with room to spare. */
export function checkDiskSpace(baseDir: string, bytes: number): void {
  const s = statfsSync(baseDir);
  const free = s.bavail * s.bsize;
  const needed = bytes * 1.1 + GB;
  if (free < needed) {
    throw new Error(`k4 needs about ${(needed / GB).toFixed(1)} GiB free in ${baseDir}; ${(free / GB).toFixed(1)} GiB are (use --k4-bytes or --data-dir-base)`);
  }
}

/** Time from `spawnedAt` until a Fetch of offset 0 returns records. */
async function firstFetch(b: WharfChild, spawnedAt: number): Promise<number> {
  const deadline = Date.now() + FIRST_FETCH_TIMEOUT_MS;
  const client = await KafkaClient.connect(b.kafkaBootstrap, { clientId: 'bench-k4' });
  try {
    const conn = await client.leader('k4', 0);
    for (;;) {
      const [p] = await KafkaClient.fetch(conn, { topic: 'k4', partitions: [{ partition: 0, offset: 0, maxBytes: MB }], maxWaitMs: 100, minBytes: 1, maxBytes: MB });
      if (p !== undefined && p.errorCode === 0 && p.records !== null && p.records.length > 0) return Date.now() - spawnedAt;
      if (Date.now() > deadline) throw new Error(`no records from a fetch at offset 0 within ${FIRST_FETCH_TIMEOUT_MS} ms (error code ${p?.errorCode})`);
    }
  } finally {
    client.destroy();
  }
}

export async function runRetention(o: StreamOptions, log: (line: string) => void): Promise<Record<string, number>> {
  checkDiskSpace(o.dataDirBase, o.k4Bytes);
  const dir = mkdtempSync(join(o.dataDirBase, 'wharf-k4-'));
  let broker: WharfChild | undefined;
  const stop = onCleanup(
    'k4',
    async () => {
      if (broker) await stopWharf(broker, 'SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
    () => {
      broker?.proc.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  );
  try {
    broker = await startWharf(dir);
    const records = recordsForBytes(o.k4Bytes, o.sizeBytes, o.batchRecords);
    log(`  k4: filling ${records.toLocaleString('en-US')} records (~${(o.k4Bytes / GB).toFixed(2)} GiB)`);
    const sampler = new ResourceSampler(broker.proc.pid as number);
    const timeoutMs = Math.max(600_000, (o.k4Bytes / FILL_RATE_FLOOR) * 1000);
    const fill = await runKafkaPerf(broker.kafkaBootstrap, [
      '--size', String(o.sizeBytes), '--acks', 'all', '--batch-records', String(o.batchRecords), '--max-in-flight', String(o.maxInFlight),
      '--consumers', '0', '--topic', 'k4', '--records', String(records), '--no-cleanup',
    ], timeoutMs);
    const filling = sampler.stop();
    const rssAfterFill = rssBytes(broker.proc.pid as number) ?? 0;
    const retained = bytesUnder(dir);
    log(`  k4: filled at ${fill.ackRate.toLocaleString('en-US')} records/s; ${(retained / GB).toFixed(2)} GiB on disk; peak RSS ${(filling.peakRssBytes / MB).toFixed(0)} MB; kill -9`);

    await stopWharf(broker, 'SIGKILL');
    broker = undefined;
    const spawnedAt = Date.now();
    broker = await startWharf(dir);
    const listenMs = broker.startMs;
    const firstFetchMs = await firstFetch(broker, spawnedAt);
    const rssAfterRecovery = rssBytes(broker.proc.pid as number) ?? 0;
    log(`  k4: listening ${listenMs} ms after the spawn, first fetched batch after ${firstFetchMs} ms`);

    const out: Record<string, number> = {
      retainedGB: retained / GB,
      fillRate: fill.ackRate,
      peakRssMB: filling.peakRssBytes / MB,
      rssAfterFillMB: rssAfterFill / MB,
      listenMs,
      firstFetchMs,
      rssAfterRecoveryMB: rssAfterRecovery / MB,
    };
    if (o.k4ReadBack) {
      const reading = new ResourceSampler(broker.proc.pid as number);
      const back = await runKafkaPerf(broker.kafkaBootstrap, ['--producers', '0', '--consumers', '1', '--drain', '--from-beginning', '--no-create', '--topic', 'k4'], timeoutMs);
      const read = reading.stop();
      out.readBackRate = back.consumeRate;
      out.peakRssReadMB = read.peakRssBytes / MB;
      log(`  k4: read ${back.consumed.toLocaleString('en-US')} records back at ${back.consumeRate.toLocaleString('en-US')} records/s; peak RSS ${(read.peakRssBytes / MB).toFixed(0)} MB`);
    }
    return out;
  } finally {
    await stop();
  }
}
