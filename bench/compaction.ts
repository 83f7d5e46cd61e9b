// Compaction of a big topic: fill one partition with --size-mb of records over --keys keys
// (kafkajs, acks=all) while it is cleanup.policy=delete, measure produce throughput to another
// topic alone, then switch the first topic to compact and measure how long the cleaner's first
// pass takes, the broker's RSS while it runs, and produce throughput to the other topic meanwhile. Wharf runs as a child process
// (`wharf serve`), so its RSS is its own. Prints numbers only.
//   node dist/bench/compaction.js [--size-mb 1024] [--keys 100000] [--value-bytes 1000]
//        [--segment-mb 64] [--produce-seconds 10] [--data-dir-base /tmp] [--keep]

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Kafka, logLevel, type Producer } from 'kafkajs';

const { values } = parseArgs({
  options: {
    'size-mb': { type: 'string', default: '1024' },
    keys: { type: 'string', default: '100000' },
    'value-bytes': { type: 'string', default: '1000' },
    'segment-mb': { type: 'string', default: '64' },
    'produce-seconds': { type: 'string', default: '10' },
    'data-dir-base': { type: 'string', default: tmpdir() },
    keep: { type: 'boolean', default: false },
  },
});
const SIZE = Number(values['size-mb']) * 1024 * 1024;
const KEYS = Number(values.keys);
const VALUE_BYTES = Number(values['value-bytes']);
const SEGMENT_BYTES = Number(values['segment-mb']) * 1024 * 1024;
const PRODUCE_SECONDS = Number(values['produce-seconds']);
const TOPIC = 'compaction-bench';
/** Where the throughput is measured, so the compacted topic stays the size asked for. */
const LOAD_TOPIC = 'compaction-bench-load';
const BATCH_RECORDS = 200;
const SENDERS = 4;

const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

interface Broker {
  proc: ChildProcess;
  bootstrap: string;
}

function startWharf(dataDir: string): Promise<Broker> {
  const proc = spawn(
    process.execPath,
    [cli, 'serve', '--data-dir', dataDir, '--amqp-port', '0', '--http-port', '0', '--kafka-port', '0', '--aws-port', '0', '--bind', '127.0.0.1', '--log-level', 'warn', '--stream-cleaner-interval', '200'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return new Promise((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`broker exited ${code}`)));
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      const m = /kafka=(\S+):(\d+)/.exec(line);
      if (m) resolve({ proc, bootstrap: `127.0.0.1:${m[2]}` });
    });
  });
}

/** Resident and peak resident set size of the broker, in MB. */
function rssMb(b: Broker): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${b.proc.pid}/status`, 'utf8');
  const kb = (k: string): number => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rss: Math.round(kb('VmRSS') / 1024), peak: Math.round(kb('VmHWM') / 1024) };
}

/** The first topic created gets the lowest stream id. */
function partitionDir(dataDir: string): string {
  const streams = join(dataDir, 'streams');
  const first = readdirSync(streams).map(Number).sort((a, b) => a - b)[0];
  return join(streams, String(first), '0');
}

function logBytes(dir: string): { bytes: number; segments: number } {
  let bytes = 0;
  let segments = 0;
  for (const name of readdirSync(dir)) {
    if (!name.endsWith('.log')) continue;
    bytes += statSync(join(dir, name)).size;
    segments++;
  }
  return { bytes, segments };
}

const mb = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1);

/** Sends batches from SENDERS loops until `more()` says stop; returns records and bytes sent. */
async function pump(producer: Producer, topic: string, more: (sentBytes: number) => boolean, keyBase: number): Promise<{ records: number; bytes: number }> {
  const value = randomBytes(VALUE_BYTES);
  let records = 0;
  let bytes = 0;
  let next = keyBase;
  const sender = async (): Promise<void> => {
    while (more(bytes)) {
      const messages = Array.from({ length: BATCH_RECORDS }, () => ({ key: `key-${next++ % KEYS}`, value }));
      await producer.send({ topic, acks: -1, messages });
      records += BATCH_RECORDS;
      bytes += BATCH_RECORDS * (VALUE_BYTES + 12);
    }
  };
  await Promise.all(Array.from({ length: SENDERS }, sender));
  return { records, bytes };
}

async function timedPump(producer: Producer, seconds: number, keyBase: number, until?: () => boolean): Promise<{ records: number; mbPerSec: number; recordsPerSec: number; secs: number }> {
  const t0 = Date.now();
  const end = t0 + seconds * 1000;
  const r = await pump(producer, LOAD_TOPIC, () => (until ? !until() : Date.now() < end), keyBase);
  const secs = (Date.now() - t0) / 1000;
  return { records: r.records, secs, mbPerSec: r.bytes / 1024 / 1024 / secs, recordsPerSec: r.records / secs };
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(values['data-dir-base'] as string, 'wharf-compaction-bench-'));
  const broker = await startWharf(dataDir);
  const kafka = new Kafka({ clientId: 'compaction-bench', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  try {
    await admin.connect();
    await admin.createTopics({
      topics: [
        { topic: TOPIC, numPartitions: 1, configEntries: [{ name: 'segment.bytes', value: String(SEGMENT_BYTES) }] },
        { topic: LOAD_TOPIC, numPartitions: 1, configEntries: [{ name: 'retention.bytes', value: String(256 * 1024 * 1024) }] },
      ],
    });
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    const dir = partitionDir(dataDir);

    console.log(`load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} (other work on this machine makes the numbers indicative only)`);
    console.log(`fill: ${mb(SIZE)} MB, ${KEYS} keys, ${VALUE_BYTES} B values, ${mb(SEGMENT_BYTES)} MB segments, cleanup.policy=delete`);
    const t0 = Date.now();
    const filled = await pump(producer, TOPIC, (sent) => sent < SIZE, 0);
    const fillSecs = (Date.now() - t0) / 1000;
    const before = logBytes(dir);
    console.log(`  ${filled.records} records in ${fillSecs.toFixed(1)} s (${(filled.bytes / 1024 / 1024 / fillSecs).toFixed(1)} MB/s); log ${mb(before.bytes)} MB in ${before.segments} segments; broker RSS ${rssMb(broker).rss} MB`);

    const baseline = await timedPump(producer, PRODUCE_SECONDS, 7);
    console.log(`produce to another topic, alone: ${baseline.recordsPerSec.toFixed(0)} records/s, ${baseline.mbPerSec.toFixed(1)} MB/s (acks=all, ${SENDERS} senders x ${BATCH_RECORDS} records)`);

    const rssBefore = rssMb(broker).rss;
    let rssMax = rssBefore;
    const sampler = setInterval(() => {
      rssMax = Math.max(rssMax, rssMb(broker).rss);
    }, 100);
    const cleaned = (): boolean => {
      try {
        return JSON.parse(readFileSync(join(dir, 'cleaner.json'), 'utf8')).firstDirtyOffset > 0;
      } catch {
        return false;
      }
    };
    const t1 = Date.now();
    await admin.alterConfigs({
      validateOnly: false,
      resources: [{ type: 2, name: TOPIC, configEntries: [{ name: 'cleanup.policy', value: 'compact' }, { name: 'segment.bytes', value: String(SEGMENT_BYTES) }] }],
    });
    const during = await timedPump(producer, 3600, 13, cleaned);
    const compactSecs = (Date.now() - t1) / 1000;
    clearInterval(sampler);
    const after = logBytes(dir);
    const checkpoint = readFileSync(join(dir, 'cleaner.json'), 'utf8');
    console.log(`compaction (first pass, from the config change to its checkpoint): ${compactSecs.toFixed(1)} s`);
    console.log(`  log ${mb(before.bytes)} MB -> ${mb(after.bytes)} MB (${after.segments} segments, the active one included); checkpoint ${checkpoint}`);
    console.log(`  broker RSS ${rssBefore} MB before, max ${rssMax} MB during; process peak (VmHWM, fill included) ${rssMb(broker).peak} MB`);
    console.log(`produce to another topic during compaction: ${during.recordsPerSec.toFixed(0)} records/s, ${during.mbPerSec.toFixed(1)} MB/s over ${during.secs.toFixed(1)} s (${((during.recordsPerSec / baseline.recordsPerSec) * 100).toFixed(0)}% of alone)`);
    await producer.disconnect();
  } finally {
    await admin.disconnect().catch(() => undefined);
    broker.proc.removeAllListeners('exit');
    broker.proc.kill('SIGTERM');
    await new Promise((r) => broker.proc.once('exit', r));
    if (values.keep) console.log(`data kept in ${dataDir}`);
    else rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
